"""The Batu source against mocked HTTP (responses), with real CENACE prices as payloads."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

import pytest
import requests
import responses
from responses import matchers
from upstream_server import (
    API_KEY,
    BATU_NO_DATA,
    PEND_2016,
    PEND_2020,
    batu_body,
    batu_rows,
    expected_prices,
    pend_days,
)

from prices import (
    ConfigError,
    NoPricesError,
    PriceQuery,
    PriceSettings,
    Process,
    System,
    UpstreamError,
    UpstreamTimeoutError,
)
from prices.batu import (
    MAX_CONCURRENT_CALLS,
    SUPPORTED_PROCESSES,
    build_call,
    make_batu_source,
    month_chunks,
    parse_response,
    request_params,
)
from prices.cache import CachedSource
from prices.http import ApiKey, HttpSource, RetryPolicy, Timeouts

BASE = "https://batu.test"
URL = BASE + "/electricity-data/pmls/zone"
AUG_2020 = pend_days(PEND_2020, "APATZINGAN")
APATZINGAN_2016 = pend_days(PEND_2016, "APATZINGAN")
SETTINGS = PriceSettings(
    source="batu",
    batu_api_url=BASE,
    batu_api_key=API_KEY,
    connect_timeout_s=0.5,
    read_timeout_s=0.5,
    fetch_deadline_s=5.0,
    cache_max_days=0,
)

Source = Callable[[], HttpSource]


@pytest.fixture
def source(fast_retry: RetryPolicy) -> Source:
    """Builds the Batu source as configured by SETTINGS (no cache, no retry waits)."""

    def build() -> HttpSource:
        built = make_batu_source(SETTINGS, policy=fast_retry)
        assert isinstance(built, HttpSource)
        return built

    return build


class KeyProvider:
    def __init__(self, key: str = API_KEY) -> None:
        self.key = key
        self.calls = 0
        self.timeouts_s: list[float] = []

    def __call__(self, *, timeout_s: float) -> str:
        self.calls += 1
        self.timeouts_s.append(timeout_s)
        return self.key


def keyed_source(api_key: ApiKey, policy: RetryPolicy) -> HttpSource:
    """The Batu pieces in an ``HttpSource`` with its own key provider."""

    def call(query: PriceQuery, first: dt.date, last: dt.date, *, api_key: str | None):
        return build_call(BASE, query, first, last, api_key=api_key)

    return HttpSource(
        name="batu",
        chunks=month_chunks,
        build_call=call,
        parse=parse_response,
        processes=SUPPORTED_PROCESSES,
        api_key=api_key,
        timeouts=Timeouts(connect_s=0.5, read_s=0.5),
        deadline_s=5.0,
        max_response_bytes=SETTINGS.max_response_bytes,
        max_concurrent_calls=MAX_CONCURRENT_CALLS,
        policy=policy,
    )


def query(start: str, end: str, **kw: object) -> PriceQuery:
    return PriceQuery(
        zone="APATZINGAN", start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), **kw
    )  # type: ignore[arg-type]


def month_matchers(first: str, last_exclusive: str) -> list[object]:
    return [
        matchers.query_param_matcher(
            {
                "load_zone_id": "APATZINGAN",
                "date_start": f"{first} 00:00:00",
                "date_end": f"{last_exclusive} 00:00:00",
            }
        ),
        matchers.header_matcher({"x-api-key": API_KEY}),
    ]


def rows_between(days: dict[dt.date, list[tuple[int, str]]], first: str, last: str) -> list:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return batu_rows("APATZINGAN", {d: h for d, h in days.items() if a <= d <= b})


def prices(result: list) -> list[list[float]]:
    return [list(day.prices_mxn_per_mwh) for day in result]


@pytest.mark.parametrize(
    ("start", "end", "chunks"),
    [
        ("2024-01-01", "2024-01-01", [("2024-01-01", "2024-01-01")]),
        (
            "2024-01-15",
            "2024-03-02",
            [
                ("2024-01-15", "2024-01-31"),
                ("2024-02-01", "2024-02-29"),
                ("2024-03-01", "2024-03-02"),
            ],
        ),
        ("2023-12-31", "2024-01-01", [("2023-12-31", "2023-12-31"), ("2024-01-01", "2024-01-01")]),
    ],
    ids=["one-day", "leap-february", "year-boundary"],
)
def test_month_chunks(start: str, end: str, chunks: list[tuple[str, str]]) -> None:
    got = month_chunks(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    assert [(a.isoformat(), b.isoformat()) for a, b in got] == chunks


def test_a_366_day_range_is_13_monthly_calls_at_most() -> None:
    chunks = month_chunks(dt.date(2024, 1, 15), dt.date(2025, 1, 14))
    assert len(chunks) == 13
    assert sum((b - a).days + 1 for a, b in chunks) == 366


def test_request_params_end_is_the_exclusive_midnight_after_the_last_day() -> None:
    assert request_params("APATZINGAN", dt.date(2024, 1, 1), dt.date(2024, 1, 31)) == {
        "load_zone_id": "APATZINGAN",
        "date_start": "2024-01-01 00:00:00",
        "date_end": "2024-02-01 00:00:00",
    }


def test_a_month_of_real_prices_arrives_exactly_as_served(
    mocked: responses.RequestsMock, source: Source
) -> None:
    rows = rows_between(AUG_2020, "2020-08-01", "2020-08-31")
    # Batu may include the row at date_end (next day 00:00); it must be dropped.
    rows.append({**rows[0], "timestamp": "2020-09-01 00:00:00", "date": "2020-09-01", "pml": 1.0})
    mocked.get(URL, json=batu_body(rows), match=month_matchers("2020-08-01", "2020-09-01"))
    result = source().fetch(query("2020-08-01", "2020-08-31"))
    assert [d.date for d in result] == [dt.date(2020, 8, 1) + dt.timedelta(i) for i in range(31)]
    assert prices(result) == expected_prices(AUG_2020, dt.date(2020, 8, 1), dt.date(2020, 8, 31))


def test_months_are_fetched_as_separate_calls(
    mocked: responses.RequestsMock, source: Source
) -> None:
    for first, last, end in [
        ("2020-08-30", "2020-08-31", "2020-09-01"),
        ("2020-09-01", "2020-09-02", "2020-09-03"),
    ]:
        mocked.get(
            URL,
            json=batu_body(rows_between(AUG_2020, first, last)),
            match=month_matchers(first, end),
        )
    result = source().fetch(query("2020-08-30", "2020-09-02"))
    assert prices(result) == expected_prices(AUG_2020, dt.date(2020, 8, 30), dt.date(2020, 9, 2))


@pytest.mark.parametrize(
    ("day", "hours"), [("2016-04-03", 23), ("2016-10-30", 25)], ids=["spring-23h", "fall-25h"]
)
def test_clock_change_days_keep_every_hour_in_order(
    mocked: responses.RequestsMock, source: Source, day: str, hours: int
) -> None:
    rows = rows_between(APATZINGAN_2016, day, day)
    assert len(rows) == hours
    mocked.get(URL, json=batu_body(rows))
    result = source().fetch(query(day, day))
    d = dt.date.fromisoformat(day)
    assert result[0].hours == hours
    assert prices(result) == expected_prices(APATZINGAN_2016, d, d)


def test_a_third_repeat_of_the_fall_back_hour_is_a_duplicate(
    mocked: responses.RequestsMock,
    source: Source,
) -> None:
    rows = rows_between(APATZINGAN_2016, "2016-10-30", "2016-10-30")
    rows.insert(2, dict(rows[1]))  # 01:00 three times
    rows.pop()  # still 25 rows
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(UpstreamError, match="more than once"):
        source().fetch(query("2016-10-30", "2016-10-30"))


def test_a_0200_timestamp_on_the_spring_forward_day_is_rejected(
    mocked: responses.RequestsMock,
    source: Source,
) -> None:
    rows = rows_between(APATZINGAN_2016, "2016-04-03", "2016-04-03")
    rows[2] = {**rows[2], "timestamp": "2016-04-03 02:00:00"}
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(UpstreamError, match="does not exist"):
        source().fetch(query("2016-04-03", "2016-04-03"))


def test_5xx_then_success_is_retried(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(URL, status=503)
    mocked.get(URL, status=502)
    ok = mocked.get(URL, json=batu_body(rows_between(AUG_2020, "2020-08-01", "2020-08-01")))
    result = source().fetch(query("2020-08-01", "2020-08-01"))
    assert prices(result) == expected_prices(AUG_2020, dt.date(2020, 8, 1), dt.date(2020, 8, 1))
    assert len(mocked.calls) == 3
    assert ok.call_count == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [(429, "rate-limiting"), (500, "HTTP 500"), (503, "HTTP 503")],
    ids=["429", "500", "503"],
)
def test_retries_are_bounded_then_502(
    mocked: responses.RequestsMock, source: Source, status: int, message: str
) -> None:
    failing = mocked.get(URL, status=status, headers={"Retry-After": "3600"})
    with pytest.raises(UpstreamError, match=message) as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert err.value.status == 502
    assert failing.call_count == 1 + RetryPolicy().status


@pytest.mark.parametrize("status", [401, 403], ids=["401", "403"])
def test_a_rejected_key_is_a_502_that_does_not_show_the_key(
    mocked: responses.RequestsMock, source: Source, status: int
) -> None:
    mocked.get(URL, status=status, json={"message": "Forbidden"})
    with pytest.raises(UpstreamError, match="rejected the API key") as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert API_KEY not in err.value.detail
    assert err.value.status == 502


@pytest.mark.parametrize(
    "body",
    [BATU_NO_DATA, {"status": "success", "items": 0, "data": []}],
    ids=["no-query-results", "zero-items"],
)
def test_no_data_is_404(mocked: responses.RequestsMock, source: Source, body: dict) -> None:
    mocked.get(URL, status=400 if body["status"] == "fail" else 200, json=body)
    with pytest.raises(NoPricesError, match="no prices for 'APATZINGAN'") as err:
        source().fetch(query("2030-01-01", "2030-01-03"))
    assert err.value.status == 404


def test_some_months_without_data_is_404_naming_the_days(
    mocked: responses.RequestsMock, source: Source
) -> None:
    mocked.get(
        URL,
        json=batu_body(rows_between(AUG_2020, "2020-08-31", "2020-08-31")),
        match=month_matchers("2020-08-31", "2020-09-01"),
    )
    mocked.get(URL, status=400, json=BATU_NO_DATA, match=month_matchers("2020-09-01", "2020-09-11"))
    with pytest.raises(NoPricesError, match="10 of the 11 requested days"):
        source().fetch(query("2020-08-31", "2020-09-10"))


def test_another_400_message_is_a_502(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(URL, status=400, json={"status": "fail", "data": {"message": "Invalid zone id"}})
    with pytest.raises(UpstreamError, match="Invalid zone id"):
        source().fetch(query("2020-08-01", "2020-08-01"))


def _one_day_rows() -> list[dict]:
    return rows_between(AUG_2020, "2020-08-01", "2020-08-01")


def _drop_hour(rows: list[dict]) -> dict:
    return batu_body(rows[:5] + rows[6:])


def _duplicate_hour(rows: list[dict]) -> dict:
    return batu_body([*rows[:6], rows[5], *rows[6:]])


def _string_price(rows: list[dict]) -> dict:
    rows[3] = {**rows[3], "pml": "n/a"}
    return batu_body(rows)


def _nan_price(rows: list[dict]) -> dict:
    rows[3] = {**rows[3], "pml": "NaN"}
    return batu_body(rows)


def _other_zone(rows: list[dict]) -> dict:
    rows[0] = {**rows[0], "load_zone_id": "MORELIA"}
    return batu_body(rows)


def _half_hour(rows: list[dict]) -> dict:
    rows[0] = {**rows[0], "timestamp": "2020-08-01 00:30:00"}
    return batu_body(rows)


def _bad_timestamp(rows: list[dict]) -> dict:
    rows[0] = {**rows[0], "timestamp": "yesterday"}
    return batu_body(rows)


def _items_mismatch(rows: list[dict]) -> dict:
    return {**batu_body(rows), "items": 48}


def _no_status(rows: list[dict]) -> dict:
    return {"items": len(rows), "data": rows}


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (_drop_hour, "missing hour 5"),
        (_duplicate_hour, "2020-08-01 05:00:00 appears more than once"),
        (_string_price, "not a number"),
        (_nan_price, "not finite"),
        (_other_zone, "another zone"),
        (_half_hour, "start of an hour"),
        (_bad_timestamp, "unreadable timestamp"),
        (_items_mismatch, "said 48 items but sent 24"),
        (_no_status, "status 'success'"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_bad_data_is_a_502_never_a_partial_day(
    mocked: responses.RequestsMock, source: Source, mangle, message: str
) -> None:
    mocked.get(URL, json=mangle(_one_day_rows()))
    with pytest.raises(UpstreamError, match=message) as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert err.value.status == 502


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, '{"message": "Not Found"}', "answered HTTP 404"),
        (404, "<html>Not Found</html>", "HTTP 404 with a body that is not JSON"),
        (301, "", "HTTP 301 with a body that is not JSON"),
    ],
    ids=["404-json", "404-html", "redirect"],
)
def test_other_statuses_are_502(
    mocked: responses.RequestsMock, source: Source, status: int, body: str, message: str
) -> None:
    mocked.get(URL, status=status, body=body)
    with pytest.raises(UpstreamError, match=message):
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert len(mocked.calls) == 1


def test_a_body_that_is_not_json_is_a_502(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(URL, body="<html>Bad gateway</html>", status=200)
    with pytest.raises(UpstreamError, match="not JSON"):
        source().fetch(query("2020-08-01", "2020-08-01"))


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (requests.ReadTimeout(), UpstreamTimeoutError),
        (requests.ConnectTimeout(), UpstreamTimeoutError),
        (requests.ConnectionError(), UpstreamError),
    ],
    ids=["read-timeout", "connect-timeout", "connection-error"],
)
def test_transport_faults_map_to_504_or_502(
    mocked: responses.RequestsMock, source: Source, fault: Exception, error: type[Exception]
) -> None:
    mocked.get(URL, body=fault)
    with pytest.raises(error) as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert err.type is error


def test_mtr_is_not_served_and_nothing_is_called(
    mocked: responses.RequestsMock, source: Source
) -> None:
    with pytest.raises(NoPricesError, match="MDA"):
        source().fetch(query("2020-08-01", "2020-08-01", process=Process.MTR))
    assert len(mocked.calls) == 0


def test_the_key_is_asked_for_once_per_fetch_and_sent_as_header(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    key = KeyProvider()
    batu = keyed_source(key, fast_retry)
    assert key.calls == 0
    for _ in range(2):
        mocked.get(
            URL,
            json=batu_body(_one_day_rows()),
            match=[matchers.header_matcher({"x-api-key": API_KEY})],
        )
    batu.fetch(query("2020-08-01", "2020-08-01"))
    assert key.calls == 1
    batu.fetch(query("2020-08-01", "2020-08-01"))
    assert key.calls == 2  # prices.secrets keeps the one cache (of a key read from SSM)
    # Each time with the fetch's time left: at most the source's own 5 s deadline.
    assert all(0.0 < t <= 5.0 for t in key.timeouts_s)


def test_the_key_gets_the_request_deadlines_time_left(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    key = KeyProvider()
    with pytest.raises(UpstreamTimeoutError):
        keyed_source(key, fast_retry).fetch(
            query("2020-08-01", "2020-08-01"), deadline_s=time.monotonic() - 1.0
        )
    assert key.timeouts_s == [0.0]  # a deadline already passed: no waiting for the key
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    "provider",
    [
        KeyProvider(""),
        lambda *, timeout_s: (_ for _ in ()).throw(UpstreamError("could not read from SSM")),
    ],
    ids=["empty", "failing"],
)
def test_a_bad_key_fails_the_fetch_without_calling(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy, provider: ApiKey
) -> None:
    with pytest.raises(UpstreamError, match=r"key is empty|SSM") as err:
        keyed_source(provider, fast_retry).fetch(query("2020-08-01", "2020-08-01"))
    assert err.value.status == 502
    assert len(mocked.calls) == 0


def test_bca_follows_us_clock_changes(mocked: responses.RequestsMock, source: Source) -> None:
    mexicali = pend_days(PEND_2016, "MEXICALI", system="BCA")
    day = dt.date(2016, 3, 13)
    rows = batu_rows("MEXICALI", {day: mexicali[day]})
    assert len(rows) == 23
    mocked.get(URL, json=batu_body(rows))
    q = PriceQuery(zone="MEXICALI", system=System.BCA, start=day, end=day)
    result = source().fetch(q)
    assert prices(result) == expected_prices(mexicali, day, day)


def test_make_batu_source_needs_a_key_or_an_ssm_parameter() -> None:
    with pytest.raises(ConfigError, match="BATU_API_KEY"):
        make_batu_source(PriceSettings(source="batu"))


def test_make_batu_source_is_cached_unless_disabled() -> None:
    env = {"PRICE_SOURCE": "batu", "BATU_API_KEY_SSM_PARAMETER": "/x/batu-key"}
    cached = make_batu_source(PriceSettings.from_env(env))
    assert isinstance(cached, CachedSource)
    assert cached.name == "batu"
    assert cached.max_days == PriceSettings.cache_max_days
    plain = make_batu_source(PriceSettings.from_env({**env, "PRICE_CACHE_MAX_DAYS": "0"}))
    assert isinstance(plain, HttpSource)
    assert plain.name == "batu"
    assert plain.processes == {Process.MDA}


def test_the_key_never_appears_in_a_detail(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(
        URL, body=json.dumps({"status": "fail", "data": {"message": "Bad key format"}}), status=400
    )
    with pytest.raises(UpstreamError) as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert API_KEY not in str(err.value)


@pytest.mark.parametrize(
    "message",
    [
        f"invalid key {API_KEY}",
        f"request had x-api-key={API_KEY}; rejected",
        "bad token: sk_live_51HcKfJ2eZvKYlo2C0123456789abc",
        "denied for eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    ],
    ids=["echoed-key", "key-assignment", "token-assignment", "long-token"],
)
def test_upstream_text_is_quoted_without_the_key_or_anything_like_it(
    mocked: responses.RequestsMock, source: Source, message: str
) -> None:
    mocked.get(URL, status=400, json={"status": "fail", "data": {"message": message}})
    with pytest.raises(UpstreamError, match=r"refused the request \(HTTP 400\)") as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    detail = err.value.detail
    assert "[redacted]" in detail
    for secret in (API_KEY, "sk_live_51HcKfJ2eZvKYlo2C0123456789abc", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in detail
        assert secret not in str(err.value)


def test_a_long_upstream_message_is_cut_to_200_characters(
    mocked: responses.RequestsMock, source: Source
) -> None:
    message = "Invalid zone. " * 100
    mocked.get(URL, status=400, json={"status": "fail", "data": {"message": message}})
    with pytest.raises(UpstreamError, match="Invalid zone") as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    quoted = err.value.detail.split(": ", 1)[1]
    assert len(quoted) == 200
    assert quoted.endswith("…")


@pytest.mark.parametrize("pml", ["1_000", " 1e3 ", "1e3 ", "+5", "0x10", ".5", "1.", True, None])
def test_a_price_outside_json_number_syntax_is_a_502(
    mocked: responses.RequestsMock, source: Source, pml: object
) -> None:
    rows = _one_day_rows()
    rows[3] = {**rows[3], "pml": pml}
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(UpstreamError, match=r"row 3 \(2020-08-01 03:00:00\).*not a number"):
        source().fetch(query("2020-08-01", "2020-08-01"))


@pytest.mark.parametrize("pml", ["-12.5", "1e3", "283.19", 0, -1000000.0])
def test_numeric_strings_in_json_syntax_are_read(
    mocked: responses.RequestsMock, source: Source, pml: object
) -> None:
    rows = _one_day_rows()
    rows[3] = {**rows[3], "pml": pml}
    mocked.get(URL, json=batu_body(rows))
    result = source().fetch(query("2020-08-01", "2020-08-01"))
    assert result[0].prices_mxn_per_mwh[3] == pytest.approx(float(pml))  # type: ignore[arg-type]


@pytest.mark.parametrize("pml", [1e300, -1000000.01, "2e6"], ids=["1e300", "below", "string"])
def test_a_price_beyond_a_million_is_a_502_naming_the_day(
    mocked: responses.RequestsMock, source: Source, pml: object
) -> None:
    rows = _one_day_rows()
    rows[7] = {**rows[7], "pml": pml}
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(UpstreamError, match=r"2020-08-01 07:00:00.*beyond ±1,000,000") as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert err.value.status == 502


def test_a_200_with_rows_only_for_other_dates_is_a_502(
    mocked: responses.RequestsMock, source: Source
) -> None:
    rows = rows_between(AUG_2020, "2020-08-05", "2020-08-05")
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(UpstreamError, match="2020-08-05, which was not asked") as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert err.value.status == 502


def test_a_200_with_only_the_date_end_row_is_no_data(
    mocked: responses.RequestsMock, source: Source
) -> None:
    # Batu may read date_end as inclusive: its midnight row alone means nothing for the days.
    rows = rows_between(AUG_2020, "2020-08-02", "2020-08-02")[:1]
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(NoPricesError):
        source().fetch(query("2020-08-01", "2020-08-01"))
