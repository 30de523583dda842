"""Exact daily optimum by dynamic programming over concave piecewise-linear value functions.

Work in battery-side energy above the floor, ``x`` in ``[0, W]`` with ``W = E(soc_max -
soc_min)``, starting and ending each day at ``x0 = E(soc_0 - soc_min)``. In hour ``t`` the
stored energy moves by ``u`` in ``[-D, C]`` (``C = eta_c P``, ``D = P / eta_d``) and earns

    r_t(u) = -(p_t / eta_c) u            for u >= 0  (charge c = u / eta_c)
    r_t(u) = -(p_t - kappa) eta_d u      for u <= 0  (discharge d = -u eta_d)

``r_t`` is concave exactly when ``p_t / eta_c >= (p_t - kappa) eta_d``, i.e. when
``p_t (1 - eta_c eta_d) + kappa eta_c eta_d >= 0``: then charging and discharging at once can
never pay, and the value-to-go ``V_{t-1}(x) = max_u r_t(u) + V_t(x + u)`` is the
sup-convolution of two concave piecewise-linear functions restricted to ``[0, W]`` -- a merge
of their slope sequences. Every ``V_t`` is kept as (left end, value there, slopes sorted in
decreasing order, segment lengths), for all rows at once (rows are days, or branch-and-bound
nodes; shorter days are padded with hours that cannot move), so a year is ~25 vectorised
steps, not 366 solver calls.

The forward pass follows the marginal value of stored energy: charge while ``V_t'`` exceeds
the cost of storing a unit, discharge while it is below what a stored unit sells for,
otherwise stay -- within the power limits and ``V_t``'s domain.

Hours where ``r_t`` is not concave (prices negative enough that burning energy would pay:
``needs_binary``) make the day non-convex. ``solve_nonconvex_days`` handles them exactly by
branch and bound: in an undecided hour ``r_t`` is replaced by its concave hull (the chord over
``[-D, C]``), an upper bound; a branch fixes the hour to charging only or discharging only,
where ``r_t`` is linear. Every node is one row of the same recursion.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.battery import Battery

#: relative optimality tolerance of the branch and bound (far below the promised 1e-6)
BNB_REL_GAP = 1e-10
#: open nodes per day beyond which branch and bound gives up (the caller then uses HiGHS)
BNB_MAX_NODES_PER_DAY = 1024
#: rows per call of the recursion (bounds memory: ~hours * 2 * rows * 2 * hours floats)
CHUNK_ROWS = 1024


def needs_binary(prices: np.ndarray, battery: Battery) -> np.ndarray:
    """Hours where simultaneous charge and discharge would pay: ``r_t`` is not concave."""
    loop = battery.eta_charge * battery.eta_discharge
    return prices * (1.0 - loop) + battery.degradation_cost_mxn_per_mwh * loop < 0


@dataclass(frozen=True)
class HourModels:
    """Per (row, hour): ``r(u) = offset - buy*u`` for ``0 <= u <= up`` and
    ``offset - sell*u`` for ``-down <= u <= 0``; concave when ``buy >= sell``."""

    buy: np.ndarray
    sell: np.ndarray
    up: np.ndarray
    down: np.ndarray
    offset: np.ndarray


def hour_models(prices: np.ndarray, movable: np.ndarray, battery: Battery) -> HourModels:
    """The exact models of every hour (concave only where ``needs_binary`` is false)."""
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    return HourModels(
        buy=prices / eta_c,  # cost of one stored MWh
        sell=(prices - battery.degradation_cost_mxn_per_mwh) * eta_d,  # income of one
        up=np.where(movable, eta_c * battery.power_mw, 0.0),
        down=np.where(movable, battery.power_mw / eta_d, 0.0),
        offset=np.zeros(prices.shape),
    )


def recurse(models: HourModels, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    """Backward recursion + forward pass over concave hour models.

    Returns the stored-energy moves ``u`` (rows x hours) and each row's optimal value.
    """
    n_rows, n_hours = models.buy.shape
    E = battery.energy_mwh
    width = E * (battery.max_soc - battery.min_soc)
    x0 = E * (battery.soc_start - battery.min_soc)
    buy, sell, up, down = models.buy, models.sell, models.up, models.down

    k = 2 * n_hours
    rows = np.arange(n_rows)[:, None]
    left = np.full(n_rows, x0)  # V_T is the single point x0, value 0
    value = np.zeros(n_rows)
    slopes = np.zeros((n_rows, k))
    lengths = np.zeros((n_rows, k))
    history: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    history.append((left, slopes[:, :0], lengths[:, :0]))
    used = 0
    for t in range(n_hours - 1, -1, -1):
        # sup-convolve with h_t(z) = r_t(-z): slope buy on [-up, 0], sell on [0, down]
        slopes[:, used] = buy[:, t]
        lengths[:, used] = up[:, t]
        slopes[:, used + 1] = sell[:, t]
        lengths[:, used + 1] = down[:, t]
        used += 2
        order = np.argsort(-slopes[:, :used], axis=1, kind="stable")
        s = slopes[:, :used][rows, order]
        ln = lengths[:, :used][rows, order]
        conv_left = left - up[:, t]
        conv_value = value - buy[:, t] * up[:, t] + models.offset[:, t]
        # restrict to [0, W]
        ends = np.cumsum(ln, axis=1)
        starts = ends - ln
        a = np.maximum(-conv_left, 0.0)[:, None]
        b = np.minimum(width - conv_left, ends[:, -1])[:, None]
        skipped = np.clip(ends, 0.0, a) - np.clip(starts, 0.0, a)
        ln = np.clip(ends, a, b) - np.clip(starts, a, b)
        value = conv_value + np.sum(s * skipped, axis=1)
        left = conv_left + a[:, 0]
        slopes[:, :used] = s
        lengths[:, :used] = ln
        history.append((left, s.copy(), ln.copy()))
    history.reverse()  # history[t] describes V_t

    best = value + _integral(history[0][1], history[0][2], x0 - left)
    x = np.full(n_rows, x0)
    moves = np.empty((n_rows, n_hours))
    for t in range(n_hours):
        lft, s, ln = history[t + 1]
        right = lft + ln.sum(axis=1)
        charge_to = lft + np.sum(np.where(s > buy[:, t, None], ln, 0.0), axis=1)
        discharge_to = lft + np.sum(np.where(s >= sell[:, t, None], ln, 0.0), axis=1)
        target = np.where(x < charge_to, charge_to, np.where(x > discharge_to, discharge_to, x))
        target = np.clip(target, x - down[:, t], x + up[:, t])
        target = np.clip(target, lft, right)
        moves[:, t] = target - x
        x = target
    return moves, best


def _integral(slopes: np.ndarray, lengths: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Integral of the slopes from the left end over ``span`` (per row)."""
    ends = np.cumsum(lengths, axis=1)
    starts = ends - lengths
    covered = np.clip(ends, 0.0, span[:, None]) - np.clip(starts, 0.0, span[:, None])
    return np.sum(slopes * covered, axis=1)


def to_grid(moves: np.ndarray, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    """Stored-energy moves -> grid-side (charge_mw, discharge_mw)."""
    charge = np.where(moves > 0, moves / battery.eta_charge, 0.0)
    discharge = np.where(moves < 0, -moves * battery.eta_discharge, 0.0)
    return charge, discharge


def solve_days(
    prices: np.ndarray, movable: np.ndarray, battery: Battery
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal daily schedules for a (days x hours) price matrix whose hours are all concave.

    ``movable[i, t]`` is False for padding hours (the battery idles there). Returns grid-side
    ``(charge_mw, discharge_mw)`` matrices and each day's optimal revenue (MXN).
    """
    moves, best = recurse(hour_models(prices, movable, battery), battery)
    return (*to_grid(moves, battery), best)


def solve_nonconvex_days(
    prices: np.ndarray, movable: np.ndarray, battery: Battery, *, deadline: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact daily optimum when some hours are not concave, by branch and bound.

    Returns like ``solve_days`` plus a per-day flag: True where the day needed more than
    ``BNB_MAX_NODES_PER_DAY`` open nodes, or was still open at ``deadline``
    (``time.monotonic()``), and was given up (the caller solves it otherwise).
    """
    n_days, n_hours = prices.shape
    exact = hour_models(prices, movable, battery)
    hard = needs_binary(prices, battery) & movable
    # chord over [-down, up] of the two linear pieces: the concave hull of r_t
    span = np.where(exact.up + exact.down > 0, exact.up + exact.down, 1.0)
    chord_slope = (exact.buy * exact.up + exact.sell * exact.down) / span  # = -(dr/du)
    chord_offset = exact.down * (exact.sell - chord_slope)  # chord value at u = 0

    # node state: day index, mode per hour (0 free/relaxed, 1 charge only, 2 discharge only)
    node_day = np.arange(n_days)
    node_mode = np.zeros((n_days, n_hours), dtype=np.int8)
    incumbent = np.full(n_days, -np.inf)
    gave_up = np.zeros(n_days, dtype=bool)
    best_moves = np.zeros((n_days, n_hours))
    while node_day.size:
        day_hard = hard[node_day]
        relaxed = day_hard & (node_mode == 0)
        charge_only = day_hard & (node_mode == 1)
        discharge_only = day_hard & (node_mode == 2)
        # a fixed hour is linear: both slopes equal that of the side it may use, so the
        # forward pass's thresholds stay ordered (buy >= sell)
        buy = np.where(discharge_only, exact.sell[node_day], exact.buy[node_day])
        sell = np.where(charge_only, exact.buy[node_day], exact.sell[node_day])
        models = HourModels(
            buy=np.where(relaxed, chord_slope[node_day], buy),
            sell=np.where(relaxed, chord_slope[node_day], sell),
            up=np.where(discharge_only, 0.0, exact.up[node_day]),
            down=np.where(charge_only, 0.0, exact.down[node_day]),
            offset=np.where(relaxed, chord_offset[node_day], 0.0),
        )
        moves, upper = _recurse_in_chunks(models, battery)
        # every relaxed solution is feasible; its exact revenue is a lower bound
        reward = -np.where(moves > 0, exact.buy[node_day], exact.sell[node_day]) * moves
        lower = reward.sum(axis=1)
        order = np.lexsort((lower, node_day))  # by day, then by value: a day's best is last
        last = np.r_[np.flatnonzero(np.diff(node_day[order])), order.size - 1]
        best = order[last]
        better = lower[best] > incumbent[node_day[best]]
        incumbent[node_day[best[better]]] = lower[best[better]]
        best_moves[node_day[best[better]]] = moves[best[better]]
        tol = BNB_REL_GAP * np.maximum(1.0, np.abs(incumbent[node_day]))
        alive = upper > incumbent[node_day] + tol
        if not alive.any():
            break
        if deadline is not None and time.monotonic() > deadline:
            gave_up[np.unique(node_day[alive])] = True
            break
        # branch on the relaxed hour whose chord overstates the most
        excess = np.where(relaxed, models.offset - chord_slope[node_day] * moves - reward, -np.inf)
        hour = np.argmax(excess, axis=1)
        alive &= excess[np.arange(node_day.size), hour] > 0
        crowded = np.bincount(node_day[alive], minlength=n_days) * 2 > BNB_MAX_NODES_PER_DAY
        gave_up |= crowded
        parents = np.flatnonzero(alive & ~crowded[node_day])
        children_mode = np.repeat(node_mode[parents], 2, axis=0)
        children_mode[np.arange(0, 2 * parents.size, 2), hour[parents]] = 1
        children_mode[np.arange(1, 2 * parents.size, 2), hour[parents]] = 2
        node_day = np.repeat(node_day[parents], 2)
        node_mode = children_mode
    charge, discharge = to_grid(best_moves, battery)
    return charge, discharge, incumbent, gave_up


def _recurse_in_chunks(models: HourModels, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    n = models.buy.shape[0]
    if n <= CHUNK_ROWS:
        return recurse(models, battery)
    parts = [
        recurse(_rows(models, np.arange(i, min(i + CHUNK_ROWS, n))), battery)
        for i in range(0, n, CHUNK_ROWS)
    ]
    return np.concatenate([m for m, _ in parts]), np.concatenate([v for _, v in parts])


def _rows(models: HourModels, index: np.ndarray) -> HourModels:
    return HourModels(
        buy=models.buy[index],
        sell=models.sell[index],
        up=models.up[index],
        down=models.down[index],
        offset=models.offset[index],
    )
