"""POST /sizing, POST /siting, GET /zones (SPEC §10) on real CENACE prices (August 2020)."""

from __future__ import annotations

import math
import threading
from itertools import pairwise
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from optimizer import MarketDay
from prices import NoPricesError, PriceQuery, UpstreamError, UpstreamTimeoutError
from prices.zones import ZONES, close_matches, nodes_of
from schemas.analysis import (
    MAX_HINTED_KEYS,
    SitingRequest,
    SitingRequestSchema,
    SizingRequest,
    SizingRequestSchema,
)
from tests.conftest import RecordedSource
from tests.optimizer.helpers import PUBLISHED

BATTERY = {"capacity_mw": 10, "efficiency": 0.85, "min_soc": 0.1, "max_soc": 1.0}
MARKET = {"zone": "APATZINGAN", "start_date": "2020-08-01", "end_date": "2020-08-31"}
ZONES_2020 = ["APATZINGAN", "MORELIA", "GUADALAJARA", "MANZANILLO"]
SITING_MARKET = {"zones": ZONES_2020, "start_date": "2020-08-01", "end_date": "2020-08-31"}


def _sizing(**overrides: Any) -> dict[str, Any]:
    return {"battery_params": BATTERY, "market_params": MARKET, **overrides}


def _siting(**overrides: Any) -> dict[str, Any]:
    return {
        "battery_params": {**BATTERY, "duration_hours": 4},
        "market_params": SITING_MARKET,
        **overrides,
    }


def _optimize(client: FlaskClient, *, duration: float, zone: str = "APATZINGAN") -> Any:
    body = {
        "battery_params": {**BATTERY, "duration_hours": duration},
        "market_params": {**MARKET, "zone": zone},
    }
    response = client.post("/optimize", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


# --- sizing --------------------------------------------------------------------------------


def test_sizing_rows_equal_single_optimize_runs(
    client: FlaskClient, recorded_source: RecordedSource
) -> None:
    response = client.post("/sizing", json=_sizing(durations_hours=[8, 1, 4, 2, 6]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert len(recorded_source.calls) == 1  # the prices are fetched once
    assert body["market"]["zone"] == "APATZINGAN"
    assert (body["strategy"], body["horizon"], body["capacity_mw"]) == ("optimal", "daily", 10.0)
    rows = body["rows"]
    assert [row["duration_hours"] for row in rows] == [1, 2, 4, 6, 8]
    revenues = [row["total_revenue"] for row in rows]
    assert revenues == sorted(revenues)  # a longer battery can do all a shorter one can
    assert rows[0]["marginal_revenue_per_mwh_year"] is None
    for previous, row in pairwise(rows):
        extra = (row["total_revenue"] - previous["total_revenue"]) * 365 / 31
        assert close(
            row["marginal_revenue_per_mwh_year"],
            extra / (row["energy_mwh"] - previous["energy_mwh"]),
        )
    for row in rows:
        single = _optimize(client, duration=row["duration_hours"])
        summary = single["summary"]
        assert row["energy_mwh"] == 10 * row["duration_hours"]
        assert close(row["total_revenue"], summary["total_revenue"])
        assert close(row["revenue_per_mw_year"], summary["total_revenue"] / 10 * 365 / 31)
        assert close(
            row["revenue_per_mwh_year"], summary["total_revenue"] / row["energy_mwh"] * 365 / 31
        )
        days = single["daily_schedules"]
        assert close(row["energy_discharged"], sum(d["energy_discharged"] for d in days))
        assert math.isclose(row["cycles"], sum(d["cycles"] for d in days), abs_tol=1e-6)
        if "pct_of_tb" in summary:
            assert close(row["pct_of_tb"], summary["pct_of_tb"])


def test_sizing_default_durations_and_inline_prices(client: FlaskClient) -> None:
    prices = [{"date": "2024-01-01", "hour": h, "price": p} for h, p in enumerate(PUBLISHED)]
    body = {
        "battery_params": BATTERY,
        "market_params": {"prices": prices},
        "strategy": "spread",
        "horizon": "continuous",
    }
    response = client.post("/sizing", json=body)
    assert response.status_code == 200, response.get_json()
    out = response.get_json()
    assert out["market"]["source"] == "inline"
    assert (out["strategy"], out["horizon"]) == ("spread", "continuous")
    assert [row["duration_hours"] for row in out["rows"]] == [1, 2, 4, 6, 8]


# --- siting --------------------------------------------------------------------------------


def test_siting_rows_equal_single_zone_runs(
    client: FlaskClient, recorded_source: RecordedSource
) -> None:
    response = client.post("/siting", json=_siting())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["failed"] == []
    assert body["market"]["source"] == "recorded"
    requested = [q for q in recorded_source.calls if q.start.isoformat() == "2020-08-01"]
    assert sorted(q.zone for q in requested) == sorted(ZONES_2020)  # each zone's days once
    # the others: each zone's forecast history (SPEC §11), which the recording lacks
    history = [q for q in recorded_source.calls if q not in requested]
    assert sorted({q.zone for q in history}) == sorted(ZONES_2020)
    assert all(q.end.isoformat() == "2020-07-31" for q in history)
    rows = body["rows"]
    assert sorted(row["zone"] for row in rows) == sorted(ZONES_2020)
    assert [row["rank"] for row in rows] == [1, 2, 3, 4]
    revenues = [row["total_revenue"] for row in rows]
    assert revenues == sorted(revenues, reverse=True)
    for row in rows:
        single = _optimize(client, duration=4, zone=row["zone"])
        summary = single["summary"]
        forecast = next(r for r in single["comparison"] if r["strategy"] == "forecast")
        assert row["system"] == "SIN"
        assert close(row["total_revenue"], summary["total_revenue"])
        assert close(row["forecast_pct_of_optimal"], forecast["pct_of_optimal"])
        assert close(row["revenue_per_mw_year"], summary["total_revenue"] / 10 * 365 / 31)
        hours = [s["price"] for d in single["daily_schedules"] for s in d["schedule"]]
        assert close(row["price_mean"], sum(hours) / len(hours))
        days = single["daily_schedules"]
        assert math.isclose(row["cycles"], sum(d["cycles"] for d in days), abs_tol=1e-6)
        for key in ("tb4_spread_mean", "pct_of_tb"):
            if key in summary:
                assert close(row[key], summary[key])


class StubSource:
    """Recorded prices, except zones told to fail (an exception) or to hang (until released)."""

    name = "stub"

    def __init__(self, recorded: RecordedSource, failures: dict[str, Exception]) -> None:
        self.recorded = recorded
        self.failures = failures
        self.hang = {"MORELIA"}
        self.release = threading.Event()

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        if query.zone in self.failures:
            raise self.failures[query.zone]
        if query.zone in self.hang:
            self.release.wait(timeout=30)
        return self.recorded.fetch(query)


def _stub_app(recorded: RecordedSource, failures: dict[str, Exception]) -> tuple[Flask, StubSource]:
    stub = StubSource(recorded, failures)
    stub.hang = set()
    return create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": stub}), stub


def test_siting_lists_failed_zones_and_ranks_the_others(recorded_source: RecordedSource) -> None:
    app, _ = _stub_app(
        recorded_source,
        {
            "MORELIA": NoPricesError("No prices for MORELIA on 2020-08-01."),
            "MANZANILLO": UpstreamError("The price source answered garbage."),
        },
    )
    body = app.test_client().post("/siting", json=_siting()).get_json()
    assert body["failed"] == [
        {"zone": "MORELIA", "status": 404, "detail": "No prices for MORELIA on 2020-08-01."},
        {"zone": "MANZANILLO", "status": 502, "detail": "The price source answered garbage."},
    ]
    assert sorted(row["zone"] for row in body["rows"]) == ["APATZINGAN", "GUADALAJARA"]
    assert [row["rank"] for row in body["rows"]] == [1, 2]


def test_siting_zone_not_fetched_by_the_deadline_is_a_504(
    recorded_source: RecordedSource,
) -> None:
    stub = StubSource(recorded_source, {})
    app = create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": stub})
    from blueprints import analysis

    try:
        with app.test_request_context():
            body = analysis.run_siting(_siting(), source=stub, deadline_s=0.5)
    finally:
        stub.release.set()
    assert [(f["zone"], f["status"]) for f in body["failed"]] == [("MORELIA", 504)]
    assert sorted(row["zone"] for row in body["rows"]) == [
        "APATZINGAN",
        "GUADALAJARA",
        "MANZANILLO",
    ]


def test_siting_with_no_zone_succeeding_is_the_first_failure(
    recorded_source: RecordedSource,
) -> None:
    failures: dict[str, Exception] = {
        zone: UpstreamError(f"{zone} broke") for zone in ZONES_2020[1:]
    }
    failures["APATZINGAN"] = NoPricesError("No prices for APATZINGAN.")
    app, _ = _stub_app(recorded_source, failures)
    response = app.test_client().post("/siting", json=_siting())
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "No prices for APATZINGAN."


def test_siting_all_zones_resolves_the_catalogue(client: FlaskClient) -> None:
    market = {"zones": "all", "start_date": "2020-08-01", "end_date": "2020-08-02"}
    body = client.post("/siting", json=_siting(market_params=market)).get_json()
    # the recorded file has 26 SIN zones; the other 82 are 404s, listed, not ranked
    assert len(body["rows"]) == 26
    assert len(body["failed"]) == len(ZONES) - 26
    assert {f["status"] for f in body["failed"]} == {404}


# --- siting: keys the catalogue does not know (SPEC §10: a 404 in `failed`, not a 422) ------


def _unknown_detail(key: str) -> str:
    return (
        f"Unknown load zone or node {key!r}: not in the catalogue of CENACE load zones and "
        "NodosP (GET /zones lists the load zones)."
    )


def test_siting_lists_an_unknown_zone_in_failed_and_ranks_the_known(
    client: FlaskClient, recorded_source: RecordedSource
) -> None:
    market = {**SITING_MARKET, "zones": ["APATZINGAN", "APATZINGAM", "MORELIA"]}
    response = client.post("/siting", json=_siting(market_params=market))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["failed"] == [
        {
            "zone": "APATZINGAM",
            "status": 404,
            "detail": _unknown_detail("APATZINGAM") + " Did you mean APATZINGAN?",
        }
    ]
    assert sorted(row["zone"] for row in body["rows"]) == ["APATZINGAN", "MORELIA"]
    assert [row["rank"] for row in body["rows"]] == [1, 2]
    # the unknown key is never asked of the price source
    assert {query.zone for query in recorded_source.calls} == {"APATZINGAN", "MORELIA"}
    alone = client.post("/siting", json=_siting(market_params={**market, "zones": ["MORELIA"]}))
    morelia = next(row for row in body["rows"] if row["zone"] == "MORELIA")
    assert close(morelia["total_revenue"], alone.get_json()["rows"][0]["total_revenue"])


def test_siting_unknown_node_keys_are_listed_too(client: FlaskClient) -> None:
    """A node-like key that is no NodoP (an unknown zone prefix, or a near miss) is a 404 in
    ``failed`` as a zone name is; the suggestion then lists close node keys."""
    market = {**SITING_MARKET, "zones": ["99XYZ-115", "APATZINGAN", "01PLO-116"]}
    body = client.post("/siting", json=_siting(market_params=market)).get_json()
    assert [(f["zone"], f["status"]) for f in body["failed"]] == [
        ("99XYZ-115", 404),
        ("01PLO-116", 404),
    ]
    assert body["failed"][0]["detail"] == _unknown_detail("99XYZ-115")
    assert body["failed"][1]["detail"].startswith(_unknown_detail("01PLO-116") + " Did you mean ")
    assert "01PLO-115" in body["failed"][1]["detail"]
    assert [row["zone"] for row in body["rows"]] == ["APATZINGAN"]


def test_siting_failed_follows_the_order_of_zones(recorded_source: RecordedSource) -> None:
    """Unknown keys and zones whose fetch failed share one list, in the request's order."""
    app, _ = _stub_app(recorded_source, {"MORELIA": UpstreamError("MORELIA broke")})
    zones = ["NOWHERE-LAND", "APATZINGAN", "MORELIA", "QQQQ", "GUADALAJARA"]
    market = {**SITING_MARKET, "zones": zones}
    body = app.test_client().post("/siting", json=_siting(market_params=market)).get_json()
    assert [(f["zone"], f["status"]) for f in body["failed"]] == [
        ("NOWHERE-LAND", 404),
        ("MORELIA", 502),
        ("QQQQ", 404),
    ]
    assert body["failed"][2]["detail"] == _unknown_detail("QQQQ")
    assert sorted(row["zone"] for row in body["rows"]) == ["APATZINGAN", "GUADALAJARA"]


def test_siting_with_only_unknown_zones_is_a_404_naming_the_first(
    client: FlaskClient, recorded_source: RecordedSource
) -> None:
    market = {**SITING_MARKET, "zones": ["NOWHERE-LAND", "APATZINGAM"]}
    response = client.post("/siting", json=_siting(market_params=market))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 404
    assert problem["detail"] == _unknown_detail("NOWHERE-LAND")
    assert recorded_source.calls == []


def test_siting_first_failure_in_request_order_when_none_succeeds(
    recorded_source: RecordedSource,
) -> None:
    """A fetch failure before an unknown key in ``zones`` is the answer, and the other way
    round."""
    app, _ = _stub_app(recorded_source, {"MORELIA": UpstreamError("MORELIA broke")})
    client = app.test_client()
    for zones, status, detail in [
        (["MORELIA", "NOWHERE"], 502, "MORELIA broke"),
        (["NOWHERE", "MORELIA"], 404, _unknown_detail("NOWHERE")),
    ]:
        market = {**SITING_MARKET, "zones": zones}
        response = client.post("/siting", json=_siting(market_params=market))
        assert response.status_code == status, zones
        assert response.get_json()["detail"] == detail


def test_siting_malformed_zones_stay_422_beside_unknown_ones(client: FlaskClient) -> None:
    """Shape is still the schema's: a key that breaks the pattern, an empty key, and a
    repeated unknown key are 422s at their index; the unknown key itself is not an error."""
    zones = ["apatzingan", "NOWHERE", "", "NOWHERE", "VDM-CENTRO", "VDM CENTRO"]
    response = client.post("/siting", json=_sited(zones=zones))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {f"market_params.zones.{i}" for i in (0, 2, 3, 5)}
    assert "upper-case" in errors["market_params.zones.0"][0]
    assert errors["market_params.zones.3"] == ["Duplicate of item 1 (NOWHERE)."]
    assert errors["market_params.zones.5"] == ["Duplicate of item 4 (VDM CENTRO)."]


def test_siting_hints_only_the_first_unknown_keys(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each suggestion searches the catalogue (milliseconds for a node-like key): only the
    first ``MAX_HINTED_KEYS`` unknown keys of a request pay for one (SPEC §13)."""
    calls: list[str] = []

    def counted(key: str, **kwargs: Any) -> list[str]:
        calls.append(key)
        return close_matches(key, **kwargs)

    monkeypatch.setattr("schemas.analysis.close_matches", counted)
    unknown = [f"APATZINGA{a}{b}" for a in "BCDEFGHIJKL" for b in "BCDEFGHIJK"][:107]
    market = {**SITING_MARKET, "zones": ["APATZINGAN", *unknown]}
    response = client.post("/siting", json=_siting(market_params=market))
    assert response.status_code == 200, response.get_json()
    failed = response.get_json()["failed"]
    limit = MAX_HINTED_KEYS
    assert calls == unknown[:limit]
    assert [f["zone"] for f in failed] == unknown
    assert {f["status"] for f in failed} == {404}
    assert all("Did you mean APATZINGAN?" in f["detail"] for f in failed[:limit])
    assert [f["detail"] for f in failed[limit:]] == [_unknown_detail(k) for k in unknown[limit:]]


# --- zones ---------------------------------------------------------------------------------


def test_zones_lists_the_catalogue(client: FlaskClient) -> None:
    zones = client.get("/zones").get_json()["zones"]
    assert [z["zone"] for z in zones] == sorted(ZONES)
    apatzingan = next(z for z in zones if z["zone"] == "APATZINGAN")
    assert apatzingan == {
        "zone": "APATZINGAN",
        "system": "SIN",
        "nodes": len(nodes_of("APATZINGAN")),
    }
    bca = client.get("/zones?system=BCA").get_json()["zones"]
    assert bca
    assert all(z["system"] == "BCA" for z in bca)
    assert len(bca) == sum(1 for system in ZONES.values() if system.value == "BCA")


# --- validation ----------------------------------------------------------------------------


def test_an_unknown_system_is_a_422_about_the_query_string(client: Any) -> None:
    answer = client.get("/zones?system=XX")
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["detail"].startswith("The query string is well-formed but some values")
    assert "JSON" not in body["detail"]
    assert list(body["errors"]) == ["system"]


def _sited(**market: Any) -> dict[str, Any]:
    """A siting body whose market_params are SITING_MARKET with ``market`` over it."""
    return _siting(market_params={**SITING_MARKET, **market})


_TYPO = ["APATZINGAM", "APATZINGAN", "APATZINGAN"]
_YEAR_AND_A_MONTH = {"zones": "all", "start_date": "2020-01-01", "end_date": "2021-01-31"}

# (route, body, {field path: fragment of one of its messages})
INVALID = [
    pytest.param(
        "/sizing",
        _sizing(battery_params={**BATTERY, "duration_hours": 4}),
        {"battery_params.duration_hours": "durations_hours"},
        id="sizing-duration_hours",
    ),
    pytest.param("/sizing", _sizing(durations_hours=[1, 2, 1]), {"durations_hours.2": "Duplicate"},
                 id="sizing-duplicate"),
    pytest.param("/sizing", _sizing(durations_hours=[0, 169]),
                 {"durations_hours.0": "greater", "durations_hours.1": "less"}, id="sizing-range"),
    pytest.param("/sizing", _sizing(durations_hours=[]), {"durations_hours": "at least one"},
                 id="sizing-empty"),
    pytest.param("/sizing", _sizing(durations_hours=list(range(1, 18))),
                 {"durations_hours": "at most 16"}, id="sizing-too-many"),
    pytest.param("/sizing", _sizing(durations_hours="4"), {"durations_hours": "Not a valid list"},
                 id="sizing-type"),
    pytest.param("/sizing", _sizing(colour="red"), {"colour": "Unknown field"},
                 id="sizing-unknown"),
    pytest.param("/sizing", _sizing(strategy="oracle"), {"strategy": "Must be one of"},
                 id="sizing-strategy"),
    pytest.param("/siting", _siting(battery_params=BATTERY),
                 {"battery_params.duration_hours": "Missing"}, id="siting-no-duration"),
    pytest.param("/siting", _sited(zones=_TYPO),
                 {"market_params.zones.2": "Duplicate of item 1 (APATZINGAN)"},
                 id="siting-duplicate-beside-unknown"),
    pytest.param("/siting", _sited(zones=["APATZINGAN", "", "a/b"]),
                 {"market_params.zones.1": "upper-case", "market_params.zones.2": "upper-case"},
                 id="siting-malformed-keys"),
    pytest.param("/siting", _sited(zones=[]), {"market_params.zones": "1 to 108"},
                 id="siting-no-zones"),
    pytest.param("/siting", _sited(zones=["X"] * 109), {"market_params.zones": "1 to 108"},
                 id="siting-too-many"),
    pytest.param("/siting", _sited(zones="ALL"), {"market_params.zones": "a list"},
                 id="siting-all-case"),
    pytest.param("/siting", _sited(zones=[7]), {"market_params.zones.0": "string"},
                 id="siting-zone-type"),
    pytest.param("/siting", _sited(**_YEAR_AND_A_MONTH), {"market_params.end_date": "366"},
                 id="siting-too-long"),
    pytest.param("/siting", _sited(system="SIN"), {"market_params.system": "Unknown field"},
                 id="siting-system"),
    pytest.param("/siting", _sited(end_date="2020-07-01"), {"market_params.end_date": "before"},
                 id="siting-dates"),
    pytest.param("/siting", _siting(horizon="weekly"), {"horizon": "Must be one of"},
                 id="siting-horizon"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "errors"), INVALID)
def test_invalid_requests_are_422_with_field_paths(
    client: FlaskClient, path: str, body: dict[str, Any], errors: dict[str, str]
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    got = response.get_json()["errors"]
    assert set(got) == set(errors)
    for field, fragment in errors.items():
        assert any(fragment in message for message in got[field]), (field, got[field])


@pytest.mark.parametrize(
    ("query", "field"),
    [("system=XYZ", "system"), ("colour=red", "colour"), ("system=BCA&system=SIN", "system")],
    ids=["system", "unknown", "repeated"],  # repeated: the first was taken unseen before
)
def test_zones_query_is_validated(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/zones?{query}")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {field}


@pytest.mark.parametrize("path", ["/sizing", "/siting"])
def test_bodies_that_are_not_json_are_400(client: FlaskClient, path: str) -> None:
    response = client.post(path, data="{", content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


# --- SPEC §9 in POST /optimize ---------------------------------------------------------------


def _tb(prices: list[float], k: int) -> float:
    ordered = sorted(prices)
    return (sum(ordered[-k:]) - sum(ordered[:k])) / k


def test_optimize_carries_the_analyst_metrics(client: FlaskClient) -> None:
    body = _optimize(client, duration=4)
    assert body["battery"] == {
        "capacity_mw": 10.0, "duration_hours": 4.0, "energy_mwh": 40.0,
        "round_trip_efficiency": 0.85, "charge_efficiency": round(math.sqrt(0.85), 9),
        "discharge_efficiency": round(math.sqrt(0.85), 9), "min_soc": 0.1, "max_soc": 1.0,
        "initial_soc": 0.1, "degradation_cost_per_mwh": 0.0, "max_cycles_per_day": None,
    }  # fmt: skip
    days = body["daily_schedules"]
    all_prices: list[float] = []
    charged = discharged = charge_cost = discharge_income = benchmark = 0.0
    for day in days:
        prices = [s["price"] for s in day["schedule"]]
        all_prices += prices
        assert close(day["price_mean"], sum(prices) / len(prices))
        assert (day["price_min"], day["price_max"]) == (min(prices), max(prices))
        assert close(day["tb4_spread"], _tb(prices, 4))
        benchmark += _tb(prices, 4) * 4 * 10 * 0.9
        for step in day["schedule"]:
            if step["action"] == "charge":
                charged += step["power"]
                charge_cost += step["power"] * step["price"]
            elif step["action"] == "discharge":
                discharged += step["power"]
                discharge_income += step["power"] * step["price"]
    summary = body["summary"]
    total = summary["total_revenue"]
    assert close(summary["energy_charged"], charged)
    assert close(summary["energy_discharged"], discharged)
    assert close(summary["price_mean"], sum(all_prices) / len(all_prices))
    assert close(summary["captured_spread"], discharge_income / discharged - charge_cost / charged)
    assert close(summary["tb4_spread_mean"], sum(d["tb4_spread"] for d in days) / 31)
    assert close(summary["revenue_per_mw"], total / 10)
    assert close(summary["revenue_per_mw_year"], total / 10 * 365 / 31)
    assert close(summary["revenue_per_mwh_year"], total / 40 * 365 / 31)
    assert close(summary["tb_benchmark_revenue"], benchmark)
    assert close(summary["pct_of_tb"], 100 * total / benchmark)
    assert [m["month"] for m in body["monthly"]] == ["2020-08"]
    month = body["monthly"][0]
    assert month["days"] == 31
    assert math.isclose(month["revenue"], sum(d["revenue"] for d in days), abs_tol=1e-5)
    assert math.isclose(month["cycles"], sum(d["cycles"] for d in days), abs_tol=1e-6)
    for row in body["comparison"]:
        assert close(row["revenue_per_mw_year"], row["total_revenue"] / 10 * 365 / 31)


CSV_HEADER = "date,hour,price_mxn_per_mwh,action,power_mw,soc,revenue_mxn"


def _csv_rows(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def test_optimize_as_csv_parses_back_to_the_json_schedule(client: FlaskClient) -> None:
    body = {
        "battery_params": {**BATTERY, "duration_hours": 4, "degradation_cost_per_mwh": 25.0},
        "market_params": MARKET,
        "compare": False,
    }
    as_json = client.post("/optimize", json=body).get_json()
    response = client.post("/optimize", json=body, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == CSV_HEADER
    rows = _csv_rows(text)
    steps = [(d, s) for d in as_json["daily_schedules"] for s in d["schedule"]]
    assert len(rows) == len(steps) == 31 * 24
    for row, (day, step) in zip(rows, steps, strict=True):
        assert row["date"] == day["date"]
        assert int(row["hour"]) == step["hour"]
        assert float(row["price_mxn_per_mwh"]) == step["price"]
        assert row["action"] == step["action"]
        assert float(row["power_mw"]) == step["power"]
        assert float(row["soc"]) == step["soc"]
        signed = {"charge": -1.0, "discharge": 1.0, "idle": 0.0}[step["action"]] * step["power"]
        kappa = 25.0 * step["power"] if step["action"] == "discharge" else 0.0
        assert close(float(row["revenue_mxn"]), step["price"] * signed - kappa)
    for day in as_json["daily_schedules"]:
        hours = [float(r["revenue_mxn"]) for r in rows if r["date"] == day["date"]]
        assert math.isclose(sum(hours), day["revenue"], abs_tol=1e-4)


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [("application/json", "application/json"), ("*/*", "application/json"),
     ("text/csv;q=0.5, application/json", "application/json"), ("text/*", "text/csv")],
    ids=["json", "any", "json-preferred", "text-any"],
)  # fmt: skip
def test_optimize_content_negotiation(client: FlaskClient, accept: str, mimetype: str) -> None:
    body = {"battery_params": {**BATTERY, "duration_hours": 2}, "market_params": MARKET}
    response = client.post("/optimize", json=body, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == mimetype


def test_optimize_errors_stay_problem_json_when_csv_is_asked(client: FlaskClient) -> None:
    body = {"battery_params": BATTERY, "market_params": MARKET}  # no duration_hours
    response = client.post("/optimize", json=body, headers={"Accept": "text/csv"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "battery_params.duration_hours" in response.get_json()["errors"]


def test_openapi_documents_sizing_siting_zones_and_csv(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    for path, method in [("/sizing", "post"), ("/siting", "post"), ("/zones", "get")]:
        operation = doc["paths"][path][method]
        assert {"200", "422", "500"} <= set(operation["responses"]), path
    sizing = doc["paths"]["/sizing"]["post"]["requestBody"]["content"]["application/json"]
    assert sizing["examples"]["spec"]["value"]["durations_hours"] == [1, 2, 4, 6, 8]
    assert "duration_hours" not in schemas["SizingBatteryParams"]["properties"]
    assert set(schemas["SitingRow"]["required"]) >= {"rank", "zone", "forecast_pct_of_optimal"}
    summary = schemas["Summary"]["properties"]
    assert {"captured_spread", "pct_of_tb", "tb_benchmark_revenue"} <= set(summary)
    assert {"battery", "monthly"} <= set(schemas["OptimizeResponse"]["required"])
    ok = doc["paths"]["/optimize"]["post"]["responses"]["200"]["content"]
    assert set(ok) == {"application/json", "text/csv"}


@pytest.mark.parametrize("name", ["sizing", "siting"])
def test_openapi_examples_are_valid_requests(client: FlaskClient, name: str) -> None:
    doc = client.get("/openapi.json").get_json()
    content = doc["paths"][f"/{name}"]["post"]["requestBody"]["content"]["application/json"]
    example = content["examples"]["spec"]["value"]
    schema = SizingRequestSchema() if name == "sizing" else SitingRequestSchema()
    loaded = schema.load(example)  # raises ValidationError if the example were invalid
    assert isinstance(loaded, SizingRequest if name == "sizing" else SitingRequest)


def test_siting_past_the_deadline_is_a_504_problem(recorded_source: RecordedSource) -> None:
    """With no time left, every zone is either not fetched or not optimised in time."""
    from blueprints import analysis

    with pytest.raises(UpstreamTimeoutError, match="deadline"):
        analysis.run_siting(_siting(), source=recorded_source, deadline_s=0.0)


# --- through the Lambda handler ------------------------------------------------------------


def test_routes_through_the_lambda_handler(app: Flask, client: FlaskClient) -> None:
    """API Gateway HTTP API events for POST /sizing, POST /siting, GET /zones and a CSV
    POST /optimize give the bodies the test client gets."""
    import json

    from apig_wsgi import make_lambda_handler

    from testkit.events import make_v2_event

    handler = make_lambda_handler(app)

    def call(method: str, path: str, body: Any = None, **headers: str) -> dict[str, Any]:
        event = make_v2_event(
            method=method,
            path=path,
            headers={"content-type": "application/json", **headers},
            body=None if body is None else json.dumps(body),
        )
        response: dict[str, Any] = handler(event, None)
        return response

    sizing = call("POST", "/sizing", _sizing(durations_hours=[2, 4]))
    assert sizing["statusCode"] == 200
    expected = client.post("/sizing", json=_sizing(durations_hours=[2, 4])).get_json()
    assert json.loads(sizing["body"]) == expected
    siting = call("POST", "/siting", _siting())
    assert json.loads(siting["body"]) == client.post("/siting", json=_siting()).get_json()
    zones = call("GET", "/zones")
    assert json.loads(zones["body"]) == client.get("/zones").get_json()
    body = {"battery_params": {**BATTERY, "duration_hours": 4}, "market_params": MARKET}
    as_csv = call("POST", "/optimize", body, accept="text/csv")
    assert as_csv["statusCode"] == 200
    assert as_csv["headers"]["content-type"] == "text/csv; charset=utf-8"
    assert as_csv["isBase64Encoded"] is False
    expected_csv = client.post("/optimize", json=body, headers={"Accept": "text/csv"})
    assert as_csv["body"] == expected_csv.get_data(as_text=True)
    bad = call("POST", "/sizing", _sizing(durations_hours=[1, 1]))
    assert bad["statusCode"] == 422
    assert bad["headers"]["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("key", "zone", "system"),
    [("APATZINGAN", "APATZINGAN", "SIN"), ("VDM-CENTRO", "VDM CENTRO", "SIN"),
     ("LA PAZ", "LA PAZ", "BCS"), ("MEXICALI", "MEXICALI", "BCA"),
     ("01PLO-115", "01PLO-115", "SIN"), ("07IVY-230", "07IVY-230", "BCA")],
    ids=["zone", "hyphenated-zone", "bcs", "bca", "node", "tie-node"],
)  # fmt: skip
def test_each_site_gets_its_system_from_the_catalogue(key: str, zone: str, system: str) -> None:
    from schemas.analysis import resolve_site

    site = resolve_site(key)
    assert site is not None
    assert (site.zone, site.system.value) == (zone, system)
    assert resolve_site("NOWHERE") is None


def test_siting_on_the_synthetic_source_mixes_systems_and_nodes() -> None:
    """Zones of three systems and a node in one request, each fetched in its own system."""
    from prices.synthetic import SyntheticSource

    app = create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": SyntheticSource()})
    market = {"zones": ["LA PAZ", "MEXICALI", "01PLO-115", "APATZINGAN"],
              "start_date": "2024-03-01", "end_date": "2024-03-03"}  # fmt: skip
    response = app.test_client().post("/siting", json=_siting(market_params=market))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["failed"] == []
    assert body["market"]["source"] == "synthetic"
    systems = {row["zone"]: row["system"] for row in body["rows"]}
    assert systems == {"LA PAZ": "BCS", "MEXICALI": "BCA", "01PLO-115": "SIN", "APATZINGAN": "SIN"}
