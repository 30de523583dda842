"""``spread``: greedy pairing of cheap charging hours with dearer later discharging hours
(SPEC §3).

Work in stored (battery-side) energy. Storing one MWh in hour i costs ``a_i = p_i / eta_c``
at the grid; withdrawing it in hour j earns ``b_j = (p_j - kappa) · eta_d`` (the grid gets
``eta_d`` MWh, each paying ``p_j`` and costing ``kappa`` of degradation). A pair (i, j) is worth
``b_j - a_i`` per stored MWh; only pairs where that is positive are considered.

Pairs are taken in order of decreasing margin; each moves as much energy as still fits:
the charging hour's and the discharging hour's remaining power (an hour used in one direction
is closed to the other, so charge and discharge never share an hour), the SoC headroom over
every hour between them (``max_soc`` while energy is held, ``min_soc`` while it is lent), and
the daily withdrawal cap. Every pair returns the energy it moves within the day, so each day
ends at its starting SoC.

The normal pair charges first and discharges later. When the day starts above ``min_soc`` a
pair may also run the other way -- sell stored energy early and buy it back later -- which
uses the same margin rule and the SoC floor instead of the ceiling.

This is a heuristic: valid and sensible, not optimal (greedy choices can block better
combinations). It is vectorised across days: step k takes every day's k-th best pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from optimizer.battery import Battery
from optimizer.market import MarketDay
from optimizer.results import Horizon
from optimizer.settle import Dispatch
from optimizer.strategies._days import (
    flatten,
    guard_physics,
    hour_mask,
    price_matrix,
)
from optimizer.strategies.base import Strategy

#: Days from which a greedy step gathers the days that can still move energy rather than
#: working on whole rows (below it numpy's per-call cost outweighs the smaller arrays).
GATHER_FROM_DAYS = 96


@cache
def _pairs(
    width: int, *, charge_first: bool = True, discharge_first: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ordered pairs (i charge, j discharge) of distinct hours -- those charging first
    (i < j) and/or those discharging first -- in (i, j) order, each pair's SoC range (the
    hours after which the level differs while the pair runs) and direction (+1 charge
    first)."""
    i, j = np.nonzero(~np.eye(width, dtype=bool))
    keep = ((i < j) & charge_first) | ((i > j) & discharge_first)
    i, j = i[keep], j[keep]
    hour = np.arange(width)[None, :]
    lo = np.minimum(i, j)[:, None]
    hi = np.maximum(i, j)[:, None]
    span = (hour >= lo) & (hour < hi)
    sign = np.where(i < j, 1.0, -1.0)
    for a in (i, j, span, sign):
        a.setflags(write=False)
    return i, j, span, sign


def spread_dispatch(
    prices: np.ndarray, hours: np.ndarray, battery: Battery
) -> tuple[np.ndarray, np.ndarray]:
    """Charge and discharge MW, as padded (days, width) matrices."""
    n_days, width = prices.shape
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    p = battery.power_mw
    energy = battery.energy_mwh
    e_min, e_max = battery.min_soc * energy, battery.max_soc * energy
    e0 = battery.soc_start * energy
    cap = battery.daily_withdrawal_cap_mwh

    # nothing to lend (at min_soc): only charge-first pairs can move energy; no room (at
    # max_soc): only discharge-first pairs
    pi, pj, span, sign = _pairs(width, charge_first=e0 < e_max, discharge_first=e0 > e_min)
    buy = prices / eta_c
    sell = (prices - battery.degradation_cost_mxn_per_mwh) * eta_d
    margin = sell[:, pj] - buy[:, pi]  # (days, pairs)
    real = hour_mask(hours, width)
    margin = np.where(real[:, pi] & real[:, pj], margin, -np.inf)
    scale = max(1.0, float(np.max(np.abs(prices))))
    good = margin > 1e-12 * scale
    steps = int(good.sum(axis=1).max(initial=0))
    order = _good_first(margin, good, steps)

    # everything the k-th step needs, as (steps, days) arrays; hours as flat indices
    rows = np.arange(n_days)
    ranked = order.T
    good_k = np.take_along_axis(good, order, axis=1).T
    flat_i = pi[ranked] + (rows * width)[None, :]
    flat_j = pj[ranked] + (rows * width)[None, :]
    sign_k = sign[ranked]
    span_k = span[ranked]  # (steps, days, width)
    # SoC headroom = bound_k - max over the span of sign * level (max_soc above, min_soc below)
    bound_k = np.where(sign_k > 0, e_max, -e_min)

    stored = np.zeros(n_days * width)  # battery-side MWh stored per hour
    withdrawn = np.zeros(n_days * width)  # battery-side MWh withdrawn per hour
    level = np.full((n_days, width), e0)  # stored energy after each hour
    room_cap = np.full(n_days, np.inf if cap is None else cap)
    c_max, w_max = eta_c * p, p / eta_d
    tiny = 1e-6 * min(p, energy)  # smaller moves would be snapped to 0 by settlement
    # from this many days on, each step works on the days that can move energy only
    gather = n_days >= GATHER_FROM_DAYS
    for k in range(steps):
        i, j = flat_i[k], flat_j[k]
        room = np.minimum(
            np.where(withdrawn[i] > 0, 0.0, c_max - stored[i]),
            np.where(stored[j] > 0, 0.0, w_max - withdrawn[j]),
        )
        # a day moves at most ``room``: only the days where that is more than ``tiny`` can
        # move anything at this step, and only they are worked on
        moving = good_k[k] & (room > tiny)
        if not gather:  # few days: whole rows (the others move 0) cost less than gathering
            if not moving.any():
                continue
            sk, in_span = sign_k[k], span_k[k]
            head = bound_k[k] - np.max(level * sk[:, None], axis=1, where=in_span, initial=-np.inf)
            amount = np.minimum(room, np.minimum(head, room_cap))
            amount = np.where(moving & (amount > tiny), amount, 0.0)
            if not amount.any():  # nothing fits (most steps): nothing to update
                continue
            stored[i] += amount
            withdrawn[j] += amount
            level += in_span * (amount * sk)[:, None]
            room_cap -= amount
            continue
        live = np.flatnonzero(moving)
        if not live.size:
            continue
        i, j, sk, in_span = i[live], j[live], sign_k[k, live], span_k[k, live]
        signed_level = level[live] * sk[:, None]
        head = bound_k[k, live] - np.max(signed_level, axis=1, where=in_span, initial=-np.inf)
        amount = np.minimum(room[live], np.minimum(head, room_cap[live]))
        amount = np.where(amount > tiny, amount, 0.0)
        if not amount.any():
            continue
        stored[i] += amount
        withdrawn[j] += amount
        level[live] += in_span * (amount * sk)[:, None]
        room_cap[live] -= amount
    stored = stored.reshape(n_days, width)
    withdrawn = withdrawn.reshape(n_days, width)
    return stored / eta_c, withdrawn * eta_d


def _good_first(margin: np.ndarray, good: np.ndarray, steps: int) -> np.ndarray:
    """Per day, the ``steps`` pair columns a stable sort by decreasing margin puts first, as
    far as they are good: the good pairs (every pair above the threshold, so exactly the
    first ones) in decreasing margin, equal margins in column order; the remaining places
    hold a pair that is not good (never used). Only the good pairs are sorted, packed in
    column order into (days, steps), which costs about half a sort of every pair."""
    n_days = margin.shape[0]
    if steps == 0:
        return np.zeros((n_days, 0), dtype=np.intp)
    rows, cols = np.nonzero(good)  # row by row, columns ascending
    count = good.sum(axis=1)
    place = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
    keys = np.full((n_days, steps), np.inf)
    keys[rows, place] = -margin[rows, cols]
    packed = np.repeat(np.argmin(good, axis=1)[:, None], steps, axis=1)  # a pair not good
    packed[rows, place] = cols
    return np.take_along_axis(packed, np.argsort(keys, axis=1, kind="stable"), axis=1)


class Spread(Strategy):
    name = "spread"
    description = (
        "Greedy heuristic: pair the cheapest charging hours with dearer later discharging "
        "hours while the spread beats losses and degradation."
    )
    order = 20

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
        charge, discharge = spread_dispatch(prices, hours, battery)
        return guard_physics(flatten(charge, hours), flatten(discharge, hours), days, battery)


STRATEGY = Spread()
