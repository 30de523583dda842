"""Settlement checks the physics of every strategy's dispatch and cleans solver noise."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import Battery, Horizon, PhysicsViolationError
from optimizer.settle import (
    Dispatch,
    clean_power,
    physics_faults,
    settle,
    settle_totals,
    settle_totals_many,
    summarise,
    total_mxn,
)
from tests.optimizer.helpers import days_from

BATTERY = Battery(power_mw=10, duration_h=2, round_trip_efficiency=1.0, min_soc=0.0, max_soc=1.0)
PRICES = np.arange(24, dtype=float) * 10.0  # 0, 10, ..., 230


def dispatch(**hours: tuple[str, float]) -> Dispatch:
    charge, discharge = np.zeros(24), np.zeros(24)
    for key, (kind, mw) in hours.items():
        (charge if kind == "c" else discharge)[int(key[1:])] = mw
    return Dispatch(charge, discharge)


def test_prices_a_valid_dispatch() -> None:
    day = settle(
        days_from([PRICES]),
        dispatch(h1=("c", 10.0), h2=("c", 10.0), h22=("d", 10.0), h23=("d", 10.0)),
        BATTERY,
        horizon=Horizon.DAILY,
    )[0]
    assert day.revenue_mxn == pytest.approx((220 + 230 - 10 - 20) * 10)
    assert day.energy_charged_mwh == 20.0
    assert day.energy_discharged_mwh == 20.0
    assert day.avg_charge_price_mxn_per_mwh == pytest.approx(15.0)
    assert day.avg_discharge_price_mxn_per_mwh == pytest.approx(225.0)
    assert day.cycles == pytest.approx(1.0)
    assert [s.soc for s in day.schedule][:4] == [0.0, 0.5, 1.0, 1.0]
    assert day.schedule[22].action == "discharge"
    assert day.schedule[0].action == "idle"


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"h1": ("c", 10.0)}, "does not end"),
        ({"h1": ("d", 1.0)}, "below min_soc"),
        (
            {"h1": ("c", 10.0), "h2": ("c", 10.0), "h3": ("c", 10.0), "h23": ("d", 10.0)},
            "above max_soc",
        ),
        ({"h1": ("c", 10.5), "h23": ("d", 10.5)}, "above capacity"),
        ({"h1": ("c", -1.0)}, "negative"),
    ],
    ids=["not-back", "below-min", "above-max", "over-power", "negative"],
)
def test_rejects_physically_invalid_dispatch(
    hours: dict[str, tuple[str, float]], message: str
) -> None:
    with pytest.raises(PhysicsViolationError, match=message):
        settle(days_from([PRICES]), dispatch(**hours), BATTERY, horizon=Horizon.DAILY)
    # the totals a comparison keeps of its other strategies go through the same checks
    with pytest.raises(PhysicsViolationError, match=message):
        settle_totals(days_from([PRICES]), dispatch(**hours), BATTERY, horizon=Horizon.DAILY)


@pytest.mark.parametrize("horizon", [Horizon.DAILY, Horizon.CONTINUOUS])
def test_totals_are_the_settled_days_figures(horizon: Horizon) -> None:
    rng = np.random.default_rng(5)
    prices = [rng.normal(300.0, 150.0, 24) for _ in range(4)]
    charge, discharge = np.zeros(96), np.zeros(96)
    for day in range(4):
        charge[day * 24 + 2 : day * 24 + 4] = 10.0 * (day + 1) / 4
        discharge[day * 24 + 18 : day * 24 + 20] = 10.0 * (day + 1) / 4
    days = days_from(prices)
    results = settle(days, Dispatch(charge, discharge), BATTERY, horizon=horizon)
    totals = settle_totals(days, Dispatch(charge, discharge), BATTERY, horizon=horizon)
    assert totals.revenue_mxn == [r.revenue_mxn for r in results]
    assert totals.energy_discharged_mwh == [r.energy_discharged_mwh for r in results]
    assert totals.cycles == [r.cycles for r in results]
    assert total_mxn(totals.revenue_mxn) == summarise(results).total_revenue_mxn
    assert any(r.revenue_mxn != 0.0 for r in results)


def test_rejects_simultaneous_charge_and_discharge() -> None:
    d = dispatch(h1=("c", 5.0))
    d.discharge_mw[1] = 5.0
    with pytest.raises(PhysicsViolationError, match="same hour"):
        settle(days_from([PRICES]), d, BATTERY, horizon=Horizon.DAILY)


def test_continuous_horizon_carries_energy_over_midnight() -> None:
    charge, discharge = np.zeros(48), np.zeros(48)
    charge[23], discharge[24] = 10.0, 10.0  # buy at 23:00, sell at 00:00 the next day
    days = settle(
        days_from([PRICES, PRICES]),
        Dispatch(charge, discharge),
        BATTERY,
        horizon=Horizon.CONTINUOUS,
    )
    assert days[0].revenue_mxn == pytest.approx(-2300.0)
    assert days[1].revenue_mxn == pytest.approx(0.0)
    with pytest.raises(PhysicsViolationError):
        settle(
            days_from([PRICES, PRICES]), Dispatch(charge, discharge), BATTERY, horizon=Horizon.DAILY
        )


def test_clean_power_snaps_noise() -> None:
    noisy = np.array([-1e-12, 1e-10, 9.999999999, 10.000000001, 3.3333333333333, -0.0])
    assert clean_power(noisy, BATTERY).tolist() == [0.0, 0.0, 10.0, 10.0, 3.3333333333333, 0.0]
    assert not np.signbit(clean_power(noisy, BATTERY)).any()


def test_tiny_battery_over_a_long_continuous_run_settles() -> None:
    # 1 kW for 0.01 h (10 Wh): cleaning is relative to P, nothing accumulates over 31 days
    tiny = Battery(power_mw=0.001, duration_h=0.01, round_trip_efficiency=0.81)
    days = days_from([PRICES] * 31)
    charge, discharge = np.zeros(24 * 31), np.zeros(24 * 31)
    charge[0::24] = 1e-5 / 0.9 / 3 * 0.999999  # a third of E each day, not a round number
    discharge[23::24] = charge[0::24] * 0.81
    results = settle(days, Dispatch(charge, discharge), tiny, horizon=Horizon.CONTINUOUS)
    assert results[-1].soc[-1] == 0.0
    assert results[0].revenue_mxn > 0


def test_rejects_a_day_over_the_cycle_cap() -> None:
    capped = Battery(power_mw=10, duration_h=2, round_trip_efficiency=1.0, max_cycles_per_day=0.5)
    d = dispatch(h1=("c", 10.0), h2=("c", 10.0), h22=("d", 10.0), h23=("d", 10.0))
    with pytest.raises(PhysicsViolationError, match="max_cycles_per_day"):
        settle(days_from([PRICES]), d, capped, horizon=Horizon.DAILY)


def test_summary_best_and_worst_days() -> None:
    d = dispatch(h1=("c", 10.0), h23=("d", 10.0))
    results = settle(
        days_from([PRICES, PRICES[::-1], PRICES]),
        Dispatch(
            np.concatenate([d.charge_mw, np.zeros(24), d.charge_mw]),
            np.concatenate([d.discharge_mw, np.zeros(24), d.discharge_mw]),
        ),
        BATTERY,
        horizon=Horizon.DAILY,
    )
    summary = summarise(results)
    assert summary.total_revenue_mxn == pytest.approx(2 * 2200.0)
    assert summary.avg_daily_revenue_mxn == pytest.approx(2 * 2200.0 / 3)
    assert summary.best_day.date == results[0].date  # tie -> earliest
    assert summary.worst_day.date == results[1].date
    assert summary.worst_day.revenue_mxn == 0.0


def test_money_is_rounded_to_the_micro_peso() -> None:
    prices = PRICES / 3.0  # thirds: revenues with endless decimals
    day = settle(
        days_from([prices]),
        dispatch(h1=("c", 10.0), h23=("d", 10.0)),
        BATTERY,
        horizon=Horizon.DAILY,
    )[0]
    assert day.revenue_mxn == round((230 - 10) / 3 * 10, 6)
    assert summarise([day]).total_revenue_mxn == day.revenue_mxn


@pytest.mark.parametrize("horizon", [Horizon.DAILY, Horizon.CONTINUOUS])
@pytest.mark.parametrize("cap", [None, 0.8])
def test_many_dispatches_settled_together_as_one_by_one(
    horizon: Horizon, cap: float | None
) -> None:
    """A comparison settles its other strategies in one pass: each row's totals are those of
    settling it alone, to the bit."""
    from dataclasses import replace

    battery = replace(BATTERY, max_cycles_per_day=cap, round_trip_efficiency=0.85)
    rng = np.random.default_rng(11)
    days = days_from([rng.normal(300.0, 150.0, 24) for _ in range(5)])
    dispatches = []
    for scale in (0.0, 0.3, 0.55, 0.8):
        charge, discharge = np.zeros(120), np.zeros(120)
        for day in range(5):
            charge[day * 24 + 1 : day * 24 + 3] = 10.0 * scale
            discharge[day * 24 + 20 : day * 24 + 22] = 10.0 * scale * 0.85
        dispatches.append(Dispatch(charge, discharge))
    together = settle_totals_many(days, dispatches, battery, horizon=horizon)
    alone = [settle_totals(days, d, battery, horizon=horizon) for d in dispatches]
    assert together == alone
    assert len({tuple(t.revenue_mxn) for t in together}) == 4
    assert settle_totals_many(days, [], battery, horizon=horizon) == []


def test_many_dispatches_raise_the_first_broken_dispatch_rule() -> None:
    """The error is the one settling them in order raises: the first dispatch that breaks a
    rule, and its first broken rule (in settlement's order)."""
    days = days_from([PRICES])
    good = dispatch(h1=("c", 10.0), h22=("d", 10.0))
    below_and_not_back = dispatch(h1=("d", 1.0))
    over_power = dispatch(h1=("c", 10.5), h23=("d", 10.5))
    with pytest.raises(PhysicsViolationError, match="below min_soc"):
        settle_totals_many(days, [good, below_and_not_back, over_power], BATTERY,
                           horizon=Horizon.DAILY)  # fmt: skip
    with pytest.raises(PhysicsViolationError, match="above capacity"):
        settle_totals_many(days, [good, over_power, below_and_not_back], BATTERY,
                           horizon=Horizon.DAILY)  # fmt: skip
    with pytest.raises(PhysicsViolationError, match="hours, not 24"):
        settle_totals_many(days, [good, Dispatch(np.zeros(23), np.zeros(23))], BATTERY,
                           horizon=Horizon.DAILY)  # fmt: skip


#: 1 MW, 1 h, round trip 1, a SoC window of 1e-9 of its energy (1e-9 MWh), cap 1
SMALL_WINDOW = Battery(
    power_mw=1.0,
    duration_h=1.0,
    round_trip_efficiency=1.0,
    min_soc=0.5,
    max_soc=0.5 + 1e-9,
    initial_soc=0.5,
    max_cycles_per_day=1.0,
)


@pytest.mark.parametrize(
    ("moves_mw", "rule"),
    [
        ({"h1": ("c", 1.5e-9), "h20": ("d", 1.5e-9)}, "state of charge above max_soc"),
        (
            {"h1": ("c", 1e-9), "h2": ("d", 1e-9), "h3": ("c", 1e-9), "h4": ("d", 1e-9)},
            "more energy withdrawn in a day than max_cycles_per_day allows",
        ),
    ],
    ids=["overruns the window by half", "withdraws twice the cap"],
)
def test_small_windows_are_checked_against_the_window(
    moves_mw: dict[str, tuple[str, float]], rule: str
) -> None:
    """The stored-energy tolerance is a share of the SoC window: a schedule that overruns a
    window of 1e-9 MWh by half, or withdraws twice its cap, breaks a rule. Before 2026-11-30
    the tolerance was 1e-7 of E (at least 1e-9 MWh), so both passed, and a fuzz saw ``dp``
    reported at 9 times the optimum within a cap it broke tenfold."""
    offsets = np.array([0, 24])
    broken = dispatch(**moves_mw)
    _, faults = physics_faults(
        broken.charge_mw, broken.discharge_mw, offsets, SMALL_WINDOW, horizon=Horizon.DAILY
    )
    assert rule in [name for name, bad in faults if bad.any()]
    within = dispatch(h1=("c", 1e-9), h20=("d", 1e-9))
    _, faults = physics_faults(
        within.charge_mw, within.discharge_mw, offsets, SMALL_WINDOW, horizon=Horizon.DAILY
    )
    assert not any(bad.any() for _, bad in faults)
