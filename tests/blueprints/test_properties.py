"""POST /optimize over the whole schema (hypothesis): any battery it accepts -- 1 kW to 100 GW,
0.01-168 h, SoC windows down to 1e-9 of the energy, one-way efficiencies, degradation, caps --
over 1-2 days of odd prices, both horizons, ``compare: true``. Every answer is a 200 whose
schedule keeps SPEC §2 and whose comparison has no strategy above ``optimal``. Stop 30's fuzzes
of these corners found a 500 and ``dp`` reported at 9 times ``optimal`` (their requests are
named cases in ``test_api.py``); unseeded runs of this property (1,500 examples) find ``dp``
above ``optimal`` again on stop 29's settlement, and nothing on this one (seeds 1-9, 1,500
examples each).

The request deadline is set far out: a test's outcome must not depend on the machine's load."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app import create_app
from prices import PriceSettings

#: what settlement's checks allow beyond a bound, as a share of the SoC window (1e-7), with a
#: margin for the reported fractions' 9 decimals
SOC_SLACK = 2e-9


@st.composite
def battery_params(draw: st.DrawFn) -> dict[str, Any]:
    lo = draw(st.sampled_from([0.0, 0.1, 0.5]))
    share = draw(st.one_of(st.just(1.0 - lo), st.floats(-9.0, -1.0).map(lambda s: 10.0**s)))
    params: dict[str, Any] = {
        "capacity_mw": 10.0 ** draw(st.floats(-3.0, 5.0)),
        "duration_hours": draw(st.sampled_from([0.01, 0.25, 1.0, 4.0, 24.0, 168.0])),
        "min_soc": lo,
        "max_soc": min(1.0, lo + share),
    }
    if draw(st.booleans()):
        params["efficiency"] = draw(st.sampled_from([0.01, 0.5, 0.85, 1.0]))
    else:
        params["charge_efficiency"] = draw(st.sampled_from([0.1, 0.9, 1.0]))
        params["discharge_efficiency"] = draw(st.sampled_from([0.1, 0.95, 1.0]))
    start = draw(st.sampled_from([None, "min", "max", "mid"]))
    if start is not None:
        low, high = params["min_soc"], params["max_soc"]
        params["initial_soc"] = {"min": low, "max": high, "mid": 0.5 * (low + high)}[start]
    params["degradation_cost_per_mwh"] = draw(st.sampled_from([0.0, 0.0, 5.0]))
    cap = draw(st.sampled_from([None, None, 0.5, 3.0]))
    if cap is not None:
        params["max_cycles_per_day"] = cap
    return params


@st.composite
def prices(draw: st.DrawFn) -> list[dict[str, Any]]:
    items = []
    for day in range(draw(st.integers(1, 2))):
        hours = draw(st.sampled_from([24, 24, 23, 25]))
        kind = draw(st.sampled_from(["ordinary", "negative", "flat", "tiny"]))
        values = draw(st.lists(st.floats(-1.0, 1.0), min_size=hours, max_size=hours))
        scale = {"ordinary": 1500.0, "negative": 1200.0, "flat": 0.0, "tiny": 1e-6}[kind]
        offset = {"ordinary": 1500.0, "negative": -1200.0, "flat": -1200.0, "tiny": 0.0}[kind]
        date = (dt.date(2024, 3, 9) + dt.timedelta(days=day)).isoformat()
        items += [
            {"date": date, "hour": h, "price": round(offset + scale * v, 6)}
            for h, v in enumerate(values)
        ]
    return items


def client() -> FlaskClient:
    settings_ = PriceSettings(request_deadline_s=3600.0, fetch_deadline_s=10.0)
    return create_app({"TESTING": True, "PRICE_SETTINGS": settings_}).test_client()


CLIENT = client()


@settings(max_examples=150)
@given(
    battery=battery_params(),
    items=prices(),
    horizon=st.sampled_from(["daily", "continuous"]),
    strategy=st.sampled_from(["optimal", "dp", "spread", "cycle", "forecast", "learned"]),
)
def test_property_any_valid_request_is_answered_within_physics(
    battery: dict[str, Any], items: list[dict[str, Any]], horizon: str, strategy: str
) -> None:
    body = {
        "battery_params": battery,
        "market_params": {"prices": items},
        "horizon": horizon,
        "strategy": strategy,
        "compare": True,
    }
    response = CLIENT.post("/optimize", json=body)
    assert response.status_code == 200, response.get_json()
    out = response.get_json()
    rows = {row["strategy"]: row for row in out["comparison"]}
    best = rows["optimal"]["total_revenue"]
    # a micro-peso (the report's rounding) and 1e-9 of the request's scale (its largest price
    # times the SoC window), the share of it the optimum's tolerances keep to: a baseline may use
    # settlement's 1e-7 of the window (spread 0.6 micro-pesos over 76,526 MXN), and over an
    # hour at 1e-6 MXN/MWh beside days at 1,500 a 25 MWh battery's optimum of 2.5e-6 MXN is
    # 7e-11 of that scale: `optimal` and the reference MILP answer 0, spread 2e-6 (hypothesis)
    top = max(abs(item["price"]) for item in items)
    window = (
        battery["capacity_mw"]
        * battery["duration_hours"]
        * (battery["max_soc"] - battery["min_soc"])
    )
    slack = 1e-6 + 1e-9 * max(abs(best), top * window)
    for name, row in rows.items():
        assert row["total_revenue"] <= best + slack, name
    assert out["summary"]["total_revenue"] == rows[strategy]["total_revenue"]
    low, high = battery["min_soc"], battery["max_soc"]
    slack = SOC_SLACK + 1e-7 * (high - low)
    for day in out["daily_schedules"]:
        for hour in day["schedule"]:
            assert low - slack <= hour["soc"] <= high + slack
            assert hour["power"] <= battery["capacity_mw"] * (1 + 1e-7)
