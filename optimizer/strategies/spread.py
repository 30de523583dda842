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
combinations). It is vectorised across days: on short runs each round makes every day's next
move (its first remaining pair that moves anything, looked for among its next few ranked
pairs), on long runs step k takes every day's k-th best pair; both walks give the same schedule
to the bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from optimizer.battery import Battery
from optimizer.envelope import stored_rates
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

#: Days from which the greedy walks step by step (every day's k-th pair at step k, on the days
#: that can still move energy) rather than window by window (``_Greedy.by_windows``: a few
#: rounds, each over every unfinished day's next ``WINDOW`` pairs, which outgrows the steps on
#: long runs).
GATHER_FROM_DAYS = 96
#: Ranked pairs of a day evaluated per round by ``_Greedy.by_windows`` (PRD request: ~11
#: rounds; smaller windows take more rounds, larger ones evaluate more pairs per round).
WINDOW = 32


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
    buy, sell = stored_rates(prices, battery)
    margin = sell[:, pj] - buy[:, pi]  # (days, pairs)
    if (hours < width).any():  # padded hours pair with nothing
        real = hour_mask(hours, width)
        margin = np.where(real[:, pi] & real[:, pj], margin, -np.inf)
    scale = max(1.0, float(np.max(np.abs(prices))))
    good = margin > 1e-12 * scale
    steps = int(good.sum(axis=1).max(initial=0))
    order = _good_first(margin, good, steps)

    stored = np.zeros(n_days * width)  # battery-side MWh stored per hour (flat)
    withdrawn = np.zeros(n_days * width)  # battery-side MWh withdrawn per hour (flat)
    level = np.full((n_days, width), e0)  # stored energy after each hour
    room_cap = np.full(n_days, np.inf if cap is None else cap)
    greedy = _Greedy(
        stored=stored,
        withdrawn=withdrawn,
        level=level,
        room_cap=room_cap,
        c_max=eta_c * p,
        w_max=p / eta_d,
        e_min=e_min,
        e_max=e_max,
        capped=cap is not None,
        tiny=1e-6 * min(p, energy),  # smaller moves would be snapped to 0 by settlement
    )
    if n_days >= GATHER_FROM_DAYS:
        greedy.by_steps(order, good, pi, pj, span, sign)
    else:
        greedy.by_windows(order, good.sum(axis=1), pi, pj, window=WINDOW)
    return stored.reshape(n_days, width) / eta_c, withdrawn.reshape(n_days, width) * eta_d


@dataclass
class _Greedy:
    """The greedy's state (flat per-hour stored and withdrawn MWh, the level after each hour,
    each day's remaining withdrawal cap) and its two exact walks over the ranked pairs."""

    stored: np.ndarray
    withdrawn: np.ndarray
    level: np.ndarray
    room_cap: np.ndarray
    c_max: float
    w_max: float
    e_min: float
    e_max: float
    capped: bool
    tiny: float

    def by_steps(
        self,
        order: np.ndarray,
        good: np.ndarray,
        pi: np.ndarray,
        pj: np.ndarray,
        span: np.ndarray,
        sign: np.ndarray,
    ) -> None:
        """Step k takes every day's k-th pair, on the days that can still move energy."""
        stored, withdrawn, level, room_cap = self.stored, self.withdrawn, self.level, self.room_cap
        n_days, width = level.shape
        rows = np.arange(n_days)
        ranked = order.T
        good_k = np.take_along_axis(good, order, axis=1).T
        flat_i = pi[ranked] + (rows * width)[None, :]
        flat_j = pj[ranked] + (rows * width)[None, :]
        sign_k = sign[ranked]
        span_k = span[ranked]  # (steps, days, width)
        # SoC headroom = bound_k - max over the span of sign * level (max_soc above, min_soc
        # below)
        bound_k = np.where(sign_k > 0, self.e_max, -self.e_min)
        for k in range(order.shape[1]):
            i, j = flat_i[k], flat_j[k]
            room = np.minimum(
                np.where(withdrawn[i] > 0, 0.0, self.c_max - stored[i]),
                np.where(stored[j] > 0, 0.0, self.w_max - withdrawn[j]),
            )
            # a day moves at most ``room``: only the days where that is more than ``tiny``
            # can move anything at this step, and only they are worked on
            live = np.flatnonzero(good_k[k] & (room > self.tiny))
            if not live.size:
                continue
            i, j, sk, in_span = i[live], j[live], sign_k[k, live], span_k[k, live]
            signed_level = level[live] * sk[:, None]
            head = bound_k[k, live] - np.max(signed_level, axis=1, where=in_span, initial=-np.inf)
            amount = np.minimum(room[live], np.minimum(head, room_cap[live]))
            amount = np.where(amount > self.tiny, amount, 0.0)
            if not amount.any():
                continue
            stored[i] += amount
            withdrawn[j] += amount
            level[live] += in_span * (amount * sk)[:, None]
            room_cap[live] -= amount

    def by_windows(
        self,
        order: np.ndarray,
        n_good: np.ndarray,
        pi: np.ndarray,
        pj: np.ndarray,
        window: int = 32,
    ) -> None:
        """The same greedy, ``window`` ranked pairs of every day at a time: each round
        evaluates every unfinished day's next ``window`` pairs at the current state; the first
        that would move more than ``tiny`` is the day's next move (the pairs before it are
        passed for good, as the walk in rank order passes them: the day's state has not
        changed since), and without one the day passes all of them. Rounds: about the moves
        of a day plus its passed pairs / ``window``, each over at most days x ``window``
        pairs."""
        stored, withdrawn, level, room_cap = self.stored, self.withdrawn, self.level, self.room_cap
        n_days, width = level.shape
        steps = order.shape[1]
        if steps == 0:
            return
        # per pair: the hours its SoC range spans (first..last), the sparse table rung that
        # covers them in two runs, and whether it charges first
        first, last = np.minimum(pi, pj), np.maximum(pi, pj) - 1
        length = last - first + 1
        rung = np.zeros(length.shape, dtype=np.intp)
        while (longer := (2 << rung) <= length).any():
            rung += longer
        rungs = int(rung.max(initial=0)) + 1
        second = last + 1 - (1 << rung)
        # the pair's two sparse table entries, less the day's offset (day * width)
        table_one = rung * (n_days * width) + first
        table_two = rung * (n_days * width) + second
        holds_pair = pi < pj
        sign = np.where(holds_pair, 1.0, -1.0)
        in_span = (np.arange(width) >= first[:, None]) & (np.arange(width) <= last[:, None])
        lends = bool((pi > pj).any())
        holds = bool(holds_pair.any())
        table = np.empty((rungs, n_days, width))
        offsets = np.arange(window)
        ptr = np.zeros(n_days, dtype=np.intp)

        def extremes(pick: np.ufunc, one: np.ndarray, two: np.ndarray) -> np.ndarray:
            table[0] = level
            for k in range(1, rungs):
                half, w = 1 << (k - 1), width - (1 << k) + 1
                pick(table[k - 1, :, :w], table[k - 1, :, half : half + w], out=table[k, :, :w])
            flat = table.reshape(-1)
            return np.asarray(pick(flat[one], flat[two]))

        while (days := np.flatnonzero(ptr < n_good)).size:
            pos = ptr[days, None] + offsets
            valid = pos < n_good[days, None]
            col = order[days[:, None], np.minimum(pos, steps - 1)]
            base = (days * width)[:, None]
            ii, jj = base + pi[col], base + pj[col]
            charge_room = np.where(withdrawn > 0, 0.0, self.c_max - stored)
            discharge_room = np.where(stored > 0, 0.0, self.w_max - withdrawn)
            room = np.minimum(charge_room[ii], discharge_room[jj])
            one, two = table_one[col] + base, table_two[col] + base
            if holds:
                head = self.e_max - extremes(np.maximum, one, two)
            if lends:
                lent = -self.e_min - -extremes(np.minimum, one, two)
                head = lent if not holds else np.where(holds_pair[col], head, lent)
            cap = room_cap[days, None]
            amount = np.minimum(room, np.minimum(head, cap) if self.capped else head)
            movable = (amount > self.tiny) & valid
            moved = movable.any(axis=1)
            place = np.argmax(movable, axis=1)
            ptr[days] += np.where(moved, place + 1, window)
            if not moved.any():
                continue
            which, place = np.flatnonzero(moved), place[moved]
            d, a, pair = days[which], amount[which, place], col[which, place]
            stored[ii[which, place]] += a
            withdrawn[jj[which, place]] += a
            level[d] += in_span[pair] * (a * sign[pair])[:, None]
            room_cap[d] -= a


def _good_first(margin: np.ndarray, good: np.ndarray, steps: int) -> np.ndarray:
    """Per day, the ``steps`` pair columns a stable sort by decreasing margin puts first, as
    far as they are good: the good pairs (every pair above the threshold, so exactly the
    first ones) in decreasing margin, equal margins in column order; the remaining places
    hold pairs that are not good (never used). One stable sort of every day's pairs, the
    pairs that are not good keyed last."""
    n_days = margin.shape[0]
    if steps == 0:
        return np.zeros((n_days, 0), dtype=np.intp)
    keys = np.where(good, -margin, np.inf)
    return np.argsort(keys, axis=1, kind="stable")[:, :steps]


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
