"""``spread``: greedy pairing of cheap charging hours with dearer later discharging hours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import STRATEGIES, Battery, Horizon, optimize
from optimizer.market import market_days
from optimizer.strategies import spread
from tests.optimizer.baseline_checks import PUBLISHED, check_run, total
from tests.optimizer.helpers import batteries, day_prices, days_from, prd_battery, real_days

NAME = "spread"


def one_way(eta: float = 0.9, **overrides: float | None) -> Battery:
    """10 MW, 4 h, one-way efficiency ``eta`` both ways, SoC 0-1 (unless overridden)."""
    params: dict[str, Any] = {
        "power_mw": 10.0,
        "duration_h": 4.0,
        "charge_efficiency": eta,
        "discharge_efficiency": eta,
        "min_soc": 0.0,
        "max_soc": 1.0,
    }
    params.update(overrides)
    return Battery(**params)


def test_registered_with_its_place_in_listings() -> None:
    strategy = STRATEGIES[NAME]
    assert strategy.order == 20
    assert strategy.description
    assert list(STRATEGIES).index(NAME) > list(STRATEGIES).index("dp")


@pytest.mark.parametrize("price", [0.0, 37.5], ids=["zero", "positive"])
def test_flat_prices_idle(price: float) -> None:
    run, _ = check_run(NAME, days_from([np.full(24, price)]), prd_battery())
    assert not run.days[0].charge_mw.any()
    assert not run.days[0].discharge_mw.any()
    assert total(run) == 0.0


def test_flat_negative_prices_pay_for_losses() -> None:
    # at -20 everywhere, buying 1 MWh earns 20 and selling the 0.85 MWh left costs 17
    run, best = check_run(NAME, days_from([np.full(24, -20.0)]), prd_battery())
    assert 0 < total(run) <= total(best)
    lossless, _ = check_run(NAME, days_from([np.full(24, -20.0)]), one_way(1.0))
    assert total(lossless) == 0.0


def test_one_cheap_hour_then_one_dear_hour() -> None:
    # eta 0.9 each way: hour 3 stores 9 MWh at 10 MW, hour 20 gets 8.1 MWh back. Every other
    # hour costs 450: buying there (500 per stored MWh) never pays against selling at 500
    # (450 per stored MWh), so nothing else moves.
    prices = np.full(24, 450.0)
    prices[3], prices[20] = 10.0, 500.0
    run, best = check_run(NAME, days_from([prices]), one_way(0.9))
    want_c, want_d = np.zeros(24), np.zeros(24)
    want_c[3], want_d[20] = 10.0, 8.1
    np.testing.assert_allclose(run.days[0].charge_mw, want_c, atol=1e-9)
    np.testing.assert_allclose(run.days[0].discharge_mw, want_d, atol=1e-9)
    assert total(run) == pytest.approx(500 * 8.1 - 10 * 10)
    assert total(run) == pytest.approx(total(best))


def test_dear_hour_before_cheap_hour_idles_from_empty() -> None:
    prices = np.full(24, 450.0)
    prices[3], prices[23] = 500.0, 10.0  # the spread runs the wrong way for an empty battery
    run, _ = check_run(NAME, days_from([prices]), one_way(0.9))
    assert total(run) == 0.0


def test_full_battery_sells_first_and_buys_back() -> None:
    prices = np.full(24, 450.0)
    prices[3], prices[23] = 500.0, 10.0
    run, _ = check_run(NAME, days_from([prices]), one_way(0.9, initial_soc=1.0))
    # sells 9 stored MWh (8.1 MWh at the grid) at 500, buys them back at 10 (10 MW)
    assert run.days[0].discharge_mw[3] == pytest.approx(8.1)
    assert run.days[0].charge_mw[23] == pytest.approx(10.0)
    assert total(run) == pytest.approx(500 * 8.1 - 10 * 10)
    assert total(run) > 0


def test_published_vector_positive_and_below_optimal() -> None:
    run, best = check_run(NAME, days_from([np.array(PUBLISHED, float)]), prd_battery())
    assert 0 < total(run) <= total(best)
    assert total(best) == pytest.approx(2957.14, abs=0.01)


@pytest.mark.parametrize(("kappa", "trades"), [(95.0, False), (50.0, True)])
def test_degradation_cost_must_be_covered(kappa: float, trades: bool) -> None:
    # eta 1: buy at 10, sell at 100; it pays only while 100 - kappa > 10
    prices = np.full(24, 60.0)
    prices[2], prices[15] = 10.0, 100.0
    battery = one_way(1.0, degradation_cost_mxn_per_mwh=kappa)
    run, _ = check_run(NAME, days_from([prices]), battery)
    assert bool(run.days[0].discharge_mw[15] > 0) is trades
    if trades:
        assert total(run) == pytest.approx(10 * (100 - 50 - 10))


def test_negative_prices_are_bought() -> None:
    prices = np.full(24, 20.0)
    prices[1:3] = -100.0
    prices[18] = 80.0
    run, _ = check_run(NAME, days_from([prices]), prd_battery())
    assert run.days[0].charge_mw[1:3].min() > 0
    assert total(run) > 0


@pytest.mark.parametrize("hours", [23, 25])
def test_clock_change_days(hours: int) -> None:
    prices = np.array([*PUBLISHED, 90.0], float)[:hours]
    run, _ = check_run(NAME, days_from([prices, np.array(PUBLISHED, float)]), prd_battery())
    assert [len(d.schedule) for d in run.days] == [hours, 24]
    assert total(run) > 0


def test_tight_window() -> None:
    battery = prd_battery(min_soc=0.30, max_soc=0.31, initial_soc=0.30)
    run, _ = check_run(NAME, days_from([np.array(PUBLISHED, float)]), battery)
    assert total(run) > 0
    soc = run.days[0].soc
    assert soc.min() >= 0.30
    assert soc.max() <= 0.31
    assert soc.max() == pytest.approx(0.31)


def test_cycle_cap_limits_withdrawal() -> None:
    free, _ = check_run(NAME, days_from([np.array(PUBLISHED, float)]), prd_battery())
    capped, _ = check_run(
        NAME, days_from([np.array(PUBLISHED, float)]), prd_battery(max_cycles_per_day=0.5)
    )
    assert capped.days[0].cycles == pytest.approx(0.5)
    assert 0 < total(capped) < total(free)


def test_real_days_through_the_comparison() -> None:
    days = list(real_days()[:31])
    report = optimize(days, prd_battery(), strategy=NAME)
    assert report.comparison is not None
    row = next(r for r in report.comparison if r.strategy == NAME)
    assert row.pct_of_optimal is not None
    assert 90.0 < row.pct_of_optimal <= 100.0 + 1e-6


@given(
    battery=batteries(),
    prices=st.lists(st.integers(23, 25).flatmap(day_prices), min_size=1, max_size=3),
    horizon=st.sampled_from(Horizon),
)
def test_property_valid_and_never_beats_optimal(
    battery: Battery, prices: list[np.ndarray], horizon: Horizon
) -> None:
    check_run(NAME, days_from(prices), battery, horizon=horizon)


@pytest.mark.parametrize("cap", [None, 1.0])
@pytest.mark.parametrize("start", [None, 0.55, 1.0])
def test_window_by_window_and_step_by_step_agree(
    monkeypatch: pytest.MonkeyPatch, cap: float | None, start: float | None
) -> None:
    """The greedy walks window by window for few days and step by step for many; both must
    give the same schedule to the bit (charge-first pairs, discharge-first pairs, both), for
    any window (one pair, a few, more than a day has)."""
    days = market_days(real_days()[:40])
    battery = prd_battery(
        max_cycles_per_day=cap, degradation_cost_mxn_per_mwh=25.0, initial_soc=start
    )
    for prices in (np.asarray(days.matrix), -np.asarray(days.matrix)):
        monkeypatch.setattr(spread, "GATHER_FROM_DAYS", 1)
        gathered = spread.spread_dispatch(prices, days.hours, battery)
        assert gathered[1].sum() > 0
        monkeypatch.setattr(spread, "GATHER_FROM_DAYS", 10**9)
        for window in (1, 5, spread.WINDOW, 600):
            monkeypatch.setattr(spread, "WINDOW", window)
            windowed = spread.spread_dispatch(prices, days.hours, battery)
            assert np.array_equal(windowed[0], gathered[0])
            assert np.array_equal(windowed[1], gathered[1])
