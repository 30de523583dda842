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
decreasing order, segment lengths), for all rows at once (rows are days; shorter days are
padded with hours that cannot move), so a year is ~25 vectorised steps, not 366 solver calls.

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

    left = np.full(n_rows, x0)  # V_T is the single point x0, value 0
    value = np.zeros(n_rows)
    slopes = np.zeros((n_rows, 0))
    lengths = np.zeros((n_rows, 0))
    history: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(left, slopes, lengths)]
    for t in range(n_hours - 1, -1, -1):
        # sup-convolve with h_t(z) = r_t(-z): slope buy on [-up, 0], sell on [0, down]
        s = np.concatenate((slopes, buy[:, t, None], sell[:, t, None]), axis=1)
        ln = np.concatenate((lengths, up[:, t, None], down[:, t, None]), axis=1)
        order = np.argsort(-s, axis=1, kind="stable")
        s = np.take_along_axis(s, order, axis=1)
        ln = np.take_along_axis(ln, order, axis=1)
        conv_left = left - up[:, t]
        conv_value = value - buy[:, t] * up[:, t] + models.offset[:, t]
        # restrict to [0, W]
        ends = np.cumsum(ln, axis=1)
        starts = ends - ln
        a = np.maximum(-conv_left, 0.0)[:, None]
        b = np.minimum(width - conv_left, ends[:, -1])[:, None]
        skipped = np.minimum(ends, a) - np.minimum(starts, a)
        ln = np.minimum(np.maximum(ends, a), b) - np.minimum(np.maximum(starts, a), b)
        value = conv_value + np.sum(s * skipped, axis=1)
        left = conv_left + a[:, 0]
        # drop the segments the restriction emptied (moving them last keeps the order of
        # the others, and their positions: they have no length)
        kept = ln > 0
        count = int(kept.sum(axis=1).max(initial=0))
        if count < s.shape[1]:
            order = np.argsort(~kept, axis=1, kind="stable")[:, :count]
            s = np.take_along_axis(s, order, axis=1)
            ln = np.take_along_axis(ln, order, axis=1)
        slopes, lengths = s, ln
        history.append((left, s, ln))
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
    return np.asarray(np.sum(slopes * covered, axis=1), dtype=float)


def to_grid(moves: np.ndarray, battery: Battery) -> tuple[np.ndarray, np.ndarray]:
    """Stored-energy moves -> grid-side (charge_mw, discharge_mw)."""
    charge = np.where(moves > 0, moves / battery.eta_charge, 0.0)
    discharge = np.where(moves < 0, -moves * battery.eta_discharge, 0.0)
    return charge, discharge
