"""The Batu and CENACE sources against a real HTTP server on 127.0.0.1 that serves real CENACE
prices (data/cenace/) in each upstream's wire format, with injected faults; and the
whole service (``create_app`` → POST /optimize) on top of it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from upstream_server import (
    API_KEY,
    PEND_2016,
    PEND_2020,
    Fault,
    Upstream,
    batu_body,
    batu_rows,
    expected_prices,
    pend_days,
    pml_raw_bytes,
    serve,
)

from app import create_app
from prices import (
    NoPricesError,
    PriceQuery,
    PriceSettings,
    UpstreamError,
    UpstreamTimeoutError,
)
from prices.batu import make_batu_source
from prices.cenace import make_cenace_source
from prices.http import RetryPolicy

#: tiny backoff and Retry-After cap so fault tests stay fast
POLICY = RetryPolicy(
    total=3,
    connect=1,
    read=1,
    status=3,
    backoff_factor_s=0.01,
    backoff_max_s=0.05,
    retry_after_max_s=0.05,
)
AUG_2020 = pend_days(PEND_2020, "APATZINGAN")
APATZINGAN_2016 = pend_days(PEND_2016, "APATZINGAN")
VDM_2016 = pend_days(PEND_2016, "VDM CENTRO")
BATU_APATZINGAN = batu_rows("APATZINGAN", {**APATZINGAN_2016, **AUG_2020})


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    up.batu["APATZINGAN"] = list(BATU_APATZINGAN)  # tests may change their copy
    up.cenace[("SWPEND", "SIN", "MDA", "APATZINGAN")] = {**APATZINGAN_2016, **AUG_2020}
    up.cenace[("SWPEND", "SIN", "MDA", "VDM-CENTRO")] = VDM_2016
    node_day = dt.date(2026, 9, 8)
    up.cenace_raw[("SIN", "MDA", "01PLO-115", node_day, node_day)] = pml_raw_bytes()
    yield from serve(up)


def settings(up: Upstream, **kw: object) -> PriceSettings:
    base: dict[str, object] = {
        "batu_api_url": up.url,
        "batu_api_key": API_KEY,
        "cenace_base_url": up.url,
        "connect_timeout_s": 0.5,
        "read_timeout_s": 1.0,
        "fetch_deadline_s": 3.0,
        "cache_max_days": 0,
    }
    return PriceSettings(**{**base, **kw})  # type: ignore[arg-type]


def batu(up: Upstream, **kw: object):
    return make_batu_source(settings(up, source="batu", **kw), policy=POLICY)


def cenace(up: Upstream, **kw: object):
    return make_cenace_source(settings(up, source="cenace", **kw), policy=POLICY)


def q(zone: str, start: str, end: str) -> PriceQuery:
    return PriceQuery(zone=zone, start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end))


def prices(result: list) -> list[list[float]]:
    return [list(day.prices_mxn_per_mwh) for day in result]


def served(days: dict, start: str, end: str) -> list[list[float]]:
    return expected_prices(days, dt.date.fromisoformat(start), dt.date.fromisoformat(end))


def drop_batu_row(up: Upstream, timestamp: str) -> None:
    up.batu["APATZINGAN"] = [r for r in up.batu["APATZINGAN"] if r["timestamp"] != timestamp]


# --- Batu --------------------------------------------------------------------------------------


def test_batu_real_prices_arrive_exactly_as_served(upstream: Upstream) -> None:
    result = batu(upstream).fetch(q("APATZINGAN", "2020-08-01", "2020-08-31"))
    assert prices(result) == served(AUG_2020, "2020-08-01", "2020-08-31")
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [("2016-04-02", "2016-04-04", [24, 23, 24]), ("2016-10-29", "2016-11-01", [24, 25, 24, 24])],
    ids=["spring-23h", "fall-25h"],
)
def test_batu_clock_change_days(upstream: Upstream, start: str, end: str, hours: list) -> None:
    result = batu(upstream).fetch(q("APATZINGAN", start, end))
    assert [d.hours for d in result] == hours
    assert prices(result) == served(APATZINGAN_2016, start, end)


def test_batu_5xx_then_success(upstream: Upstream) -> None:
    upstream.faults = [Fault(status=503), Fault(status=500, body=b"oops")]
    result = batu(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-04")
    assert len(upstream.requests) == 3


def test_batu_429_with_a_long_retry_after_is_capped(upstream: Upstream) -> None:
    # An uncapped Retry-After of an hour would blow the 3 s deadline (504).
    upstream.faults = [Fault(status=429, headers={"Retry-After": "3600"})]
    result = batu(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-03")
    assert len(upstream.requests) == 2


def test_batu_5xx_that_persists_is_502(upstream: Upstream) -> None:
    upstream.faults = [Fault(status=502)] * 10
    with pytest.raises(UpstreamError, match="HTTP 502") as err:
        batu(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert err.value.status == 502
    assert len(upstream.requests) == 1 + POLICY.status


def test_batu_garbage_body_is_502(upstream: Upstream) -> None:
    upstream.faults = [Fault(status=200, body=b"<html><body>maintenance</body></html>")]
    with pytest.raises(UpstreamError, match="not JSON"):
        batu(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))


def test_batu_missing_hour_is_502(upstream: Upstream) -> None:
    drop_batu_row(upstream, "2020-08-10 17:00:00")
    with pytest.raises(UpstreamError, match="2020-08-10 is missing hour 17"):
        batu(upstream).fetch(q("APATZINGAN", "2020-08-01", "2020-08-31"))


def test_batu_duplicate_hour_is_502(upstream: Upstream) -> None:
    rows = upstream.batu["APATZINGAN"]
    i = next(i for i, r in enumerate(rows) if r["timestamp"] == "2020-08-10 17:00:00")
    rows.insert(i, {**rows[i], "pml": 1.0})
    with pytest.raises(UpstreamError, match="2020-08-10 17:00:00 appears more than once"):
        batu(upstream).fetch(q("APATZINGAN", "2020-08-01", "2020-08-31"))


def test_batu_slow_response_beyond_the_read_timeout_is_504(upstream: Upstream) -> None:
    upstream.faults = [Fault(delay_s=0.8), Fault(delay_s=0.8)]  # the read retry is slow too
    with pytest.raises(UpstreamTimeoutError) as err:
        batu(upstream, read_timeout_s=0.3).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert err.value.status == 504


def test_batu_body_stalling_after_the_headers_is_504(upstream: Upstream) -> None:
    upstream.faults = [Fault(stall_body_s=0.8)]
    with pytest.raises(UpstreamTimeoutError) as err:
        batu(upstream, read_timeout_s=0.3).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert err.value.status == 504


def test_batu_one_slow_response_is_retried(upstream: Upstream) -> None:
    upstream.faults = [Fault(delay_s=1.2)]
    result = batu(upstream, read_timeout_s=0.5).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-03")


def test_batu_overall_deadline_is_504(upstream: Upstream) -> None:
    upstream.latency_s = 0.6
    source = batu(upstream, read_timeout_s=5.0, fetch_deadline_s=0.3)
    with pytest.raises(UpstreamTimeoutError, match="deadline"):
        source.fetch(q("APATZINGAN", "2020-08-03", "2020-09-03"))


def test_batu_no_data_is_404(upstream: Upstream) -> None:
    with pytest.raises(NoPricesError) as err:
        batu(upstream).fetch(q("APATZINGAN", "2031-01-01", "2031-02-10"))
    assert err.value.status == 404
    assert len(upstream.requests) == 2


def test_batu_unknown_zone_is_404(upstream: Upstream) -> None:
    with pytest.raises(NoPricesError, match="'ATLANTIS'"):
        batu(upstream).fetch(q("ATLANTIS", "2020-08-01", "2020-08-01"))


def test_batu_wrong_key_is_502_saying_the_key_was_rejected(upstream: Upstream) -> None:
    with pytest.raises(UpstreamError, match="rejected the API key") as err:
        batu(upstream, batu_api_key="not-the-key").fetch(
            q("APATZINGAN", "2020-08-03", "2020-08-03")
        )
    assert err.value.status == 502
    assert "not-the-key" not in err.value.detail


def test_batu_a_year_with_slow_calls_completes(upstream: Upstream) -> None:
    """366 days (2016-02-01..2017-01-31, with its 23- and 25-hour days), each call 0.5 s."""
    upstream.latency_s = 0.5
    source = batu(upstream, read_timeout_s=5.0, fetch_deadline_s=25.0, request_deadline_s=25.0)
    began = time.perf_counter()
    result = source.fetch(q("APATZINGAN", "2016-02-01", "2017-01-31"))
    elapsed = time.perf_counter() - began
    print(f"\nbatu: 366 days in {len(upstream.requests)} calls of 0.5 s each: {elapsed:.2f} s")
    assert len(result) == 366
    assert len(upstream.requests) == 12
    assert prices(result) == served(APATZINGAN_2016, "2016-02-01", "2017-01-31")
    assert sorted({d.hours for d in result}) == [23, 24, 25]


def test_batu_cache_avoids_refetching(upstream: Upstream) -> None:
    source = batu(upstream, cache_max_days=100)
    first = source.fetch(q("APATZINGAN", "2020-08-01", "2020-08-10"))
    second = source.fetch(q("APATZINGAN", "2020-08-03", "2020-08-05"))
    assert second == first[2:5]
    assert len(upstream.requests) == 1


def test_batu_request_deadline_comes_before_the_fetch_deadline(upstream: Upstream) -> None:
    upstream.latency_s = 0.6
    source = batu(upstream, read_timeout_s=5.0, fetch_deadline_s=3.0)
    began = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match="deadline"):
        source.fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"), deadline_s=began + 0.2)


# --- Bounded upstreams (SPEC §13) ----------------------------------------------------------------


def _fetch_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}-fetch")]


def _wait_for_no_fetch_threads(name: str, *, within_s: float) -> list[threading.Thread]:
    """The fetch threads still alive after waiting up to ``within_s`` for them to end."""
    stop = time.monotonic() + within_s
    while _fetch_threads(name) and time.monotonic() < stop:
        time.sleep(0.02)
    return _fetch_threads(name)


def test_batu_gzip_bomb_is_a_502_without_inflating_it(upstream: Upstream) -> None:
    inflated = b"[" + b" " * (64 * 1024 * 1024) + b"]"  # 64 MiB of JSON, about 64 KB gzipped
    upstream.faults = [Fault(status=200, body=inflated, gzip=True)]
    source = batu(upstream, max_response_bytes=1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(UpstreamError, match="larger than 1000000 bytes") as err:
            source.fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.status == 502
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while reading the answer"


def test_batu_a_gzipped_answer_is_read(upstream: Upstream) -> None:
    rows = [r for r in BATU_APATZINGAN if str(r["timestamp"]).startswith("2020-08-03")]
    upstream.faults = [Fault(status=200, body=json.dumps(batu_body(rows)).encode(), gzip=True)]
    result = batu(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-03")


def test_batu_a_drip_is_cut_at_the_deadline_and_leaves_no_thread(upstream: Upstream) -> None:
    # One byte every 50 ms never trips the 1 s read timeout; only the deadline stops it. The
    # server drips for up to 20 s: a fetch thread left reading would still be alive below.
    body = json.dumps(batu_body(BATU_APATZINGAN)).encode()
    upstream.faults = [Fault(status=200, body=body, drip_s=0.05, drip_for_s=20.0)]
    source = batu(upstream, read_timeout_s=1.0, fetch_deadline_s=0.5)
    assert _fetch_threads("batu") == []
    with pytest.raises(UpstreamTimeoutError) as err:
        source.fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert err.value.status == 504
    assert _wait_for_no_fetch_threads("batu", within_s=1.0 + 1.0) == []


def test_batu_five_drips_leave_no_thread(upstream: Upstream) -> None:
    body = json.dumps(batu_body(BATU_APATZINGAN)).encode()
    source = batu(upstream, read_timeout_s=1.0, fetch_deadline_s=0.3)
    for _ in range(5):
        upstream.faults = [Fault(status=200, body=body, drip_s=0.05, drip_for_s=20.0)]
        with pytest.raises(UpstreamTimeoutError):
            source.fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert _wait_for_no_fetch_threads("batu", within_s=1.0 + 1.0) == []


def test_batu_huge_price_is_a_502_naming_the_day_and_is_not_cached(upstream: Upstream) -> None:
    rows = upstream.batu["APATZINGAN"]
    i = next(i for i, r in enumerate(rows) if r["timestamp"] == "2020-08-04 18:00:00")
    good = rows[i]
    rows[i] = {**good, "pml": 1e300}
    source = batu(upstream, cache_max_days=100)
    for _ in range(2):
        with pytest.raises(UpstreamError, match=r"2020-08-04 18:00:00.*beyond") as err:
            source.fetch(q("APATZINGAN", "2020-08-03", "2020-08-05"))
        assert err.value.status == 502
    assert len(upstream.requests) == 2  # the second request asked upstream again
    rows[i] = good
    result = source.fetch(q("APATZINGAN", "2020-08-03", "2020-08-05"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-05")
    assert len(upstream.requests) == 3


def test_batu_no_retry_waits_or_starts_past_the_deadline(upstream: Upstream) -> None:
    # Retry-After 3 s (allowed up to 3 s here) but a 0.5 s deadline: the wait is cut at the
    # deadline and no second request is made; the thread is free at once.
    upstream.faults = [Fault(status=503, headers={"Retry-After": "3"})] * 5
    policy = RetryPolicy(status=3, backoff_factor_s=0.0, retry_after_max_s=3.0)
    settings_ = settings(upstream, source="batu", fetch_deadline_s=0.5)
    source = make_batu_source(settings_, policy=policy)
    with pytest.raises(UpstreamTimeoutError, match="deadline"):
        source.fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert len(upstream.requests) == 1
    assert _wait_for_no_fetch_threads("batu", within_s=1.0) == []


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there now: connecting is refused at once


@pytest.mark.parametrize("name", ["batu", "cenace"])
def test_a_refused_connection_is_a_502_could_not_connect(upstream: Upstream, name: str) -> None:
    upstream.url = f"http://127.0.0.1:{_closed_port()}"
    make = batu if name == "batu" else cenace
    with pytest.raises(UpstreamError, match="could not connect") as err:
        make(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-03"))
    assert err.type is UpstreamError
    assert err.value.status == 502


# --- CENACE ------------------------------------------------------------------------------------


def test_cenace_raw_swpml_response_arrives_exactly_as_served(upstream: Upstream) -> None:
    result = cenace(upstream).fetch(q("01PLO-115", "2026-09-08", "2026-09-08"))
    valores = json.loads(pml_raw_bytes())["Resultados"][0]["Valores"]
    assert prices(result) == [[float(v["pml"]) for v in valores]]
    assert upstream.requests[0][0] == "/SWPML/SIM/SIN/MDA/01PLO-115/2026/09/08/2026/09/08/JSON"


@pytest.mark.parametrize(
    ("start", "end"),
    [("2016-03-30", "2016-04-08"), ("2016-10-25", "2016-11-02")],
    ids=["spring-23h", "fall-25h"],
)
def test_cenace_clock_change_days_over_several_calls(upstream: Upstream, start: str, end: str):
    result = cenace(upstream).fetch(q("APATZINGAN", start, end))
    assert prices(result) == served(APATZINGAN_2016, start, end)
    assert sorted({d.hours for d in result}) in ([23, 24], [24, 25])
    assert len(upstream.requests) == 2


def test_cenace_zone_with_spaces(upstream: Upstream) -> None:
    result = cenace(upstream).fetch(q("VDM CENTRO", "2017-01-01", "2017-01-03"))
    assert prices(result) == served(VDM_2016, "2017-01-01", "2017-01-03")
    assert upstream.requests[0][0] == "/SWPEND/SIM/SIN/MDA/VDM-CENTRO/2017/01/01/2017/01/03/JSON"


def test_cenace_aspnet_error_then_success(upstream: Upstream) -> None:
    upstream.faults = [Fault(status=500, body=b'{"Message":"An error has occurred."}')]
    result = cenace(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-04")


ASPNET_BODY = b'{"Message":"An error has occurred."}'


def test_cenace_aspnet_error_with_200_then_success(upstream: Upstream) -> None:
    upstream.faults = [Fault(status=200, body=ASPNET_BODY)]
    result = cenace(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-04")
    assert len(upstream.requests) == 2


def test_cenace_aspnet_errors_with_200_and_500_share_one_retry_budget(upstream: Upstream) -> None:
    # 500, 200+Message, 500, 200+Message: the first attempt and POLICY.status retries, then 502
    # although a good answer would follow
    upstream.faults = [Fault(status=500 if n % 2 == 0 else 200, body=ASPNET_BODY) for n in range(4)]
    with pytest.raises(UpstreamError, match="An error has occurred") as err:
        cenace(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))
    assert err.value.status == 502
    assert len(upstream.requests) == 1 + POLICY.status


def test_cenace_429_with_retry_after_then_success(upstream: Upstream) -> None:
    upstream.faults = [Fault(status=429, headers={"Retry-After": "120"})]
    result = cenace(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))
    assert prices(result) == served(AUG_2020, "2020-08-03", "2020-08-04")


def test_cenace_garbage_is_502(upstream: Upstream) -> None:
    upstream.faults = [Fault(status=200, body=b"\x89PNG garbage")]
    with pytest.raises(UpstreamError, match="not a JSON object"):
        cenace(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))


def test_cenace_missing_hour_is_502(upstream: Upstream) -> None:
    days = upstream.cenace[("SWPEND", "SIN", "MDA", "APATZINGAN")]
    day = dt.date(2016, 10, 30)
    days[day] = days[day][:-1]  # 24 of 25 hours on the fall-back day
    with pytest.raises(UpstreamError, match="2016-10-30 is missing hour 24"):
        cenace(upstream).fetch(q("APATZINGAN", "2016-10-29", "2016-10-31"))


def test_cenace_duplicate_hour_is_502(upstream: Upstream) -> None:
    days = upstream.cenace[("SWPEND", "SIN", "MDA", "APATZINGAN")]
    day = dt.date(2020, 8, 4)
    days[day] = days[day] + [days[day][0]]
    with pytest.raises(UpstreamError, match="hour 0 appears more than once"):
        cenace(upstream).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))


def test_cenace_slow_is_504(upstream: Upstream) -> None:
    upstream.faults = [Fault(delay_s=0.8), Fault(delay_s=0.8)]
    with pytest.raises(UpstreamTimeoutError):
        cenace(upstream, read_timeout_s=0.3).fetch(q("APATZINGAN", "2020-08-03", "2020-08-04"))


def test_cenace_no_data_is_404(upstream: Upstream) -> None:
    with pytest.raises(NoPricesError):
        cenace(upstream).fetch(q("APATZINGAN", "2031-01-01", "2031-01-02"))


def test_cenace_wrong_node_is_404(upstream: Upstream) -> None:
    with pytest.raises(NoPricesError):
        cenace(upstream).fetch(q("01PLO-115", "2026-09-09", "2026-09-09"))


# --- The whole service -------------------------------------------------------------------------

BATTERY = {
    "capacity_mw": 10,
    "duration_hours": 4,
    "efficiency": 0.85,
    "min_soc": 0.1,
    "max_soc": 1.0,
}


def post_optimize(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], market: dict) -> dict:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = create_app({"TESTING": True})
    response = app.test_client().post(
        "/optimize", json={"battery_params": BATTERY, "market_params": market, "compare": False}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def schedule_prices(body: dict) -> list[list[float]]:
    return [[step["price"] for step in day["schedule"]] for day in body["daily_schedules"]]


COMMON_ENV = {
    "PRICE_FETCH_TIMEOUT_S": "2",
    "PRICE_FETCH_DEADLINE_S": "10",
    "PRICE_CACHE_MAX_DAYS": "0",
}


def test_service_with_batu_schedules_the_served_prices(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        **COMMON_ENV,
        "PRICE_SOURCE": "batu",
        "BATU_API_URL": upstream.url,
        "BATU_API_KEY": API_KEY,
    }
    market = {
        "zone": "APATZINGAN",
        "start_date": "2016-10-29T00:00:00Z",
        "end_date": "2016-10-31T23:59:59Z",
    }
    body = post_optimize(monkeypatch, env, market)
    assert body["market"]["source"] == "batu"
    assert [d["date"] for d in body["daily_schedules"]] == [
        "2016-10-29",
        "2016-10-30",
        "2016-10-31",
    ]
    assert schedule_prices(body) == served(APATZINGAN_2016, "2016-10-29", "2016-10-31")


def test_service_never_shows_or_logs_an_echoed_key(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"status": "fail", "data": {"message": f"invalid key {API_KEY} (x-api-key={API_KEY})"}}
    upstream.faults = [Fault(status=400, body=json.dumps(echo).encode())]
    env = {
        **COMMON_ENV,
        "PRICE_SOURCE": "batu",
        "BATU_API_URL": upstream.url,
        "BATU_API_KEY": API_KEY,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    market = {
        "zone": "APATZINGAN",
        "start_date": "2020-08-03T00:00:00Z",
        "end_date": "2020-08-03T23:59:59Z",
    }
    app = create_app({"TESTING": True})
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().post(
            "/optimize", json={"battery_params": BATTERY, "market_params": market}
        )
    assert response.status_code == 502
    body = response.get_json()
    assert body["detail"].startswith("batu refused the request (HTTP 400): invalid key [redacted]")
    assert API_KEY not in response.get_data(as_text=True)
    assert "invalid key [redacted]" in caplog.text
    assert API_KEY not in caplog.text


def test_service_with_cenace_schedules_the_served_prices(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**COMMON_ENV, "PRICE_SOURCE": "cenace", "CENACE_BASE_URL": upstream.url}
    market = {
        "zone": "APATZINGAN",
        "start_date": "2016-04-01T00:00:00Z",
        "end_date": "2016-04-09T23:59:59Z",
    }
    body = post_optimize(monkeypatch, env, market)
    assert body["market"]["source"] == "cenace"
    assert schedule_prices(body) == served(APATZINGAN_2016, "2016-04-01", "2016-04-09")
    assert len(upstream.requests) == 2
