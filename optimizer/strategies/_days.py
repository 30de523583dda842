"""Helpers shared by the baseline strategies: days as padded price matrices, and a last-line
physics guard.

Not a strategy (the registry skips modules whose name starts with ``_``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimizer.battery import Battery
from optimizer.market import MarketDay
from optimizer.settle import DECIMALS, NOISE_REL, Dispatch, clean_power, day_offsets


def price_matrix(days: Sequence[MarketDay]) -> tuple[np.ndarray, np.ndarray]:
    """Prices as a (days, max hours) matrix padded with 0 after each day's last hour, and the
    hour count of every day."""
    hours = np.array([d.hours for d in days], dtype=np.intp)
    width = int(hours.max())
    flat = np.concatenate([np.asarray(d.prices_mxn_per_mwh, dtype=float) for d in days])
    matrix = np.zeros((len(days), width))
    matrix[hour_mask(hours, width)] = flat
    return matrix, hours


def hour_mask(hours: np.ndarray, width: int) -> np.ndarray:
    """(days, width) boolean mask of the hours each day really has."""
    return np.arange(width)[None, :] < hours[:, None]


def flatten(matrix: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Inverse of the padding of ``price_matrix``: the real hours, concatenated in day order."""
    return np.asarray(matrix[hour_mask(hours, matrix.shape[1])], dtype=float)


def withdrawal_cap_mwh(battery: Battery, hours: int) -> float | None:
    """The daily withdrawal cap to plan for: the battery's, less what settlement's rounding of
    ``hours`` powers (to ``DECIMALS`` decimals) could add to it. None without a cap."""
    cap = battery.daily_withdrawal_cap_mwh
    if cap is None:
        return None
    return max(0.0, cap - hours * 0.5 * 10.0**-DECIMALS / battery.eta_discharge)


def guard_physics(
    charge_mw: np.ndarray,
    discharge_mw: np.ndarray,
    days: Sequence[MarketDay],
    battery: Battery,
) -> Dispatch:
    """Idle every day whose schedule would fail settlement's daily checks (SPEC §2).

    The baselines construct valid schedules; this guard makes that a guarantee even for
    batteries where rounding in ``settle.clean_power`` could push a value over a bound (e.g. a
    tiny energy capacity). It checks with half of settlement's tolerance, on cleaned powers,
    exactly as settlement will see them. An idle day is always valid. It also checks the daily
    withdrawal cap (``max_cycles_per_day``), which settlement does not, with the same energy
    tolerance.
    """
    offsets = day_offsets(days)
    starts = offsets[:-1]
    p = battery.power_mw
    charge = clean_power(charge_mw, battery)
    discharge = clean_power(discharge_mw, battery)
    p_tol = 0.5 * NOISE_REL * p
    bad_hour = (
        (charge < 0)
        | (discharge < 0)
        | (charge > p + p_tol)
        | (discharge > p + p_tol)
        | ((charge > 0) & (discharge > 0))
    )
    energy = battery.energy_mwh
    e0 = battery.soc_start * energy
    delta = battery.eta_charge * charge - discharge / battery.eta_discharge
    cum = np.cumsum(delta)
    before_day = np.concatenate(([0.0], cum))[starts]
    level = e0 + cum - np.repeat(before_day, np.diff(offsets))
    e_tol = 0.5 * max(NOISE_REL * energy, 1e-9)
    bad_hour |= (level < battery.min_soc * energy - e_tol) | (
        level > battery.max_soc * energy + e_tol
    )
    bad_day = np.add.reduceat(bad_hour.astype(np.intp), starts) > 0
    bad_day |= np.abs(level[offsets[1:] - 1] - e0) > e_tol
    cap = battery.daily_withdrawal_cap_mwh
    if cap is not None:
        withdrawn = np.add.reduceat(discharge, starts) / battery.eta_discharge
        bad_day |= withdrawn > cap + e_tol
    if bad_day.any():
        idle = np.repeat(bad_day, np.diff(offsets))
        charge = np.where(idle, 0.0, charge)
        discharge = np.where(idle, 0.0, discharge)
    return Dispatch(charge, discharge)


def chain_is_valid(charge_mw: np.ndarray, discharge_mw: np.ndarray, battery: Battery) -> bool:
    """Whether a ``continuous`` schedule (one SoC chain over all hours) passes settlement's
    checks, on cleaned powers and with half of settlement's tolerance."""
    p = battery.power_mw
    charge = clean_power(charge_mw, battery)
    discharge = clean_power(discharge_mw, battery)
    p_tol = 0.5 * NOISE_REL * p
    if (charge < 0).any() or (discharge < 0).any():
        return False
    if (charge > p + p_tol).any() or (discharge > p + p_tol).any():
        return False
    if ((charge > 0) & (discharge > 0)).any():
        return False
    energy = battery.energy_mwh
    e0 = battery.soc_start * energy
    level = e0 + np.cumsum(battery.eta_charge * charge - discharge / battery.eta_discharge)
    e_tol = 0.5 * max(NOISE_REL * energy, 1e-9)
    return bool(
        (level >= battery.min_soc * energy - e_tol).all()
        and (level <= battery.max_soc * energy + e_tol).all()
        and abs(level[-1] - e0) <= e_tol
    )
