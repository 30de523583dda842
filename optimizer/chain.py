"""Exact optimum of one chain of hours (``continuous`` horizon) by dynamic programming over
piecewise-linear value functions that need not be concave.

``solve_chain`` first tries the chain's *lattice* (``optimizer.lattice.chain_levels``: the
levels reachable from 0, W and x0 by whole moves, which hold an optimal schedule of the
chain). When C and D are commensurate -- ``C / D`` is the round trip: 0.85 = 17/20, 0.9 =
9/10 and 0.87 = 87/100 give 134, 70 and 672 levels for the 4-hour PRD battery at its
default start (up to ~1.5 times more from other starts: three cosets, from 0, W and x0)
-- and the lattice is small enough (``MAX_LATTICE_LEVELS``, ``MAX_LATTICE_ENTRIES``), the
chain is a Bellman recursion on those levels at a fixed cost per hour whatever the prices (a
year: 0.08-0.13 s on one core, the forward pass about as much as the values;
``bench/bench_worst_case.py``). A lattice whose values over the chain do not fit
``MAX_LATTICE_ENTRIES`` keeps every k-th hour's values only, and the forward pass recomputes
the hours between from them (the same bits; up to twice the work, less where
the path's reach is narrow: ``lattice.ChainValues.along``), up to ``MAX_KEPT_LEVELS`` levels:
one-way efficiencies 0.95 / 0.95 (round trip 0.9025 = 361/400) give 1,369 levels, a year in
~0.33 s. Otherwise (a round trip like 0.8736 or 0.92 / 0.92 over a year, or a 168-hour
battery: thousands of levels) it takes the piecewise-linear recursion below
(``solve_piecewise``), whose cost grows with the breakpoints -- and where the lattice has at
most ``MAX_SWITCH_LEVELS`` levels, the recursion gives way to it as soon as the hours left
-- costed like the last ``CHECK_EVERY`` hours, at the current breakpoints, by a work model of
both routes (``WorkModel``: breakpoint, level and window counts, never a clock) -- would cost
more than the whole lattice times a margin that grows with the lattice, or once the hours done
have cost the whole lattice and the hours left still would (``solve``'s ``dearer``). Both
are exact; the switch only bounds the work. Measured (a
year, one core, ``bench/bench_worst_case.py --no-peer``, 2026-11-29, after the lattice hour's
rework by slices): -1200 +- 1 at 0.92 / 0.92 1.7 s by the recursion -> 0.48 s (2,071
levels), at round trip 0.8736 1.82 -> 0.71 s (4,206 levels), prices drifting far below zero
with a 168-h battery at round trip 0.85 16.9 -> 0.51-0.57 s (5,576 levels) and at 0.87 34 ->
1.31-1.37 s (28,206 levels), solar dips with a 168-h battery 1.30 -> 0.67 s (8,364 levels); on
real-looking prices (10 breakpoints) the recursion stays (0.38-0.41 s). Where no lattice of
at most ``MAX_SWITCH_LEVELS`` levels exists (round trip 0.87312345, or 0.8736 with a 168-h
battery: 176,652 levels) the recursion runs to its end: over those drifting prices 6.9-7.0 s
(bench, 2026-11-30; 10.6-11.6 s when measured before) in a process with the service's
allocator settings (``blueprints.memory``: the recursion keeps ~670 MB of value functions;
with glibc's defaults a fresh process faulted every large temporary in again, 23-24 s then).

Notation of ``optimizer.envelope``: stored energy above the floor ``x`` in ``[0, W]``, from
``x0`` at the start of the chain back to ``x0`` at its end; in hour ``t`` the level moves by
``u`` in ``[-D, C]`` and earns ``-a_t u`` charging (``u >= 0``) or ``-b_t u`` discharging.

The value-to-go ``V_t`` (best revenue from hour ``t`` on, from level ``x``) is kept exactly as
a continuous piecewise-linear function on an interval (breakpoints and values). One hour is

    V_{t-1}(x) = max( a x + max_{y in [x, x + C]} (V_t(y) - a y),
                      b x + max_{y in [x - D, x]} (V_t(y) - b y) )

-- charge-only and discharge-only branches, each a linear reward, so never both in one hour;
no concavity is needed. Each branch is a sliding-window maximum of a piecewise-linear
function ``F_r = V_t - r y``; a maximum over an interval is at one of its ends or at a
breakpoint inside. So on every interval of the grid ``{xs - C} u {xs} u {xs + D}`` (``xs``:
V_t's breakpoints; within ``[0, W]``), where no window end crosses a breakpoint, V_{t-1} is
the upper envelope of at most five lines: ``V(x + C) - aC``, ``V(x - D) + bD``, ``a x + max
F_a`` over the breakpoints inside ``(x, x + C)``, ``b x + max F_b`` over those inside ``(x -
D, x)``, and ``V(x)`` -- the last only when ``a > b`` (when ``a <= b``, idling never beats
the rest: where V rises at least as steeply as ``a``, ``F_a`` does not fall to the right of
``x`` within the window; where it rises less steeply, ``F_b`` does not fall to its left). Its
values at the grid points are exact; inside an interval it is convex and bends where the line
on top at the left end crosses the one on top at the right (checked against the others, and
split again where a third rises above that crossing). ``_general_hour`` does this in one pass
for the whole grid (which breakpoints and domain ends an interval sees is read from the
grid's sorted order, not from arithmetic on shifted positions, so rounding cannot put a
breakpoint on the wrong side of a window).

Points where the slope does not change are dropped (``_simplify``): points closer than
``X_REL W`` merge (keeping the larger value: rounding moves a level reached along different
paths, or the crossing of two nearly parallel lines, by far more than 1e-15 of W), and a point
within ``tol_v`` of the chord of its neighbours goes -- but a run of such points only as far
as each lies within ``tol_v`` of the chord of the points kept around it (two neighbouring
points can each be near their neighbours' chord and still be a real kink together; dropping
both once cost V up to 5e-6 of the year's value over nearly flat negative prices, while the
schedule, found by the forward pass, was right). That keeps the number of breakpoints near
the number of slopes that matter (tens for a 4-hour battery; the bench prints the peak).

Three exact shortcuts keep the per-hour cost near numpy's per-call floor (a year is 8,784
sequential hours, so the number of numpy calls per hour is what counts):

* **V_t concave** (checked from its slopes; a slope that rises by ``ds`` between pieces of
  lengths ``l1``, ``l2`` with ``ds min(l1, l2) <= tol_v`` counts as rounding noise). A
  concave hour (``a_t >= b_t``, i.e. ``p_t (1 - eta_c eta_d) + kappa eta_c eta_d >= 0``)
  is then the sup-convolution of two concave functions: V's slopes merged with ``a_t`` over
  ``C`` and ``b_t`` over ``D``, restricted to ``[0, W]`` -- concave again
  (``optimizer.envelope``'s step, one row). A non-concave hour is the upper envelope of
  two such merges (charge-only: ``a_t`` over ``C``; discharge-only: ``b_t`` over ``D``);
  the result is concave again unless the two cross. About a dozen numpy calls instead of
  the general step's ~50. Merged pieces whose joint lies within ``tol_v`` of their chord
  become one piece.
* **The general step** (above) runs only where V_t is not concave; a kink inside a grid
  interval is convex, so it marks V_{t-1} non-concave without a check.
* **Runs of one rate repeat a period.** Write ``T_r`` for one hour at rates ``r = (a, b)``:
  ``T_r(V + c) = T_r(V) + c`` for any constant ``c`` (both branches and the restriction to
  ``[0, W]`` commute with adding a constant). If hours ``t .. t + k`` all have rates ``r`` and
  ``V_t = V_{t+k} + c``, then ``V_{t-1} = T_r(V_t) = T_r(V_{t+k}) + c = V_{t+k-1} + c``, and
  so on down the run: those hours are copies of the period just computed, shifted by ``c``,
  not recursions. After each recursed hour inside a run, ``V_t`` is compared with
  ``V_{t+1} .. V_{t+k}`` (``k <= MAX_PERIOD``, only those with as many breakpoints);
  equality means positions within ``tol_x`` and a rise that varies by at most ``tol_v``
  (``T_r`` does not expand differences in the maximum norm, so a tolerance stays one
  tolerance per hour). A year of -1200 MXN/MWh settles into a 37-hour period (``C / D =
  eta_c eta_d = 17/20`` for the PRD battery) and is copied from there on. The first hour
  recursed after a copied stretch takes its concavity from the copied V.

The forward pass follows the stored ``V_t`` in plain Python (a handful of candidates per
hour, where numpy's per-call cost would dominate): from the current level, the best next
level is a window end or a breakpoint inside the window (a piecewise-linear maximum is
attained there); ties go to the smallest move, so indifferent hours idle.

Work: every hour costs one merge, one general step on the current breakpoints, or one copy,
so the total is linear in the hours times a function of the breakpoint count. That count is
what varies: ~10 for a 4-hour battery on real prices with negative hours, ~200 for a
168-hour one over solar dips, but also ~150-200 for a 4-hour battery over nearly flat very
negative prices (-1200 +- 1: every level reachable by whole charge and discharge moves
becomes a breakpoint); ``bench/bench_worst_case.py`` prints the peak. No step depends on a
clock.

What an hour costs is numpy's per-call floor times the calls it makes, plus work linear in
the breakpoints: a general step makes ~50-60 calls (~25 more in ``_kinks`` where an interval
bends), ``_simplify`` ~40, the forward pass ~15. So the step keeps every line's values at
both ends of every interval in one array (one call for all lines and both ends), reads its
windows from the grid counts as views (``_range_maxima``; by sparse table beyond
``SPARSE_BREAKPOINTS``, where reduceat's cost per window dominates), and calls reductions and
cumulative sums directly rather than through numpy's Python wrappers; every value,
breakpoint and move is the same bit for bit as computed step by step. Measured on one core
(``bench/bench_worst_case.py``): a year of -1200 +- 1 with round trip 0.8736 (~250
breakpoints, every hour a general step) ~1.9 s, solar dips with a 168-hour battery ~1.25 s,
30 % negative hours ~0.4 s. Those first two are above SPEC's 1 s by the number of calls an
hour makes, not by their cost: the recursion now gives way to their lattices (above), and
closing such years where no lattice exists takes a step with fewer calls, which these exact,
bit-identical forms are not.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from optimizer import lattice
from optimizer.battery import Battery
from optimizer.errors import check_deadline

#: breakpoints closer than this (relative to W) are merged (positions reached along different
#: paths, or crossings of nearly parallel lines, differ by rounding far above 1e-15 of W)
X_REL = 1e-9
#: a breakpoint whose value is within this of its neighbours' chord (relative) is dropped
V_REL = 1e-13
#: hours between deadline checks
CHECK_EVERY = 256
#: the longest period looked for in a run of hours of one rate
MAX_PERIOD = 64
#: the most levels of a chain's lattice it is solved on (above, the piecewise recursion):
#: the recursion's work grows like levels x log2(levels) per hour (a year on 4,206 levels:
#: 0.73 s of one core) ...
MAX_LATTICE_LEVELS = 4096
#: ... and it keeps every hour's values for the forward pass: levels x (hours + 1) at most
#: this many (48 MB; a year: up to 683 levels). A larger lattice keeps every k-th hour's
#: only, and the forward pass recomputes a block of k rows at a time: k x levels more, which
#: grows with the square of the levels (a year on 96,601 levels: 106 MB of rows, 208 MB at
#: the peak in all, review; within the function's 1,769 MB)
MAX_LATTICE_ENTRIES = 6_000_000
#: window maxima of the general step by sparse table when reduceat would touch (by an estimate
#: from the breakpoints' density) this many times more entries than the table has ...
SPARSE_RATIO = 4.0
#: ... or when V has more breakpoints than this: reduceat's cost per window then outweighs the
#: table's (measured on whole chains, one core: a 168-h battery over drifting very negative
#: prices, ~1,000-3,400 breakpoints, 10 % less in all and 31 % less in the general step)
SPARSE_BREAKPOINTS = 512
#: the most levels a chain's lattice is solved on when its values are kept every k-th hour
#: only (the rows between recomputed going forward: up to twice the recursion's work; a year
#: on 1,369 levels, one-way efficiencies 0.95 / 0.95: ~0.65 s of one core whatever the
#: prices, where the piecewise recursion takes 0.5 s on real-looking prices but ~2 s over
#: nearly flat very negative ones; above, the recursion runs first and gives way to the
#: lattice where its breakpoints would cost more, ``MAX_SWITCH_LEVELS``)
MAX_KEPT_LEVELS = 1700
#: a chain whose lattice is larger, up to this many levels, starts with the piecewise
#: recursion and switches to the lattice (every k-th hour's values kept) where the
#: breakpoints make the recursion the dearer of the two (``solve``, ``WorkModel``); the
#: lattice is looked for only as large as could cost less than the hours left (a 168-h
#: battery at round trip 0.87: 28,206 levels, found in ~0.02 s; at one-way 0.92 / 0.92:
#: 86,941 levels, a year of drifting very negative prices on it 11.5 s and 202 MB, one-off
#: with the other core busy; the search to 100,000 levels for a 4-h battery at 0.87312345,
#: ~1 s, runs only where the recursion's hours left are modelled at more than ~3 s)
MAX_SWITCH_LEVELS = 100_000
#: the recursion gives way only where the hours left cost more than the lattice times ``1 +
#: levels / SWITCH_MARGIN_LEVELS`` (or where the rent paid reaches the lattice's price, see
#: ``solve``): a switch costs the whole chain on the lattice, and the hours left are costed
#: as if the breakpoints met stayed -- a burst of them (60 days drifting far below zero at
#: the end of an ordinary year) once sent a 168-h battery at round trip 0.87 to its lattice
#: of 47,009 levels, 3.7-5.1 s where the recursion takes 1.1 s (review); the larger the
#: lattice the surer that must be (the work model was fitted up to 28,206 levels: at 96,601
#: it ran 25-30 % low)
SWITCH_MARGIN_LEVELS = 25_000
#: breakpoints in a forward step's window above which its candidates are compared in numpy
WIDE_WINDOW = 24

_TRUE = np.array([True])
_SOURCES = np.array([[0], [1], [2]])
#: the value of a line on an interval where it does not exist (finite: no inf - inf)
_ABSENT = -1e150
#: the last entry of the general step's window values: what every empty window reads
_ABSENT_ENTRY = np.array([_ABSENT])
#: floor(log2(s)) for the spans s of the sparse table's windows up to 2**15 (0 for s = 0) ...
_FLOOR_LOG2 = np.concatenate(([0], np.frexp(np.arange(1, 1 << 15))[1] - 1)).astype(np.intp)
#: ... and s - 2**floor(log2(s)): where the second of the two covering halves starts
_PAST_HALF = np.arange(1 << 15) - (1 << _FLOOR_LOG2)
#: reductions called directly (ndarray.max/any go through Python wrappers: ~1 us a call)
_MAX = np.maximum.reduce
_ANY = np.logical_or.reduce
_SUM = np.add.accumulate
#: rows of the grid counts that bound each shifted line's domain (V(x + C): c0, V(x - D): c2,
#: V(x): c1)
_DOMAINS = np.array([0, 2, 1])


def _general_hour(
    xs: np.ndarray,
    vs: np.ndarray,
    a: float,
    b: float,
    up: float,
    down: float,
    width: float,
    shifts: np.ndarray,
    spread: np.ndarray,
    bounds: np.ndarray,
    tol_v: float,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """V_{t-1} from any V_t (breakpoints ``xs``, values ``vs``): the general step of the module
    docstring. Returns breakpoints and values (coinciding points kept; ``_simplify`` merges
    them) and whether some interval has a kink inside (a convex one: V_{t-1} not concave).

    The grid is ``xs - C``, ``xs``, ``xs + D`` (every breakpoint of every line below) within
    ``[0, W]`` (``bounds``), with 0 and W where the grid leaves it. On an interval of the grid
    V_{t-1} is the upper envelope of the lines

    * ``V(x + C) - a C`` (charge to the window's end) and ``V(x - D) + b D`` (discharge to
      it), where those levels lie in V's domain;
    * ``a x + max F_a(y_j)`` over the breakpoints ``y_j`` in ``(x, x + C)`` and ``b x +
      max F_b(y_j)`` over those in ``(x - D, x)`` (``F_r = V - r y``);
    * ``V(x)`` (idle) when ``a > b``; when ``a <= b`` idling is never better than one of the
      others (V has slope ``s`` at ``x``: if ``s >= a``, ``F_a`` does not fall from ``x`` to
      the next breakpoint or the window's end; if ``s <= a <= b``, ``F_b`` does not fall from
      ``x`` to the previous one or the window's start).

    Which breakpoints and which domain ends an interval sees is read from the grid's order
    (counts of each source up to the interval), not from arithmetic on shifted positions.
    Values at grid points are exact; an interval where no single line is the top at both
    ends has kinks inside: the crossing of the line on top at the left with the one on top
    at the right, checked against every line there and split again where a third one rises
    above it (``_kinks``).

    Every line's values at both ends of every interval sit in one array (``ends``: end x
    line x interval, with the top line's value as the last row), so each step below is one
    numpy call for all lines and both ends: a year is 8,784 of these hours, and numpy's
    per-call cost is most of each."""
    n = xs.size
    flat = (xs + spread).ravel()  # xs - C, xs, xs + D
    order = flat.argsort(kind="stable")  # three sorted runs
    g_all = flat[order]
    counts_all = (order // n == _SOURCES).cumsum(1)  # (3, 3n): entries <= g_k by source
    i_lo, i_hi = g_all.searchsorted(bounds).tolist()
    if i_lo == 0 and i_hi == 3 * n:
        g = g_all
    else:  # restricted to [0, W]: 0 and W (from ``bounds``) become grid points
        g = np.concatenate(
            (bounds[: int(i_lo > 0)], g_all[i_lo:i_hi], bounds[2 - int(i_hi < 3 * n) :])
        )
    m = g.size
    if m == 1:
        return g, np.interp(g, xs, vs), False
    # per interval: entries at or left of its left end (0, inserted, has those left of it)
    start = i_lo - 1 if i_lo > 0 else 0
    c = counts_all[:, start : start + m - 1]
    idle = a > b
    lines = 5 if idle else 4
    ends = np.empty((2, lines + 1, m - 1))  # left / right end, lines and their top
    # rows 0, 1: the best breakpoint strictly inside the charge / discharge window.
    # F_a, then F_b, then one value never inside a window: what an empty window gives
    # (``_ABSENT``; it also keeps every index of reduceat in range)
    f = np.concatenate((vs - a * xs, vs - b * xs, _ABSENT_ENTRY))
    # windows: charge, the breakpoints [c1, c0) of F_a; discharge, [c2, c1) of F_b (from n)
    begin = c[1:] + np.array([[0], [n]])
    span = c[:2] - c[1:]
    # a sparse table when the windows hold many breakpoints (estimated from their density) or
    # V has many (only speed depends on the choice; both give the same bits)
    held = (m - 1) * n * (up + down) / width if width > 0 else 0.0
    sparse = n > SPARSE_BREAKPOINTS or held > SPARSE_RATIO * n.bit_length() * f.size
    best = _range_maxima(f, begin, span, sparse)
    rated = np.array([[a], [b]]) * g
    np.add(best, rated[:, :-1], out=ends[0, :2])
    np.add(best, rated[:, 1:], out=ends[1, :2])
    # rows 2, 3 (, 4): V(x + C) - aC, V(x - D) + bD (, V(x)) where those levels are in V's
    # domain: its left end is in the grid at or before the interval, its right end after it
    # (a count of 1 .. n - 1 of its entries; counts run from 0 to n)
    k = lines - 2
    at = g + shifts[:k]  # x + C, x - D, x
    val = np.interp(at.ravel(), xs, vs).reshape(k, m)
    val[0] -= a * up
    val[1] += b * down
    seen = c[0::2] if k == 2 else c[_DOMAINS]
    inside = seen >= 1
    inside &= seen < n
    ends[:, 2:lines] = _ABSENT
    np.copyto(ends[0, 2:lines], val[:, :-1], where=inside)
    np.copyto(ends[1, 2:lines], val[:, 1:], where=inside)
    top = _MAX(ends[:, :lines], axis=1, out=ends[:, lines])
    v = np.concatenate((top[0], top[1, -1:]))  # each point: the larger of its two intervals
    np.maximum(v[1:-1], top[1, :-1], out=v[1:-1])
    on_top = ends[:, :lines] == ends[:, lines:]
    bent = ~_ANY(on_top[0] & on_top[1], axis=0)  # no one line on top at both ends
    if not np.count_nonzero(bent):
        return g, v, False
    xc, vc = _kinks(g, bent.nonzero()[0], ends, tol_v)
    if not xc.size:  # every kink within tol_v of its chord
        return g, v, True
    x = np.concatenate((g, xc))
    order = x.argsort(kind="stable")
    return x[order], np.concatenate((v, vc))[order], True


def _window_maxima(f: np.ndarray, window: np.ndarray, sparse: bool) -> np.ndarray:
    """``max f[begin : end]`` for every window: ``window`` holds rows of window starts and
    ends in turn (begin, end, begin, end, ...; ``end`` exclusive, ``begin <= end``; an
    empty window gives the last entry of ``f``, which no window holds: the caller's value for
    it); one row of maxima per pair (``_range_maxima``)."""
    begin = window[0::2]
    return _range_maxima(f, begin, window[1::2] - begin, sparse)


def _range_maxima(f: np.ndarray, begin: np.ndarray, span: np.ndarray, sparse: bool) -> np.ndarray:
    """``max f[begin : begin + span]`` for every entry of ``begin`` and ``span`` (``span >= 0``;
    overwritten; an empty range gives the last entry of ``f``). By one ``maximum.reduceat``,
    or with ``sparse`` by a sparse table (``log2`` of the longest range vectorised maxima:
    less work when the ranges hold many entries). A maximum is exact either way, so both
    give the same bits."""
    empty = span == 0
    if not sparse:
        ends = np.empty((*begin.shape, 2), dtype=begin.dtype)  # begin, end, begin, end, ...
        ends[..., 0] = begin
        np.add(begin, span, out=ends[..., 1])
        maxima: np.ndarray = np.maximum.reduceat(f, ends.ravel())[0::2].reshape(begin.shape)
        maxima[empty] = f[-1]
        return maxima
    np.maximum(span, 1, out=span)
    longest = int(_MAX(span, axis=None))
    depth = longest.bit_length() - 1  # the sparse table's top level
    table = np.empty((depth + 1, f.size))
    table[0] = f
    lattice.fill_sparse_table(table)
    if longest < _FLOOR_LOG2.size:  # the two covering halves (``lattice.sparse_halves``)
        first = _FLOOR_LOG2[span] * f.size
        first += begin
        second = _PAST_HALF[span]
        second += first
    else:
        first, second = lattice.sparse_halves(begin, span, f.size)
    flat = table.ravel()
    maxima = np.maximum(flat[first], flat[second])
    maxima[empty] = f[-1]
    return maxima


def _kinks(
    g: np.ndarray, bent: np.ndarray, ends: np.ndarray, tol_v: float
) -> tuple[np.ndarray, np.ndarray]:
    """The kinks of the upper envelope of lines inside the intervals ``bent`` of the grid
    ``g``, where no single line is on top at both ends (``ends``: end x line x interval, the
    last row the lines' maximum, as in ``_general_hour``). The envelope is convex there; from
    the line on top at the left (p) to the one on top at the right (q) it turns at their
    crossing ``x*`` when no line rises above both there (then it is p up to ``x*`` and q
    after: a convex function through three points of two lines). Otherwise the envelope's
    value at ``x*`` is a point of it and both halves are treated alike (at most one more round
    per line). A kink whose envelope lies within ``tol_v`` of the chord of its interval
    (nearly parallel lines) is rounding noise and left out. A crossing that rounds onto an
    end of its interval is not split again (it would give back the same interval: with
    values far above ``tol_v`` in ulps, a third line can seem to rise above it by one ulp,
    round after round -- review), and there are at most as many rounds as lines (exact
    arithmetic needs no more).

    The intervals' ends are rows of one array (lines, their top, the position), so the
    values of every line, the chord and the position at ``x*`` are one interpolation."""
    lines = ends.shape[1] - 1
    span = np.empty((2, lines + 2, bent.size))  # end x (lines, top, position) x interval
    span[:, : lines + 1] = ends[:, :, bent]
    span[0, lines + 1] = g[bent]
    span[1, lines + 1] = g[bent + 1]
    xs_out, vs_out = [], []
    for _ in range(lines):
        cols = np.arange(span.shape[2])
        tops = span[:, :lines].argmax(1)  # p: on top at the left; q: at the right
        p_right = span[1, tops[0], cols]
        q_left = span[0, tops[1], cols]
        top_l, top_r = span[0, lines], span[1, lines]
        gap_l = top_l - q_left
        t = gap_l / (gap_l + top_r - p_right)
        at_star = span[0] + t * (span[1] - span[0])  # every line, the chord, x*
        x_star = at_star[lines + 1]
        v_star = _MAX(at_star[:lines], axis=0)
        third = v_star > top_l + t * (p_right - top_l) + tol_v
        keep = at_star[lines] - v_star > tol_v
        keep |= third
        xs_out.append(x_star[keep])
        vs_out.append(v_star[keep])
        if not np.count_nonzero(third):  # no third line above a crossing: nothing to split
            break
        third &= (x_star > span[0, lines + 1]) & (x_star < span[1, lines + 1])
        if not np.count_nonzero(third):  # only an interval that shrinks is split
            break
        split = third.nonzero()[0]
        s = split.size
        halves = np.empty((2, lines + 2, 2 * s))  # [left end, x*] then [x*, right end]
        star = at_star[:, split]
        halves[:, :, :s] = span[:, :, split]
        halves[1, :, s:] = halves[1, :, :s]
        halves[1, :, :s] = star
        halves[0, :, s:] = star
        _MAX(halves[:, :lines], axis=1, out=halves[:, lines])
        on_top = halves[:, :lines] == halves[:, lines : lines + 1]
        bent = (~_ANY(on_top[0] & on_top[1], axis=0)).nonzero()[0]
        if not bent.size:
            break
        span = halves[:, :, bent]
    if len(xs_out) == 1:
        return xs_out[0], vs_out[0]
    return np.concatenate(xs_out), np.concatenate(vs_out)


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
    if not np.count_nonzero(cross):
        return xs, top, False
    k = cross.nonzero()[0]
    t = d[k] / (d[k] - d[k + 1])
    xc = xs[k] + t * (xs[k + 1] - xs[k])
    vc = g[k] + t * (g[k + 1] - g[k])
    x = np.concatenate((xs, xc))
    order = x.argsort(kind="stable")
    return x[order], np.concatenate((top, vc))[order], True


def _simplify(
    x: np.ndarray, v: np.ndarray, tol_x: float, tol_v: float
) -> tuple[np.ndarray, np.ndarray]:
    """Merge points closer than ``tol_x`` (keeping the larger value) and drop interior points
    within ``tol_v`` of the chord of their neighbours. Two neighbouring points can each be
    near the chord of their neighbours and still be a real kink together (a point next to a
    very close one is always near such a chord): a run of such points is dropped only as far
    as each lies within ``tol_v`` of the chord of the points kept around it; otherwise the
    farthest one is kept and the rest checked again."""
    dx = x[1:] - x[:-1]
    close = dx <= tol_x
    if np.count_nonzero(close):  # close points are adjacent: one maximum per run
        starts = np.concatenate((_TRUE, ~close)).nonzero()[0]
        v = np.maximum.reduceat(v, starts)
        x = x[starts]
        dx = x[1:] - x[:-1]
    m = x.size
    if m > 2:
        dv = v[1:] - v[:-1]
        off = dv[:-1] - dx[:-1] * (dv[:-1] + dv[1:]) / (dx[:-1] + dx[1:])  # v_i - chord
        flat = np.abs(off) <= tol_v
        if np.count_nonzero(flat):
            keep = np.concatenate((_TRUE, ~flat, _TRUE))
            if np.count_nonzero(flat[1:] & flat[:-1]):
                while True:
                    kept = keep.nonzero()[0]
                    drop = (~keep).nonzero()[0]
                    at = kept.searchsorted(drop)
                    lo, hi = kept[at - 1], kept[at]  # the kept points around each dropped one
                    v_lo, x_lo = v[lo], x[lo]
                    chord = v_lo + (x[drop] - x_lo) * (v[hi] - v_lo) / (x[hi] - x_lo)
                    off = np.abs(v[drop] - chord)
                    if not np.count_nonzero(off > tol_v):
                        break
                    # keep the farthest point of each run that is off its chord, check again
                    first = np.concatenate((_TRUE, lo[1:] != lo[:-1]))
                    worst = np.maximum.reduceat(off, first.nonzero()[0])
                    run = first.cumsum() - 1
                    keep[drop[(off == worst[run]) & (off > tol_v)]] = True
                x, v = x[kept], v[kept]  # the points kept, by index
            else:
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
    if slopes.size > 1 and np.count_nonzero(
        (slopes[1:] - slopes[:-1]) * np.minimum(lengths[1:], lengths[:-1]) > tol_v
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
    order = (-slopes).argsort(kind="stable")
    s, ln = slopes[order], lengths[order]
    apart = (s[:-1] - s[1:]) * np.minimum(ln[:-1], ln[1:]) > tol_v
    if np.count_nonzero(apart) < apart.size:  # equal slopes: one piece (their lengths add up)
        starts = np.concatenate((_TRUE, apart)).nonzero()[0]
        s, ln = s[starts], np.add.reduceat(ln, starts)
    x = np.empty(s.size + 1)
    v = np.empty(s.size + 1)
    x[0], v[0] = left, left_v
    _SUM(ln, out=x[1:])  # cumulative sums (``np.cumsum`` without its Python wrapper)
    _SUM(s * ln, out=v[1:])
    x[1:] += left
    v[1:] += left_v
    lo, hi = max(left, 0.0), min(float(x[-1]), width)
    if lo == left and hi == x[-1]:
        return x, v
    # the points strictly inside (lo + tol_x, hi - tol_x): one run of the sorted x
    first = int(x.searchsorted(lo + tol_x, "right"))
    last = max(int(x.searchsorted(hi - tol_x)), first)
    out = np.empty((2, last - first + 2))
    out[0, 0], out[0, -1] = lo, hi
    out[1, :: last - first + 1] = np.interp(out[0, :: last - first + 1], x, v)
    out[0, 1:-1] = x[first:last]
    out[1, 1:-1] = v[first:last]
    return out[0], out[1]


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
    lo: float,
    hi: float,
    x: float,
    a: float,
    b: float,
    up: float,
    down: float,
    tol_x: float,
) -> float:
    """The best next level from ``x`` under V_{t+1} (domain ``[lo, hi]``; ``xl``, ``vl``: its
    breakpoints and values around the window, one beyond each end where there is one): a
    maximum of a piecewise-linear function over an interval is at a breakpoint or at an end,
    so the candidates are ``x`` itself, the charge window's end ``x + C`` and the discharge
    window's end ``x - D`` (each within V's domain) and V's breakpoints in ``[x - D, x + C]``;
    the sign of the move tells which reward applies. Ties go to the smallest move
    (indifferent hours idle). Plain Python: a handful of candidates, where numpy's per-call
    cost would dominate."""
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


@dataclass(frozen=True)
class Chain:
    """One chain's geometry in stored-energy terms: room ``W`` (``width_mwh``), the level
    ``x0`` it starts from and returns to (``x0_mwh``), a full hour's charge ``C`` and
    discharge ``D`` (``up_mwh``, ``down_mwh``), and the tolerances of the recursion
    (positions ``tol_x``; values ``tol_v`` set by the rates)."""

    width_mwh: float
    x0_mwh: float
    up_mwh: float
    down_mwh: float

    @classmethod
    def of(cls, battery: Battery) -> Chain:
        E = battery.energy_mwh
        return cls(
            width_mwh=E * (battery.max_soc - battery.min_soc),
            x0_mwh=E * (battery.soc_start - battery.min_soc),
            up_mwh=battery.eta_charge * battery.power_mw,
            down_mwh=battery.power_mw / battery.eta_discharge,
        )

    @property
    def tol_x(self) -> float:
        return X_REL * max(self.width_mwh, self.up_mwh, self.down_mwh)

    def tol_v(self, buy: np.ndarray, sell: np.ndarray) -> float:
        scale = max(1.0, float(np.max(np.abs(buy), initial=0.0)), float(np.max(np.abs(sell))))
        return V_REL * scale * max(self.width_mwh, self.up_mwh, self.down_mwh)

    def reversed(self) -> Chain:
        """The same chain walked backwards in time: a charge of up to ``C`` becomes a
        discharge of up to ``C`` and the other way round (see ``arrival_functions``)."""
        return Chain(
            width_mwh=self.width_mwh, x0_mwh=self.x0_mwh, up_mwh=self.down_mwh, down_mwh=self.up_mwh
        )


Table = tuple[np.ndarray, np.ndarray]  # breakpoints (sorted levels) and values


@dataclass(frozen=True)
class ChainSolution:
    """The chain at rates ``(buy, sell)``: its value functions ``V_t`` (``t = 0 .. n``), an
    optimal schedule and its value ``V_0(x0)``, and which recursion computed them."""

    tables: Sequence[Table]
    moves: np.ndarray  # stored-energy move per hour (MWh)
    value: float  # V_0(x0): the optimal revenue (MXN)
    route: str  # for benchmarks and logs


class LatticeTables(Sequence[Table]):
    """``V_t`` on a lattice as piecewise-linear tables, built when asked for (one row of the
    value array each; levels where ``V_t`` is -inf are outside its domain), with the lattice
    itself and whether it is the chain's whole closure (``lattice_of(..., closed=True)``:
    ``optimizer.chain_cap`` evaluates re-priced days on it)."""

    def __init__(
        self,
        grid: lattice.Lattice,
        values: Sequence[np.ndarray] | np.ndarray,
        *,
        closed: bool = False,
    ) -> None:
        self.lattice, self.values, self.closed = grid, values, closed

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> Table: ...

    @overload
    def __getitem__(self, index: slice) -> list[Table]: ...

    def __getitem__(self, index: int | slice) -> Table | list[Table]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = self.values[index]
        finite = np.isfinite(row)
        return self.lattice.levels[finite], row[finite]


@dataclass(frozen=True)
class WorkModel:
    """What an hour costs each route, in microseconds of one core (fitted by hand on whole
    years timed with one-off scripts and ``bench/bench_worst_case.py``: the general step ~80
    us plus ~0.37 us a breakpoint, a concave or split hour ~20 us plus ~0.1 us a breakpoint,
    a copied period hour ~2 us; a lattice hour, both passes with the rows between the kept
    ones recomputed, ~25 us plus ~0.0009 us a level and row of its sparse table -- the bit
    length of its widest window pair: fitted on ten lattices of 1,369-28,206 levels, 37-255
    us an hour, within 15 %; on lattices of tens of levels it overstates, ~10 us an hour
    against 25; ``lattice.dense_chain``'s hour on at most ``lattice.DENSE_LEVELS`` levels
    ~2.4 us plus ~0.005 us a pair of levels: 8-26 levels, 2.7-5.5 us an hour; an hour of
    ``lattice.counted_chain`` under a count limit ~20 us plus that per pair and state: 10
    levels with one side limited, 14 days of which 8 limited, 4.5 ms a round; 34 levels with
    both sides limited, 441 states, ~1.9 ms an hour). Only a model:
    it decides from breakpoint, level and window counts, never from a clock, so the route
    taken does not depend on the machine or its load."""

    general_us: float = 80.0
    general_point_us: float = 0.37
    concave_us: float = 20.0
    concave_point_us: float = 0.1
    copied_us: float = 2.0
    lattice_us: float = 25.0
    lattice_entry_us: float = 0.0009
    dense_us: float = 2.4
    dense_pair_us: float = 0.005
    counted_us: float = 20.0
    #: the fewest sparse-table rows assumed of a lattice not yet found (``levels_under``):
    #: windows of at least 8 levels, as on every lattice of thousands of levels seen
    fewest_rows: int = 4

    def lattice_hours(self, grid: lattice.Lattice, hours: int) -> float:
        """The modelled cost of ``hours`` hours on ``grid``."""
        rows = int((grid.up_end - grid.down_begin + 2).max()).bit_length()  # both windows
        return hours * (self.lattice_us + self.lattice_entry_us * grid.levels.size * rows)

    def dense_hours(self, grid: lattice.Lattice, hours: int) -> float:
        """The modelled cost of ``hours`` hours of ``lattice.dense_chain`` on ``grid``."""
        return hours * (self.dense_us + self.dense_pair_us * grid.levels.size**2)

    def counted_hours(
        self,
        grid: lattice.Lattice,
        hours: np.ndarray,
        charges: np.ndarray,
        discharges: np.ndarray,
    ) -> float:
        """The modelled cost of ``lattice.counted_chain`` over days of ``hours`` hours with
        those count limits: the days without one as dense or lattice hours, the others at
        ``counted_us`` an hour (a dozen numpy calls) plus a dense hour's pairs on as many
        copies of the lattice as they have states."""
        states = np.where(charges < hours, charges + 1, 1) * np.where(
            discharges < hours, discharges + 1, 1
        )
        limited = (charges < hours) | (discharges < hours)
        free = int(hours[~limited].sum())
        small = grid.levels.size <= lattice.DENSE_LEVELS
        plain = self.dense_hours(grid, free) if small else self.lattice_hours(grid, free)
        pairs = self.dense_pair_us * grid.levels.size**2 * states[limited]
        return plain + float(hours[limited] @ (self.counted_us + pairs))

    def levels_under(self, cost_us: float, hours: int) -> int:
        """The most levels a lattice (of at least ``fewest_rows`` table rows) can have and
        still cost less than ``cost_us`` for ``hours`` hours (0 where none can)."""
        per_hour = cost_us / max(hours, 1) - self.lattice_us
        if per_hour <= 0.0:
            return 0
        per_level = self.lattice_entry_us * self.fewest_rows
        return int(min(per_hour / per_level, 1e9)) if per_level else 10**9


WORK = WorkModel()


class _OverBudget(Exception):
    """The piecewise recursion's modelled cost for the hours left was more than its
    ``give_way`` allows (``value_functions``)."""

    def __init__(self, hour: int) -> None:
        super().__init__(hour)
        self.hour = hour


def value_functions(
    buy: np.ndarray,
    sell: np.ndarray,
    chain: Chain,
    *,
    end: Table | None = None,
    deadline_s: float | None = None,
    give_way: Callable[[float, float], bool] | None = None,
) -> tuple[list[Table], int]:
    """The value-to-go ``V_t`` for ``t = 0 .. n`` (``V_n``: ``end``, by default 0 at ``x0``,
    the end condition; then ``V_0(x0)`` is the optimum) by the backward recursion of the
    module docstring, and the peak breakpoint count. A given ``end`` (breakpoints and values,
    e.g. a later part of the chain's ``V``) re-prices a stretch of hours in front of it.
    With ``give_way``, every ``CHECK_EVERY`` hours the hours left are costed by ``WORK`` as
    the hours since the last check (at least ``CHECK_EVERY`` of them: their mix of steps)
    at the current breakpoint count, and ``_OverBudget`` is raised where ``give_way`` of
    that cost and of the hours done so far (microseconds, each window's hours costed alike)
    is True."""
    n = buy.size
    up, down, width = chain.up_mwh, chain.down_mwh, chain.width_mwh
    tol_x, tol_v = chain.tol_x, chain.tol_v(buy, sell)
    shifts = np.array([[up], [-down], [0.0]])  # the lines V(x + C), V(x - D), V(x)
    spread = np.array([[-up], [0.0], [down]])  # the grid xs - C, xs, xs + D
    bounds = np.array([0.0, width])
    xs, vs = (np.array([chain.x0_mwh]), np.array([0.0])) if end is None else end
    tables: list[Table] = [(xs, vs)] * (n + 1)  # tables[t] is V_t
    peak = xs.size
    pieces = _concave_pieces(xs, vs, tol_v)
    buys, sells = buy.tolist(), sell.tolist()
    sizes = [1] * (n + 1)
    same = 0  # hours after t with t's rates, one after another
    period = 0  # k with V_t = V_{t+k} + rise over hours of one rate (0: none seen)
    rise = 0.0
    # since the last check: hours, their modelled cost per hour apart from the breakpoints,
    # and per breakpoint (``WORK``); the hours left are costed at the current breakpoints
    counted, fixed, per_point, spent = 0, 0.0, 0.0, 0.0
    for t in range(n - 1, -1, -1):
        if t % CHECK_EVERY == 0:
            check_deadline(deadline_s, "scheduling the continuous chain")
            if give_way is not None and counted >= CHECK_EVERY:
                window = fixed + per_point * xs.size
                spent += window
                if give_way(window / counted * (t + 1), spent):
                    raise _OverBudget(t)
                counted, fixed, per_point = 0, 0.0, 0.0
        counted += 1
        a, b = buys[t], sells[t]
        same = same + 1 if t + 1 < n and a == buys[t + 1] and b == sells[t + 1] else 0
        if period and same > period:  # V_t = V_{t+k} + rise (module docstring)
            xs, earlier = tables[t + period]
            vs = earlier + rise
            tables[t], sizes[t] = (xs, vs), xs.size
            fixed += WORK.copied_us
            continue
        if period:  # back to recursing from a copied V: its own shape
            pieces = _concave_pieces(xs, vs, tol_v)
            period = 0
        if pieces is not None and a >= b:
            fixed, per_point = fixed + WORK.concave_us, per_point + WORK.concave_point_us
            xs, vs = _concave_hour(xs, vs, pieces, a, b, up, down, width, tol_x, tol_v)
            lengths = xs[1:] - xs[:-1]
            pieces = ((vs[1:] - vs[:-1]) / lengths, lengths)
        else:
            if pieces is not None:
                fixed, per_point = fixed + WORK.concave_us, per_point + WORK.concave_point_us
                (xc, vc), (xd, vd) = _split_hour(
                    xs, vs, pieces, a, b, up, down, width, tol_x, tol_v
                )
                xs, vs, crossed = _upper(xc, vc, xd, vd)
            else:
                fixed, per_point = fixed + WORK.general_us, per_point + WORK.general_point_us
                xs, vs, crossed = _general_hour(
                    xs, vs, a, b, up, down, width, shifts, spread, bounds, tol_v
                )
            xs, vs = _simplify(xs, vs, tol_x, tol_v)
            # a crossing leaves a convex kink (V not concave; if it was below tol_v and
            # simplified away, the general step stays exact, only slower)
            pieces = None if crossed else _concave_pieces(xs, vs, tol_v)
        peak = max(peak, xs.size)
        tables[t], sizes[t] = (xs, vs), xs.size
        for k in range(1, min(same, MAX_PERIOD) + 1):  # hours t .. t + k share one rate
            if sizes[t + k] == xs.size:
                later_x, later_v = tables[t + k]
                gain = vs - later_v
                if (
                    np.abs(xs - later_x).max() <= tol_x
                    and float(gain.max()) - float(gain.min()) <= tol_v
                ):
                    period, rise = k, float(gain[0])
                    break
    return tables, peak


def arrival_functions(
    buy: np.ndarray,
    sell: np.ndarray,
    chain: Chain,
    *,
    deadline_s: float | None = None,
) -> tuple[list[Table], int]:
    """The value-to-arrive ``A_t`` for ``t = 0 .. n``: the best revenue of hours ``0 .. t-1``
    from ``x0`` to level ``x`` at ``t`` (``A_0``: 0 at ``x0``; ``A_n(x0)`` is the optimum,
    and ``A_t + V_t`` peaks at the optimum for every ``t``). It is the value-to-go of the
    chain walked backwards: level ``y_s = x_{n-s}``, move ``-u``; charging ``u`` at ``a``
    becomes a discharge of ``u`` earning ``-a`` per MWh, discharging ``u`` at ``b`` a charge
    paying ``-b``, so the reversed hour has rates ``(-b, -a)`` and bounds ``(D, C)``, and is
    concave exactly when the hour is."""
    tables, peak = value_functions(-sell[::-1], -buy[::-1], chain.reversed(), deadline_s=deadline_s)
    return tables[::-1], peak


def follow(
    tables: list[Table], buy: np.ndarray, sell: np.ndarray, chain: Chain, start: float
) -> np.ndarray:
    """Stored-energy moves of hours ``0 .. n-1`` from level ``start``, each to the best next
    level under ``tables[t + 1]`` (the forward pass of the module docstring)."""
    n = buy.size
    up, down, tol_x = chain.up_mwh, chain.down_mwh, chain.tol_x
    buys, sells = buy.tolist(), sell.tolist()
    moves = np.empty(n)
    x = start
    for t in range(n):
        nxt_x, nxt_v = tables[t + 1]
        lo, hi = float(nxt_x[0]), float(nxt_x[-1])
        if nxt_x.size <= 16:
            x_next = _best_move(
                nxt_x.tolist(), nxt_v.tolist(), lo, hi, x, buys[t], sells[t], up, down, tol_x
            )
        else:  # only the window (and one breakpoint beyond each end) to Python
            i = int(nxt_x.searchsorted(x - down - tol_x))
            j = int(nxt_x.searchsorted(x + up + tol_x, "right"))
            if j - i <= WIDE_WINDOW:
                nxt_x, nxt_v = nxt_x[max(i - 1, 0) : j + 1], nxt_v[max(i - 1, 0) : j + 1]
                x_next = _best_move(
                    nxt_x.tolist(), nxt_v.tolist(), lo, hi, x, buys[t], sells[t], up, down, tol_x
                )
            else:
                x_next = _best_move_wide(nxt_x, nxt_v, i, j, x, buys[t], sells[t], up, down)
        # a breakpoint taken within tol_x beyond a window's end: the move stays within the
        # hour's power (the level moves by at most tol_x, the revenue by its slope times that)
        x_next = min(max(x_next, x - down), x + up)
        moves[t] = x_next
        moves[t] -= x
        x = x_next
    return moves


def _best_move_wide(
    xs: np.ndarray,
    vs: np.ndarray,
    first: int,
    last: int,
    x: float,
    a: float,
    b: float,
    up: float,
    down: float,
) -> float:
    """``_best_move`` for a window holding many breakpoints (``xs[first:last]``, found with
    the same tolerance): the same candidates in the same order, the same arithmetic and the
    same tie rule, the window's in a few numpy calls instead of a Python loop, the three
    window ends (after it in ``_best_move``'s order: they win only a strictly shorter move)
    in Python."""
    lo, hi = float(xs[0]), float(xs[-1])
    ends = [min(max(y, lo), hi) for y in (x, x + up, x - down)]
    ys = xs[first:last]
    step = ys - x
    totals = vs[first:last] - np.where(ys > x, a * step, b * step)
    end_totals = []
    for y, v in zip(ends, _at_each(xs, vs, ends), strict=True):
        move = y - x
        end_totals.append(v - (a * move if y > x else b * move))
    top = max(float(totals.max()), *end_totals)
    near = top - 1e-12 * max(1.0, abs(top))
    distance = np.abs(step)
    distance[totals < near] = math.inf
    k = int(distance.argmin())
    best_y, best_u = float(ys[k]), float(distance[k])
    for y, total in zip(ends, end_totals, strict=True):
        if total >= near and abs(y - x) < best_u:
            best_y, best_u = y, abs(y - x)
    return best_y


def _at_each(xs: np.ndarray, vs: np.ndarray, ys: list[float]) -> list[float]:
    """``_at`` of breakpoint arrays at each of a few levels ``ys`` (inside their domain): the
    same neighbours (``searchsorted`` on the right is ``bisect_right``) and the same
    arithmetic, without turning the whole arrays into lists."""
    out = []
    size = xs.size
    for y, i in zip(ys, xs.searchsorted(ys, "right").tolist(), strict=True):
        if i == 0:
            out.append(float(vs[0]))
        elif i == size:
            out.append(float(vs[-1]))
        else:
            x_left, x_right = xs[i - 1 : i + 1].tolist()
            v_left, v_right = vs[i - 1 : i + 1].tolist()
            out.append(v_left + (v_right - v_left) * (y - x_left) / (x_right - x_left))
    return out


def solve_chain(
    buy: np.ndarray,
    sell: np.ndarray,
    battery: Battery,
    *,
    deadline_s: float | None = None,
) -> ChainSolution:
    """Optimal stored-energy moves over one chain of hours (``buy`` = a_t, ``sell`` = b_t)
    (``solve``)."""
    return solve(buy, sell, Chain.of(battery), deadline_s=deadline_s)


def solve(
    buy: np.ndarray,
    sell: np.ndarray,
    chain: Chain,
    *,
    closed: bool = False,
    deadline_s: float | None = None,
) -> ChainSolution:
    """The chain at rates ``(buy, sell)``: on its lattice (``lattice_of``) when it has at
    most ``MAX_LATTICE_LEVELS`` levels and ``MAX_LATTICE_ENTRIES`` values over the chain,
    or at most ``MAX_KEPT_LEVELS`` levels with every k-th hour's values kept (the smallest k
    that fits; ``lattice.ChainValues`` recomputes the others) -- a fixed cost per hour
    whatever the prices -- else by the piecewise-linear recursion of this module
    (``solve_piecewise``), which, where the lattice has at most ``MAX_SWITCH_LEVELS``
    levels, gives way to the lattice where the hours left would cost more than the whole
    lattice times a margin, or the hours done have cost it and those left still would
    (``dearer``; ``WorkModel``: breakpoint, level and window counts, not a clock). Which
    route depends on
    the battery, the chain's length and the breakpoints met (and ``closed``, see
    ``lattice_of``), never on the machine."""
    grid = lattice_of(chain, buy.size, closed=closed)
    note = ""
    if grid is None:
        if closed:
            return _piecewise(buy, sell, chain, deadline_s)
        found: list[lattice.Lattice | None] = [None]  # the lattice to give way to
        looked = [0]  # the most levels looked for so far

        def dearer(rest_us: float, spent_us: float) -> bool:
            """Whether to give way to the lattice, from the modelled cost of the recursion's
            hours left (``rest_us``: at the breakpoints met now) and of its hours done
            (``spent_us``) against the whole chain on the lattice (``L``): where the hours left
            cost more than ``L`` times the margin (``SWITCH_MARGIN_LEVELS``), or -- as a
            renter buys once the rent paid reaches the price -- where the hours done have
            cost ``L`` and the hours left still would: a burst of breakpoints that fades then
            costs the recursion's own work, one that lasts at most about twice ``L``. The
            lattice is looked for only as large as could cost less than those hours
            (``WorkModel.levels_under``, at most ``MAX_SWITCH_LEVELS``), and again only for
            twice as many levels as before, so the searches cost at most twice the last."""
            worth = min(WORK.levels_under(rest_us, buy.size), MAX_SWITCH_LEVELS)
            if found[0] is None and worth >= max(2 * looked[0], 1):
                looked[0] = worth
                found[0] = lattice.chain_lattice(
                    chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh, worth, buy.size
                )
            big = found[0]
            if big is None:
                return False
            whole = WORK.lattice_hours(big, buy.size)
            margin = 1.0 + big.levels.size / SWITCH_MARGIN_LEVELS
            return rest_us > margin * whole or min(rest_us, spent_us) >= whole

        try:
            return _piecewise(buy, sell, chain, deadline_s, give_way=dearer)
        except _OverBudget as over:
            grid, note = found[0], f"; the piecewise recursion gave way at hour {over.hour}"
            assert grid is not None  # dearer gives way to a lattice only
    m = grid.levels.size
    every = 1  # keep every hour's values when they fit MAX_LATTICE_ENTRIES, else every k-th
    while every < buy.size and m * (-(-buy.size // every) + 1) > MAX_LATTICE_ENTRIES:
        every += 1
    kept = lattice.chain_values(buy, sell, grid, deadline_s=deadline_s, every=every)
    values = kept if every == 1 else lattice.ChainValues(kept, every, buy, sell, grid)
    route = f"lattice of {m} levels"
    return ChainSolution(
        tables=LatticeTables(grid, values, closed=closed),
        moves=lattice.chain_moves(values, buy, sell, grid, deadline_s=deadline_s),
        value=float(values[0][grid.start]),
        route=route + (f", every {every} hours' values kept" if every > 1 else "") + note,
    )


def lattice_of(chain: Chain, hours: int, *, closed: bool = False) -> lattice.Lattice | None:
    """The chain's lattice (``optimizer.lattice.chain_lattice``) when a chain of ``hours``
    hours is solved on it (``MAX_LATTICE_LEVELS``, ``MAX_LATTICE_ENTRIES``; without
    ``closed`` also up to ``MAX_KEPT_LEVELS``, see ``solve``), else None: the
    levels at most ``hours`` whole moves from 0, W or x0, enough for the chain itself; with
    ``closed`` the whole closure, also enough for recursions that start from its levels
    (``optimizer.chain_cap`` re-prices days in front of the chain's value functions, whose
    breakpoints pin levels as 0 and W do)."""
    most = min(MAX_LATTICE_LEVELS, MAX_LATTICE_ENTRIES // (hours + 1))
    if not closed:  # values kept every k-th hour where every hour's do not fit (``solve``)
        most = max(most, MAX_KEPT_LEVELS)
    moves = None if closed else hours
    return lattice.chain_lattice(
        chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh, most, moves
    )


def solve_piecewise(
    buy: np.ndarray,
    sell: np.ndarray,
    battery: Battery,
    *,
    deadline_s: float | None = None,
) -> ChainSolution:
    """``solve_chain`` by the piecewise-linear recursion of the module docstring (any
    battery)."""
    return _piecewise(buy, sell, Chain.of(battery), deadline_s)


def _piecewise(
    buy: np.ndarray,
    sell: np.ndarray,
    chain: Chain,
    deadline_s: float | None,
    give_way: Callable[[float, float], bool] | None = None,
) -> ChainSolution:
    tables, peak = value_functions(buy, sell, chain, deadline_s=deadline_s, give_way=give_way)
    return ChainSolution(
        tables=tables,
        moves=follow(tables, buy, sell, chain, chain.x0_mwh),
        value=float(np.interp(chain.x0_mwh, *tables[0])),
        route=f"piecewise, peak {peak} breakpoints",
    )
