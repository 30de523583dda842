"""``optimal`` on batteries whose SoC window fills or empties in under an hour at full power:
windows of 1e-7..1e-2 of the energy (the schema only asks ``min_soc < max_soc``) and
durations down to 0.01 h. Two oracles: the reference MILP (whose power unit is what the window
lets an hour use, so that HiGHS's integrality tolerance cannot let it "gain" overlaps there,
as it did by 2-56 % in units of P, stop 30), and, where the cycle cap is off, a dynamic
programme over three levels that needs no solver at all."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import Battery, Horizon
from optimizer.strategies import optimal
from optimizer.strategies._days import guard_faults
from tests.optimizer.helpers import days_from, unit_days
from tests.optimizer.reference import reference_optimum


def crosses_window(battery: Battery) -> bool:
    """Whether an hour at full power charges or empties the whole SoC window."""
    return min(battery.power_mw * battery.eta_charge, battery.power_mw / battery.eta_discharge) >= (
        battery.usable_energy_mwh
    )


def three_level_optimum(prices: list[np.ndarray], battery: Battery, *, continuous: bool) -> float:
    """The optimum where full power moves more than the window in an hour either way
    (``P eta_c >= W`` and ``P / eta_d >= W``) and no cap: every hour can then reach any level
    of the window, so each value function is piecewise linear with breakpoints only where the
    next one has them or at the window's ends, and by induction from the end condition (at
    ``x0``) every breakpoint is ``min_soc``, ``max_soc`` or ``x0``: a programme over those
    three levels is exact."""
    e = battery.energy_mwh
    lo, hi, x0 = battery.min_soc * e, battery.max_soc * e, battery.soc_start * e
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    assert crosses_window(battery)
    assert battery.daily_withdrawal_cap_mwh is None
    levels = np.array(sorted({lo, hi, x0}))
    at_x0 = levels == x0
    move = levels[None, :] - levels[:, None]  # from row level to column level
    kappa = battery.degradation_cost_mxn_per_mwh

    def hour(value: np.ndarray, price: float) -> np.ndarray:
        earned = np.where(
            move > 0, -price * move / eta_c, np.where(move < 0, (price - kappa) * -move * eta_d, 0)
        )
        return np.max(earned + value[None, :], axis=1)

    total = 0.0
    for chunk in [np.concatenate(prices)] if continuous else prices:
        value = np.where(at_x0, 0.0, -np.inf)
        for price in chunk[::-1]:
            value = hour(value, float(price))
        total += float(value[at_x0][0])
    return total


@st.composite
def small_window_case(draw: st.DrawFn) -> tuple[list[np.ndarray], Battery, Horizon]:
    share = 10.0 ** draw(st.floats(-7.0, -2.0))
    lo = draw(st.floats(0.0, 0.9))
    hi = min(1.0, lo + share)
    kind = draw(st.sampled_from(["signed", "three levels", "negative"]))
    prices = [1000.0 * p for p in draw(unit_days(draw(st.integers(1, 2)), kind))]
    battery = Battery(
        power_mw=10.0 ** draw(st.floats(-3.0, 5.0)),
        duration_h=draw(st.sampled_from([0.01, 0.3, 4.0, 168.0])),
        round_trip_efficiency=draw(st.sampled_from([0.01, 0.5, 0.85, 1.0])),
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.sampled_from([lo, hi, 0.5 * (lo + hi)])),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 25.0])),
        max_cycles_per_day=draw(st.sampled_from([None, None, 0.5, 3.0])),
    )
    return prices, battery, draw(st.sampled_from([Horizon.DAILY, Horizon.CONTINUOUS]))


def revenue(prices: list[np.ndarray], battery: Battery, horizon: Horizon) -> float:
    dispatch = optimal.STRATEGY.dispatch(days_from(prices), battery, horizon=horizon)
    charge, discharge = np.asarray(dispatch.charge_mw), np.asarray(dispatch.discharge_mw)
    offsets = np.cumsum([0, *(p.size for p in prices)])
    assert not guard_faults(charge, discharge, offsets, battery, horizon=horizon)
    flat = np.concatenate(prices)
    return float(
        flat @ (discharge - charge) - battery.degradation_cost_mxn_per_mwh * discharge.sum()
    )


@given(small_window_case())
def test_property_small_windows_are_exact(
    case: tuple[list[np.ndarray], Battery, Horizon],
) -> None:
    prices, battery, horizon = case
    continuous = horizon is Horizon.CONTINUOUS
    got = revenue(prices, battery, horizon)
    # abs: a femto-peso, for answers of ~1e-222 MXN (windows of 1e-7 over prices of 1e-200)
    assert got == pytest.approx(
        reference_optimum(prices, battery, continuous=continuous), rel=1e-6, abs=1e-15
    )
    if crosses_window(battery) and battery.max_cycles_per_day is None:
        assert got == pytest.approx(
            three_level_optimum(prices, battery, continuous=continuous), rel=1e-9, abs=0.0
        )


#: a fuzz's day (stop 30, ``widefuzz.py``): prices of -1000, 0 and 1000 MXN/MWh
LEVELS_DAY = 1000.0 * np.array(
    [1, 0, -1, 1, 0, 0, -1, 1, 1, -1, 0, 1, -1, -1, 0, 1, 1, 0, -1, 1, 0, -1, 1, 0], dtype=float
)


@pytest.mark.parametrize("horizon", [Horizon.DAILY, Horizon.CONTINUOUS], ids=lambda h: h.value)
@pytest.mark.parametrize(
    "battery",
    [
        # 2.1 GW, a window of 1.5e-7 of its 6.5 GWh (1 MWh), starting near its top
        Battery(
            power_mw=2111.9,
            duration_h=3.1,
            round_trip_efficiency=0.91,
            min_soc=0.5741133,
            max_soc=0.5741135,
            initial_soc=0.5741134,
        ),
        # 67 kW, a window of 4e-8 MWh, round trip 0.01
        Battery(
            power_mw=0.0669,
            duration_h=0.29,
            round_trip_efficiency=0.01,
            min_soc=0.06555,
            max_soc=0.06556,
        ),
        # a 36-second battery over its whole window
        Battery(power_mw=10.0, duration_h=0.01, round_trip_efficiency=0.85),
    ],
    ids=["2.1 GW 1 MWh window", "4e-8 MWh window", "0.01 h"],
)
def test_small_windows_match_both_oracles(battery: Battery, horizon: Horizon) -> None:
    """Before the reference's unit was the window's, it lay 2 % and 56 % above these (its
    integrality tolerance let it overlap charge and discharge by 1e-6 P, more than the
    window); ``optimal`` was right."""
    prices = [LEVELS_DAY, LEVELS_DAY[::-1] - 500.0]
    continuous = horizon is Horizon.CONTINUOUS
    got = revenue(prices, battery, horizon)
    want = three_level_optimum(prices, battery, continuous=continuous)
    assert want > 0.0
    assert got == pytest.approx(want, rel=1e-9, abs=0.0)
    assert reference_optimum(prices, battery, continuous=continuous) == pytest.approx(
        want, rel=1e-6, abs=0.0
    )


@pytest.mark.parametrize("horizon", [Horizon.DAILY, Horizon.CONTINUOUS], ids=lambda h: h.value)
def test_a_window_of_1e_8_p_h_beside_a_price_of_1e_minus_42_is_answered(horizon: Horizon) -> None:
    """Found by the property above: in units of P HiGHS got coefficients of 1e9 beside costs
    of 1.4e-42 and 1,000 and returned no answer (``SolverError``, a 500); in the window's
    unit (``optimal.power_unit_mw``) it solves."""
    prices = np.zeros(24)
    prices[22], prices[23] = 1000.0, 1.401298464324817e-42
    battery = Battery(
        power_mw=1.0,
        duration_h=0.01,
        round_trip_efficiency=0.01,
        min_soc=0.0,
        max_soc=1e-06,
        initial_soc=0.0,
        max_cycles_per_day=0.5,
    )
    want = reference_optimum([prices], battery, continuous=horizon is Horizon.CONTINUOUS)
    assert want > 0.0
    assert revenue([prices], battery, horizon) == pytest.approx(want, rel=1e-9, abs=0.0)


@pytest.mark.parametrize("share", [1e-7, 1e-4])
def test_a_36_second_battery_with_a_small_window_is_exact(share: float) -> None:
    """Found by the property above (unseeded): one hour at -1,000, a 0.01-h battery, its
    window 1e-7 of its energy. Its lattice's tolerances are relative to ``max(W, C, D)``, and
    with ``C = eta_c P`` (a full hour's charge, 1e9 windows) the daily route stopped 1.8e-6
    short of filling the window; with the power the window can use (``power_unit_mw``) it
    fills it exactly."""
    prices = np.zeros(24)
    prices[22] = -1000.0
    battery = Battery(
        power_mw=1.0, duration_h=0.01, round_trip_efficiency=0.5, max_soc=share, initial_soc=0.0
    )
    for horizon in (Horizon.DAILY, Horizon.CONTINUOUS):
        want = three_level_optimum([prices], battery, continuous=horizon is Horizon.CONTINUOUS)
        assert want == pytest.approx(1000.0 * 0.01 * share / np.sqrt(0.5), rel=1e-12)
        assert revenue([prices], battery, horizon) == pytest.approx(want, rel=1e-9, abs=0.0)
