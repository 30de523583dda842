"""Settlement: turn a strategy's dispatch into cleaned, checked, priced day results (SPEC §2).

Every strategy goes through here, so the physics are checked in one place: no simultaneous
charge and discharge, power within [0, P], SoC within bounds, each day (``daily``) or the run
(``continuous``) ending where it started.

Tolerances: powers within ``NOISE_REL * P`` of 0 or P are solver noise and snapped onto them
(``clean_power``); the stored energy must keep within ``NOISE_REL`` of the SoC window ``W`` (at
least ``ROUNDING_REL * E``, the levels' float resolution) of its bounds, of the start at the
end, and of the cycle cap. Relative to ``W``, not to ``E`` or an absolute MWh: a window of
1e-9 of E checked to 1e-7 E (as before 2026-11-30) let a schedule overrun it 100 times over
and ``dp`` "earn" 9 times the optimum within a cap it broke tenfold (a fuzz, stop 30).

The two tolerances are not nested: one snapped hour moves the stored energy by up to
``NOISE_REL * P * max(eta_c, 1 / eta_d)``, more than the energy tolerance for a battery shorter
than ``1 / eta_d`` hours, and an exact optimum does make such tiny *real* moves (selling the
1e-7 E a battery starts with above min_soc). So snapping never breaks a rule the computed
powers meet (``clean_and_check``): where the snapped schedule breaks one and the computed one
(only its sign noise and overshoot of P clipped) does not, the computed powers of that day
(``daily``; the whole chain for ``continuous``) are kept and reported. Nor does it change the
money: where snapping moves a day's revenue (or a chain's) by more than ``SNAP_REVENUE_MXN``
(half a micro-peso, the report's rounding) plus ``SNAP_REVENUE_REL`` of it, the snapped moves
were not noise -- a start within 1e-7 of the window from a bound, sold at a 1e6 MXN/MWh hour,
earns 0.54 MXN -- and the computed powers are kept if they meet every rule (a fuzz found a
reported 0 against an optimum of 0.54 MXN, and days off by 2e-5 of their revenue either way).
No tolerance is loosened: a real violation fails either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from optimizer.battery import Battery
from optimizer.errors import PhysicsViolationError
from optimizer.market import MarketDay, market_days
from optimizer.results import DayResult, DayRevenue, Horizon, Summary

#: Relative tolerance (of P, or of the SoC window for stored energy) under which values are
#: solver noise.
NOISE_REL = 1e-7
#: the least stored-energy tolerance, as a share of E: the float resolution of levels near E
#: (their sums over a year round to a few ulps of E), which a window of under ~1e-7 of E
#: cannot be checked more finely than
ROUNDING_REL = 2.0**-46
#: what snapping may change a day's (``daily``) or a chain's (``continuous``) revenue by, in
#: MXN plus a share of that revenue, and still count as cleaning noise (module docstring)
SNAP_REVENUE_MXN = 0.5e-6
SNAP_REVENUE_REL = 1e-9
#: Decimals kept in reported SoC fractions and daily MWh totals.
DECIMALS = 9
#: Decimals kept in money (MXN): a micro-peso, far below the 1e-6 relative exactness
MONEY_DECIMALS = 6


@dataclass(frozen=True)
class Dispatch:
    """Grid-side charge and discharge power (MW) for every hour of every day, concatenated in
    day order (day ``i`` occupies the slice given by the days' hour counts)."""

    charge_mw: np.ndarray
    discharge_mw: np.ndarray


def day_offsets(days: Sequence[MarketDay]) -> np.ndarray:
    """Start index of each day in the concatenated hour axis, plus the total at the end."""
    return market_days(days).offsets


def clean_power(power_mw: np.ndarray, battery: Battery) -> np.ndarray:
    """Snap solver noise: ~0 -> 0 and ~P -> P (relative to P, so a 1 kW battery is cleaned like
    a 1 GW one). Other values are kept as computed: rounding them would accumulate into the
    state of charge over long horizons. Settlement snaps through ``clean_and_check``, which
    keeps a day's computed powers where snapping alone would break a rule."""
    p = battery.power_mw
    x = np.asarray(power_mw, dtype=float)
    x = np.where(np.abs(x) <= NOISE_REL * p, 0.0, x)
    x = np.where(np.abs(x - p) <= NOISE_REL * p, p, x)
    return x + 0.0  # + 0.0 turns -0.0 into 0.0


def clip_power(power_mw: np.ndarray, battery: Battery) -> np.ndarray:
    """The least cleaning a reported power needs: noise below 0 (down to ``-NOISE_REL * P``)
    becomes 0 and overshoot of P (up to ``NOISE_REL * P``) becomes P; every other value,
    however small, is kept (``clean_and_check``). Values beyond noise are left for the checks."""
    p = battery.power_mw
    x = np.asarray(power_mw, dtype=float)
    x = np.where((x < 0.0) & (x >= -NOISE_REL * p), 0.0, x)
    x = np.where((x > p) & (x <= p + NOISE_REL * p), p, x)
    return x + 0.0


def day_revenues(
    prices_mxn_per_mwh: np.ndarray,
    charge_mw: np.ndarray,
    discharge_mw: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
) -> np.ndarray:
    """Each day's revenue (MXN, days on the last axis) of grid powers at the hours' prices:
    price times (discharge - charge), less degradation on the discharge (SPEC §2)."""
    kappa = battery.degradation_cost_mxn_per_mwh
    hourly = prices_mxn_per_mwh * (discharge_mw - charge_mw) - kappa * discharge_mw
    return np.add.reduceat(hourly, offsets[:-1], axis=-1)


def clean_and_check(
    charge_mw: np.ndarray,
    discharge_mw: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    *,
    horizon: Horizon,
    slack: float = 1.0,
    prices_mxn_per_mwh: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, np.ndarray]]]:
    """Charge and discharge cleaned so that snapping never breaks a SPEC §2 rule, nor (with
    the hours' prices) moves the revenue beyond noise (module docstring), with
    ``physics_faults``'s levels and faults of what is returned.

    ``clean_power`` everywhere, except on the days (``daily``) or chains (``continuous``: a
    whole row, since a snap moves every later level) whose snapped powers break a rule (at
    ``slack``) or earn more than ``SNAP_REVENUE_MXN + SNAP_REVENUE_REL |revenue|`` more or
    less than the merely clipped powers (``clip_power``), where those meet every rule: they
    keep the clipped powers. Where both break a rule the snapped powers stay, and the faults
    say so. Rows as in ``physics_faults`` (hours on the last axis). A schedule that passes
    snapped costs one check and, with prices, two revenues."""
    charge_mw = np.asarray(charge_mw, dtype=float)
    discharge_mw = np.asarray(discharge_mw, dtype=float)
    charge, discharge = clean_power(charge_mw, battery), clean_power(discharge_mw, battery)
    level, faults = physics_faults(
        charge, discharge, offsets, battery, horizon=horizon, slack=slack
    )
    broken = np.logical_or.reduce([bad for _, bad in faults])  # (..., days)
    clipped = clip_power(charge_mw, battery), clip_power(discharge_mw, battery)
    moved = np.zeros_like(broken)
    if prices_mxn_per_mwh is not None:
        snapped_mxn, clipped_mxn = (
            day_revenues(prices_mxn_per_mwh, c, d, offsets, battery)
            for c, d in ((charge, discharge), clipped)
        )
        if horizon is Horizon.CONTINUOUS:  # the chain's revenue
            snapped_mxn = snapped_mxn.sum(axis=-1, keepdims=True)
            clipped_mxn = clipped_mxn.sum(axis=-1, keepdims=True)
        allowed = SNAP_REVENUE_MXN + SNAP_REVENUE_REL * np.abs(clipped_mxn)
        moved = np.broadcast_to(np.abs(snapped_mxn - clipped_mxn) > allowed, broken.shape)
    if not (broken.any() or moved.any()):
        return charge, discharge, level, faults
    _, clipped_faults = physics_faults(*clipped, offsets, battery, horizon=horizon, slack=slack)
    still = np.logical_or.reduce([bad for _, bad in clipped_faults])
    if horizon is Horizon.CONTINUOUS:
        whole = (broken | moved).any(axis=-1) & ~still.any(axis=-1)
        keep = np.broadcast_to(whole[..., None], broken.shape)
    else:
        keep = (broken | moved) & ~still
    if not keep.any():
        return charge, discharge, level, faults
    hours = np.repeat(keep, np.diff(offsets), axis=-1)
    charge = np.where(hours, clipped[0], charge)
    discharge = np.where(hours, clipped[1], discharge)
    level, faults = physics_faults(
        charge, discharge, offsets, battery, horizon=horizon, slack=slack
    )
    return charge, discharge, level, faults


def clean_fraction(x: np.ndarray, anchors: Sequence[float]) -> np.ndarray:
    """Snap SoC fractions within noise of an anchor (bounds, start) onto it; round the rest."""
    y = np.asarray(x, dtype=float)
    for a in anchors:
        y = np.where(np.abs(y - a) <= NOISE_REL, a, y)
    return np.round(y, DECIMALS) + 0.0


def physics_faults(
    charge: np.ndarray,
    discharge: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    *,
    horizon: Horizon,
    slack: float = 1.0,
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Check cleaned grid-side powers against SPEC §2, rule by rule.

    Returns the stored energy (MWh) after every hour and, in the order settlement reports
    them, ``(what is wrong, which days break it)`` for every rule. Tolerances are settlement's
    times ``slack`` (strategies check themselves with ``slack < 1`` to stay clear of them).
    In ``continuous`` mode the SoC runs as one chain and only the last day must end at soc_0.
    The hours are the last axis: several schedules of the same days can be checked at once
    as rows of a matrix (each row's numbers are those of checking it alone).
    """
    starts = offsets[:-1]
    p, energy = battery.power_mw, battery.energy_mwh
    p_tol = slack * NOISE_REL * p
    e_tol = slack * max(NOISE_REL * battery.usable_energy_mwh, ROUNDING_REL * energy)
    e0 = battery.soc_start * energy
    cum = np.cumsum(battery.eta_charge * charge - discharge / battery.eta_discharge, axis=-1)
    if horizon is Horizon.DAILY:  # restart the running sum at every midnight
        zero = np.zeros((*cum.shape[:-1], 1))
        before_day = np.concatenate((zero, cum), axis=-1)[..., starts]
        level = e0 + cum - np.repeat(before_day, np.diff(offsets), axis=-1)
        off_start = np.abs(level[..., offsets[1:] - 1] - e0) > e_tol
    else:
        level = e0 + cum
        off_start = np.zeros((*cum.shape[:-1], starts.size), dtype=bool)
        off_start[..., -1] = np.abs(level[..., -1] - e0) > e_tol

    # every hourly rule at once, then one pass over the days
    hourly = np.stack(
        (
            (charge < 0) | (discharge < 0),
            (charge > p + p_tol) | (discharge > p + p_tol),
            (charge > 0) & (discharge > 0),
            level < battery.min_soc * energy - e_tol,
            level > battery.max_soc * energy + e_tol,
        )
    )
    by_day = np.logical_or.reduceat(hourly, starts, axis=-1)
    faults = [
        ("negative power", by_day[0]),
        ("power above capacity_mw", by_day[1]),
        ("charge and discharge in the same hour", by_day[2]),
        ("state of charge below min_soc", by_day[3]),
        ("state of charge above max_soc", by_day[4]),
        ("schedule does not end at the starting state of charge", off_start),
    ]
    cap = battery.daily_withdrawal_cap_mwh
    if cap is not None:
        withdrawn = np.add.reduceat(discharge, starts, axis=-1) / battery.eta_discharge
        faults.append(
            (
                "more energy withdrawn in a day than max_cycles_per_day allows",
                withdrawn > cap + e_tol,
            )
        )
    return level, faults


def settle(
    days: Sequence[MarketDay],
    dispatch: Dispatch,
    battery: Battery,
    *,
    horizon: Horizon,
) -> tuple[DayResult, ...]:
    """Price ``dispatch`` at the days' actual prices and check it against SPEC §2."""
    offsets, charge, discharge, level = _checked(days, dispatch, battery, horizon)
    energy = battery.energy_mwh
    soc = clean_fraction(
        np.clip(level / energy, battery.min_soc, battery.max_soc),
        (battery.min_soc, battery.max_soc, battery.soc_start),
    )

    prices = market_days(days).flat
    starts = offsets[:-1]
    charged = np.add.reduceat(charge, starts)
    discharged = np.add.reduceat(discharge, starts)
    charge_cost = np.add.reduceat(prices * charge, starts)
    discharge_income = np.add.reduceat(prices * discharge, starts)
    cycles = discharged / battery.eta_discharge / battery.usable_energy_mwh
    with np.errstate(divide="ignore", invalid="ignore"):
        avg_charge = _round(charge_cost / charged)
        avg_discharge = _round(discharge_income / discharged)
    # rounded as arrays, then handed out as Python floats
    revenue_mxn = _money(day_revenues(prices, charge, discharge, offsets, battery))
    columns = zip(
        revenue_mxn,
        _round(charged).tolist(),
        _round(discharged).tolist(),
        np.where(charged > 0, avg_charge, np.nan).tolist(),
        np.where(discharged > 0, avg_discharge, np.nan).tolist(),
        _round(cycles).tolist(),
        strict=True,
    )
    bounds = offsets.tolist()
    return tuple(
        _day_result(
            {
                "date": day.date,
                "prices_mxn_per_mwh": prices[lo:hi],
                "charge_mw": charge[lo:hi],
                "discharge_mw": discharge[lo:hi],
                "soc": soc[lo:hi],
                "revenue_mxn": revenue,
                "energy_charged_mwh": e_charged,
                "energy_discharged_mwh": e_discharged,
                "avg_charge_price_mxn_per_mwh": None if math.isnan(avg_c) else avg_c,
                "avg_discharge_price_mxn_per_mwh": None if math.isnan(avg_d) else avg_d,
                "cycles": day_cycles,
            }
        )
        for day, lo, hi, (revenue, e_charged, e_discharged, avg_c, avg_d, day_cycles) in zip(
            days, bounds, bounds[1:], columns, strict=False
        )
    )


_DAY_FIELDS = frozenset(field.name for field in fields(DayResult))


def _day_result(values: dict[str, object]) -> DayResult:
    """A ``DayResult`` from its complete, already checked fields: the frozen dataclass's
    ``__init__`` sets them one ``object.__setattr__`` at a time (~2.5 us a day, for every
    day of every strategy of a comparison); this fills the instance's ``__dict__`` at once."""
    if values.keys() != _DAY_FIELDS:
        raise TypeError(f"DayResult fields: {sorted(values)}")
    day = object.__new__(DayResult)
    day.__dict__.update(values)
    return day


@dataclass(frozen=True)
class DayTotals:
    """What a comparison row needs of a settled run, per day and rounded exactly as
    ``settle``'s ``DayResult`` fields: revenue (MXN), energy discharged (MWh), cycles."""

    revenue_mxn: list[float]
    energy_discharged_mwh: list[float]
    cycles: list[float]


def settle_totals(
    days: Sequence[MarketDay],
    dispatch: Dispatch,
    battery: Battery,
    *,
    horizon: Horizon,
) -> DayTotals:
    """``settle``'s checks and per-day totals without the per-hour results (the strategies
    of a comparison other than the one reported): the same numbers as the corresponding
    ``DayResult`` fields."""
    return settle_totals_many(days, [dispatch], battery, horizon=horizon)[0]


def settle_totals_many(
    days: Sequence[MarketDay],
    dispatches: Sequence[Dispatch],
    battery: Battery,
    *,
    horizon: Horizon,
) -> list[DayTotals]:
    """``settle_totals`` of several dispatches of the same days, checked and priced together
    as the rows of one matrix (a comparison's strategies): the same numbers as settling each
    alone, and the same ``PhysicsViolationError`` as settling them one after the other (the
    first dispatch's first broken rule)."""
    if not dispatches:
        return []
    offsets, charge, discharge, _ = _checked_rows(days, dispatches, battery, horizon)
    revenue = day_revenues(market_days(days).flat, charge, discharge, offsets, battery)
    discharged = np.add.reduceat(discharge, offsets[:-1], axis=-1)
    cycles = discharged / battery.eta_discharge / battery.usable_energy_mwh
    return [
        DayTotals(revenue_mxn=_money(r), energy_discharged_mwh=e, cycles=c)
        for r, e, c in zip(
            revenue, _round(discharged).tolist(), _round(cycles).tolist(), strict=True
        )
    ]


def _checked(
    days: Sequence[MarketDay], dispatch: Dispatch, battery: Battery, horizon: Horizon
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Day offsets, cleaned charge and discharge and the stored energy after every hour, once
    the dispatch has passed every SPEC §2 check (``PhysicsViolationError`` otherwise)."""
    offsets, charge, discharge, level = _checked_rows(days, [dispatch], battery, horizon)
    return offsets, charge[0], discharge[0], level[0]


def _checked_rows(
    days: Sequence[MarketDay], dispatches: Sequence[Dispatch], battery: Battery, horizon: Horizon
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_checked`` for several dispatches at once, one row each; the first dispatch (in
    order) that breaks a rule raises for its first broken rule."""
    offsets = day_offsets(days)
    n = int(offsets[-1])
    for dispatch in dispatches:
        shapes = np.shape(dispatch.charge_mw), np.shape(dispatch.discharge_mw)
        if shapes != ((n,), (n,)):
            raise PhysicsViolationError(f"dispatch has {shapes[0]}/{shapes[1]} hours, not {n}")
    powers = np.array([(d.charge_mw, d.discharge_mw) for d in dispatches], dtype=float)
    charge, discharge, level, faults = clean_and_check(
        powers[:, 0],
        powers[:, 1],
        offsets,
        battery,
        horizon=horizon,
        prices_mxn_per_mwh=market_days(days).flat,
    )
    broken = np.array([bad.any(axis=-1) for _, bad in faults])  # (rules, dispatches)
    if broken.any():
        row = int(np.argmax(broken.any(axis=0)))
        raise PhysicsViolationError(faults[int(np.argmax(broken[:, row]))][0])
    return offsets, charge, discharge, level


def _round(x: np.ndarray) -> np.ndarray:
    """MWh totals, fractions and average prices to ``DECIMALS`` (-0.0 becomes 0.0)."""
    return np.round(x, DECIMALS) + 0.0


def _money(x: np.ndarray) -> list[float]:
    """MXN rounded to ``MONEY_DECIMALS`` as Python floats: no float noise
    (2957.1367083200003), idle is 0.0. Python's ``round`` is exact in decimal (numpy's scales
    by 10**6 first), so this goes through the floats one by one: ~0.1 us each."""
    return [round(value, MONEY_DECIMALS) + 0.0 for value in np.asarray(x, dtype=float).tolist()]


def summarise(results: Sequence[DayResult]) -> Summary:
    """Total, average, best and worst day (ties go to the earliest day)."""
    revenues = [r.revenue_mxn for r in results]
    total = math.fsum(revenues)
    best = max(range(len(results)), key=lambda i: (revenues[i], -i))
    worst = min(range(len(results)), key=lambda i: (revenues[i], i))
    return Summary(
        total_revenue_mxn=_money_one(total),
        avg_daily_revenue_mxn=_money_one(total / len(results)),
        best_day=DayRevenue(results[best].date, revenues[best]),
        worst_day=DayRevenue(results[worst].date, revenues[worst]),
    )


def total_mxn(revenues: Sequence[float]) -> float:
    """A run's total revenue from its days' rounded revenues, as ``summarise`` reports it."""
    return _money_one(math.fsum(revenues))


def _money_one(x: float) -> float:
    return round(float(x), MONEY_DECIMALS) + 0.0
