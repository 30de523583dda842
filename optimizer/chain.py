"""Exact optimum of one chain of hours (``continuous`` horizon) by dynamic programming over
piecewise-linear value functions that need not be concave.

Notation of ``optimizer.envelope``: stored energy above the floor ``x`` in ``[0, W]``, from
``x0`` at the start of the chain back to ``x0`` at its end; in hour ``t`` the level moves by
``u`` in ``[-D, C]`` and earns ``-a_t u`` charging (``u >= 0``) or ``-b_t u`` discharging.

The value-to-go ``V_t`` (best revenue from hour ``t`` on, from level ``x``) is kept exactly as
a continuous piecewise-linear function on an interval (breakpoints and values). One hour is

    V_{t-1}(x) = max( a x + max_{y in [x, x + C]} (V_t(y) - a y),
                      b x + max_{y in [x - D, x]} (V_t(y) - b y) )

-- charge-only and discharge-only branches, each a linear reward, so never both in one hour;
no concavity is needed. Each branch is a sliding-window maximum of a piecewise-linear
function ``F``. Between consecutive points of ``{breakpoints of F} - {window offsets}`` the
window's two ends move linearly over pieces where ``F`` is linear and the breakpoints strictly
inside the window do not change, so there the maximum is the upper envelope of three lines
(``F`` at the left end, ``F`` at the right end, the best interior breakpoint): computed exactly
with its at most three crossings. The maximum of the two branches is again exact (both are
linear between the union of their breakpoints; one crossing at most per piece). Points where
the slope does not change are dropped, which keeps the number of breakpoints near the number
of distinct slopes that matter (tens for a 4-hour battery; the bench prints the peak).

The forward pass follows the stored ``V_t``: from the current level, the best next level is a
window end or a breakpoint inside the window (a piecewise-linear maximum is attained there);
ties go to the smallest move, so indifferent hours idle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.battery import Battery
from optimizer.errors import DeadlineExceededError

#: breakpoints closer than this (relative to W) are merged
X_REL = 1e-12
#: a breakpoint whose value is within this of its neighbours' chord (relative) is dropped
V_REL = 1e-13
#: hours between deadline checks
CHECK_EVERY = 256

_TRUE = np.array([True])
_BRANCHES = np.array([0, 1])
_NEG_INF = np.array([-np.inf])


@dataclass(frozen=True)
class ChainSolution:
    moves: np.ndarray  # stored-energy move per hour (MWh)
    value: float  # V_0(x0): the optimal revenue (MXN)
    peak_breakpoints: int


def _range_max(f: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``max(f[lo[k]:hi[k]])`` per k (``0 <= lo, hi <= f.size``), ``-inf`` where empty."""
    padded = np.concatenate((f, _NEG_INF))  # so that an end index may equal f.size
    idx = np.empty(2 * lo.size, dtype=np.intp)
    idx[0::2], idx[1::2] = lo, hi
    out = np.maximum.reduceat(padded, idx)[0::2]  # reduce(f[lo:hi]) where lo < hi
    return np.where(hi > lo, out, -np.inf)


def _both_windows(
    xs: np.ndarray, vs: np.ndarray, rates: np.ndarray, offsets: np.ndarray, width: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Both branches of one hour at once (row 0: charge, window ``[x, x + C]``; row 1:
    discharge, ``[x - D, x]``): ``rate_r x + max F_r(y)`` over the window within V's domain,
    with ``F_r(y) = V(y) - rate_r y``, for every ``x`` in ``[0, W]`` where the window meets
    the domain. Returns both rows' breakpoints and values concatenated, and where the second
    row starts (coinciding candidate points are kept; ``_simplify`` merges them).

    Candidates are V's breakpoints minus each window offset and the domain's ends; between two
    consecutive candidates the maximum is the upper envelope of three lines (F at the left
    end, F at the right end, the best breakpoint strictly inside), added with its crossings."""
    lo_off, hi_off = offsets[:, 0:1], offsets[:, 1:2]
    first, last = xs[0], xs[-1]
    d_lo = np.maximum(0.0, first - hi_off)
    d_hi = np.minimum(width, last - lo_off)
    cand = np.sort(
        np.clip(np.concatenate((xs - lo_off, xs - hi_off, d_lo, d_hi), axis=1), d_lo, d_hi),
        axis=1,
    )
    k = cand.shape[1]
    y = np.concatenate((np.maximum(cand + lo_off, first), np.minimum(cand + hi_off, last)), axis=1)
    rate = rates[:, None]
    ends = np.interp(y, xs, vs) - rate * y  # F at the window's two ends, every candidate
    a_c, b_c = ends[:, :k], ends[:, k:]
    xl, xr = cand[:, :-1], cand[:, 1:]
    mid = 0.5 * (xl + xr)
    m_pts = xs.size
    i_lo = np.searchsorted(xs, (mid + lo_off).ravel(), side="right").reshape(mid.shape)
    i_hi = np.searchsorted(xs, (mid + hi_off).ravel(), side="left").reshape(mid.shape)
    f = vs[None, :] - rate * xs[None, :]
    shift = np.array([[0], [m_pts + 1]])
    m = _range_max(
        np.concatenate((f[0], _NEG_INF, f[1])), (i_lo + shift).ravel(), (i_hi + shift).ravel()
    ).reshape(mid.shape)
    fin = np.isfinite(m)
    m0 = np.where(fin, m, 0.0)
    a_l, a_r, b_l, b_r = a_c[:, :-1], a_c[:, 1:], b_c[:, :-1], b_c[:, 1:]
    d_l = np.array([a_l - b_l, a_l - m0, b_l - m0])
    d_r = np.array([a_r - b_r, a_r - m0, b_r - m0])
    cross = d_l * d_r < 0
    cross[1:] &= fin
    v_c = np.maximum(a_c, b_c)
    v_c[:, :-1] = np.maximum(v_c[:, :-1], m)
    v_c[:, -1] = np.maximum(v_c[:, -1], m[:, -1])
    v_c += rate * cand
    if not cross.any():
        return cand.ravel(), v_c.ravel(), k
    _, row, at = np.nonzero(cross)
    dl, dr = d_l[cross], d_r[cross]
    tt = dl / (dl - dr)
    x_cross = xl[row, at] + tt * (xr[row, at] - xl[row, at])
    v_cross = np.maximum(
        np.maximum(
            a_l[row, at] + tt * (a_r[row, at] - a_l[row, at]),
            b_l[row, at] + tt * (b_r[row, at] - b_l[row, at]),
        ),
        m[row, at],
    )
    v_cross += rates[row] * x_cross
    x = np.concatenate((cand.ravel(), x_cross))
    v = np.concatenate((v_c.ravel(), v_cross))
    order = np.lexsort((x, np.concatenate((np.repeat(_BRANCHES, k), row))))
    return x[order], v[order], k + int(np.count_nonzero(row == 0))


def _upper(
    x1: np.ndarray, v1: np.ndarray, x2: np.ndarray, v2: np.ndarray, tol_x: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise maximum of two piecewise-linear functions on overlapping intervals (each is
    -inf outside its own interval)."""
    xs = np.sort(np.concatenate((x1, x2)))

    def at(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
        inside = (x >= xp[0] - tol_x) & (x <= xp[-1] + tol_x)
        return np.where(inside, np.interp(x, xp, fp), -np.inf)

    g, h = at(xs, x1, v1), at(xs, x2, v2)
    both = np.isfinite(g) & np.isfinite(h)
    d = np.where(both, g - h, 0.0)
    cross = both[:-1] & both[1:] & (d[:-1] * d[1:] < 0)
    k = np.flatnonzero(cross)
    if not k.size:
        return xs, np.maximum(g, h)
    t = d[k] / (d[k] - d[k + 1])
    xc = xs[k] + t * (xs[k + 1] - xs[k])
    vc = g[k] + t * (g[k + 1] - g[k])
    x = np.concatenate([xs, xc])
    v = np.concatenate([np.maximum(g, h), vc])
    order = np.argsort(x, kind="stable")
    return x[order], v[order]


def _simplify(
    x: np.ndarray, v: np.ndarray, tol_x: float, tol_v: float
) -> tuple[np.ndarray, np.ndarray]:
    """Merge points closer than ``tol_x`` (keeping the larger value) and drop interior points
    within ``tol_v`` of the chord of their neighbours."""
    if x.size > 1:
        new = np.concatenate((_TRUE, x[1:] - x[:-1] > tol_x))
        if not new.all():  # close points are adjacent: one maximum per run
            v = np.maximum.reduceat(v, np.flatnonzero(new))
            x = x[new]
    if x.size > 2:
        w = (x[1:-1] - x[:-2]) / (x[2:] - x[:-2])
        chord = v[:-2] + w * (v[2:] - v[:-2])
        flat = np.abs(v[1:-1] - chord) <= tol_v
        if flat.any():  # a run of such points is one straight piece (to within its tol_v's)
            keep = np.concatenate((_TRUE, ~flat, _TRUE))
            x, v = x[keep], v[keep]
    return x, v


def solve_chain(
    buy: np.ndarray,
    sell: np.ndarray,
    battery: Battery,
    *,
    deadline_s: float | None = None,
) -> ChainSolution:
    """Optimal stored-energy moves over one chain of hours (``buy`` = a_t, ``sell`` = b_t)."""
    n = buy.size
    E = battery.energy_mwh
    width = E * (battery.max_soc - battery.min_soc)
    x0 = E * (battery.soc_start - battery.min_soc)
    up = battery.eta_charge * battery.power_mw
    down = battery.power_mw / battery.eta_discharge
    tol_x = X_REL * max(width, up, down)
    scale = max(1.0, float(np.max(np.abs(buy), initial=0.0)), float(np.max(np.abs(sell))))
    tol_v = V_REL * scale * max(width, up, down)
    offsets = np.array([[0.0, up], [-down, 0.0]])
    xs, vs = np.array([x0]), np.array([0.0])
    tables: list[tuple[np.ndarray, np.ndarray]] = [(xs, vs)]
    peak = 1
    for t in range(n - 1, -1, -1):
        if deadline_s is not None and t % CHECK_EVERY == 0 and time.monotonic() > deadline_s:
            raise DeadlineExceededError(
                "the request's deadline passed while scheduling the continuous chain"
            )
        x_all, v_all, split = _both_windows(xs, vs, np.array([buy[t], sell[t]]), offsets, width)
        xc, vc, xd, vd = x_all[:split], v_all[:split], x_all[split:], v_all[split:]
        xs, vs = _simplify(*_upper(xc, vc, xd, vd, tol_x), tol_x, tol_v)
        peak = max(peak, xs.size)
        tables.append((xs, vs))
    tables.reverse()  # tables[t] is V_t
    value = float(np.interp(x0, *tables[0]))

    moves = np.zeros(n)
    x = x0
    for t in range(n):
        nxt_x, nxt_v = tables[t + 1]
        a, b = float(buy[t]), float(sell[t])
        lo, hi = nxt_x[0], nxt_x[-1]
        # a maximum of a piecewise-linear function over an interval is at a breakpoint or at
        # an end: the charge window [x, x + C] and the discharge window [x - D, x] in V's
        # domain; the sign of the move tells which reward applies
        ends = np.array([x, x + up, x - down])
        ys = np.concatenate((nxt_x, np.minimum(np.maximum(ends, lo), hi)))
        u = ys - x
        ok = (u <= up + tol_x) & (u >= -down - tol_x)
        reward = np.where(u > 0, -a * u, -b * u)
        total = np.where(ok, np.interp(ys, nxt_x, nxt_v) + reward, -np.inf)
        top = total.max()
        near = total >= top - 1e-12 * max(1.0, abs(top))
        pick = int(np.argmin(np.where(near, np.abs(u), np.inf)))
        moves[t] = ys[pick] - x
        x = float(ys[pick])
    return ChainSolution(moves=moves, value=value, peak_breakpoints=peak)
