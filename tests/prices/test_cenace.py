"""The CENACE source against mocked HTTP (responses), with real CENACE payloads."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import json
from collections.abc import Callable

import pytest
import requests
import responses
from upstream_server import (
    DATA,
    PEND_2016,
    PEND_2020,
    cenace_body,
    expected_prices,
    pend_days,
    pml_raw_bytes,
)

from prices import (
    NoPricesError,
    PriceQuery,
    PriceSettings,
    Process,
    System,
    UpstreamError,
    UpstreamTimeoutError,
)
from prices.cache import CachedSource
from prices.cenace import is_node_key, make_cenace_source, url_for, week_chunks
from prices.http import HttpSource, RetryPolicy

BASE = "https://cenace.test:8082"
SETTINGS = PriceSettings(
    source="cenace",
    cenace_base_url=BASE,
    connect_timeout_s=0.5,
    read_timeout_s=0.5,
    fetch_deadline_s=5.0,
    cache_max_days=0,
)
AUG_2020 = pend_days(PEND_2020, "APATZINGAN")
AUG_2020_MTR = pend_days(PEND_2020, "APATZINGAN", process="MTR")
APATZINGAN_2016 = pend_days(PEND_2016, "APATZINGAN")
VDM_2016 = pend_days(PEND_2016, "VDM CENTRO")


Source = Callable[[], HttpSource]


@pytest.fixture
def source(fast_retry: RetryPolicy) -> Source:
    """Builds the CENACE source as configured by SETTINGS (no cache, no retry waits)."""

    def build() -> HttpSource:
        built = make_cenace_source(SETTINGS, policy=fast_retry)
        assert isinstance(built, HttpSource)
        return built

    return build


def q(zone: str, start: str, end: str, **kw: object) -> PriceQuery:
    return PriceQuery(
        zone=zone, start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), **kw
    )  # type: ignore[arg-type]


def pend_url(zone: str, first: str, last: str, *, system: str = "SIN", process: str = "MDA"):
    a, b = (dt.date.fromisoformat(d).strftime("%Y/%m/%d") for d in (first, last))
    return f"{BASE}/SWPEND/SIM/{system}/{process}/{zone}/{a}/{b}/JSON"


def between(days: dict, first: str, last: str) -> dict:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return {d: h for d, h in days.items() if a <= d <= b}


def prices(result: list) -> list[list[float]]:
    return [list(day.prices_mxn_per_mwh) for day in result]


def test_every_catalogue_node_key_goes_to_swpml_and_every_zone_to_swpend() -> None:
    with gzip.open(
        DATA / "nodosp_catalogo_v2025-09-26.csv.gz", "rt", encoding="utf-8", newline=""
    ) as f:
        keys = [row["clave"] for row in csv.DictReader(f)]
    with gzip.open(
        DATA / "zonas_de_carga_catalogo_v2025-09-26.csv.gz", "rt", encoding="utf-8", newline=""
    ) as f:
        zones = [row["zona_carga"] for row in csv.DictReader(f)]
    assert len(keys) > 2500
    assert len(zones) > 100
    assert [k for k in keys if not is_node_key(k)] == []
    assert [z for z in zones if is_node_key(z)] == []


@pytest.mark.parametrize(
    ("query", "url"),
    [
        (
            q("VDM CENTRO", "2016-01-29", "2016-02-04"),
            f"{BASE}/SWPEND/SIM/SIN/MDA/VDM-CENTRO/2016/01/29/2016/02/04/JSON",
        ),
        (
            q("01PLO-115", "2026-09-08", "2026-09-08"),
            f"{BASE}/SWPML/SIM/SIN/MDA/01PLO-115/2026/09/08/2026/09/08/JSON",
        ),
        (
            q("LA PAZ", "2017-01-13", "2017-01-14", system=System.BCS, process=Process.MTR),
            f"{BASE}/SWPEND/SIM/BCS/MTR/LA-PAZ/2017/01/13/2017/01/14/JSON",
        ),
    ],
    ids=["zone-with-space", "node", "bcs-mtr"],
)
def test_url_grammar(query: PriceQuery, url: str) -> None:
    assert url_for(BASE, query, query.start, query.end) == url


def test_week_chunks_are_at_most_7_days() -> None:
    chunks = week_chunks(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert len(chunks) == 53
    assert max((b - a).days + 1 for a, b in chunks) == 7
    assert chunks[0] == (dt.date(2024, 1, 1), dt.date(2024, 1, 7))
    assert chunks[-1] == (dt.date(2024, 12, 30), dt.date(2024, 12, 31))


def test_the_raw_swpml_response_arrives_exactly_as_served(
    mocked: responses.RequestsMock, source: Source
) -> None:
    raw = pml_raw_bytes()
    mocked.get(f"{BASE}/SWPML/SIM/SIN/MDA/01PLO-115/2026/09/08/2026/09/08/JSON", body=raw)
    result = source().fetch(q("01PLO-115", "2026-09-08", "2026-09-08"))
    valores = json.loads(raw)["Resultados"][0]["Valores"]
    assert len(valores) == 24
    assert prices(result) == [[float(v["pml"]) for v in valores]]
    assert result[0].prices_mxn_per_mwh[0] == 1915.49


def test_a_long_range_is_split_into_weeks(mocked: responses.RequestsMock, source: Source) -> None:
    for first, last in [("2020-08-01", "2020-08-07"), ("2020-08-08", "2020-08-10")]:
        mocked.get(
            pend_url("APATZINGAN", first, last),
            json=cenace_body("APATZINGAN", between(AUG_2020, first, last)),
        )
    result = source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-10"))
    assert prices(result) == expected_prices(AUG_2020, dt.date(2020, 8, 1), dt.date(2020, 8, 10))


def test_mtr_is_asked_for_mtr(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(
        pend_url("APATZINGAN", "2020-08-03", "2020-08-03", process="MTR"),
        json=cenace_body("APATZINGAN", between(AUG_2020_MTR, "2020-08-03", "2020-08-03")),
    )
    result = source().fetch(q("APATZINGAN", "2020-08-03", "2020-08-03", process=Process.MTR))
    assert prices(result) == expected_prices(AUG_2020_MTR, dt.date(2020, 8, 3), dt.date(2020, 8, 3))
    assert prices(result) != expected_prices(AUG_2020, dt.date(2020, 8, 3), dt.date(2020, 8, 3))


@pytest.mark.parametrize(
    ("day", "hours"), [("2016-04-03", 23), ("2016-10-30", 25)], ids=["spring-23h", "fall-25h"]
)
def test_clock_change_days(
    mocked: responses.RequestsMock, source: Source, day: str, hours: int
) -> None:
    mocked.get(
        pend_url("APATZINGAN", day, day),
        json=cenace_body("APATZINGAN", between(APATZINGAN_2016, day, day)),
    )
    result = source().fetch(q("APATZINGAN", day, day))
    d = dt.date.fromisoformat(day)
    assert result[0].hours == hours
    assert prices(result) == expected_prices(APATZINGAN_2016, d, d)


def test_a_zone_name_with_spaces_matches_its_answer(
    mocked: responses.RequestsMock, source: Source
) -> None:
    body = cenace_body("VDM CENTRO", between(VDM_2016, "2016-05-02", "2016-05-02"))
    mocked.get(pend_url("VDM-CENTRO", "2016-05-02", "2016-05-02"), json=body)
    result = source().fetch(q("VDM CENTRO", "2016-05-02", "2016-05-02"))
    assert prices(result) == expected_prices(VDM_2016, dt.date(2016, 5, 2), dt.date(2016, 5, 2))


def test_zero_results_is_404(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(
        pend_url("APATZINGAN", "2030-01-01", "2030-01-02"),
        json={"nombre": "PEND", "Resultados": [], "status": "ZERO_RESULTS"},
    )
    with pytest.raises(NoPricesError) as err:
        source().fetch(q("APATZINGAN", "2030-01-01", "2030-01-02"))
    assert err.value.status == 404


ASPNET = {"Message": "An error has occurred."}


def test_aspnet_error_then_success_is_retried(
    mocked: responses.RequestsMock, source: Source
) -> None:
    url = pend_url("APATZINGAN", "2020-08-01", "2020-08-01")
    mocked.get(url, status=500, json=ASPNET)
    mocked.get(url, json=cenace_body("APATZINGAN", between(AUG_2020, "2020-08-01", "2020-08-01")))
    result = source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert prices(result) == expected_prices(AUG_2020, dt.date(2020, 8, 1), dt.date(2020, 8, 1))
    assert len(mocked.calls) == 2


def test_aspnet_error_that_persists_is_502_with_its_message(
    mocked: responses.RequestsMock, source: Source
) -> None:
    failing = mocked.get(
        pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), status=500, json=ASPNET
    )
    with pytest.raises(UpstreamError, match="An error has occurred") as err:
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert err.value.status == 502
    assert failing.call_count == 1 + RetryPolicy().status


def test_aspnet_message_with_200_then_success_is_retried(
    mocked: responses.RequestsMock, source: Source
) -> None:
    url = pend_url("APATZINGAN", "2020-08-01", "2020-08-01")
    mocked.get(url, json=ASPNET)
    mocked.get(url, json=cenace_body("APATZINGAN", between(AUG_2020, "2020-08-01", "2020-08-01")))
    result = source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert prices(result) == expected_prices(AUG_2020, dt.date(2020, 8, 1), dt.date(2020, 8, 1))
    assert len(mocked.calls) == 2


def test_aspnet_message_with_200_that_persists_is_502_after_the_status_retries(
    mocked: responses.RequestsMock, source: Source, fast_retry: RetryPolicy
) -> None:
    failing = mocked.get(pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), json=ASPNET)
    with pytest.raises(UpstreamError, match=r"server error.*An error has occurred") as err:
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert err.value.status == 502
    assert failing.call_count == 1 + fast_retry.status


def test_aspnet_message_with_200_is_not_retried_past_the_deadline(
    mocked: responses.RequestsMock,
) -> None:
    # a backoff far longer than the fetch deadline: the retry waits only until the deadline
    slow = RetryPolicy(backoff_factor_s=60.0, backoff_max_s=60.0)
    settings = dataclasses.replace(SETTINGS, fetch_deadline_s=1.0)  # far above 2 mocked calls
    built = make_cenace_source(settings, policy=slow)
    url = pend_url("APATZINGAN", "2020-08-01", "2020-08-01")
    mocked.get(url, json=ASPNET)
    mocked.get(url, json=ASPNET)
    with pytest.raises(UpstreamTimeoutError) as err:
        built.fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert err.value.status == 504
    assert len(mocked.calls) == 2


def test_a_body_that_is_not_a_server_message_is_not_retried(
    mocked: responses.RequestsMock, source: Source
) -> None:
    failing = mocked.get(
        pend_url("APATZINGAN", "2020-08-01", "2020-08-01"),
        json={"status": "OK", "Message": "not an ASP.NET error", "Resultados": "?"},
    )
    with pytest.raises(UpstreamError, match="Resultados"):
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert failing.call_count == 1


def _valores(body: dict) -> list[dict]:
    return body["Resultados"][0]["Valores"]


def _drop_hour(body: dict) -> None:
    del _valores(body)[23]


def _duplicate_hour(body: dict) -> None:
    _valores(body).append(dict(_valores(body)[4]))


def _hora_zero(body: dict) -> None:
    _valores(body)[0]["hora"] = "0"


def _hora_text(body: dict) -> None:
    _valores(body)[0]["hora"] = "una"


def _price_text(body: dict) -> None:
    _valores(body)[7]["pz"] = "---"


def _price_infinite(body: dict) -> None:
    _valores(body)[7]["pz"] = "Infinity"


def _other_zone(body: dict) -> None:
    body["Resultados"][0]["zona_carga"] = "MORELIA"


def _other_day(body: dict) -> None:
    _valores(body)[0]["fecha"] = "2020-08-02"


def _no_resultados(body: dict) -> None:
    del body["Resultados"]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (_drop_hour, "missing hour 23"),
        (_duplicate_hour, "hour 4 appears more than once"),
        (_hora_zero, "outside 1..25"),
        (_hora_text, "unreadable"),
        (_price_text, "not a number"),
        (_price_infinite, "not finite"),
        (_other_zone, "'MORELIA' instead of 'APATZINGAN'"),
        (_other_day, "2020-08-02, which was not asked"),
        (_no_resultados, "Resultados"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_bad_data_is_a_502(
    mocked: responses.RequestsMock, source: Source, mangle, message: str
) -> None:
    body = cenace_body("APATZINGAN", between(AUG_2020, "2020-08-01", "2020-08-01"))
    mangle(body)
    mocked.get(pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), json=body)
    with pytest.raises(UpstreamError, match=message) as err:
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert err.value.status == 502


def test_a_24_hour_answer_on_a_23_hour_day_is_a_502(
    mocked: responses.RequestsMock, source: Source
) -> None:
    body = cenace_body("APATZINGAN", between(AUG_2020, "2020-08-01", "2020-08-01"))
    for v in _valores(body):
        v["fecha"] = "2016-04-03"
    mocked.get(pend_url("APATZINGAN", "2016-04-03", "2016-04-03"), json=body)
    with pytest.raises(UpstreamError, match="has 23 hours but prices came for hour 23"):
        source().fetch(q("APATZINGAN", "2016-04-03", "2016-04-03"))


def test_garbage_body_is_a_502(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), body=b"\x00\xffnot json")
    with pytest.raises(UpstreamError, match="not a JSON object"):
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))


def test_a_timeout_is_504(mocked: responses.RequestsMock, source: Source) -> None:
    mocked.get(pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), body=requests.ReadTimeout())
    with pytest.raises(UpstreamTimeoutError) as err:
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert err.value.status == 504


def test_make_cenace_source_is_cached_unless_disabled() -> None:
    cached = make_cenace_source(PriceSettings.from_env({"PRICE_SOURCE": "cenace"}))
    assert isinstance(cached, CachedSource)
    assert cached.name == "cenace"
    plain = make_cenace_source(PriceSettings(source="cenace", cache_max_days=0))
    assert isinstance(plain, HttpSource)
    assert plain.name == "cenace"
    call = plain.build_call(
        q("LA PAZ", "2017-01-13", "2017-01-14"), *_days("2017-01-13", "2017-01-14"), api_key=None
    )
    assert call.url.startswith("https://ws01.cenace.gob.mx:8082/SWPEND/")


def _days(first: str, last: str) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)


@pytest.mark.parametrize("pz", ["1_000", " 929.1", "929.1 ", "+5", "1e3x"])
def test_a_price_outside_json_number_syntax_is_a_502(
    mocked: responses.RequestsMock, source: Source, pz: str
) -> None:
    body = cenace_body("APATZINGAN", between(AUG_2020, "2020-08-01", "2020-08-01"))
    _valores(body)[5]["pz"] = pz
    mocked.get(pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), json=body)
    with pytest.raises(UpstreamError, match="2020-08-01 hora 6: the price is not a number"):
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))


def test_a_price_beyond_a_million_is_a_502_naming_the_day(
    mocked: responses.RequestsMock, source: Source
) -> None:
    body = cenace_body("APATZINGAN", between(AUG_2020, "2020-08-01", "2020-08-01"))
    _valores(body)[5]["pz"] = "-1000000.5"
    mocked.get(pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), json=body)
    with pytest.raises(UpstreamError, match=r"2020-08-01 hora 6: .*beyond ±1,000,000"):
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))


def test_a_server_message_is_quoted_redacted_and_cut(
    mocked: responses.RequestsMock, source: Source
) -> None:
    message = "Failed: token=abc123SECRET " + "x" * 400
    mocked.get(
        pend_url("APATZINGAN", "2020-08-01", "2020-08-01"), status=400, json={"Message": message}
    )
    with pytest.raises(UpstreamError, match="answered HTTP 400: Failed: token=") as err:
        source().fetch(q("APATZINGAN", "2020-08-01", "2020-08-01"))
    assert "abc123SECRET" not in err.value.detail
    assert len(err.value.detail.split(": ", 1)[1]) == 200
