"""Helpers shared by the strategies: days as padded price matrices, and a last-line physics
guard.

Not a strategy (the registry skips modules whose name starts with ``_``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from optimizer.battery import Battery
from optimizer.market import MarketDay, market_days
from optimizer.results import Horizon
from optimizer.settle import Dispatch, clean_and_check, day_offsets

logger = logging.getLogger(__name__)

#: strategies check their schedules with this fraction of settlement's tolerances
GUARD_SLACK = 0.5


def price_matrix(days: Sequence[MarketDay]) -> tuple[np.ndarray, np.ndarray]:
    """Prices as a (days, max hours) matrix padded with 0 after each day's last hour, and the
    hour count of every day. Both are read-only and, for ``MarketDays``, built once per run
    and shared by every strategy and the settlement."""
    layout = market_days(days)
    return layout.matrix, layout.hours


def hour_mask(hours: np.ndarray, width: int) -> np.ndarray:
    """(days, width) boolean mask of the hours each day really has."""
    return np.arange(width)[None, :] < hours[:, None]


def unflatten(flat: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Concatenated hours -> the padded (days, width) layout of ``mask``, zeros elsewhere."""
    matrix = np.zeros(mask.shape)
    matrix[mask] = flat
    return matrix


def flatten(matrix: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Inverse of ``unflatten``: the real hours, concatenated in day order."""
    return np.asarray(matrix[hour_mask(hours, matrix.shape[1])], dtype=float)


def guard_physics(
    charge_mw: np.ndarray,
    discharge_mw: np.ndarray,
    days: Sequence[MarketDay],
    battery: Battery,
) -> Dispatch:
    """Idle every day whose schedule would fail settlement's daily checks (SPEC §2, the daily
    cycle cap included).

    The baselines construct valid schedules; this guard makes that a guarantee. It runs
    settlement's own checks (``settle.physics_faults``) on the cleaned powers, exactly as
    settlement will see them (``settle.clean_and_check``), with half of its tolerances. An
    idle day is always valid. A guard that fires means a strategy has a bug: it is logged as
    a warning (never silent).
    """
    offsets = day_offsets(days)
    charge, discharge, _, faults = clean_and_check(
        charge_mw, discharge_mw, offsets, battery, horizon=Horizon.DAILY, slack=GUARD_SLACK
    )
    bad_day = np.logical_or.reduce([bad for _, bad in faults])
    if bad_day.any():
        first = int(np.argmax(bad_day))
        reasons = [message for message, bad in faults if bad[first]]
        logger.warning(
            "physics guard idled %d of %d days (first %s: %s)",
            int(bad_day.sum()),
            bad_day.size,
            days[first].date,
            "; ".join(reasons),
        )
        idle = np.repeat(bad_day, np.diff(offsets))
        charge = np.where(idle, 0.0, charge)
        discharge = np.where(idle, 0.0, discharge)
    return Dispatch(charge, discharge)


def guard_faults(
    charge_mw: np.ndarray,
    discharge_mw: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    *,
    horizon: Horizon,
) -> list[str]:
    """The SPEC §2 rules a schedule breaks under settlement's checks
    (``settle.physics_faults``), on powers cleaned as settlement cleans them
    (``settle.clean_and_check``) and with half of its tolerances; none for a sound one."""
    *_, faults = clean_and_check(
        charge_mw, discharge_mw, offsets, battery, horizon=horizon, slack=GUARD_SLACK
    )
    return [rule for rule, bad in faults if bad.any()]


def chain_is_valid(
    charge_mw: np.ndarray, discharge_mw: np.ndarray, offsets: np.ndarray, battery: Battery
) -> bool:
    """Whether a ``continuous`` schedule (one SoC chain over all hours) passes
    ``guard_faults``."""
    return not guard_faults(charge_mw, discharge_mw, offsets, battery, horizon=Horizon.CONTINUOUS)
