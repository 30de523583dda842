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
decreasing order, segment lengths), for all days at once (days are rows; shorter days are
padded with hours that cannot move), so a year is ~25 vectorised steps, not 366 solver calls.

The forward pass follows the marginal value of stored energy: charge while ``V_t'`` exceeds
the charging price ``p/eta_c``, discharge while it is below the discharge value
``(p - kappa) eta_d``, otherwise idle -- within the power limits and ``V_t``'s domain.

Days with a non-concave hour (prices negative enough that burning energy would pay) are not
handled here; ``needs_binary`` tells which, and the caller solves those with HiGHS.
"""

from __future__ import annotations

import numpy as np

from optimizer.battery import Battery


def needs_binary(prices: np.ndarray, battery: Battery) -> np.ndarray:
    """Hours where simultaneous charge and discharge would pay: ``r_t`` is not concave."""
    loop = battery.eta_charge * battery.eta_discharge
    return prices * (1.0 - loop) + battery.degradation_cost_mxn_per_mwh * loop < 0


def solve_days(
    prices: np.ndarray, movable: np.ndarray, battery: Battery
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal daily schedules for a (days x hours) price matrix.

    ``movable[i, t]`` is False for padding hours (the battery idles there). Every hour must be
    concave (``needs_binary`` false). Returns grid-side ``(charge_mw, discharge_mw)`` matrices
    and each day's optimal revenue (MXN) as computed by the backward pass.
    """
    n_days, n_hours = prices.shape
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    kappa = battery.degradation_cost_mxn_per_mwh
    E = battery.energy_mwh
    width = E * (battery.max_soc - battery.min_soc)
    x0 = E * (battery.soc_start - battery.min_soc)
    up = np.where(movable, eta_c * battery.power_mw, 0.0)  # max stored-energy gain per hour
    down = np.where(movable, battery.power_mw / eta_d, 0.0)  # max stored-energy loss per hour
    charge_value = prices / eta_c  # cost of one stored MWh
    discharge_value = (prices - kappa) * eta_d  # income of one stored MWh

    k = 2 * n_hours
    rows = np.arange(n_days)[:, None]
    # V_T: the single point x0 (value 0)
    left = np.full(n_days, x0)
    value = np.zeros(n_days)
    slopes = np.zeros((n_days, k))
    lengths = np.zeros((n_days, k))
    history: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [None] * (n_hours + 1)  # type: ignore[list-item]
    history[n_hours] = (left, slopes[:, :0], lengths[:, :0])
    used = 0
    for t in range(n_hours - 1, -1, -1):
        # sup-convolve with h_t(z) = r_t(-z): slope p/eta_c on [-C, 0], (p-kappa) eta_d on [0, D]
        slopes[:, used] = charge_value[:, t]
        lengths[:, used] = up[:, t]
        slopes[:, used + 1] = discharge_value[:, t]
        lengths[:, used + 1] = down[:, t]
        used += 2
        s, ln = slopes[:, :used], lengths[:, :used]
        order = np.argsort(-s, axis=1, kind="stable")
        s = s[rows, order]
        ln = ln[rows, order]
        conv_left = left - up[:, t]
        conv_value = value - charge_value[:, t] * up[:, t]
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
        history[t] = (left, s.copy(), ln.copy())

    # forward pass
    day_value = value + _integral(*history[0][1:], x0 - left)
    x = np.full(n_days, x0)
    moves = np.empty((n_days, n_hours))
    for t in range(n_hours):
        lft, s, ln = history[t + 1]
        right = lft + ln.sum(axis=1)
        charge_to = lft + np.sum(np.where(s > charge_value[:, t, None], ln, 0.0), axis=1)
        discharge_to = lft + np.sum(np.where(s >= discharge_value[:, t, None], ln, 0.0), axis=1)
        target = np.where(x < charge_to, charge_to, np.where(x > discharge_to, discharge_to, x))
        target = np.clip(target, x - down[:, t], x + up[:, t])
        target = np.clip(target, lft, right)
        moves[:, t] = target - x
        x = target
    charge = np.where(moves > 0, moves / eta_c, 0.0)
    discharge = np.where(moves < 0, -moves * eta_d, 0.0)
    return charge, discharge, day_value


def _integral(slopes: np.ndarray, lengths: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Integral of the slopes from the left end over ``span`` (per row)."""
    ends = np.cumsum(lengths, axis=1)
    starts = ends - lengths
    covered = np.clip(ends, 0.0, span[:, None]) - np.clip(starts, 0.0, span[:, None])
    return np.sum(slopes * covered, axis=1)
