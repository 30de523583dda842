"""The Batu source against mocked HTTP (responses), with real CENACE prices as payloads."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

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
from prices.batu import BatuSource, make_batu_source, month_chunks, request_params
from prices.cache import CachedSource
from prices.http import RetryPolicy, Timeouts

BASE = "https://batu.test"
URL = BASE + "/electricity-data/pmls/zone"
FAST = RetryPolicy(backoff_factor_s=0.0, backoff_max_s=0.0, retry_after_max_s=0.0)
AUG_2020 = pend_days(PEND_2020, "APATZINGAN")
APATZINGAN_2016 = pend_days(PEND_2016, "APATZINGAN")


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


class KeyProvider:
    def __init__(self, key: str = API_KEY) -> None:
        self.key = key
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.key


def source(key: KeyProvider | None = None) -> BatuSource:
    return BatuSource(
        base_url=BASE,
        api_key=key or KeyProvider(),
        timeouts=Timeouts(connect_s=0.5, read_s=0.5),
        deadline_s=5.0,
        policy=FAST,
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


def test_a_month_of_real_prices_arrives_exactly_as_served(mocked: responses.RequestsMock) -> None:
    rows = rows_between(AUG_2020, "2020-08-01", "2020-08-31")
    # Batu may include the row at date_end (next day 00:00); it must be dropped.
    rows.append({**rows[0], "timestamp": "2020-09-01 00:00:00", "date": "2020-09-01", "pml": 1.0})
    mocked.get(URL, json=batu_body(rows), match=month_matchers("2020-08-01", "2020-09-01"))
    result = source().fetch(query("2020-08-01", "2020-08-31"))
    assert [d.date for d in result] == [dt.date(2020, 8, 1) + dt.timedelta(i) for i in range(31)]
    assert prices(result) == expected_prices(AUG_2020, dt.date(2020, 8, 1), dt.date(2020, 8, 31))


def test_months_are_fetched_as_separate_calls(mocked: responses.RequestsMock) -> None:
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
    mocked: responses.RequestsMock, day: str, hours: int
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
) -> None:
    rows = rows_between(APATZINGAN_2016, "2016-10-30", "2016-10-30")
    rows.insert(2, dict(rows[1]))  # 01:00 three times
    rows.pop()  # still 25 rows
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(UpstreamError, match="more than once"):
        source().fetch(query("2016-10-30", "2016-10-30"))


def test_a_0200_timestamp_on_the_spring_forward_day_is_rejected(
    mocked: responses.RequestsMock,
) -> None:
    rows = rows_between(APATZINGAN_2016, "2016-04-03", "2016-04-03")
    rows[2] = {**rows[2], "timestamp": "2016-04-03 02:00:00"}
    mocked.get(URL, json=batu_body(rows))
    with pytest.raises(UpstreamError, match="does not exist"):
        source().fetch(query("2016-04-03", "2016-04-03"))


def test_5xx_then_success_is_retried(mocked: responses.RequestsMock) -> None:
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
    mocked: responses.RequestsMock, status: int, message: str
) -> None:
    failing = mocked.get(URL, status=status, headers={"Retry-After": "3600"})
    with pytest.raises(UpstreamError, match=message) as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert err.value.status == 502
    assert failing.call_count == 1 + FAST.status


@pytest.mark.parametrize("status", [401, 403], ids=["401", "403"])
def test_a_rejected_key_is_a_502_that_does_not_show_the_key(
    mocked: responses.RequestsMock, status: int
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
def test_no_data_is_404(mocked: responses.RequestsMock, body: dict) -> None:
    mocked.get(URL, status=400 if body["status"] == "fail" else 200, json=body)
    with pytest.raises(NoPricesError, match="no prices for 'APATZINGAN'") as err:
        source().fetch(query("2030-01-01", "2030-01-03"))
    assert err.value.status == 404


def test_some_months_without_data_is_404_naming_the_days(mocked: responses.RequestsMock) -> None:
    mocked.get(
        URL,
        json=batu_body(rows_between(AUG_2020, "2020-08-31", "2020-08-31")),
        match=month_matchers("2020-08-31", "2020-09-01"),
    )
    mocked.get(URL, status=400, json=BATU_NO_DATA, match=month_matchers("2020-09-01", "2020-09-11"))
    with pytest.raises(NoPricesError, match="10 of the 11 requested days"):
        source().fetch(query("2020-08-31", "2020-09-10"))


def test_another_400_message_is_a_502(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=400, json={"status": "fail", "data": {"message": "Invalid zone id"}})
    with pytest.raises(UpstreamError, match="Invalid zone id"):
        source().fetch(query("2020-08-01", "2020-08-01"))


def _one_day_rows() -> list[dict]:
    return rows_between(AUG_2020, "2020-08-01", "2020-08-01")


def _drop_hour(rows: list[dict]) -> dict:
    return batu_body(rows[:5] + rows[6:])


def _duplicate_hour(rows: list[dict]) -> dict:
    return batu_body(rows[:6] + [rows[5]] + rows[6:])


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
        (_duplicate_hour, "hour 5 appears more than once"),
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
    mocked: responses.RequestsMock, mangle, message: str
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
    mocked: responses.RequestsMock, status: int, body: str, message: str
) -> None:
    mocked.get(URL, status=status, body=body)
    with pytest.raises(UpstreamError, match=message):
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert len(mocked.calls) == 1


def test_a_body_that_is_not_json_is_a_502(mocked: responses.RequestsMock) -> None:
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
    mocked: responses.RequestsMock, fault: Exception, error: type[Exception]
) -> None:
    mocked.get(URL, body=fault)
    with pytest.raises(error) as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert err.type is error


def test_mtr_is_not_served_and_nothing_is_called(mocked: responses.RequestsMock) -> None:
    with pytest.raises(NoPricesError, match="MDA"):
        source().fetch(query("2020-08-01", "2020-08-01", process=Process.MTR))
    assert len(mocked.calls) == 0


def test_the_key_is_read_lazily_once_and_sent_as_header(mocked: responses.RequestsMock) -> None:
    key = KeyProvider()
    batu = source(key)
    assert key.calls == 0
    for _ in range(2):
        mocked.get(
            URL,
            json=batu_body(_one_day_rows()),
            match=[matchers.header_matcher({"x-api-key": API_KEY})],
        )
    batu.fetch(query("2020-08-01", "2020-08-01"))
    batu.fetch(query("2020-08-01", "2020-08-01"))
    assert key.calls == 1


def test_a_failing_key_provider_fails_the_fetch_without_calling(
    mocked: responses.RequestsMock,
) -> None:
    def broken() -> str:
        raise UpstreamError("could not read the Batu API key from SSM")

    batu = BatuSource(
        base_url=BASE,
        api_key=broken,
        timeouts=Timeouts(connect_s=0.5, read_s=0.5),
        deadline_s=1,
    )
    with pytest.raises(UpstreamError, match="SSM"):
        batu.fetch(query("2020-08-01", "2020-08-01"))
    assert len(mocked.calls) == 0


def test_bca_follows_us_clock_changes(mocked: responses.RequestsMock) -> None:
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
    assert isinstance(plain, BatuSource)


def test_the_key_never_appears_in_a_detail(mocked: responses.RequestsMock) -> None:
    mocked.get(
        URL, body=json.dumps({"status": "fail", "data": {"message": "Bad key format"}}), status=400
    )
    with pytest.raises(UpstreamError) as err:
        source().fetch(query("2020-08-01", "2020-08-01"))
    assert API_KEY not in str(err.value)
