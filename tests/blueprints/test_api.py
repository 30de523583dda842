"""POST /optimize, GET /health, GET /strategies through the WSGI test client."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from optimizer import STRATEGIES
from prices import PriceQuery, Process, System
from schemas.response import OptimizeResponseSchema
from testkit.events import FIXTURES
from tests.conftest import PRD_REQUEST_2020, RecordedSource

SPEC_PRICES = [20, 15, 10, 12, 15, 25, 40, 60, 55, 40, 35, 30, 25, 20, 18, 25, 60, 90, 85, 70, 50,
               40, 30, 25]  # fmt: skip
SPEC_BATTERY = {"capacity_mw": 10, "duration_hours": 4, "efficiency": 0.85, "min_soc": 0.1,
                "max_soc": 1.0}  # fmt: skip


def inline_request(prices_by_day: dict[str, list[float]], **battery: float) -> dict[str, Any]:
    return {
        "battery_params": {**SPEC_BATTERY, **battery},
        "market_params": {
            "prices": [
                {"date": day, "hour": hour, "price": price}
                for day, prices in prices_by_day.items()
                for hour, price in enumerate(prices)
            ]
        },
    }


def check_physics(body: dict[str, Any], battery: dict[str, Any]) -> None:
    """Every day of a response obeys SPEC §2 (daily horizon) and its own totals."""
    power = battery["capacity_mw"]
    energy = power * battery["duration_hours"]
    eta_c = battery.get("charge_efficiency", math.sqrt(battery["efficiency"]))
    eta_d = battery.get("discharge_efficiency", math.sqrt(battery["efficiency"]))
    lo, hi = battery.get("min_soc", 0.0), battery.get("max_soc", 1.0)
    start = battery.get("initial_soc", lo)
    for day in body["daily_schedules"]:
        soc = start
        revenue = charged = discharged = 0.0
        for step in day["schedule"]:
            p = step["power"]
            assert 0 <= p <= power + 1e-9
            assert (step["action"] == "idle") == (p == 0)
            c = p if step["action"] == "charge" else 0.0
            d = p if step["action"] == "discharge" else 0.0
            soc += (eta_c * c - d / eta_d) / energy
            assert step["soc"] == pytest.approx(soc, abs=1e-6)
            assert lo - 1e-9 <= step["soc"] <= hi + 1e-9
            revenue += step["price"] * (d - c)
            charged += c
            discharged += d
        assert soc == pytest.approx(start, abs=1e-6)
        assert day["revenue"] == pytest.approx(revenue, rel=1e-9, abs=1e-6)
        assert day["energy_charged"] == pytest.approx(charged, abs=1e-6)
        assert day["energy_discharged"] == pytest.approx(discharged, abs=1e-6)
        withdrawn = discharged / eta_d
        assert day["cycles"] == pytest.approx(withdrawn / (energy * (hi - lo)), abs=1e-6)


def test_prd_request_on_recorded_prices(
    client: FlaskClient, recorded_source: RecordedSource
) -> None:
    response = client.post("/optimize", json=PRD_REQUEST_2020)
    assert response.status_code == 200
    body = response.get_json()
    assert OptimizeResponseSchema().validate(body) == {}
    assert recorded_source.calls == [
        PriceQuery(
            zone="APATZINGAN",
            system=System.SIN,
            process=Process.MDA,
            start=dt.date(2020, 8, 1),
            end=dt.date(2020, 8, 31),
        ),
        # SPEC §11: FORECAST_HISTORY_DAYS (56) before start_date, best effort: the recording
        # has none of them (404), so 28, 14 and 7 days are tried, then the request answers
        # forecasting from its own days
        *(
            PriceQuery(
                zone="APATZINGAN",
                system=System.SIN,
                process=Process.MDA,
                start=dt.date(2020, 8, 1) - dt.timedelta(days=span),
                end=dt.date(2020, 7, 31),
            )
            for span in (56, 28, 14, 7)
        ),
    ]
    assert body["market"]["source"] == "recorded"
    assert body["market"]["forecast"] == "mean7"
    days = recorded_source.fetch(recorded_source.calls[0])
    assert [d["date"] for d in body["daily_schedules"]] == [d.date.isoformat() for d in days]
    for day, market_day in zip(body["daily_schedules"], days, strict=True):
        assert [s["price"] for s in day["schedule"]] == list(market_day.prices_mxn_per_mwh)
    check_physics(body, PRD_REQUEST_2020["battery_params"])
    assert body["summary"]["total_revenue"] > 0
    assert [r["strategy"] for r in body["comparison"]] == list(STRATEGIES)


@pytest.mark.parametrize(
    ("battery", "expected"),
    [({}, 2957.14), ({"charge_efficiency": 0.85, "discharge_efficiency": 1.0}, 3082.35),
     ({"charge_efficiency": 1.0, "discharge_efficiency": 0.85}, 2820.00)],
    ids=["sqrt-split", "lossy-charge", "lossy-discharge"],
)  # fmt: skip
def test_published_vectors_with_inline_prices(
    client: FlaskClient, recorded_source: RecordedSource, battery: dict[str, float], expected: float
) -> None:
    request = inline_request({"2024-01-01": SPEC_PRICES}, **battery)
    request["battery_params"]["initial_soc"] = 0.1
    response = client.post("/optimize", json=request)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["summary"]["total_revenue"] == pytest.approx(expected, abs=0.01)
    assert body["market"] == {
        "zone": None, "system": "SIN", "process": "MDA", "source": "inline",
        "start_date": "2024-01-01", "end_date": "2024-01-01", "currency": "MXN",
        "price_unit": "MXN/MWh", "forecast": "mean7",
    }  # fmt: skip
    assert recorded_source.calls == []  # inline prices: nothing fetched
    check_physics(body, request["battery_params"])


@pytest.mark.parametrize(
    ("day", "prices"), [("2016-04-03", SPEC_PRICES[:23]), ("2016-10-30", [*SPEC_PRICES, 33.0])]
)
def test_inline_clock_change_days(client: FlaskClient, day: str, prices: list[float]) -> None:
    request = inline_request({day: prices})  # one day each: inline days have no gaps
    body = client.post("/optimize", json=request).get_json()
    assert [len(d["schedule"]) for d in body["daily_schedules"]] == [len(prices)]
    check_physics(body, request["battery_params"])


def test_compare_false_runs_one_strategy(client: FlaskClient) -> None:
    body = client.post("/optimize", json={**PRD_REQUEST_2020, "compare": False}).get_json()
    assert body["comparison"] is None
    assert body["strategy"] == "optimal"


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_is_served_and_never_beats_optimal(
    client: FlaskClient, strategy: str
) -> None:
    body = client.post("/optimize", json={**PRD_REQUEST_2020, "strategy": strategy}).get_json()
    assert body["strategy"] == strategy
    rows = {row["strategy"]: row for row in body["comparison"]}
    assert body["summary"]["total_revenue"] == pytest.approx(rows[strategy]["total_revenue"])
    assert rows[strategy]["total_revenue"] <= rows["optimal"]["total_revenue"] + 1e-6
    expected_pct = 100 * rows[strategy]["total_revenue"] / rows["optimal"]["total_revenue"]
    assert rows[strategy]["pct_of_optimal"] == pytest.approx(expected_pct, abs=1e-4)
    check_physics(body, PRD_REQUEST_2020["battery_params"])


def test_continuous_horizon_earns_at_least_daily(client: FlaskClient) -> None:
    daily = client.post("/optimize", json={**PRD_REQUEST_2020, "compare": False}).get_json()
    request = {**PRD_REQUEST_2020, "compare": False, "horizon": "continuous"}
    continuous = client.post("/optimize", json=request).get_json()
    assert continuous["horizon"] == "continuous"
    total_daily = daily["summary"]["total_revenue"]
    assert continuous["summary"]["total_revenue"] >= total_daily - 1e-6


def test_date_only_and_datetime_bounds_are_the_same_market_days(client: FlaskClient) -> None:
    market = {**PRD_REQUEST_2020["market_params"], "start_date": "2020-08-01",
              "end_date": "2020-08-31"}  # fmt: skip
    a = client.post("/optimize", json={**PRD_REQUEST_2020, "compare": False}).get_json()
    b = client.post(
        "/optimize", json={**PRD_REQUEST_2020, "compare": False, "market_params": market}
    ).get_json()
    assert a["daily_schedules"] == b["daily_schedules"]


def test_mtr_process_reaches_the_source(
    client: FlaskClient, recorded_source: RecordedSource
) -> None:
    market = {"zone": "MORELIA", "process": "MTR", "start_date": "2020-08-01",
              "end_date": "2020-08-10"}  # fmt: skip
    body = client.post("/optimize", json={**PRD_REQUEST_2020, "market_params": market}).get_json()
    assert body["market"]["process"] == "MTR"
    assert recorded_source.calls[-1].process is Process.MTR
    assert recorded_source.calls[-1].zone == "MORELIA"


def test_zone_is_stripped(client: FlaskClient, recorded_source: RecordedSource) -> None:
    market = {**PRD_REQUEST_2020["market_params"], "zone": "  APATZINGAN "}
    body = client.post("/optimize", json={**PRD_REQUEST_2020, "market_params": market}).get_json()
    assert body["market"]["zone"] == "APATZINGAN"


def test_health(client: FlaskClient) -> None:
    response = client.get("/health")
    assert (response.status_code, response.get_json()) == (
        200,
        {"status": "ok", "price_source": "recorded"},
    )


def test_strategies_lists_the_registry(client: FlaskClient) -> None:
    body = client.get("/strategies").get_json()
    assert body == {
        "strategies": [{"name": n, "description": s.description} for n, s in STRATEGIES.items()]
    }
    assert {"optimal"} <= {s["name"] for s in body["strategies"]}


# --- malformed input: always a problem+json 4xx, never a 5xx or HTML ----------------------

B = PRD_REQUEST_2020["battery_params"]
M = PRD_REQUEST_2020["market_params"]


def _with(section: str, **values: Any) -> str:
    base = dict(PRD_REQUEST_2020)
    base[section] = {**base[section], **values}
    return json.dumps(base)


def _top(**values: Any) -> str:
    return json.dumps({**PRD_REQUEST_2020, **values})


J = "application/json"
BAD_REQUESTS: list[tuple[str, str, str, str | bytes | None, str | None, int]] = [
    ("missing-body", "POST", "/optimize", None, J, 400),
    ("blank-body", "POST", "/optimize", "   ", J, 400),
    ("truncated-json", "POST", "/optimize", '{"battery_params": {', J, 400),
    ("single-quotes", "POST", "/optimize", "{'a': 1}", J, 400),
    ("not-utf8", "POST", "/optimize", b"\xff\xfe{\x00", J, 400),
    ("deep-nesting", "POST", "/optimize", "[" * 100_000 + "]" * 100_000, J, 400),
    ("form-content-type", "POST", "/optimize", "a=1&b=2", "application/x-www-form-urlencoded", 400),
    ("text-content-type", "POST", "/optimize", _top(), "text/plain", 400),
    ("no-content-type", "POST", "/optimize", _top(), None, 400),
    ("json-null", "POST", "/optimize", "null", J, 422),
    ("json-array", "POST", "/optimize", "[1, 2]", J, 422),
    ("json-string", "POST", "/optimize", '"optimize"', J, 422),
    ("json-number", "POST", "/optimize", "42", J, 422),
    ("empty-object", "POST", "/optimize", "{}", J, 422),
    ("unknown-top-field", "POST", "/optimize", _top(extra=1), J, 422),
    ("battery-not-object", "POST", "/optimize", _top(battery_params=[1, 2]), J, 422),
    ("capacity-string", "POST", "/optimize", _with("battery_params", capacity_mw="10"), J, 422),
    ("capacity-bool", "POST", "/optimize", _with("battery_params", capacity_mw=True), J, 422),
    ("capacity-null", "POST", "/optimize", _with("battery_params", capacity_mw=None), J, 422),
    ("capacity-zero", "POST", "/optimize", _with("battery_params", capacity_mw=0), J, 422),
    ("capacity-negative", "POST", "/optimize", _with("battery_params", capacity_mw=-5), J, 422),
    ("capacity-huge", "POST", "/optimize", _with("battery_params", capacity_mw=1e300), J, 422),
    ("capacity-huge-int", "POST", "/optimize",
     _with("battery_params", capacity_mw=10**400), J, 422),
    ("capacity-nan", "POST", "/optimize",
     _with("battery_params", capacity_mw=float("nan")), J, 422),
    ("duration-inf", "POST", "/optimize",
     _with("battery_params", duration_hours=float("inf")), J, 422),
    ("efficiency-above-1", "POST", "/optimize", _with("battery_params", efficiency=1.5), J, 422),
    ("min-above-max", "POST", "/optimize",
     _with("battery_params", min_soc=0.9, max_soc=0.2), J, 422),
    ("initial-outside", "POST", "/optimize", _with("battery_params", initial_soc=0.05), J, 422),
    ("one-way-alone", "POST", "/optimize",
     _with("battery_params", charge_efficiency=0.9), J, 422),
    ("battery-nested-garbage", "POST", "/optimize",
     _with("battery_params", capacity_mw={"a": [{"b": None}]}), J, 422),
    ("unknown-battery-field", "POST", "/optimize", _with("battery_params", voltage=800), J, 422),
    ("zone-lowercase", "POST", "/optimize", _with("market_params", zone="apatzingan"), J, 422),
    ("zone-injection", "POST", "/optimize", _with("market_params", zone="A/../../etc"), J, 422),
    ("zone-huge", "POST", "/optimize", _with("market_params", zone="A" * 500_000), J, 422),
    ("zone-number", "POST", "/optimize", _with("market_params", zone=7), J, 422),
    ("system-unknown", "POST", "/optimize", _with("market_params", system="ERCOT"), J, 422),
    ("process-unknown", "POST", "/optimize", _with("market_params", process="MDX"), J, 422),
    ("date-garbage", "POST", "/optimize", _with("market_params", start_date="yesterday"), J, 422),
    ("date-impossible", "POST", "/optimize", _with("market_params", end_date="2024-02-30"), J, 422),
    ("date-year-0001", "POST", "/optimize",
     _with("market_params", start_date="0001-01-01"), J, 422),
    ("dates-reversed", "POST", "/optimize",
     _with("market_params", start_date="2024-02-01", end_date="2024-01-01"), J, 422),
    ("range-too-long", "POST", "/optimize",
     _with("market_params", start_date="2023-01-01", end_date="2024-01-02"), J, 422),
    ("zone-missing", "POST", "/optimize",
     json.dumps({**PRD_REQUEST_2020, "market_params": {"start_date": "2024-01-01",
                                                       "end_date": "2024-01-02"}}), J, 422),
    ("prices-gap", "POST", "/optimize", json.dumps(inline_request({"2024-01-01": [1.0] * 24}) | {
        "market_params": {"prices": [{"date": "2024-01-01", "hour": h, "price": 1.0}
                                     for h in range(25) if h != 5]}}), J, 422),
    ("prices-duplicate", "POST", "/optimize", json.dumps({**inline_request({}), "market_params": {
        "prices": [{"date": "2024-01-01", "hour": h % 24, "price": 1.0} for h in range(25)]}}),
     J, 422),
    ("prices-hour-float", "POST", "/optimize", json.dumps({**inline_request({}), "market_params": {
        "prices": [{"date": "2024-01-01", "hour": h + 0.5, "price": 1.0} for h in range(24)]}}),
     J, 422),
    ("prices-empty", "POST", "/optimize", _with("market_params", prices=[]), J, 422),
    ("strategy-unknown", "POST", "/optimize", _top(strategy="oracle"), J, 422),
    ("strategy-huge", "POST", "/optimize", _top(strategy="x" * 1_000_000), J, 422),
    ("compare-string", "POST", "/optimize", _top(compare="yes"), J, 422),
    ("horizon-unknown", "POST", "/optimize", _top(horizon="weekly"), J, 422),
    ("body-too-large", "POST", "/optimize", _top(pad="x" * 3_000_000), J, 413),
    ("get-optimize", "GET", "/optimize", None, None, 405),
    ("put-optimize", "PUT", "/optimize", _top(), J, 405),
    ("delete-health", "DELETE", "/health", None, None, 405),
    ("post-strategies", "POST", "/strategies", "{}", J, 405),
    ("unknown-route", "GET", "/optimise", None, None, 404),
    ("path-traversal", "GET", "/../../etc/passwd", None, None, 404),
]  # fmt: skip


#: the field path each 422 above must blame, and nothing else
FIELD_PATHS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ["json-null", "json-array", "json-string", "json-number"], frozenset({"body"})
    ),
    "empty-object": frozenset({"battery_params", "market_params"}),
    "unknown-top-field": frozenset({"extra"}),
    "battery-not-object": frozenset({"battery_params"}),
    **dict.fromkeys(
        ["capacity-string", "capacity-bool", "capacity-null", "capacity-zero",
         "capacity-negative", "capacity-huge", "capacity-huge-int", "capacity-nan",
         "battery-nested-garbage"],
        frozenset({"battery_params.capacity_mw"}),
    ),
    "duration-inf": frozenset({"battery_params.duration_hours"}),
    "efficiency-above-1": frozenset({"battery_params.efficiency"}),
    "min-above-max": frozenset({"battery_params.min_soc"}),
    "initial-outside": frozenset({"battery_params.initial_soc"}),
    # the partner that is missing
    "one-way-alone": frozenset({"battery_params.discharge_efficiency"}),
    "unknown-battery-field": frozenset({"battery_params.voltage"}),
    **dict.fromkeys(
        ["zone-lowercase", "zone-injection", "zone-huge", "zone-number", "zone-missing"],
        frozenset({"market_params.zone"}),
    ),
    "system-unknown": frozenset({"market_params.system"}),
    "process-unknown": frozenset({"market_params.process"}),
    "date-garbage": frozenset({"market_params.start_date"}),
    "date-year-0001": frozenset({"market_params.start_date"}),
    **dict.fromkeys(
        ["date-impossible", "dates-reversed", "range-too-long"],
        frozenset({"market_params.end_date"}),
    ),
    "prices-gap": frozenset({"market_params.prices"}),
    "prices-duplicate": frozenset({"market_params.prices.24"}),  # the second 2024-01-01 hour 0
    "prices-hour-float": frozenset(f"market_params.prices.{h}.hour" for h in range(24)),
    "prices-empty": frozenset({"market_params.prices"}),
    **dict.fromkeys(["strategy-unknown", "strategy-huge"], frozenset({"strategy"})),
    "compare-string": frozenset({"compare"}),
    "horizon-unknown": frozenset({"horizon"}),
}  # fmt: skip


def test_every_422_in_the_table_names_its_field_path() -> None:
    assert {case[0] for case in BAD_REQUESTS if case[5] == 422} == set(FIELD_PATHS)


@pytest.mark.parametrize(
    ("name", "method", "path", "data", "content_type", "status"),
    BAD_REQUESTS,
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_get_a_problem_4xx(
    client: FlaskClient,
    name: str,
    method: str,
    path: str,
    data: str | bytes | None,
    content_type: str | None,
    status: int,
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.open(path, method=method, data=data, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    if status == 422:
        assert set(body["errors"]) == FIELD_PATHS[name]
        assert all(
            isinstance(k, str) and v and all(isinstance(m, str) for m in v)
            for k, v in body["errors"].items()
        )
    assert len(response.get_data()) < 10_000  # never echoes huge input back


def test_bad_request_table_is_big_enough() -> None:
    assert len(BAD_REQUESTS) >= 30


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (_with("battery_params", min_soc=0.9, max_soc=0.2),
         {"battery_params.min_soc": ["Must be less than max_soc."]}),
        (_with("market_params", end_date="2019-12-31"),
         {"market_params.end_date": ["Must not be before start_date."]}),
        (_top(strategy="oracle"), {"strategy": [f"Must be one of: {', '.join(STRATEGIES)}."]}),
        (_top(extra=1), {"extra": ["Unknown field."]}),
        ("[]", {"body": ["Must be a JSON object."]}),
    ],
    ids=["min-max", "dates", "strategy", "unknown", "array"],
)  # fmt: skip
def test_422_maps_field_paths_to_messages(
    client: FlaskClient, payload: str, errors: dict[str, list[str]]
) -> None:
    response = client.post("/optimize", data=payload, content_type="application/json")
    assert response.get_json()["errors"] == errors


@pytest.mark.parametrize("path", ["/optimize", "/sizing", "/siting"])
def test_a_post_with_query_parameters_is_a_422_naming_them(client: FlaskClient, path: str) -> None:
    """``POST /optimize?strategy=dp`` ran ``optimal`` and answered 200 (a user-level tour): a
    POST reads its values from the JSON body only, so a query parameter is an unknown field,
    named under ``query`` (at most 10 of them)."""
    body = json.loads((FIXTURES / "inline_request.json").read_text())
    response = client.post(f"{path}?strategy=dp&compare=true", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    message = f"Unknown query parameter: POST {path} reads its values from the JSON body only."
    assert response.get_json()["errors"] == {
        "query.strategy": [message],
        "query.compare": [message],
    }
    many = "&".join(f"p{i}=1" for i in range(30))
    errors = client.post(f"{path}?{many}", json=body).get_json()["errors"]
    assert list(errors) == [f"query.p{i}" for i in range(10)]


def test_the_same_post_without_a_query_string_answers(client: FlaskClient) -> None:
    body = json.loads((FIXTURES / "inline_request.json").read_text())
    assert client.post("/optimize", json=body).status_code == 200
    assert client.post("/optimize?", json=body).status_code == 200


def test_a_million_zeros_are_refused_fast_with_a_small_body(client: FlaskClient) -> None:
    """SPEC §13 / issue 10 point 1: the list's length is checked before its items."""
    body = {"battery_params": PRD_REQUEST_2020["battery_params"],
            "market_params": {"prices": [0] * 1_000_000}}  # fmt: skip
    response = client.post("/optimize", data=json.dumps(body, separators=(",", ":")),
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "market_params.prices": ["Length must be between 1 and 9150."]
    }
    assert len(response.data) < 64 * 1024


def test_gzip_answer_inflates_to_the_identity_answer(client: FlaskClient) -> None:
    plain = client.post("/optimize", json=PRD_REQUEST_2020)
    zipped = client.post("/optimize", json=PRD_REQUEST_2020, headers={"Accept-Encoding": "gzip"})
    assert (plain.status_code, zipped.status_code) == (200, 200)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Vary"] == plain.headers["Vary"] == "Accept-Encoding"
    inflated, identity = json.loads(gzip.decompress(zipped.data)), plain.get_json()
    assert OptimizeResponseSchema().validate(inflated) == {}
    for body in (inflated, identity):
        for row in body["comparison"]:
            row.pop("runtime_ms")
    assert inflated == identity


def test_non_finite_numbers_never_reach_a_client() -> None:
    """orjson would write NaN as null: the provider refuses it instead (a 500 upstream)."""
    from blueprints.encoding import encode_json

    assert encode_json({"a": None, "b": [1.5, {"c": 2}]}) == b'{"a":null,"b":[1.5,{"c":2}]}'
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="Out of range float"):
            encode_json({"zone": None, "rows": [{"x": 1.0}, {"x": bad}]})


class _DeadlineSpy(RecordedSource):
    """The recorded prices, noting the deadline each fetch was given."""

    def __init__(self) -> None:
        super().__init__()
        self.deadlines: list[float | None] = []

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[Any]:
        self.deadlines.append(deadline_s)
        return super().fetch(query, deadline_s=deadline_s)


def test_one_request_deadline_reaches_the_fetch_and_the_optimizer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SPEC §13: REQUEST_DEADLINE_S becomes one time.monotonic() deadline per request, the
    same for the price fetch and the optimizer."""
    import blueprints.service as service
    from app import create_app
    from prices import PriceSettings

    source = _DeadlineSpy()
    seen: list[float | None] = []

    def optimize_spy(*args: Any, deadline_s: float | None = None, **kwargs: Any) -> Any:
        seen.append(deadline_s)
        return real_optimize(*args, deadline_s=deadline_s, **kwargs)

    real_optimize = service.optimize
    monkeypatch.setattr(service, "optimize", optimize_spy)
    settings = PriceSettings(request_deadline_s=7.0, fetch_deadline_s=5.0)
    app = create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": source, "PRICE_SETTINGS": settings})
    before = time.monotonic()
    response = app.test_client().post("/optimize", json=PRD_REQUEST_2020)
    after = time.monotonic()
    assert response.status_code == 200
    fetch_deadline, *history_deadlines = source.deadlines  # the days, then their history
    assert seen == [fetch_deadline]
    assert fetch_deadline is not None
    assert before + 7.0 <= fetch_deadline <= after + 7.0
    # the best-effort history attempts (SPEC §11) share half the time left, no more
    assert len(set(history_deadlines)) == 1
    (history_deadline,) = set(history_deadlines)
    assert history_deadline is not None
    assert before < history_deadline <= after + 3.5


def test_a_passed_deadline_is_a_503_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    import blueprints.api as api
    from app import create_app

    monkeypatch.setattr(api, "request_deadline", lambda app=None: time.monotonic() - 1.0)
    app = create_app({"TESTING": True})
    body = json.loads((FIXTURES / "inline_request.json").read_text())
    response = app.test_client().post("/optimize", json=body)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 503


SMALL_WINDOW_REQUESTS = json.loads((FIXTURES / "small_window_requests.json").read_text())


@pytest.mark.parametrize("body", SMALL_WINDOW_REQUESTS, ids=lambda b: b["strategy"])
def test_small_windows_compare_every_strategy_within_physics(
    client: FlaskClient, body: dict[str, Any]
) -> None:
    """A fuzz's requests (stop 30): SoC windows of 1e-11..1e-10 MWh, ``compare: true``. With the
    stored energy checked to 1e-7 of E, ``spread`` overran one by 19 windows (a 500) and
    ``dp`` "earned" up to 9 times ``optimal`` elsewhere; checked against the window, every
    strategy keeps to it and none beats the optimum."""
    response = client.post("/optimize", json=body)
    assert response.status_code == 200, response.get_json()
    rows = {row["strategy"]: row for row in response.get_json()["comparison"]}
    best = rows["optimal"]["total_revenue"]
    for name, row in rows.items():
        assert row["total_revenue"] <= best + 1e-6, name  # a micro-peso: the report's rounding
