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
of their slope sequences. Every slope ``V_t`` can have is one of the row's ``2T`` hour slopes, so
``V_t`` is kept as the positions of its breakpoints over those slopes sorted once (``recurse``),
for all rows at once (rows are days; shorter days are padded with hours that cannot move), so
a year is ~25 vectorised steps, not 366 solver calls.

The forward pass follows the marginal value of stored energy: charge while ``V_t'`` exceeds
the cost of storing a unit, discharge while it is below what a stored unit sells for,
otherwise stay -- within the power limits and ``V_t``'s domain.

Hours where ``r_t`` is not concave (prices negative enough that burning energy would pay:
``needs_binary``) make the day non-convex; ``optimizer.lattice`` solves those days exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.battery import Battery


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


def stored_rates(prices: np.ndarray, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    """``(buy, sell)`` of every hour in stored-energy terms: what one stored MWh costs to
    charge (``p / eta_c``) and what one withdrawn MWh earns (``(p - kappa) eta_d``)."""
    buy = prices / battery.eta_charge
    sell = (prices - battery.degradation_cost_mxn_per_mwh) * battery.eta_discharge
    return buy, sell


def stored_revenue(moves: np.ndarray, buy: np.ndarray, sell: np.ndarray) -> np.ndarray:
    """Revenue (MXN) of stored-energy moves at the rates of ``stored_rates``: ``-buy * u``
    charging, ``-sell * u`` discharging, summed over the hours (the last axis: one total per
    row of a matrix)."""
    total: np.ndarray = np.sum(np.where(moves > 0, -buy * moves, -sell * moves), axis=-1)
    return total


def hour_models(prices: np.ndarray, movable: np.ndarray, battery: Battery) -> HourModels:
    """The exact models of every hour (concave only where ``needs_binary`` is false)."""
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    buy, sell = stored_rates(prices, battery)
    return HourModels(
        buy=buy,
        sell=sell,
        up=np.where(movable, eta_c * battery.power_mw, 0.0),
        down=np.where(movable, battery.power_mw / eta_d, 0.0),
        offset=np.zeros(prices.shape),
    )


def recurse(models: HourModels, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    """Backward recursion + forward pass over concave hour models.

    Returns the stored-energy moves ``u`` (rows x hours) and each row's optimal value (the
    value of those moves).

    Every slope a row's ``V_t`` can have is one of its hours' ``buy`` or ``sell``, so the
    ``2T`` candidates are sorted once per row (ties: later hour first, ``buy`` before ``sell``:
    the order the backward pass meets them) and ``V_t`` is kept as the absolute positions of
    its left end and of the end of every candidate segment in that fixed order (a segment not
    yet met, or emptied, has no length). Hour ``t`` moves the ends left of its ``buy``
    segment by ``-up`` and those right of its ``sell`` segment by ``+down`` (the
    sup-convolution), and the restriction to ``[0, W]`` clips every end to ``[0, W]``: per
    hour, two masked shifts and a clip of one (rows x 2T + 1) array, no sorting, merging or
    compaction. Breakpoints then differ from a per-hour merge only in rounding (~1e-15 of
    ``W``).
    """
    n_rows, n_hours = models.buy.shape
    E = battery.energy_mwh
    width = E * (battery.max_soc - battery.min_soc)
    x0 = E * (battery.soc_start - battery.min_soc)
    buy, sell, up, down = models.buy, models.sell, models.up, models.down
    n_slopes = 2 * n_hours
    stride = n_slopes + 1  # ends: column 0 the left end, column k + 1 segment k's right end

    # the candidate slopes in the order the backward pass meets them, sorted stably
    pairs = np.empty((n_rows, n_hours, 2))
    pairs[:, :, 0] = buy[:, ::-1]
    pairs[:, :, 1] = sell[:, ::-1]
    met = pairs.reshape(n_rows, n_slopes)
    order = np.argsort(-met, axis=1, kind="stable")
    slopes = np.take_along_axis(met, order, axis=1)
    rank = np.empty_like(order)
    rank[np.arange(n_rows)[:, None], order] = np.arange(n_slopes)
    position = rank.reshape(n_rows, n_hours, 2)[:, ::-1].transpose(1, 0, 2)  # [t, row]
    # the forward pass charges while V_{t+1}' > buy_t and discharges while it is < sell_t:
    # count the sorted slopes > buy_t (the first of buy_t's run of equal slopes) and
    # >= sell_t (one past the last of sell_t's run)
    index = np.arange(n_slopes)
    differs = slopes[:, 1:] != slopes[:, :-1]
    first = np.zeros((n_rows, n_slopes), dtype=np.intp)
    first[:, 1:] = np.where(differs, index[1:], 0)
    np.maximum.accumulate(first, axis=1, out=first)
    last = np.full((n_rows, n_slopes), n_slopes - 1, dtype=np.intp)
    last[:, :-1] = np.where(differs, index[:-1], n_slopes - 1)
    last = np.minimum.accumulate(last[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(n_rows)
    steeper = first[rows, position[:, :, 0]]
    not_below = last[rows, position[:, :, 1]] + 1

    # hour t moves the ends up to its buy segment's start by -up, those after its sell
    # segment's end by +down; one row of ends is updated in place, hour by hour, and what
    # the forward pass needs of V_{t+1} is read before hour t is applied
    left_of_buy = np.ascontiguousarray(position[:, :, 0])[:, :, None]
    right_of_sell = np.ascontiguousarray(position[:, :, 1])[:, :, None]
    up_col, down_col = up.T[:, :, None], down.T[:, :, None]
    column = np.arange(stride)
    moved_down = np.empty((n_rows, stride), dtype=bool)
    moved_up = np.empty((n_rows, stride), dtype=bool)
    row_base = np.arange(n_rows) * stride
    at_charge = steeper + row_base
    at_discharge = not_below + row_base
    ends = np.full((n_rows, stride), x0)  # V_T is the point x0
    flat_ends = ends.reshape(-1)
    lowest = np.empty((n_hours, n_rows))  # hour t: V_{t+1}'s domain and where to stop
    highest = np.empty((n_hours, n_rows))
    charge_to = np.empty((n_hours, n_rows))
    discharge_to = np.empty((n_hours, n_rows))
    lowest[-1] = highest[-1] = charge_to[-1] = discharge_to[-1] = x0
    for t in range(n_hours - 1, 0, -1):
        np.less_equal(column, left_of_buy[t], out=moved_down)
        np.greater(column, right_of_sell[t], out=moved_up)
        np.subtract(ends, up_col[t], out=ends, where=moved_down)
        np.add(ends, down_col[t], out=ends, where=moved_up)
        np.clip(ends, 0.0, width, out=ends)
        lowest[t - 1] = ends[:, 0]
        highest[t - 1] = ends[:, -1]
        charge_to[t - 1] = flat_ends[at_charge[t - 1]]
        discharge_to[t - 1] = flat_ends[at_discharge[t - 1]]

    up_t, down_t = up.T, down.T
    x = np.full(n_rows, x0)
    moves = np.empty((n_hours, n_rows))
    for t in range(n_hours):
        # charge up to charge_to, discharge down to discharge_to (charge_to <= discharge_to)
        target = np.minimum(np.maximum(x, charge_to[t]), discharge_to[t])
        target = np.minimum(np.maximum(target, x - down_t[t]), x + up_t[t])
        target = np.minimum(np.maximum(target, lowest[t]), highest[t])
        moves[t] = target - x
        x = target
    moves = np.ascontiguousarray(moves.T)
    earned = models.offset - buy * np.maximum(moves, 0.0) - sell * np.minimum(moves, 0.0)
    return moves, earned.sum(axis=1)


def to_grid(moves: np.ndarray, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    """Stored-energy moves -> grid-side (charge_mw, discharge_mw)."""
    charge = np.where(moves > 0, moves / battery.eta_charge, 0.0)
    discharge = np.where(moves < 0, -moves * battery.eta_discharge, 0.0)
    return charge, discharge


def to_stored(charge: np.ndarray, discharge: np.ndarray, battery: Battery) -> np.ndarray:
    """Grid-side (charge_mw, discharge_mw) of one-hour steps -> stored-energy moves (MWh; the
    inverse of ``to_grid`` where no hour does both)."""
    moves: np.ndarray = battery.eta_charge * charge - discharge / battery.eta_discharge
    return moves
