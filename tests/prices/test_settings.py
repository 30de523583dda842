"""prices.settings: every price-source variable read from the environment, validated."""

from __future__ import annotations

import pytest

from prices import ConfigError, PriceSettings


def test_defaults() -> None:
    settings = PriceSettings.from_env({})
    assert settings == PriceSettings()
    assert (settings.request_deadline_s, settings.fetch_deadline_s) == (20.0, 15.0)
    assert settings.max_response_bytes == 20_000_000


def test_every_variable_is_read() -> None:
    env = {
        "PRICE_SOURCE": "CENACE",
        "BATU_API_URL": "https://batu.example/",
        "BATU_API_KEY": " k ",
        "BATU_API_KEY_SSM_PARAMETER": "/p",
        "CENACE_BASE_URL": "https://cenace.example:8082/",
        "PRICE_CONNECT_TIMEOUT_S": "1.5",
        "PRICE_FETCH_TIMEOUT_S": "4",
        "REQUEST_DEADLINE_S": "25",
        "PRICE_FETCH_DEADLINE_S": "12.5",
        "PRICE_MAX_RESPONSE_BYTES": "5000000",
        "PRICE_CACHE_MAX_DAYS": "0",
    }
    assert PriceSettings.from_env(env) == PriceSettings(
        source="cenace",
        batu_api_url="https://batu.example",
        batu_api_key="k",
        batu_api_key_ssm_parameter="/p",
        cenace_base_url="https://cenace.example:8082",
        connect_timeout_s=1.5,
        read_timeout_s=4.0,
        request_deadline_s=25.0,
        fetch_deadline_s=12.5,
        max_response_bytes=5_000_000,
        cache_max_days=0,
    )


@pytest.mark.parametrize(
    ("request_s", "fetch_s"),
    [("10", None), ("10", "10"), ("30", None), ("30", "28")],
    ids=["short-request-unset-fetch", "equal", "long-request", "long-both"],
)
def test_the_fetch_deadline_fits_in_the_request_deadline(
    request_s: str, fetch_s: str | None
) -> None:
    env = {"REQUEST_DEADLINE_S": request_s}
    if fetch_s is not None:
        env["PRICE_FETCH_DEADLINE_S"] = fetch_s
    settings = PriceSettings.from_env(env)
    assert settings.request_deadline_s == float(request_s)
    expected = float(fetch_s) if fetch_s is not None else min(15.0, float(request_s))
    assert settings.fetch_deadline_s == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REQUEST_DEADLINE_S": "0"}, "REQUEST_DEADLINE_S must be a positive number"),
        ({"REQUEST_DEADLINE_S": "inf"}, "REQUEST_DEADLINE_S must be a positive number"),
        ({"REQUEST_DEADLINE_S": "soon"}, "REQUEST_DEADLINE_S must be a number of seconds"),
        (
            {"REQUEST_DEADLINE_S": "10", "PRICE_FETCH_DEADLINE_S": "12"},
            r"PRICE_FETCH_DEADLINE_S \(12 s\) must not exceed REQUEST_DEADLINE_S \(10 s\)",
        ),
        ({"PRICE_FETCH_DEADLINE_S": "21"}, "must not exceed REQUEST_DEADLINE_S"),
        ({"PRICE_MAX_RESPONSE_BYTES": "20MB"}, "PRICE_MAX_RESPONSE_BYTES must be a whole number"),
        ({"PRICE_MAX_RESPONSE_BYTES": "1000"}, "PRICE_MAX_RESPONSE_BYTES must be at least 65536"),
        ({"PRICE_CACHE_MAX_DAYS": "-1"}, "PRICE_CACHE_MAX_DAYS must be at least 0"),
    ],
    ids=[
        "zero-deadline",
        "infinite-deadline",
        "text-deadline",
        "fetch-over-request",
        "fetch-over-default-request",
        "bytes-text",
        "bytes-tiny",
        "negative-cache",
    ],
)
def test_bad_values_fail_at_start_up_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PriceSettings.from_env(env)


@pytest.mark.parametrize(("raw", "days"), [(None, 56), ("0", 0), ("366", 366), (" 90 ", 90)])
def test_forecast_history_days(raw: str | None, days: int) -> None:
    env = {} if raw is None else {"FORECAST_HISTORY_DAYS": raw}
    assert PriceSettings.from_env(env).forecast_history_days == days


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("367", "FORECAST_HISTORY_DAYS must be between 0 and 366"),
        ("-1", "FORECAST_HISTORY_DAYS must be at least 0"),
        ("eight weeks", "FORECAST_HISTORY_DAYS must be a whole number"),
    ],
)
def test_bad_forecast_history_days_fail_at_start_up(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PriceSettings.from_env({"FORECAST_HISTORY_DAYS": raw})


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("CENACE_BASE_URL", "notaurl", "CENACE_BASE_URL must be an http:// or https:// URL"),
        ("CENACE_BASE_URL", "127.0.0.1:1", "CENACE_BASE_URL must be an http:// or https:// URL"),
        ("BATU_API_URL", "api.batuenergy.com", "BATU_API_URL must be an http:// or https:// URL"),
        ("BATU_API_URL", "ftp://api.batuenergy.com", "BATU_API_URL must be an http:// or https://"),
        ("BATU_API_URL", "https://", "BATU_API_URL must be an http:// or https:// URL with a host"),
        ("CENACE_BASE_URL", "https://cenace.example:port", "CENACE_BASE_URL is not a valid URL"),
        ("CENACE_BASE_URL", "https://cenace.example:99999", "CENACE_BASE_URL is not a valid URL"),
        ("BATU_API_URL", "https://batu.example/?key=1", "BATU_API_URL must be a base URL without"),
        ("BATU_API_URL", "https://batu.example/a b", "BATU_API_URL must be a base URL without"),
        ("CENACE_BASE_URL", "http://127.0.0.1:0", "CENACE_BASE_URL must not name port 0"),
    ],
    ids=["no-scheme", "host-port", "host", "ftp", "no-host", "text-port", "big-port", "query",
         "space", "port-0"],
)  # fmt: skip
def test_a_base_url_that_no_fetch_could_use_fails_at_start_up(
    key: str, raw: str, message: str
) -> None:
    """The README promises a message naming the variable at start-up; before, such a URL
    started the app and every fetch answered a 502 that named neither."""
    with pytest.raises(ConfigError, match=message):
        PriceSettings.from_env({key: raw})


@pytest.mark.parametrize(
    "raw",
    ["http://127.0.0.1:8082", "https://ws01.cenace.gob.mx:8082/", "https://batu.example/v1",
     "http://[::1]:9000"],
)  # fmt: skip
def test_base_urls_with_a_port_or_path_are_kept(raw: str) -> None:
    settings = PriceSettings.from_env({"CENACE_BASE_URL": raw, "BATU_API_URL": raw})
    assert settings.cenace_base_url == settings.batu_api_url == raw.rstrip("/")
