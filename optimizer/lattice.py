"""Exact daily optimum for any hours, concave or not: dynamic programming on a finite lattice of
stored-energy levels that provably holds an optimal schedule.

Notation of ``optimizer.envelope``: stored energy above the floor ``x`` in ``[0, W]``, each
day from and back to ``x0``; in hour ``t`` the level moves by ``u`` in ``[-D, C]`` and earns
``-a_t u`` charging (``u >= 0``) or ``-b_t u`` discharging (``u <= 0``), with
``a_t = p_t / eta_c`` and ``b_t = (p_t - kappa) eta_d - lambda`` (``lambda`` is a price on
withdrawn energy, 0 without a cycle cap; see ``optimizer.strategies.optimal``).

Why a lattice is exact. Fix, in an optimal schedule, which hours charge and which discharge
(the binaries of the MILP). What remains is a linear programme in the moves ``u_1..u_n``
(each in its one-sided interval), bounded and feasible, so it has an optimal *vertex*, where
``n`` linearly independent constraints are active. Call ``tau`` a *tight* time when the level
there is pinned: ``e_tau`` in ``{0, W}`` (a SoC bound) or ``tau`` = 0 / ``n`` (``x0``).
Between consecutive tight times at most one move is *free* (strictly inside its interval):
with two, shifting them in opposite directions keeps every active constraint, so the point
would not be a vertex. Every other move is 0, ``C`` or ``-D``. Hence every level of the vertex
is reached from a pinned level by whole moves only (forwards up to the free move, backwards
after it)::

    e_t  in  S = { B +- (i C - j D) :  B in {0, W, x0},  i, j >= 0,  i + j <= n }  within [0, W].

So the best path *through S* (transitions between lattice points whose difference is a
feasible move, charge or discharge, rewarded exactly) is an optimal schedule: every such path is
feasible, and one of them is the optimal vertex. That is a finite Bellman recursion on ``|S|``
levels (at most ``3 (n + 1)(n + 2)``, ~2,100 for 25 hours, far fewer for most batteries):

    V_{t-1}(s) = max( max_{s' in S, s <= s' <= s + C} V_t(s') - a_t (s' - s),
                      max_{s' in S, s - D <= s' <= s} V_t(s') - b_t (s' - s) )

with ``V_n`` = 0 at ``x0`` and -inf elsewhere. The windows are index ranges of the sorted
lattice that do not depend on the day, so each hour is two range-maximum queries answered with
a sparse table (``log2`` of the window length vectorised maxima), for all days at once. No
concavity is assumed: non-concave hours (negative prices where burning energy pays) cost the
same as the others, and the work is fixed by ``n`` and ``|S|``, not by the prices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from optimizer.battery import Battery
from optimizer.errors import check_deadline

#: lattice points closer than this (relative to max(W, C, D)) are one point
MERGE_REL = 1e-12
#: slack (relative to max(W, C, D)) when testing whether a lattice difference is a feasible
#: move: above the rounding of levels built by adding moves (a few MERGE_REL at most), and
#: small enough that an accepted move exceeds C or D by far less than settlement's 1e-7 of P
#: even for a 168-hour battery (W / P = 168: at most 1.7e-9 of P). At 1e-9, a level within
#: 1e-9 of another coset's was one move of C + 1e-9 W away: 1.5e-7 of P over (review).
FIT_REL = 1e-11
#: windows other than a chain lattice's by reduceat on lattices of at most this many levels,
#: by a sparse table on larger ones (measured on one core, numpy 2.4, random levels: reduceat
#: costs ~12 ns a window, whatever its length, the table ~2.5 ns a level and ~0.4 us a row;
#: 60 levels: reduceat 0.2-1 us faster an hour, 150: 0.3-2 us slower, 2,846 levels of a
#: 3-day chain of a 168-h battery: 137 us against 32)
REDUCEAT_LEVELS = 100
#: ``counted_chain`` finds a limited day's next levels for all its hours at once where the
#: day's totals (hours x states x levels x levels) fit in this many floats (8 MiB), else hour
#: by hour
COUNTED_CELLS = 1 << 20
#: the fewest rows per block of the recursion
BLOCK_ROWS = 64
#: more rows per block while rows x levels x (hours + 1 + log2 levels), the block's values
#: and sparse table, stay within this many floats (8 MiB): on small lattices the recursion
#: costs numpy's per-call overhead, shared by the rows of a block (a year of -1200 +- 50 at
#: round trip 0.5 with cap 3, 12 levels: 1.00 -> 0.42 s with 1,024 rows a block, one-off;
#: the branch and bound of ``optimizer.capped_day`` solves thousands of rows at once)
BLOCK_CELLS = 1 << 20
#: ``dense_chain`` on lattices of at most this many levels (``chain_branch``'s rounds): every
#: level's whole window as one row of a (levels, levels) array costs less than the sparse
#: table's dozen calls an hour while the array is small. Measured (one core, one recursion
#: over 7 days of -1200 +- 50, PRD battery at several round trips and SoC windows): 8-22
#: levels 0.45-0.79 ms against 1.6-1.7 ms by ``chain_values`` and ``chain_moves``, 26 levels
#: 0.93 against 1.68, 28 levels 2.2 against 1.67, 62-76 levels 6.4-9.0 against 1.8
DENSE_LEVELS = 24


@dataclass(frozen=True)
class Lattice:
    """Sorted stored-energy levels (MWh above the floor) and the index windows of one move."""

    levels: np.ndarray  # (m,) sorted, levels[start] == x0 exactly
    start: int
    up_end: np.ndarray  # (m,) last index reachable by charging at most C
    down_begin: np.ndarray  # (m,) first index reachable by discharging at most D
    up_mwh: float  # C (+ the fit slack)
    down_mwh: float  # D (+ the fit slack)


def make_lattice(battery: Battery, hours: int) -> Lattice:
    """The lattice ``S`` of the module docstring for days of at most ``hours`` hours."""
    E = battery.energy_mwh
    width = E * (battery.max_soc - battery.min_soc)
    x0 = E * (battery.soc_start - battery.min_soc)
    up = battery.eta_charge * battery.power_mw
    down = battery.power_mw / battery.eta_discharge
    scale = max(width, up, down)
    i, j = np.meshgrid(np.arange(hours + 1), np.arange(hours + 1), indexing="ij")
    keep = (i + j) <= hours
    steps = (i[keep] * up - j[keep] * down).astype(float)
    steps = np.concatenate([steps, -steps[1:]])  # reached from the left, or from the right
    anchors = np.array([x0, 0.0, width])  # x0 first: it wins merges, so it stays exact
    points = (anchors[:, None] + steps[None, :]).ravel()
    points = points[(points >= -FIT_REL * scale) & (points <= width + FIT_REL * scale)]
    points = np.clip(points, 0.0, width)
    # a day can move at most ``reach`` away from x0 and still come back: drop the rest
    k = np.arange(hours + 1)
    reach = float(np.max(np.minimum(k * up, (hours - k) * down)))
    points = points[np.abs(points - x0) <= reach + FIT_REL * scale]
    # stable sort keeps anchor order among equal values; merge points within MERGE_REL
    order = np.argsort(points, kind="stable")
    points = points[order]
    first = np.r_[True, np.diff(points) > MERGE_REL * scale]
    group = np.cumsum(first) - 1
    # representative of a group: x0 if in it, else the group's first point
    levels = points[first]
    is_x0 = np.abs(points - x0) <= MERGE_REL * scale
    levels[group[is_x0]] = x0
    return _with_windows(levels, int(group[np.flatnonzero(is_x0)[0]]), up, down, scale)


def _with_windows(levels: np.ndarray, start: int, up: float, down: float, scale: float) -> Lattice:
    """The lattice on ``levels`` (``levels[start]`` is x0) with every level's index windows
    of one charge (at most ``C``) and one discharge (at most ``D``), ``FIT_REL`` of
    ``scale`` = max(W, C, D) of slack."""
    fit = FIT_REL * scale
    up_end = np.searchsorted(levels, levels + up + fit, side="right") - 1
    down_begin = np.searchsorted(levels, levels - down - fit, side="left")
    return Lattice(
        levels=levels,
        start=start,
        up_end=up_end,
        down_begin=down_begin,
        up_mwh=up + fit,
        down_mwh=down + fit,
    )


def _range_max(g: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``out[:, k] = max(g[:, begin[k] : end[k] + 1])`` (``begin <= end``) by one sparse table
    over all rows of ``g`` end to end (``fill_sparse_table``: the maxima from an entry that
    run into the next row are read by no window), read by two gathers."""
    rows, m = g.shape
    span = end - begin + 1
    table = np.empty((int(span.max()).bit_length(), rows * m))
    table[0] = g.ravel()
    fill_sparse_table(table)
    first, second = sparse_halves(begin, span, rows * m)
    offset = np.arange(0, rows * m, m)[:, None]  # each row's first entry
    flat = table.ravel()
    maxima: np.ndarray = np.maximum(flat[first + offset], flat[second + offset])
    return maxima


def solve(
    buy: np.ndarray,
    sell: np.ndarray,
    movable: np.ndarray,
    battery: Battery,
    *,
    deadline_s: float | None = None,
    signs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal stored-energy moves (rows x hours) and values (rows) on the lattice.

    ``buy[r, t]`` = ``a_t`` (cost of storing one MWh), ``sell[r, t]`` = ``b_t`` (income of
    withdrawing one stored MWh), any signs; hours where ``movable`` is False idle. ``signs``,
    if given, is a pair of masks like ``movable``: the hours that may charge and the hours
    that may discharge (``optimizer.capped_day``'s branches); an hour barred from one side
    keeps the other and idling. Every lattice level stays exact: the argument of the module
    docstring holds for any fixed signs.
    """
    n_rows, n_hours = buy.shape
    lattice = make_lattice(battery, int(movable.sum(axis=1).max(initial=1)))
    moves = np.zeros((n_rows, n_hours))
    best = np.zeros(n_rows)
    m = lattice.levels.size
    block = max(BLOCK_ROWS, BLOCK_CELLS // (m * (n_hours + 1 + m.bit_length())))
    for lo in range(0, n_rows, block):
        rows = slice(lo, min(lo + block, n_rows))
        sides = None if signs is None else (signs[0][rows], signs[1][rows])
        moves[rows], best[rows] = _solve_block(
            buy[rows], sell[rows], movable[rows], lattice, deadline_s, sides
        )
    return moves, best


def _solve_block(
    buy: np.ndarray,
    sell: np.ndarray,
    movable: np.ndarray,
    lattice: Lattice,
    deadline_s: float | None,
    signs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    n_rows, n_hours = buy.shape
    s = lattice.levels
    m = s.size
    k = np.arange(m)
    values = np.empty((n_hours + 1, n_rows, m))
    v = np.full((n_rows, m), -np.inf)
    v[:, lattice.start] = 0.0
    values[n_hours] = v
    # the levels that matter at time t: reachable from x0 in t hours and back to it in the
    # n - t left (a superset for rows with idle hours); the others stay -inf, as no path
    # visits them, so each hour's recursion spans only those (a day's first and last hours
    # far fewer levels; most of a 24-h battery's day)
    hours = np.arange(n_hours + 1)
    x0, up, down = s[lattice.start], lattice.up_mwh, lattice.down_mwh  # moves with their slack
    high = x0 + np.minimum(hours * up, (n_hours - hours) * down)
    low = x0 - np.minimum(hours * down, (n_hours - hours) * up)
    first = np.searchsorted(s, low, side="left")
    last = np.searchsorted(s, high, side="right")  # exclusive
    for t in range(n_hours - 1, -1, -1):
        check_deadline(deadline_s, "scheduling days with negative prices")
        lo, hi = int(first[t]), int(last[t])
        read = slice(int(lattice.down_begin[lo]), int(lattice.up_end[hi - 1]) + 1)
        shift = read.start
        a, b = buy[:, t, None], sell[:, t, None]
        here, there = s[lo:hi], s[read]
        seen = v[:, read]
        charge = _range_max(seen - a * there, k[lo:hi] - shift, lattice.up_end[lo:hi] - shift)
        charge += a * here
        discharge = _range_max(
            seen - b * there, lattice.down_begin[lo:hi] - shift, k[lo:hi] - shift
        )
        discharge += b * here
        if signs is not None:  # a barred side keeps idling only (both windows hold it)
            charge = np.where(signs[0][:, t, None], charge, v[:, lo:hi])
            discharge = np.where(signs[1][:, t, None], discharge, v[:, lo:hi])
        out = values[t]
        out[:, :lo] = out[:, hi:] = -np.inf
        np.maximum(charge, discharge, out=out[:, lo:hi])
        idle = ~movable[:, t]
        if idle.any():  # rows whose hour must idle keep the next hour's values
            out[idle] = v[idle]
        v = out

    # forward pass: from the current level, the best next level; near-ties go to the smallest
    # move (idle first), so indifferent hours stay idle. Each row's own scale sets its
    # tolerance: a small day beside a large one keeps its exactness. Where one move spans at
    # most half the lattice, only the levels one move away are looked at (the window
    # ``down_begin .. up_end`` of the current level, padded with its last level: a 24-h
    # battery's 768 levels, windows of 115: a capped year 1.05 -> 0.92 s, one-off)
    tol = 1e-12 * np.maximum(1.0, np.abs(values[0][:, lattice.start]))[:, None]
    rows = np.arange(n_rows)
    steps = np.arange(int(np.max(lattice.up_end - lattice.down_begin)) + 1)
    windowed = 2 * steps.size <= m
    at = np.full(n_rows, lattice.start)
    moves = np.zeros((n_rows, n_hours))
    for t in range(n_hours):
        if windowed:
            reach = np.minimum(lattice.down_begin[at][:, None] + steps, lattice.up_end[at][:, None])
            future = values[t + 1][rows[:, None], reach]
        else:
            reach, future = k[None, :], values[t + 1]
        u = s[reach] - s[at][:, None]  # (rows, levels looked at)
        ok = (u <= lattice.up_mwh) & (u >= -lattice.down_mwh)
        if signs is not None:
            ok &= ((u <= 0.0) | signs[0][:, t, None]) & ((u >= 0.0) | signs[1][:, t, None])
        reward = np.where(u > 0, -buy[:, t, None] * u, -sell[:, t, None] * u)
        total = np.where(ok, future + reward, -np.inf)
        top = total.max(axis=1)
        near = total >= top[:, None] - tol
        nearest = np.argmin(np.where(near, np.abs(u), np.inf), axis=1)
        pick = reach[rows, nearest] if windowed else nearest
        pick = np.where(movable[:, t], pick, at)
        moves[:, t] = s[pick] - s[at]
        at = pick
    best = values[0][rows, lattice.start]
    return moves, best


# --- one chain of hours (``continuous``) ---------------------------------------------------


def chain_levels(
    width: float, x0: float, up: float, down: float, max_levels: int, max_moves: int | None = None
) -> np.ndarray | None:
    """The lattice of a whole chain (module docstring, with ``n`` unbounded): the levels in
    ``[0, W]`` reachable from ``0``, ``W`` and ``x0`` by whole moves ``+-C``, ``+-D``
    without leaving ``[0, W]`` on the way, sorted, points within ``MERGE_REL`` one (``x0``
    kept exactly); None when there are more than ``max_levels`` of them.

    Why this holds an optimal schedule of the chain: the vertex argument of the module
    docstring does not depend on the number of hours. Between consecutive tight times (a
    level at 0 or W, or the chain's ends at ``x0``) at most one move is free; every other
    level is reached from the pinned level before it by whole moves forwards (``+C``,
    ``-D``) or from the one after it backwards (``-C``, ``+D``), and each level on the way
    is a level of the schedule, so in ``[0, W]``. This closure is finite when ``C`` and
    ``D`` are commensurate on the scale of ``MERGE_REL`` (``C / D = eta_c eta_d``, the
    round trip: 0.85 = 17/20 gives levels ``D / 20`` apart, 134 of them for the 4-hour PRD
    battery), and grows without bound otherwise -- hence ``max_levels``. A chain of ``n``
    hours needs only the levels ``max_moves = n`` whole moves or fewer away from an anchor
    (a segment between tight times is at most ``n`` hours long): finite for any ratio, and
    found in ``n`` rounds at most."""
    scale = max(width, up, down)
    merge = MERGE_REL * scale
    levels = np.array([0.0, x0, width]) if 0.0 < x0 < width else np.array([0.0, width])
    frontier = levels
    steps = np.array([up, -down, -up, down])
    moves = 0
    while frontier.size and (max_moves is None or moves < max_moves):
        moves += 1
        reached = (frontier[:, None] + steps).ravel()
        reached = reached[(reached >= -merge) & (reached <= width + merge)]
        reached = np.unique(np.clip(reached, 0.0, width))
        at = levels.searchsorted(reached)
        below = levels[np.maximum(at - 1, 0)]
        above = levels[np.minimum(at, levels.size - 1)]
        new = reached[(reached - below > merge) & (above - reached > merge)]
        new = new[np.r_[True, np.diff(new) > merge]] if new.size else new
        levels = np.insert(levels, levels.searchsorted(new), new)  # new: sorted, apart
        frontier = new
        if levels.size > max_levels:
            return None
    return levels


def chain_lattice(
    width: float, x0: float, up: float, down: float, max_levels: int, max_moves: int | None = None
) -> Lattice | None:
    """``chain_levels`` with the windows of one move (None where that is None)."""
    levels = chain_levels(width, x0, up, down, max_levels, max_moves)
    if levels is None:
        return None
    start = int(np.flatnonzero(levels == x0)[0])
    return _with_windows(levels, start, up, down, max(width, up, down))


def chain_values(
    buy: np.ndarray,
    sell: np.ndarray,
    lattice: Lattice,
    *,
    deadline_s: float | None = None,
    check_every: int = 256,
    sparse: bool | None = None,
    every: int = 1,
) -> np.ndarray:
    """``V_t`` at the levels of ``lattice`` (``chain_lattice``) for ``t = 0 .. n`` (rows;
    ``V_n``: 0 at x0, -inf elsewhere; ``V_0`` at ``lattice.start`` is the optimum) of one
    chain of hours (``buy`` = a_t, ``sell`` = b_t). Each hour is the Bellman step of the
    module docstring: the charge and discharge window maxima of every level
    (``window_maxima_plan``: the windows are fixed index ranges), so a year of 8,784 hours
    costs a dozen or two numpy calls per hour on arrays of about ``levels.size``, whatever
    the prices. With ``every`` > 1 only the rows of hours ``0, every, 2 every, ...`` and
    ``n`` are kept (row ``j`` is ``V_min(j every, n)``; ``ChainValues`` recomputes the
    others)."""
    n, m = buy.size, lattice.levels.size
    kept = np.empty((-(-n // every) + 1, m))
    v = kept[-1]
    v.fill(-np.inf)
    v[lattice.start] = 0.0
    hour = bellman_hour(lattice, sparse)
    buys, sells = buy.tolist(), sell.tolist()
    scratch = np.empty(m)  # a row not kept (an hour reads all of v before it writes out)
    for t in range(n - 1, -1, -1):
        if t % check_every == 0:
            check_deadline(deadline_s, "scheduling the continuous chain")
        out = kept[t // every] if t % every == 0 else scratch
        hour(v, buys[t], sells[t], out)
        v = out
    return kept


def bellman_hour(
    lattice: Lattice, sparse: bool | None = None
) -> Callable[[np.ndarray, float, float, np.ndarray], None]:
    """One hour of the chain's Bellman recursion on ``lattice``: ``hour(v, a, b, out)``
    writes ``V_{t-1}`` (from ``v`` = ``V_t``, rates ``a``, ``b``) into ``out`` (``v`` itself
    is allowed: all of it is read first). Every level gets the same operations in the same
    order wherever it runs -- ``v - a * levels`` and ``v - b * levels``, their window maxima
    (exact, whatever the algorithm), ``+ a * levels`` and ``+ b * levels``, the larger --
    so a row recomputed later has the same bits. Both rates go through each numpy call at
    once, as the two rows of preallocated (2, levels) arrays written in place
    (``window_maxima_plan``): an hour is a dozen or so calls and allocates nothing."""
    levels = lattice.levels
    m = levels.size
    inputs, maxima = window_maxima_plan(np.arange(m), lattice.up_end, lattice.down_begin, sparse)
    rates = np.empty((2, 1))
    scaled = np.empty((2, m))

    def hour(v: np.ndarray, a: float, b: float, out: np.ndarray) -> None:
        rates[0, 0], rates[1, 0] = a, b
        np.multiply(rates, levels, out=scaled)  # a * levels, b * levels
        np.subtract(v, scaled, out=inputs)
        best = maxima()
        np.add(best, scaled, out=best)
        np.maximum(best[0], best[1], out=out)

    return hour


class ChainValues(Sequence[np.ndarray]):
    """``V_t`` (``t = 0 .. n``) of a chain on a lattice from the rows ``chain_values`` kept
    every ``every`` hours: a row in between is recomputed from the next kept row by the
    same Bellman hours (``bellman_hour``: the same bits as if it had been kept); the last
    block recomputed is cached, so a pass forward through the hours recomputes each hour
    once. ``along`` serves the forward pass cheaper still: it recomputes a block's rows only
    at the levels the path can reach from where it enters the block."""

    def __init__(
        self,
        kept: np.ndarray,
        every: int,
        buy: np.ndarray,
        sell: np.ndarray,
        lattice: Lattice,
        sparse: bool | None = None,
        slices: bool = True,
    ) -> None:
        """``sparse``: as ``bellman_hour``'s; ``slices`` False: ``along``'s restricted rows
        by gathers even where the windows are even (tests)."""
        self.kept, self.every, self.n = kept, every, buy.size
        self.buys, self.sells = buy.tolist(), sell.tolist()
        self.lattice = lattice
        self.hour = bellman_hour(lattice, sparse)
        self.block = -1  # the block whose rows are whole (``__getitem__``) ...
        self.reached = -1  # ... or exact on a path's reach (``along``)
        self.rows = np.empty((every, kept.shape[1]))
        # ``along``'s restricted rows: where the windows are even (``even_windows``) by slices
        # from two buffers in turn, else by a sparse table over the reach read by gathers
        # (each level's two windows as two overlapping halves of a power of two)
        m = kept.shape[1]
        self.uniform = (
            even_windows(np.arange(m), lattice.up_end, lattice.down_begin) if slices else None
        )
        if self.uniform is not None:
            up, down = self.uniform
            self.turns = (np.empty(2 * m + up + down), np.empty(2 * m + up + down))
            self.best = np.empty((2, m))
        else:
            k = np.arange(m)
            self.up_level, self.up_shift = _halves(lattice.up_end - k + 1)
            self.down_level, self.down_shift = _halves(k - lattice.down_begin + 1)
            self.depth = int(max(self.up_level.max(), self.down_level.max()))
            self.table = np.empty((self.depth + 1) * 2 * m)

    def __len__(self) -> int:
        return self.n + 1

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        t = index + len(self) if index < 0 else index
        if not 0 <= t <= self.n:
            raise IndexError(index)
        block, within = divmod(t, self.every)
        row: np.ndarray
        if within == 0 or t == self.n:
            row = self.kept[-1] if t == self.n else self.kept[block]
            return row
        if block != self.block:  # rows block * every + 1 .. end - 1, from the row at end
            end = min((block + 1) * self.every, self.n)
            v = self.kept[block + 1]
            for s in range(end - 1, block * self.every, -1):
                out = self.rows[s - block * self.every]
                self.hour(v, self.buys[s], self.sells[s], out)
                v = out
            self.block, self.reached = block, -1
        row = self.rows[within]
        return row

    def along(self, t: int, at: int) -> np.ndarray:
        """``V_{t+1}`` for a forward pass at level index ``at`` in hour ``t``, exact on the
        levels one move from ``at`` (``at``'s window; elsewhere the row may hold anything).

        Where ``t`` begins a block of recomputed rows, those rows are computed only at the
        levels reachable from ``at``: after ``j`` hours the index range ``R_j = [L_j, H_j]``
        with ``L_{j+1} = down_begin[L_j]``, ``H_{j+1} = up_end[H_j]`` (the windows are
        monotone in the index, so every level of ``R_j`` has its window inside ``R_{j+1}``,
        and a path from ``at`` stays in ``R_j``). Row ``t + j`` on ``R_j`` needs row ``t + j
        + 1`` on ``R_{j+1}`` only, so the block is computed backwards from the kept row at
        its end over ranges that shrink towards ``at``: on a 168-hour battery (windows of
        ~40 of 5,576 levels) a few hundred levels instead of all. The window maxima are
        exact whatever the algorithm (by slices where the windows hold one number of levels
        each side, ``_hour_sliding``, else by a sparse table read by gathers, ``_hour_on``)
        and the arithmetic is ``bellman_hour``'s, so the values are the same bits. Where the
        reaches hold more than 3/4 of the block's whole rows' entries, or a pass does not
        enter the block at its first hour, the whole rows are computed (``__getitem__``).
        Measured (one core, a year's forward pass): 168-h battery, 5,576 levels 30 -> 23 us
        an hour, 8,364 levels 36 -> 25; at round trip 0.87, 28,206 levels, 125 -> 57."""
        block, within = divmod(t + 1, self.every)
        if within == 0 or t + 1 == self.n:
            return self[t + 1]  # a kept row
        row: np.ndarray
        if block == self.reached:
            row = self.rows[within]
            return row
        if within != 1 or block == self.block:
            return self[t + 1]
        end = min((block + 1) * self.every, self.n)
        up_end, down_begin = self.lattice.up_end, self.lattice.down_begin
        reach = [(at, at)]
        for _ in range(end - t):
            lo, hi = reach[-1]
            reach.append((int(down_begin[lo]), int(up_end[hi])))
        # the rows' entries on the reaches against the whole rows': the narrower pays when it
        # is clearly less work (each restricted row also pads its windows, a few calls more)
        narrow = sum(hi - lo + 1 for lo, hi in reach[1:-1])
        if narrow > 0.75 * (len(reach) - 2) * self.kept.shape[1]:
            return self[t + 1]
        first = block * self.every
        v = self.kept[block + 1]
        for s in range(end - 1, t, -1):  # row s on R_{s - t} from row s + 1 on R_{s - t + 1}
            (lo, hi), (lo_in, hi_in) = reach[s - t], reach[s - t + 1]
            out = self.rows[s - first]
            if self.uniform is None:
                self._hour_on(v, self.buys[s], self.sells[s], lo, hi, lo_in, hi_in, out)
            else:
                self._hour_sliding(v, self.buys[s], self.sells[s], lo, hi, out)
            v = out
        self.block, self.reached = -1, block  # exact on the path's reach only
        row = self.rows[within]
        return row

    def _hour_on(
        self,
        v: np.ndarray,
        a: float,
        b: float,
        lo: int,
        hi: int,
        lo_in: int,
        hi_in: int,
        out: np.ndarray,
    ) -> None:
        """``bellman_hour`` at the levels ``lo .. hi`` only, from ``v`` exact on ``lo_in ..
        hi_in`` (which holds their windows): the window maxima from a sparse table over
        those entries only."""
        lat = self.lattice
        size = hi_in - lo_in + 1
        width = 2 * size
        table = self.table[: (self.depth + 1) * width].reshape(self.depth + 1, width)
        held = lat.levels[lo_in : hi_in + 1]
        np.subtract(v[lo_in : hi_in + 1], a * held, out=table[0, :size])
        np.subtract(v[lo_in : hi_in + 1], b * held, out=table[0, size:])
        fill_sparse_table(table)
        flat = table.reshape(-1)
        up = self.up_level[lo : hi + 1] * width + np.arange(lo - lo_in, hi - lo_in + 1)
        down = self.down_level[lo : hi + 1] * width + (lat.down_begin[lo : hi + 1] + (size - lo_in))
        here = lat.levels[lo : hi + 1]
        charge = np.maximum(flat[up], flat[up + self.up_shift[lo : hi + 1]])
        discharge = np.maximum(flat[down], flat[down + self.down_shift[lo : hi + 1]])
        np.maximum(charge + a * here, discharge + b * here, out=out[lo : hi + 1])

    def _hour_sliding(
        self, v: np.ndarray, a: float, b: float, lo: int, hi: int, out: np.ndarray
    ) -> None:
        """``_hour_on`` where every charge window holds ``U + 1`` levels and every discharge
        window ``D + 1``, cut at the lattice's ends (``self.uniform``): ``F_a`` on ``lo .. hi
        + U`` then -inf, and -inf then ``F_b`` on ``lo - D .. hi``, in one buffer; row ``j``
        of the table (maxima over ``2**j`` entries) from row ``j - 1`` in the other buffer;
        each side's window maxima read from its top row by two slices."""
        assert self.uniform is not None
        up, down = self.uniform
        m = self.kept.shape[1]
        levels = self.lattice.levels
        count = hi - lo + 1
        hi_up, lo_down = min(hi + up, m - 1), max(lo - down, 0)
        start = count + up  # where the discharge side begins
        size = start + count + down
        cur, other = self.turns
        held = hi_up - lo + 1
        np.subtract(v[lo : hi_up + 1], a * levels[lo : hi_up + 1], out=cur[:held])
        cur[held:start] = -np.inf
        pad = start + down - (lo - lo_down)
        cur[start:pad] = -np.inf
        np.subtract(v[lo_down : hi + 1], b * levels[lo_down : hi + 1], out=cur[pad:size])
        top_up, top_down = (up + 1).bit_length() - 1, (down + 1).bit_length() - 1
        best = self.best
        for j in range(max(top_up, top_down) + 1):
            if j:
                half, valid = 1 << (j - 1), size - (1 << j) + 1
                np.maximum(cur[:valid], cur[half : valid + half], out=other[:valid])
                cur, other = other, cur
            if j == top_up:
                shift = up + 1 - (1 << j)
                np.maximum(cur[:count], cur[shift : shift + count], out=best[0, :count])
            if j == top_down:
                shift = start + down + 1 - (1 << j)
                np.maximum(
                    cur[start : start + count], cur[shift : shift + count], out=best[1, :count]
                )
        here = levels[lo : hi + 1]
        np.maximum(best[0, :count] + a * here, best[1, :count] + b * here, out=out[lo : hi + 1])


def _halves(span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``floor(log2(span))`` and ``span - 2**floor(log2(span))`` (``span >= 1``): a window
    of ``span`` entries is two overlapping halves of ``2**level`` entries, ``shift`` apart."""
    level = np.frexp(span)[1] - 1  # exact for integers
    return level, span - (1 << level)


def chain_moves(
    values: Sequence[np.ndarray] | np.ndarray,
    buy: np.ndarray,
    sell: np.ndarray,
    lattice: Lattice,
    *,
    deadline_s: float | None = None,
    check_every: int = 256,
    start: int | None = None,
    step: Step | None = None,
) -> np.ndarray:
    """The forward pass over ``chain_values``' rows from x0 (or the level of index ``start``):
    each hour the best next level of the window (``step``, by default a new ``Step``);
    near-ties go to the smallest move (idle first), so indifferent hours stay idle.
    ``values`` may be ``ChainValues``, which recomputes rows as the pass reaches them
    (``ChainValues.along``: only where the path can reach, when that is clearly less work
    than whole rows); on a lattice of thousands of levels with wide windows the pass then
    costs as much as the backward one, so it checks the deadline too."""
    levels = lattice.levels
    n = buy.size
    at = lattice.start if start is None else start
    tol = 1e-12 * max(1.0, abs(float(values[0][at])))
    buys, sells = buy.tolist(), sell.tolist()
    along = values.along if isinstance(values, ChainValues) else None
    step = Step(lattice, n) if step is None else step
    moves = np.empty(n)
    for t in range(n):
        if t % check_every == 0:
            check_deadline(deadline_s, "scheduling the continuous chain")
        row = along(t, at) if along is not None else values[t + 1]
        nxt = step(row, at, buys[t], sells[t], tol)
        moves[t] = levels[nxt] - levels[at]
        at = nxt
    return moves


#: the most window entries (levels times the widest window) whose moves ``Step`` keeps, 24
#: bytes each (at most ~6 MB): the PRD battery's lattice of 134 levels has 10,050 (0.24 MB),
#: round trip 0.87's 672 levels 252,000; one-way 0.95 / 0.95's 1,369 levels (1.04 million)
#: take the direct step
STEP_KEPT_ENTRIES = 1 << 18


class Step:
    """The forward pass's step on ``lattice``: from level ``at`` in front of ``V_{t+1}``
    (``row``) at hour ``t``'s rates, the best next level of ``at``'s window; near-ties (within
    ``tol``, or 1e-12 relative to the best when None) go to the smallest move, idle first,
    then the lowest level.

    On a lattice of at most a quarter as many levels as the pass has ``hours`` (a level met
    four times on average) and ``STEP_KEPT_ENTRIES``, each level's window is kept once met:
    its moves' charging and discharging parts as two rows, so that ``(a, b) @ parts`` is each
    move's cost with the bits of ``a u`` or ``b u`` (the other part is 0), and its indices by
    the size of their moves. A step is then six numpy calls where it took eleven (134 levels:
    6.4 -> 3.9 µs a step; 672 levels: 7.6 -> 5.9 µs; one-off), and keeping a window costs
    about two steps. On larger lattices a path meets most levels once or twice (a 168-h
    battery's 5,576 or 28,206 levels over a year: kept windows cost 3-4 % more in all), so
    the step computes its window's moves directly, as before. One step may serve many passes
    over its lattice (``chain_cap``'s evaluations of re-priced days), with ``hours`` those
    of the chain."""

    def __init__(self, lattice: Lattice, hours: int) -> None:
        self.lattice = lattice
        m = lattice.levels.size
        widest = int((lattice.up_end - lattice.down_begin).max(initial=0)) + 1
        self.keep = 4 * m <= hours and m * widest <= STEP_KEPT_ENTRIES
        self.windows: dict[int, tuple[int, int, np.ndarray, np.ndarray]] = {}
        self.rates = np.empty(2)

    def moves(self, at: int) -> tuple[int, int, np.ndarray]:
        """``at``'s window: its first and end indices and the move to each of its levels."""
        lattice = self.lattice
        lo, hi = int(lattice.down_begin[at]), int(lattice.up_end[at]) + 1
        return lo, hi, lattice.levels[lo:hi] - lattice.levels[at]

    def __call__(self, row: np.ndarray, at: int, buy: float, sell: float, tol: float | None) -> int:
        if not self.keep:
            lo, hi, u = self.moves(at)
            total = row[lo:hi] - np.where(u > 0, buy * u, sell * u)
            distance = np.abs(u)
            distance[total < _near(float(total.max()), tol)] = np.inf
            return lo + int(distance.argmin())
        known = self.windows.get(at)
        if known is None:
            lo, hi, u = self.moves(at)
            charging = u > 0
            parts = np.vstack((np.where(charging, u, 0.0), np.where(charging, 0.0, u)))
            known = self.windows[at] = lo, hi, parts, np.argsort(np.abs(u), kind="stable")
        lo, hi, parts, order = known
        self.rates[0], self.rates[1] = buy, sell
        total = row[lo:hi] - self.rates @ parts
        far = total < _near(float(total.max()), tol)
        return lo + int(order[far[order].argmin()])  # the first in that order not far


def _near(top: float, tol: float | None) -> float:
    """The lowest total that ties with the best, ``top``: within ``tol``, or 1e-12 relative."""
    return top - (1e-12 * max(1.0, abs(top)) if tol is None else tol)


def dense_chain(buy: np.ndarray, sell: np.ndarray, lattice: Lattice) -> tuple[np.ndarray, float]:
    """``chain_values`` and ``chain_moves`` on a small lattice (``DENSE_LEVELS``): the chain's
    optimal stored-energy moves from x0 back to x0 and their value ``V_0(x0)``, by
    ``_dense_run`` over all its hours. The values may differ from ``chain_values``' in the
    last bits (another order of the same operations); either is the chain's optimum to
    rounding."""
    levels = lattice.levels
    u, window = _moves(lattice)
    end = np.full(levels.size, -np.inf)
    end[lattice.start] = 0.0
    rows, policy = _dense_run(buy, sell, u, window, end)
    path = [lattice.start]
    for row in policy:
        path.append(row[path[-1]])
    return np.diff(levels[path]), float(rows[0, lattice.start])


def _moves(lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """Every move between two levels (``u[i, j]`` = level j - level i) and whether it lies in
    level i's window (one move)."""
    k = np.arange(lattice.levels.size)
    u = lattice.levels[None, :] - lattice.levels[:, None]
    window = (k >= lattice.down_begin[:, None]) & (k <= lattice.up_end[:, None])
    return u, window


def _dense_run(
    buy: np.ndarray, sell: np.ndarray, u: np.ndarray, window: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, list[list[int]]]:
    """The recursion over hours without count limits, in front of the row ``end``: ``V_t``
    for ``t = 0 .. h`` (rows; the last is ``end``) and each hour's next level from every
    level. Hour ``t``'s move from level ``i`` to level ``j`` (inside ``i``'s window) costs
    ``a_t u`` charging or ``b_t u`` discharging (+inf outside the window), so ``V_t(i) =
    max_j V_{t+1}(j) - cost_t(i, j)`` is one subtraction and one row maximum of a (levels,
    levels) array an hour. The next levels are found for all hours at once from the same
    totals, as ``chain_moves`` finds them: among the moves within 1e-12 (relative to the
    level's value) of the row's best, the smallest, the first in index order."""
    hours, m = buy.size, end.size
    cost = np.where(u > 0.0, buy[:, None, None], sell[:, None, None]) * u
    cost[:, ~window] = np.inf
    rows = np.empty((hours + 1, m))
    rows[hours] = end
    scratch = np.empty((m, m))
    largest = np.maximum.reduce  # the ufunc itself: ndarray.max adds a Python call an hour
    for h in range(hours - 1, -1, -1):
        np.subtract(rows[h + 1], cost[h], out=scratch)
        largest(scratch, axis=1, out=rows[h])
    total = rows[1:, None, :] - cost  # the same numbers the rows' maxima were taken of
    best = rows[:-1, :, None]
    near = total >= best - 1e-12 * np.maximum(1.0, np.abs(best))
    return rows, np.where(near, np.abs(u), np.inf).argmin(axis=2).tolist()


def counted_chain(
    buy: np.ndarray,
    sell: np.ndarray,
    lattice: Lattice,
    offsets: np.ndarray,
    charges: np.ndarray,
    discharges: np.ndarray,
) -> tuple[np.ndarray, float]:
    """The chain's optimal stored-energy moves from x0 back to x0 on ``lattice`` when market day
    ``d`` (hours ``offsets[d] .. offsets[d + 1] - 1``) may charge in at most ``charges[d]`` of
    its hours and discharge in at most ``discharges[d]`` (``optimizer.chain_branch``'s count
    limits; a limit of at least the day's hours is none), and their value ``V_0(x0)``.

    On a day with a limit the state is the level and the hours used so far that day on each
    limited side: ``V_t(c, q, i)`` is the best from hour ``t`` at level ``i`` having charged
    in ``c`` and discharged in ``q`` of the day's earlier hours; a charge to ``j`` leads to
    ``(c + 1, q, j)`` and is barred at ``c`` = the limit, a discharge likewise, idling keeps
    the counts, and the next midnight takes any counts (they start again at 0). Each such
    hour is one subtraction and one row maximum of a (states, levels, levels) array whose
    entries read the state each move leads to. Runs of days without a limit are
    ``_dense_run``'s hours on a small lattice (``DENSE_LEVELS``: all their hours' next
    levels found at once), else ``bellman_hour``'s.
    The forward pass follows the counts and takes, as ``chain_moves``, the smallest move
    among those within a hair of the hour's best (1e-12 relative to the value there, or on
    a limited day to the most any schedule of the chain could earn).

    Exactness on the lattice: fix the signs of an optimal schedule within these limits; the
    linear programme over those signs has an optimal vertex on the lattice (module
    docstring) that charges and discharges in no more hours than the schedule did, so it
    keeps every limit, and the recursion over the lattice's levels finds it."""
    levels = lattice.levels
    m, n = levels.size, buy.size
    spans = np.diff(offsets)
    # each side's limit, or -1 for none (a limit of 0 bars the side: one state, no move)
    charge_limits = np.where(charges < spans, charges, -1).astype(int)
    discharge_limits = np.where(discharges < spans, discharges, -1).astype(int)
    limited = (charge_limits >= 0) | (discharge_limits >= 0)
    u, window = _moves(lattice)
    rising, falling = window & (u > 0.0), window & (u < 0.0)
    size = np.abs(u)
    largest = np.maximum.reduce
    dense = m <= DENSE_LEVELS
    hour = None if dense else bellman_hour(lattice)  # for runs without limits
    # near-ties on limited days: within 1e-12 of the most any schedule of the chain can earn
    tie = 1e-12 * max(1.0, float(np.maximum(np.abs(buy), np.abs(sell)).sum()) * float(size.max()))
    rows: list[np.ndarray] = [np.empty(0)] * (n + 1)  # V_t: (levels,) or (c, q, levels)
    policy: list[list[int] | None] = [None] * n  # next levels where found at once
    v = np.full(m, -np.inf)
    v[lattice.start] = 0.0
    rows[n] = v
    d = offsets.size - 2
    while d >= 0:
        end = int(offsets[d + 1])
        if not limited[d]:  # a run of days without a limit
            while d >= 0 and not limited[d]:
                d -= 1
            first = int(offsets[d + 1])
            if hour is not None:
                for t in range(end - 1, first - 1, -1):
                    out = np.empty(m)
                    hour(v, float(buy[t]), float(sell[t]), out)
                    rows[t] = v = out
                continue
            block, policy[first:end] = _dense_run(buy[first:end], sell[first:end], u, window, v)
            v = block[0]
            continue
        first = int(offsets[d])
        lc, ld = int(charge_limits[d]), int(discharge_limits[d])
        nc, nd = max(lc + 1, 1), max(ld + 1, 1)
        # every move's cost this day (a u charging, b u discharging, 0 idling, +inf outside
        # the window), and which count it takes: a charge reads the state c + 1 (-inf past
        # the limit), a discharge q + 1, idling the state itself
        cost = np.where(u > 0.0, buy[first:end, None, None], sell[first:end, None, None]) * u
        cost[:, ~window] = np.inf
        counts = np.broadcast_to(v, (nc, nd, m)).copy()  # at midnight: any counts
        charged = np.full((nc, nd, m), -np.inf)
        discharged = np.full((nc, nd, m), -np.inf)
        # every hour's totals kept for one policy pass over the day, where they fit
        hours = end - first
        kept = hours * nc * nd * m * m <= COUNTED_CELLS
        totals = np.empty((hours, nc, nd, m, m)) if kept else np.empty((1, nc, nd, m, m))
        for t in range(end - 1, first - 1, -1):
            reach = counts[:, :, None, :]
            if ld >= 0:
                discharged[:, :-1] = counts[:, 1:]
                reach = np.where(falling, discharged[:, :, None, :], reach)
            if lc >= 0:
                charged[:-1] = counts[1:]
                reach = np.where(rising, charged[:, :, None, :], reach)
            total = totals[t - first if kept else 0]
            np.subtract(reach, cost[t - first], out=total)
            rows[t] = counts = largest(total, axis=3)
            if not kept:
                near = total >= counts[:, :, :, None] - tie
                policy[t] = np.where(near, size, np.inf).argmin(axis=3).reshape(-1).tolist()
        if kept:
            best = np.stack(rows[first:end])[:, :, :, :, None]
            near = totals >= best - tie
            choice = np.where(near, size, np.inf).argmin(axis=4).reshape(hours, -1)
            policy[first:end] = choice.tolist()
        v = counts[0, 0].copy()
        rows[first] = v
        d -= 1
    value = float(v[lattice.start])
    moves = np.empty(n)
    at = lattice.start
    step = Step(lattice, n)
    for d in range(offsets.size - 1):
        first, end = int(offsets[d]), int(offsets[d + 1])
        lc, ld = int(charge_limits[d]), int(discharge_limits[d])
        nd = max(ld + 1, 1)
        c = q = 0
        for t in range(first, end):
            known = policy[t]
            if known is None:  # a row of bellman_hour's: chain_moves's step
                nxt = step(rows[t + 1], at, float(buy[t]), float(sell[t]), None)
            elif limited[d]:
                nxt = known[(c * nd + q) * m + at]
            else:
                nxt = known[at]
            moves[t] = levels[nxt] - levels[at]
            c += int(moves[t] > 0.0 and lc >= 0)
            q += int(moves[t] < 0.0 and ld >= 0)
            at = nxt
    return moves, value


def window_maxima_plan(
    k: np.ndarray, up_end: np.ndarray, down_begin: np.ndarray, sparse: bool | None
) -> tuple[np.ndarray, Callable[[], np.ndarray]]:
    """Every level's charge window maximum ``max F_a[k : up_end + 1]`` and discharge window
    maximum ``max F_b[down_begin : k + 1]`` as ``(inputs, maxima)``: the caller writes ``F_a``
    and ``F_b`` into the rows of ``inputs`` (2, levels), then ``maxima()`` returns the charge
    and discharge window maxima as the rows of a (2, levels) array, overwritten by the next
    call. The windows are fixed index ranges of the lattice. Those of a chain
    lattice (each side's windows of one number of levels, cut at the ends) by a sparse table
    read by slices (``sliding_window_plan``; measured on one core: as fast as reduceat on
    18 levels, 1.3 times faster on 70, 5 times on 672); any other windows by one
    ``maximum.reduceat`` over both on small lattices (``REDUCEAT_LEVELS``), else by a sparse
    table read by gathers; ``sparse`` forces one (tests: False reduceat, True a sparse
    table)."""
    m = k.size
    begin = np.concatenate((k, down_begin + m))
    end = np.concatenate((up_end, k + m))  # inclusive
    span = end - begin + 1
    sliding = None if sparse is False else sliding_window_plan(k, up_end, down_begin)
    if sliding is not None:
        return sliding
    if sparse is None:
        sparse = m > REDUCEAT_LEVELS
    if not sparse:
        bounds = np.empty(4 * m, dtype=np.intp)
        bounds[0::2], bounds[1::2] = begin, end + 1
        row = np.empty(2 * m + 1)
        row[-1] = -np.inf  # the end of the last window

        def by_reduceat() -> np.ndarray:
            maxima: np.ndarray = np.maximum.reduceat(row, bounds)[::2]
            return maxima.reshape(2, m)

        return row[:-1].reshape(2, m), by_reduceat
    first, second = sparse_halves(begin, span, 2 * m)
    table = np.empty((int(span.max()).bit_length(), 2 * m))  # rows up to the longest window's
    flat = table.ravel()

    def by_table() -> np.ndarray:
        fill_sparse_table(table)
        maxima: np.ndarray = np.maximum(flat[first], flat[second])
        return maxima.reshape(2, m)

    return table[0].reshape(2, m), by_table


def even_windows(
    k: np.ndarray, up_end: np.ndarray, down_begin: np.ndarray
) -> tuple[int, int] | None:
    """``(U, D)`` where, with ``k = 0 .. m - 1``, every charge window holds ``U + 1`` levels and
    every discharge window ``D + 1``, cut at the ends (``up_end = min(k + U, m - 1)``,
    ``down_begin = max(k - D, 0)``: a chain lattice's, ``sliding_window_plan``), else None."""
    m = k.size
    up, down = int(np.max(up_end - k)), int(np.max(k - down_begin))
    index = np.arange(m)
    if (
        np.array_equal(k, index)
        and np.array_equal(up_end, np.minimum(index + up, m - 1))
        and np.array_equal(down_begin, np.maximum(index - down, 0))
    ):
        return up, down
    return None


def sliding_window_plan(
    k: np.ndarray, up_end: np.ndarray, down_begin: np.ndarray
) -> tuple[np.ndarray, Callable[[], np.ndarray]] | None:
    """``window_maxima_plan`` by sparse table for the windows of a chain lattice, None for
    other windows. A chain lattice's levels (``chain_lattice``, the whole closure) look the
    same from every level but those near its ends, so with ``k = 0 .. m - 1`` every charge
    window holds ``U + 1`` levels and every discharge window ``D + 1``, cut at the ends:
    ``up_end = min(k + U, m - 1)``, ``down_begin = max(k - D, 0)`` (checked here; a chain's
    lattice of fewer whole moves need not be so). Then every window maximum is the larger of
    two entries of one row of the table at fixed offsets, read by slices, not gathers: the
    table's row ``j`` holds the maxima over ``2**j`` entries from each index; ``F_a`` and
    ``F_b`` lie in one buffer with ``max(U, D)`` entries of -inf between them, so a window cut
    at an end of the lattice is a whole window (-inf changes no maximum); only the rows up to
    each side's top row are built (into two buffers in turn), those past one side's top row
    only over the other side's entries."""
    m = k.size
    even = even_windows(k, up_end, down_begin)
    if even is None:
        return None
    up, down = even
    row = m + max(up, down)  # F_a, the -inf between, F_b, then entries no window reads
    length = row + m  # what the table covers
    inputs = np.full(2 * row, -np.inf)
    turns = (np.full(length, -np.inf), np.full(length, -np.inf))
    top_up, top_down = (up + 1).bit_length() - 1, (down + 1).bit_length() - 1
    best = np.empty((2, m))

    def held(j: int) -> np.ndarray:  # the buffer holding row j of the table
        return inputs[:length] if j == 0 else turns[j % 2]

    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def finish(j: int) -> None:  # the windows whose table row is j
        t = held(j)
        reach = 1 << j
        up_first, up_second = t[:m], t[up + 1 - reach : up + 1 - reach + m]
        down_first = t[row - down : row - down + m]
        down_second = t[row + 1 - reach : row + 1 - reach + m]
        if top_up == top_down:  # both rows in one call: F_b's windows one stride on
            view = np.lib.stride_tricks.as_strided
            first = view(up_first, (2, m), (t.itemsize * (row - down), t.itemsize), writeable=False)
            second = view(up_second, (2, m), (t.itemsize * (row - up), t.itemsize), writeable=False)
            steps.append((first, second, best))
        elif j == top_up:
            steps.append((up_first, up_second, best[0]))
        else:
            steps.append((down_first, down_second, best[1]))

    for j in range(max(top_up, top_down) + 1):
        if j > 0:
            half = 1 << (j - 1)
            lo = 0 if j <= top_up else row - down
            hi = length - (1 << j) + 1 if j <= top_down else m + up + 1 - (1 << j)
            src, dst = held(j - 1), held(j)
            steps.append((src[lo:hi], src[lo + half : hi + half], dst[lo:hi]))
        if j in (top_up, top_down):
            finish(j)

    def by_slices() -> np.ndarray:
        for first, second, out in steps:
            np.maximum(first, second, out=out)
        return best

    return inputs.reshape(2, row)[:, :m], by_slices


def sparse_halves(begin: np.ndarray, span: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices, into a sparse table of rows of ``size`` entries (``fill_sparse_table``),
    of the two overlapping halves of ``2**floor(log2(span))`` entries that cover each window
    ``[begin, begin + span)`` (``span >= 1``): its maximum is the larger of the two."""
    level, shift = _halves(span)
    first = level * size + begin
    return first, first + shift


def fill_sparse_table(table: np.ndarray) -> None:
    """Rows ``1 ..`` of a sparse table whose row 0 is set: row ``j`` holds the maxima over
    ``2**j`` entries from each index (its last ``2**j - 1`` entries, which no whole window
    reads, are left as they are)."""
    size = table.shape[1]
    for j in range(1, table.shape[0]):
        w = 1 << (j - 1)
        np.maximum(table[j - 1, : size - w], table[j - 1, w:], out=table[j, : size - w])
