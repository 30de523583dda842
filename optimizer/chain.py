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

Two exact shortcuts keep the per-hour cost near numpy's per-call floor (a year is 8,784
sequential hours, so the number of numpy calls per hour is what counts):

* **V_t concave** (checked from its slopes; a slope that rises by ``ds`` between pieces of
  lengths ``l1``, ``l2`` with ``ds min(l1, l2) <= tol_v`` counts as rounding noise). A
  concave hour (``a_t >= b_t``, i.e. ``p_t (1 - eta_c eta_d) + kappa eta_c eta_d >= 0``)
  is then the sup-convolution of two concave functions: V's slopes merged with ``a_t`` over
  ``C`` and ``b_t`` over ``D``, restricted to ``[0, W]`` -- concave again
  (``optimizer.envelope``'s step, one row). A non-concave hour is the upper envelope of
  two such merges (charge-only: ``a_t`` over ``C``; discharge-only: ``b_t`` over ``D``);
  the result is concave again unless the two cross. About a dozen numpy calls instead of
  the general step's ~60. Merged pieces whose joint lies within ``tol_v`` of their chord
  become one piece.
* **The general step** (above) runs only where V_t is not concave; a crossing of the two
  branches always leaves a convex kink, so it marks V_{t-1} non-concave without a check.

The forward pass follows the stored ``V_t`` in plain Python (a handful of candidates per
hour, where numpy's per-call cost would dominate): from the current level, the best next
level is a window end or a breakpoint inside the window (a piecewise-linear maximum is
attained there); ties go to the smallest move, so indifferent hours idle.

Work: every hour costs one merge or one general step on the current breakpoints, so the
total is linear in the hours times a function of the breakpoint count. That count is what
varies: ~10 for a 4-hour battery on real prices with negative hours, ~200 for a 168-hour one
over solar dips, but also ~160 for a 4-hour battery over nearly flat very negative prices
(-1200 +- 1: every level reachable by whole charge and discharge moves becomes a
breakpoint); ``bench/bench_worst_case.py`` prints the peak. No step depends on a clock.
"""

from __future__ import annotations

import bisect
import math
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
    x1: np.ndarray, v1: np.ndarray, x2: np.ndarray, v2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Pointwise maximum of two piecewise-linear functions on overlapping intervals (each is
    -inf outside its own interval), and whether they cross (then the maximum has a convex
    kink there: it turns from the flatter function to the steeper one)."""
    xs = np.sort(np.concatenate((x1, x2)))
    g = np.interp(xs, x1, v1, left=-np.inf, right=-np.inf)
    h = np.interp(xs, x2, v2, left=-np.inf, right=-np.inf)
    top = np.maximum(g, h)
    d = g - h  # +-inf where only one is defined (every point is in one of the intervals)
    d = np.where(np.isfinite(d), d, 0.0)  # crossings only where both are defined
    cross = d[:-1] * d[1:] < 0
    if not cross.any():
        return xs, top, False
    k = np.flatnonzero(cross)
    t = d[k] / (d[k] - d[k + 1])
    xc = xs[k] + t * (xs[k + 1] - xs[k])
    vc = g[k] + t * (g[k + 1] - g[k])
    x = np.concatenate((xs, xc))
    order = np.argsort(x, kind="stable")
    return x[order], np.concatenate((top, vc))[order], True


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


def _concave_pieces(
    xs: np.ndarray, vs: np.ndarray, tol_v: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """V's slopes and segment lengths when V is concave, else None. A slope that rises by
    ``ds`` between pieces of lengths ``l1``, ``l2`` counts as concave when ``ds min(l1, l2)
    <= tol_v``: V is then within ``tol_v`` of its concave hull there (rounding noise of
    the values, not a shape)."""
    lengths = xs[1:] - xs[:-1]
    slopes = (vs[1:] - vs[:-1]) / lengths
    if (
        slopes.size > 1
        and ((slopes[1:] - slopes[:-1]) * np.minimum(lengths[1:], lengths[:-1]) > tol_v).any()
    ):
        return None
    return slopes, lengths


def _merged(
    left: float,
    left_v: float,
    slopes: np.ndarray,
    lengths: np.ndarray,
    width: float,
    tol_x: float,
    tol_v: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The concave function that starts at (``left``, ``left_v``) and follows ``slopes``
    (any order: sorted here, decreasing) over ``lengths``, restricted to ``[0, width]``;
    neighbouring pieces whose joint is within ``tol_v`` of their chord become one."""
    order = np.argsort(-slopes, kind="stable")
    s, ln = slopes[order], lengths[order]
    new = np.concatenate((_TRUE, (s[:-1] - s[1:]) * np.minimum(ln[:-1], ln[1:]) > tol_v))
    if not new.all():  # equal slopes: one piece (their lengths add up)
        starts = np.flatnonzero(new)
        s, ln = s[starts], np.add.reduceat(ln, starts)
    x = np.empty(s.size + 1)
    v = np.empty(s.size + 1)
    x[0], v[0] = left, left_v
    np.cumsum(ln, out=x[1:])
    np.cumsum(s * ln, out=v[1:])
    x[1:] += left
    v[1:] += left_v
    lo, hi = max(left, 0.0), min(float(x[-1]), width)
    if lo == left and hi == x[-1]:
        return x, v
    inside = (x > lo + tol_x) & (x < hi - tol_x)
    ends = np.interp(np.array([lo, hi]), x, v)
    return (
        np.concatenate(((lo,), x[inside], (hi,))),
        np.concatenate((ends[:1], v[inside], ends[1:])),
    )


def _concave_hour(
    xs: np.ndarray,
    vs: np.ndarray,
    pieces: tuple[np.ndarray, np.ndarray],
    a: float,
    b: float,
    up: float,
    down: float,
    width: float,
    tol_x: float,
    tol_v: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One hour from a concave V_t whose hour is concave too (``a >= b``): the
    sup-convolution with the hour's reward is the merge of the slope sequences (charging at
    slope ``a`` over ``C``, discharging at ``b`` over ``D``; ``optimizer.envelope``), and so
    concave again."""
    slopes, lengths = pieces
    return _merged(
        float(xs[0]) - up,
        float(vs[0]) - a * up,
        np.concatenate((slopes, (a, b))),
        np.concatenate((lengths, (up, down))),
        width,
        tol_x,
        tol_v,
    )


def _split_hour(
    xs: np.ndarray,
    vs: np.ndarray,
    pieces: tuple[np.ndarray, np.ndarray],
    a: float,
    b: float,
    up: float,
    down: float,
    width: float,
    tol_x: float,
    tol_v: float,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """One non-concave hour (``a < b``) from a concave V_t: the charge-only and the
    discharge-only branch, each the merge of V's slopes with one segment (so concave);
    V_{t-1} is their upper envelope."""
    slopes, lengths = pieces
    x_first, v_first = float(xs[0]), float(vs[0])
    charge = _merged(
        x_first - up,
        v_first - a * up,
        np.concatenate((slopes, (a,))),
        np.concatenate((lengths, (up,))),
        width,
        tol_x,
        tol_v,
    )
    discharge = _merged(
        x_first,
        v_first,
        np.concatenate((slopes, (b,))),
        np.concatenate((lengths, (down,))),
        width,
        tol_x,
        tol_v,
    )
    return charge, discharge


def _at(xl: list[float], vl: list[float], y: float) -> float:
    """Linear interpolation of a breakpoint list at ``y`` (inside its domain)."""
    i = bisect.bisect_right(xl, y)
    if i == 0:
        return vl[0]
    if i == len(xl):
        return vl[-1]
    x_left, x_right = xl[i - 1], xl[i]
    return vl[i - 1] + (vl[i] - vl[i - 1]) * (y - x_left) / (x_right - x_left)


def _best_move(
    xl: list[float],
    vl: list[float],
    x: float,
    a: float,
    b: float,
    up: float,
    down: float,
    tol_x: float,
) -> float:
    """The best next level from ``x`` under V_{t+1} (breakpoints ``xl``, values ``vl``): a
    maximum of a piecewise-linear function over an interval is at a breakpoint or at an end,
    so the candidates are ``x`` itself, the charge window's end ``x + C`` and the discharge
    window's end ``x - D`` (each within V's domain) and V's breakpoints in ``[x - D, x + C]``;
    the sign of the move tells which reward applies. Ties go to the smallest move
    (indifferent hours idle). Plain Python: a handful of candidates, where numpy's per-call
    cost would dominate."""
    lo, hi = xl[0], xl[-1]
    first = bisect.bisect_left(xl, x - down - tol_x)
    last = bisect.bisect_right(xl, x + up + tol_x)
    ends = [min(max(y, lo), hi) for y in (x, x + up, x - down)]
    ys = xl[first:last] + ends
    vals = vl[first:last] + [_at(xl, vl, y) for y in ends]
    totals = [v - (a * (y - x) if y > x else b * (y - x)) for y, v in zip(ys, vals, strict=True)]
    top = max(totals)
    near = top - 1e-12 * max(1.0, abs(top))
    best_y, best_u = x, math.inf
    for y, total in zip(ys, totals, strict=True):
        if total >= near and abs(y - x) < best_u:
            best_y, best_u = y, abs(y - x)
    return best_y


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
    tables: list[tuple[np.ndarray, np.ndarray]] = [(xs, vs)] * (n + 1)  # tables[t] is V_t
    peak = 1
    pieces: tuple[np.ndarray, np.ndarray] | None = (np.empty(0), np.empty(0))
    buys, sells = buy.tolist(), sell.tolist()
    for t in range(n - 1, -1, -1):
        if deadline_s is not None and t % CHECK_EVERY == 0 and time.monotonic() > deadline_s:
            raise DeadlineExceededError(
                "the request's deadline passed while scheduling the continuous chain"
            )
        a, b = buys[t], sells[t]
        if pieces is not None and a >= b:
            xs, vs = _concave_hour(xs, vs, pieces, a, b, up, down, width, tol_x, tol_v)
            pieces = (np.diff(vs) / np.diff(xs), np.diff(xs))
        else:
            if pieces is not None:
                (xc, vc), (xd, vd) = _split_hour(
                    xs, vs, pieces, a, b, up, down, width, tol_x, tol_v
                )
            else:
                x_all, v_all, split = _both_windows(xs, vs, np.array([a, b]), offsets, width)
                xc, vc, xd, vd = x_all[:split], v_all[:split], x_all[split:], v_all[split:]
            xs, vs, crossed = _upper(xc, vc, xd, vd)
            xs, vs = _simplify(xs, vs, tol_x, tol_v)
            # a crossing leaves a convex kink (V not concave; if it was below tol_v and
            # simplified away, the general step stays exact, only slower)
            pieces = None if crossed else _concave_pieces(xs, vs, tol_v)
        peak = max(peak, xs.size)
        tables[t] = (xs, vs)
    value = float(np.interp(x0, *tables[0]))

    moves = np.empty(n)
    x = x0
    for t in range(n):
        nxt_x, nxt_v = tables[t + 1]
        x_next = _best_move(nxt_x.tolist(), nxt_v.tolist(), x, buys[t], sells[t], up, down, tol_x)
        moves[t] = x_next
        moves[t] -= x
        x = x_next
    return ChainSolution(moves=moves, value=value, peak_breakpoints=peak)
