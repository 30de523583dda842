"""``cycle``: one full charge/discharge cycle a day (SPEC §3).

Each day the battery is filled from its starting SoC to ``max_soc`` in one contiguous charging
window, then brought back to the starting SoC in one contiguous discharging window that starts
after the charging window ends. Inside a window every hour runs at full power except one hour
that takes the remainder (the dearest hour of the charging window, the cheapest of the
discharging window), so a window of L hours moves any energy in ((L-1)·P, L·P].

Choice of windows: among all (charging window, later discharging window) pairs the one with
the highest profit after losses and degradation is taken -- for a given charging window that
is the dearest later discharging window, so the day's cheapest window wins unless it leaves no
dear hours after it. The day idles when the best pair does not make money.

Scaling down: the stored energy cycled is ``E·(max_soc - soc_0)``, reduced to the daily
withdrawal cap (``max_cycles_per_day``) and to what fits in the day's hours (charging plus
discharging hours at most the day's hour count). A day starting at ``max_soc`` has no room and
idles. Everything is vectorised over the days of each hour count (23, 24, 25).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from optimizer.battery import Battery
from optimizer.market import MarketDay
from optimizer.results import Horizon
from optimizer.settle import Dispatch
from optimizer.strategies._days import flatten, guard_physics, price_matrix
from optimizer.strategies.base import Strategy

#: Slack when counting whole hours (so 4.0000000001 hours of charging is 4 hours, not 5).
_HOUR_SLACK = 1e-9
#: Smallest part-hour kept, as a fraction of full power.
_MIN_PART = 1e-6


def cycled_energy_mwh(battery: Battery, hours: int) -> float:
    """Battery-side energy one day's cycle moves: the room to ``max_soc``, capped by the daily
    withdrawal cap and by the day's length (0 when nothing can be cycled)."""
    p, eta_c, eta_d = battery.power_mw, battery.eta_charge, battery.eta_discharge
    room = battery.energy_mwh * (battery.max_soc - battery.soc_start)
    cap = battery.daily_withdrawal_cap_mwh
    # l charging hours store at most l·eta_c·P; the other hours withdraw at most (n-l)·P/eta_d
    fits = max(min(k * eta_c * p, (hours - k) * p / eta_d) for k in range(1, hours))
    energy = min(room, fits, math.inf if cap is None else cap)
    # no part-hour so small that settlement would snap it to 0: trim to whole hours instead
    for per_hour in (eta_c * p, p / eta_d):
        whole = math.floor(energy / per_hour)
        if 0 < energy / per_hour - whole < _MIN_PART:
            energy = whole * per_hour
    return energy if energy > _MIN_PART * min(p, battery.energy_mwh) else 0.0


def _window(grid_mwh: float, power_mw: float) -> tuple[int, float]:
    """Hours a window needs to move ``grid_mwh`` at ``power_mw``, and its last hour's power."""
    hours = max(1, math.ceil(grid_mwh / power_mw - _HOUR_SLACK))
    return hours, min(power_mw, grid_mwh - (hours - 1) * power_mw)


#: Windows shorter than this are summed by adding shifted columns (numpy sums fewer than 8
#: numbers one after the other, so that is the same sum); longer ones as windows.
_SHIFTED_BELOW = 8


def _window_sum_and(
    pick: np.ufunc, values: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Along axis 1 of ``values`` (days, hours): every ``width``-hour window's sum and its
    ``pick`` (``np.maximum`` or ``np.minimum``) reduction, (days, hours - width + 1) each."""
    count = values.shape[1] - width + 1
    if width >= _SHIFTED_BELOW:
        windows = sliding_window_view(values, width, axis=1)
        return windows.sum(axis=2), pick.reduce(windows, axis=2)
    total = values[:, :count].copy()
    extreme = total.copy()
    for k in range(1, width):
        shifted = values[:, k : k + count]
        total += shifted
        pick(extreme, shifted, out=extreme)
    return total, extreme


def _cycle_group(prices: np.ndarray, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    """Charge and discharge MW for days of equal length (rows of ``prices``)."""
    n_days, n = prices.shape
    charge = np.zeros_like(prices)
    discharge = np.zeros_like(prices)
    stored = cycled_energy_mwh(battery, n)
    if stored == 0.0:
        return charge, discharge
    p = battery.power_mw
    n_c, part_c = _window(stored / battery.eta_charge, p)
    n_d, part_d = _window(stored * battery.eta_discharge, p)
    net = prices - battery.degradation_cost_mxn_per_mwh  # income per MWh discharged

    # charging window starting at a: full power except the dearest hour, which takes part_c
    total_c, top_c = _window_sum_and(np.maximum, prices, n_c)
    cost = p * total_c - (p - part_c) * top_c
    # discharging window starting at b: full power except the cheapest hour
    total_d, low_d = _window_sum_and(np.minimum, net, n_d)
    income = p * total_d - (p - part_d) * low_d
    # best discharging window starting at b or later
    best_from = np.maximum.accumulate(income[:, ::-1], axis=1)[:, ::-1]
    # charging may start at a = 0 .. n - n_c - n_d; its discharge starts at a + n_c or later
    starts_c = np.arange(n - n_c - n_d + 1)
    profit = best_from[:, starts_c + n_c] - cost[:, starts_c]
    a = np.argmax(profit, axis=1)
    rows = np.arange(n_days)
    gain = profit[rows, a]
    # the dearest later window: the first b >= a + n_c reaching best_from[a + n_c]
    target = best_from[rows, a + n_c]
    b_grid = np.arange(income.shape[1])[None, :]
    eligible = (b_grid >= (a + n_c)[:, None]) & (income >= target[:, None])
    b = np.argmax(eligible, axis=1)

    scale = max(1.0, float(np.max(np.abs(prices)))) * stored
    go = gain > 1e-9 * scale
    hour = np.arange(n)[None, :]
    in_c = (hour >= a[:, None]) & (hour < (a + n_c)[:, None]) & go[:, None]
    in_d = (hour >= b[:, None]) & (hour < (b + n_d)[:, None]) & go[:, None]
    # the partial hour: dearest in the charging window, cheapest in the discharging window
    partial_c = np.argmax(np.where(in_c, prices, -np.inf), axis=1)
    partial_d = np.argmin(np.where(in_d, net, np.inf), axis=1)
    charge[in_c] = p
    discharge[in_d] = p
    charge[rows[go], partial_c[go]] = part_c
    discharge[rows[go], partial_d[go]] = part_d
    return charge, discharge


class Cycle(Strategy):
    name = "cycle"
    description = (
        "One full cycle a day: charge in the cheapest window that fills the battery, "
        "discharge in the dearest window after it."
    )
    order = 30

    def dispatch(
        self,
        days: Sequence[MarketDay],
        battery: Battery,
        *,
        horizon: Horizon,
        deadline_s: float | None = None,
        history: Sequence[MarketDay] = (),  # days before days[0]: unused with foresight
    ) -> Dispatch:
        prices, hours = price_matrix(days)
        charge = np.zeros_like(prices)
        discharge = np.zeros_like(prices)
        for n in np.unique(hours):
            rows = hours == n
            c, d = _cycle_group(prices[rows, :n], battery)
            charge[rows, :n] = c
            discharge[rows, :n] = d
        return guard_physics(flatten(charge, hours), flatten(discharge, hours), days, battery)


STRATEGY = Cycle()
