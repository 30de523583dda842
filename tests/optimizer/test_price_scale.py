"""``optimal`` is exact whatever the prices' scale. The best revenue is homogeneous in the
prices: scaling every price and the degradation cost by ``s > 0`` scales it by ``s`` and keeps
every schedule optimal. HiGHS's tolerances are absolute, so its routes get the objective
scaled up by a power of two to ``optimal.COST_FLOOR`` where its rates are smaller (stop 29: a
fuzz found the continuous chain's LP 57 % below the optimum over prices of ~3.6e-7 MXN/MWh, and
a capped day certified by its LP relaxation 2.2 % below the daily route's over prices of
+-1e-6). The reference MILP shares those tolerances, so it is asked at prices scaled up by a
power of two, where they are of its usual size, and its answer scaled back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import Battery, Horizon
from optimizer.strategies import optimal
from optimizer.strategies._days import guard_faults
from tests.optimizer.helpers import days_from, unit_days
from tests.optimizer.reference import reference_optimum


def schedule(
    prices: list[np.ndarray], battery: Battery, horizon: Horizon
) -> tuple[np.ndarray, np.ndarray, float]:
    """``optimal``'s charge and discharge (MW) and its revenue, unrounded (settlement keeps
    micro-pesos), SPEC §2."""
    dispatch = optimal.STRATEGY.dispatch(days_from(prices), battery, horizon=horizon)
    charge, discharge = np.asarray(dispatch.charge_mw), np.asarray(dispatch.discharge_mw)
    flat = np.concatenate(prices)
    earned = flat @ (discharge - charge) - battery.degradation_cost_mxn_per_mwh * discharge.sum()
    return charge, discharge, float(earned)


def revenue(prices: list[np.ndarray], battery: Battery, horizon: Horizon) -> float:
    return schedule(prices, battery, horizon)[2]


def reference_at_scale(prices: list[np.ndarray], battery: Battery, *, continuous: bool) -> float:
    """The reference optimum with prices and degradation scaled so that the largest rate is
    ~1,000 MXN/MWh (exact: a power of two), scaled back."""
    top = max(float(np.max(np.abs(p))) for p in prices)
    up = float(np.ldexp(1.0, 10 - int(np.frexp(top)[1])))  # top * up in [512, 1024)
    scaled = dataclasses.replace(
        battery, degradation_cost_mxn_per_mwh=battery.degradation_cost_mxn_per_mwh * up
    )
    return reference_optimum([p * up for p in prices], scaled, continuous=continuous) / up


#: a fuzz's day through POST /optimize (stop 29): prices of -1e-6, 0 and 1e-6 MXN/MWh
MICRO_DAY = 1e-6 * np.array(
    [0, 1, -1, 1, 1, 0, 1, 0, 0, -1, 0, -1, 1, 1, 0, -1, 0, 0, 0, -1, 1, 1, 0, 1], dtype=float
)


@pytest.mark.parametrize("horizon", [Horizon.DAILY, Horizon.CONTINUOUS], ids=lambda h: h.value)
def test_a_capped_day_of_micro_prices_is_exact(horizon: Horizon) -> None:
    """One day: both horizons are the same programme. Its LP relaxation, solved as given,
    was taken as the bound and certified 0.00126 MXN against the optimum's 0.0012875."""
    battery = Battery(
        power_mw=250.0, duration_h=1.0, round_trip_efficiency=0.01, max_cycles_per_day=3.0
    )
    want = reference_at_scale([MICRO_DAY], battery, continuous=False)
    assert want == pytest.approx(0.0012875, rel=1e-9)
    assert revenue([MICRO_DAY], battery, horizon) == pytest.approx(want, rel=1e-6, abs=0.0)


def test_a_convex_chain_of_tiny_prices_is_exact() -> None:
    """Two days of positive prices around 3e-7 MXN/MWh: no hour needs a binary, so the chain
    is HiGHS's LP, whose reduced costs were at its tolerance (57 % below, as given)."""
    shape = 0.65 + 0.35 * np.sin(np.arange(48) * 2 * np.pi / 24 + 1.0)
    prices = [3.6e-7 * shape[:24], 3.6e-7 * shape[24:]]
    battery = Battery(power_mw=100_000.0, duration_h=1.0, round_trip_efficiency=0.85)
    want = reference_at_scale(prices, battery, continuous=True)
    got = revenue(prices, battery, Horizon.CONTINUOUS)
    assert want > 0.0
    assert got == pytest.approx(want, rel=1e-6, abs=0.0)


def test_highs_gets_one_programme_for_every_price_scale_below_the_floor() -> None:
    """Prices ``p`` and ``p / 2**k`` give HiGHS the same programme once scaled (a power of
    two: exact), so the same schedule, bit for bit."""
    rng = np.random.default_rng(29)
    prices = rng.uniform(-300.0, 900.0, 48)
    assert float(np.max(np.abs(prices))) < optimal.COST_FLOOR
    battery = Battery(power_mw=10.0, duration_h=4.0, round_trip_efficiency=0.85)
    offsets = np.array([0, 24, 48])
    charge, discharge = optimal.solve_program(prices, offsets, battery, horizon=Horizon.CONTINUOUS)
    for k in (10, 30):
        c, d = optimal.solve_program(prices / 2.0**k, offsets, battery, horizon=Horizon.CONTINUOUS)
        assert np.array_equal(c, charge)
        assert np.array_equal(d, discharge)


@st.composite
def scaled_case(draw: st.DrawFn) -> tuple[list[np.ndarray], Battery, Horizon, int]:
    kind = draw(st.sampled_from(["positive", "signed", "three levels"]))
    prices = draw(unit_days(draw(st.integers(1, 2)), kind))
    battery = Battery(
        power_mw=100_000.0,
        duration_h=draw(st.sampled_from([1.0, 4.0])),
        round_trip_efficiency=draw(st.sampled_from([0.01, 0.5, 0.85])),
        max_cycles_per_day=draw(st.sampled_from([None, 0.5, 3.0])),
    )
    horizon = draw(st.sampled_from([Horizon.DAILY, Horizon.CONTINUOUS]))
    return prices, battery, horizon, draw(st.sampled_from([-24, -12, 12]))


@given(scaled_case())
def test_property_the_best_revenue_scales_with_the_prices(
    case: tuple[list[np.ndarray], Battery, Horizon, int],
) -> None:
    """``optimal``'s revenue over prices ``2**k p`` is ``2**k`` times its revenue over ``p``
    (prices of ~1 MXN/MWh), for ``k`` in -24 (~6e-8 MXN/MWh), -12 and 12, capped or not,
    both horizons."""
    prices, battery, horizon, k = case
    base = revenue(prices, battery, horizon)
    scaled = revenue([p * 2.0**k for p in prices], battery, horizon)
    assert scaled / 2.0**k == pytest.approx(base, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("cap", [None, 3.0], ids=["uncapped", "cap 3"])
@pytest.mark.parametrize("scale", [1e-300, 1e-310, 5e-324], ids=["1e-300", "1e-310", "5e-324"])
def test_prices_at_the_bottom_of_the_floats_are_answered(scale: float, cap: float | None) -> None:
    """Prices down to the smallest subnormal: the objective's scale comes from the exponents
    (``np.frexp``), never from ``COST_FLOOR / top``, which overflows below ~1e-305; the
    schedule keeps SPEC §2 and earns at least what idling earns."""
    shape = 0.65 + 0.35 * np.sin(np.arange(48) * 2 * np.pi / 24 + 1.0)
    prices = [scale * shape[:24], -scale * shape[24:]]
    battery = Battery(
        power_mw=100_000.0, duration_h=1.0, round_trip_efficiency=0.85, max_cycles_per_day=cap
    )
    for horizon in (Horizon.DAILY, Horizon.CONTINUOUS):
        charge, discharge, earned = schedule(prices, battery, horizon)
        offsets = np.array([0, 24, 48])
        assert not guard_faults(charge, discharge, offsets, battery, horizon=horizon)
        assert earned >= 0.0


def small_case(seed: int) -> tuple[list[np.ndarray], Battery, Horizon]:
    """One case of stop 29's fuzz of small numbers: 1-3 days of prices of ~1e-9..1e3 MXN/MWh
    in four shapes, batteries of 1 kW..100 MW, caps, SoC windows, degradation."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-9.0, 3.0)
    kind = seed % 4
    prices = []
    for _ in range(int(rng.integers(1, 4))):
        if kind == 0:
            values = rng.uniform(0.3, 1.0, 24)
        elif kind == 1:
            values = rng.uniform(-1.0, 1.0, 24)
        elif kind == 2:
            values = np.round(rng.uniform(-1.0, 1.0, 24))
        else:
            values = np.where(rng.random(24) < 0.5, -1.0, 1.0) * (1.0 + 0.01 * rng.random(24))
        prices.append(scale * values)
    soc = {}
    if rng.random() < 0.3:
        soc = {"min_soc": 0.1, "max_soc": 0.9, "initial_soc": float(rng.choice([0.1, 0.5, 0.9]))}
    battery = Battery(
        power_mw=float(rng.choice([0.001, 1.0, 250.0])),
        duration_h=float(rng.choice([0.5, 1.0, 4.0])),
        round_trip_efficiency=float(rng.choice([0.01, 0.5, 0.85, 1.0])),
        degradation_cost_mxn_per_mwh=float(scale * rng.uniform(0.0, 0.5) * (rng.random() < 0.3)),
        max_cycles_per_day=None if rng.random() < 0.4 else float(rng.choice([0.1, 0.5, 3.0])),
        **soc,
    )
    return prices, battery, Horizon.CONTINUOUS if rng.random() < 0.5 else Horizon.DAILY


@pytest.mark.parametrize("seed", range(100))
def test_small_prices_and_batteries_are_exact(seed: int) -> None:
    """Against the reference at prices scaled up, within 1e-6 relative and nothing absolute.
    Before ``Optimal.dispatch`` scaled small prices and batteries up (stop 30), the routes'
    absolute tolerances (``max(1, |value|)`` floors) lost up to 45 % of revenues below a
    micro-peso and 1e-5..3e-2 of revenues of 1e-9..1e-7 MXN on 11 of 200 such cases."""
    prices, battery, horizon = small_case(seed)
    want = reference_at_scale(prices, battery, continuous=horizon is Horizon.CONTINUOUS)
    assert revenue(prices, battery, horizon) == pytest.approx(want, rel=1e-6, abs=0.0)


@pytest.mark.parametrize("cap", [None, 0.5, 3.0], ids=["uncapped", "cap 0.5", "cap 3"])
@pytest.mark.parametrize("horizon", [Horizon.DAILY, Horizon.CONTINUOUS], ids=lambda h: h.value)
def test_small_numbers_give_one_schedule_scaled(horizon: Horizon, cap: float | None) -> None:
    """Prices ``p`` and ``p / 2**k`` below ``COST_FLOOR`` give the same schedule bit for bit,
    and a battery of power ``P`` and ``P / 2**m`` below ``WINDOW_FLOOR_MWH`` the same schedule
    divided by ``2**m``: ``Optimal.dispatch`` solves all of them as one request."""
    rng = np.random.default_rng(30)
    prices = [rng.uniform(-300.0, 900.0, 24), rng.uniform(-900.0, 300.0, 24)]
    battery = Battery(
        power_mw=0.2, duration_h=2.0, round_trip_efficiency=0.85, max_cycles_per_day=cap
    )
    assert battery.energy_mwh < optimal.WINDOW_FLOOR_MWH  # its SoC window too
    charge, discharge, _ = schedule(prices, battery, horizon)
    assert discharge.sum() > 0.0
    for k, m in ((10, 0), (40, 0), (0, 7), (20, 20)):
        smaller = dataclasses.replace(battery, power_mw=battery.power_mw / 2.0**m)
        c, d, _ = schedule([p / 2.0**k for p in prices], smaller, horizon)
        assert np.array_equal(c * 2.0**m, charge)
        assert np.array_equal(d * 2.0**m, discharge)
