"""``dp``: dynamic programming over a discretised state of charge (SPEC §3).

A second route to near-optimal schedules, independent of the LP: no solver, only the Bellman
recursion over stored energy on a grid.

Grid. Stored energy takes the levels ``e_0 + m·h`` (m integer) inside [min_soc·E, max_soc·E],
so the starting level is exactly on the grid. One hour may move the level up by at most
``U = floor(eta_c·P / h)`` steps (charging ``m·h / eta_c`` MW at the grid) or down by at most
``W = floor(P / (eta_d·h))`` steps (discharging ``m·h·eta_d`` MW), so every transition is an
exactly feasible power and each move is either a charge, a discharge or idle -- never both.
The grid spans the levels a schedule can use (in ``daily`` mode only those a day can reach and
come back from) in about N steps, N chosen in ``LEVELS`` to lose as little as possible to
rounding -- of the full-power moves, of the room between the start and each SoC bound (a step
that divides the room whole keeps the bound on the grid: a start just above the floor could
otherwise not be emptied), and of the daily cap -- and larger when needed for at least
``MIN_STEPS_PER_HOUR`` steps per full-power hour (within ``MAX_LEVELS`` and a ~40 MB bound on
the value tables). Where the best such grid loses more than ``GOOD_LOSS`` (0.5 %), the
coarsest finer grid up to ``FINE_LEVELS`` steps that does not is taken (a room beside the
start smaller than one such step may be the step itself, up to ``MAX_LEVELS``; the PRD
battery's grid of 177 levels loses 0.24 %: unchanged); where none does, the grid that loses
least with a room smaller than a full-power move weighted by its size against that move.
Unseeded runs of the property tests' strategies (2,500-3,400 examples each) now find 0-2
cases below 99 % of ``optimal``, all of them capped days on the daily route at 95.6-98.8 %,
the same before (the multiplier's duality gap, "Cycle limits" below); before, 12 of 1,215
were (a start 0.37 % of the window above the floor earned nothing, rounding of the
full-power moves cost up to 1.5 %).

Recursion. With ``a_t = p_t / eta_c`` (grid cost of a stored MWh) and
``b_t = (p_t - kappa)·eta_d`` (net income of a withdrawn stored MWh),

    V_t(k) = max( a_t·h·k + max_{j in [k, k+U]} (V_{t+1}(j) - a_t·h·j),
                  b_t·h·k + max_{j in [k-W, k]} (V_{t+1}(j) - b_t·h·j) )

so each hour is two sliding-window maxima (log2(window) vectorised maxima by doubling), for
all days at once (days are rows; 23- and 24-hour days are padded
at the end with hours forced to idle, which leaves V unchanged and so cannot change anything).
``V_T`` is 0 at the starting level and -inf elsewhere, which enforces the end condition. The
forward pass re-evaluates each day's moves from its current level against the stored ``V``
tables and prefers the smallest move among the (numerically) best, so ties idle.

Horizons. ``daily``: every day is a row. ``continuous``: one row, the whole request as one
chain of hours, starting and ending at the starting level.

Cycle limits (``max_cycles_per_day``). Handled by Lagrangian relaxation: a price ``lambda`` per
withdrawn stored MWh is subtracted from ``b_t``; days whose unconstrained schedule exceeds the
cap get ``lambda`` bisected per day (``CAP_BISECTIONS`` rounds, vectorised). The last schedules
on either side of the cap are then mixed so the day withdraws exactly the cap (a convex mix of
valid schedules is valid once hours that would both charge and discharge are netted out, which
keeps every SoC level). The mix, or the best schedule within the cap met during the bisection
(idle at worst), is kept: the cap always holds, and the result may fall a little short of the
capped optimum (duality gap, finite bisection).

In ``continuous`` mode the cap is per calendar day while the SoC runs as one chain, so the
grid's exact optimum needs the energy withdrawn so far today as a second state dimension
(``_capped_chain_exact``): states ``(level, withdrawn steps)``, kept in skewed coordinates
``(level + withdrawn, withdrawn)`` where a charge moves along the first axis and a discharge
along the second, so each hour is again two window maxima; at each midnight the withdrawal
starts from 0. That is ~(levels + cap steps) x cap steps states -- ~20,000 to ~240,000 for
caps of 0.5 to 2 cycles on ~170 levels, ~100 to ~1,400 times the 1-D chain -- so it runs
when states x hours stay within ``MAX_CAPPED_STATE_HOURS`` (about 0.6 s of one core: a few
days, e.g. 2-4 days at 2 cycles), keeping one day's tables at a time (the backward pass keeps
each midnight's values, the forward pass recomputes each day). The searched chains below are
tried too (a mix of two can fall between grid points and beat the grid's optimum). On 300
random capped chains of 2-4 days (``bench/bench_dp_quality.py``, seed 1) ``dp`` then earns at
least 98.90 % of ``optimal`` (one case below 99 %, a 4-day chain: the grid's rounding; less
than 99 % on 107 of them, less than 97 % on 46, 77.8 % at worst before the exact recursion),
and on 500 more (seed 2) at least 99.52 %, ~0.23 s a case. A capped chain's grid is sized so
that the exact recursion fits where 150 levels or more allow it (``chain_grid``: 4 days at 2
cycles a day, searched only at 96.9 %, now 99.7 %).

Longer capped chains (a year with cap 1: ~25 times over the bound) are searched instead, a
heuristic: chains under no multiplier, under the daily multipliers, and under per-day
multipliers bisected along the chain from those (``CHAIN_BISECTIONS`` rounds: a day over the
cap raises its own, a day within it lowers its own; the upper end of every bracket is a price
at which no withdrawal anywhere on the chain pays, since energy can be carried into a day). A
chain that breaks the cap on some days also gives that chain with those days re-solved
between its own midnight levels under the cap (``_daily`` with ``ends``: the other days and
every midnight stay, so the SoC chain stays whole). Then any two of these schedules and the
daily ones are mixed with the weights at the ends of the interval that keeps every day
within the cap (``_mix_weights``; a chain over the cap on one day and another over it on the
next can mix within it on both), and the best valid schedule is kept. Along a chain the
per-day multipliers interact and must be searched jointly, with no finite exact termination
for a discretised DP, and where the optimum splits one charge between the caps of two days
(a vertex between two chains) only a mix of the two right chains reaches it: on the 300
chains above, searched only, 45 fall below 99 % of ``optimal``, 9 below 97 %, 77.8 % at worst
(narrow SoC windows with half a cycle a day); on the real APATZINGAN year with cap 1, 99.1 %.
``optimal`` (exact) is the reference there.

Every schedule is re-checked against settlement's rules before it is returned (a day that
failed would idle; none is expected to).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import numpy as np

from optimizer.battery import Battery
from optimizer.envelope import stored_rates
from optimizer.lattice import Lattice, bellman_hour
from optimizer.market import MarketDay
from optimizer.results import Horizon
from optimizer.settle import Dispatch, day_offsets
from optimizer.strategies._days import (
    chain_is_valid,
    flatten,
    guard_physics,
    hour_mask,
    price_matrix,
)
from optimizer.strategies.base import Strategy

#: Candidate numbers of grid steps between min_soc and max_soc.
LEVELS = range(150, 201)
#: Share of the full-power moves, of the rooms beside the start and of the cap a grid of
#: ``LEVELS`` may lose to rounding before finer grids, up to ``FINE_LEVELS`` steps, are
#: looked at (``make_grid``; the PRD battery's grid loses 0.24 %), within the value tables'
#: bound (``max_levels``: a year allows ~546). 400 was not enough: a start 0.5 % of the
#: window above the floor, with full-power moves of 34.6 and 42.9 such steps, kept 98.8 %.
GOOD_LOSS = 0.005
FINE_LEVELS = 2000
#: Minimum grid steps per full-power hour.
MIN_STEPS_PER_HOUR = 4
#: Upper bound on the number of grid levels (for very long durations and low efficiencies).
MAX_LEVELS = 4000
#: Upper bound on the size of the stored value tables (levels x rows x hours), ~40 MB.
MAX_TABLE_VALUES = 5_000_000
#: Bisection rounds for the cycle-limit multiplier.
CAP_BISECTIONS = 8
#: Work bound of the exact capped chain (``_capped_chain_exact``): states (levels x
#: withdrawal steps) x hours, twice (backward pass, then each day again going forward);
#: up to ~0.6 s of one core
MAX_CAPPED_STATE_HOURS = 40_000_000
#: Bisection rounds of the per-day multipliers along a ``continuous`` chain (each one chain
#: recursion over every hour)
CHAIN_BISECTIONS = 2
_SLACK = 1e-9
#: relative slack of the cap when a chain is kept: the exact recursion's cap in grid steps is
#: rounded with ``_SLACK`` steps (up to ~1e-9 of the cap over it); settlement allows 1e-7 W
CAP_SLACK = 1e-8


@dataclass(frozen=True)
class Grid:
    """SoC grid: level m holds ``e0 + (m - start)·step_mwh`` stored MWh."""

    step_mwh: float
    levels: int
    start: int
    up: int  # max steps per hour charging
    down: int  # max steps per hour discharging


@lru_cache(maxsize=256)
def day_reach_mwh(battery: Battery, hours: int) -> float:
    """How far (stored MWh) a day of ``hours`` hours can move away from its starting level
    and still come back: l hours one way, the other hours the other way."""
    p, eta_c, eta_d = battery.power_mw, battery.eta_charge, battery.eta_discharge
    return max(min(k * eta_c * p, (hours - k) * p / eta_d) for k in range(1, hours))


@lru_cache(maxsize=256)  # a pure function of a frozen battery: once per battery
def make_grid(
    battery: Battery, *, reach_mwh: float = math.inf, max_levels: int = MAX_LEVELS
) -> Grid:
    """The SoC grid over the levels within ``reach_mwh`` of the start (and within the SoC
    bounds), with at most about ``max_levels`` levels: among ``LEVELS`` steps, the step that
    loses least to rounding of the full-power moves, of the SoC window beside the start and,
    with a cycle limit, of the daily cap; where that loses more than ``GOOD_LOSS``, the
    coarsest finer grid (up to ``FINE_LEVELS`` steps) that does not, else, among all, the
    grid that loses least with a room smaller than a full-power move weighted by its size
    against that move."""
    p, eta_c, eta_d = battery.power_mw, battery.eta_charge, battery.eta_discharge
    energy = battery.energy_mwh
    e0 = battery.soc_start * energy
    room_down = min(e0 - battery.min_soc * energy, reach_mwh)
    room_up = min(battery.max_soc * energy - e0, reach_mwh)
    span = room_down + room_up
    fastest = min(eta_c * p, p / eta_d)  # the smaller full-power move, in stored MWh
    need = math.ceil(MIN_STEPS_PER_HOUR * span / fastest)
    top = max(LEVELS.start, min(max_levels, MAX_LEVELS))
    fewest = min(max(LEVELS.start, need), top)
    most = min(max(LEVELS.stop - 1, need), top)
    # A start strictly inside the window puts a SoC bound off a grid of span / n steps unless
    # the room beside the start is a whole number of steps: a start just above the floor
    # could not be emptied (0.37 % of the window above it: dp sold nothing). Steps that
    # divide a room whole are candidates too; for a room smaller than every finer step, the
    # room itself (within ``top`` levels).
    bounds = [room for room in (room_down, room_up) if 0 < room < reach_mwh]
    cap = battery.daily_withdrawal_cap_mwh

    def candidates(lo: int, hi: int) -> np.ndarray:  # steps for about lo..hi levels
        steps = [span / np.arange(lo, hi + 1)]
        for room in bounds:
            first = max(1, math.ceil(room * lo / span))
            last = math.floor(room * hi / span)
            if last < first and hi < top and span / room <= top:
                first = last = 1
            steps.append(room / np.arange(first, last + 1))
        return np.concatenate(steps)

    def loss(step: np.ndarray, weighted: bool = False) -> np.ndarray:
        """Shares of the moves, the rooms and the cap lost; ``weighted``: a room's share
        scaled down where the room is less than a full-power move (what a day that also
        trades full moves loses there)."""
        up, down = eta_c * p / step, p / (eta_d * step)
        lost = 2.0 - np.floor(up + _SLACK) / up - np.floor(down + _SLACK) / down
        for room in bounds:
            weight = min(1.0, room / fastest) if weighted else 1.0
            lost += weight * (room / step - np.floor(room / step + _SLACK)) * step / room
        if cap is not None and cap > 0:
            steps = cap / step
            lost += np.where(steps >= 1, (steps - np.floor(steps + _SLACK)) / steps, 1.0)
        return np.asarray(lost)

    def least(steps: np.ndarray, weighted: bool = False) -> tuple[float, float]:
        """The step that loses least (the coarser on ties), and its loss."""
        lost = loss(steps, weighted)
        best = np.lexsort((-steps, lost))[0]
        return float(steps[best]), float(lost[best])

    coarse = candidates(fewest, most)
    step, lost = least(coarse)
    if lost > GOOD_LOSS:
        finer = (
            candidates(most + 1, min(FINE_LEVELS, top))
            if most < min(FINE_LEVELS, top)
            else np.empty(0)
        )
        good = finer[loss(finer) <= GOOD_LOSS]
        # none good: a small room's rounding counts for what a full-power move would lose
        # (a start just below the ceiling of a capped chain, whose grid is bounded by the
        # exact recursion, took a grid holding the ceiling and rounding every move by 1 %)
        step = float(good.max()) if good.size else least(np.append(coarse, finer), True)[0]
    below = math.floor(room_down / step + _SLACK)
    above = math.floor(room_up / step + _SLACK)
    levels = below + above + 1
    up = min(math.floor(eta_c * p / step + _SLACK), levels - 1)
    down = min(math.floor(p / (eta_d * step) + _SLACK), levels - 1)
    return Grid(step_mwh=step, levels=levels, start=below, up=up, down=down)


def _window_max(g: np.ndarray, spare: np.ndarray, width: int) -> np.ndarray:
    """``out[k] = max(g[k : k + width])`` along axis 0 for every k that has a whole window
    (``g.shape[0] - width + 1`` rows; pad ``g`` with -inf rows for windows past its end), by
    doubling: log2(width) vectorised maxima. ``g`` and ``spare`` (same shape) are scratch: both
    are overwritten, and the result is a view of one of them. Each pass writes into the other
    buffer, so no pass reads what it writes (numpy would otherwise copy the overlapping
    operand first)."""
    count = g.shape[0]  # rows of m that hold a whole window
    m = g
    span = 1
    while 2 * span <= width:  # invariant: m[k] = max(g[k : k + span]) for k < count
        np.maximum(m[: count - span], m[span:count], out=spare[: count - span])
        m, spare = spare, m
        count -= span
        span *= 2
    rest = width - span
    if rest:
        np.maximum(m[: count - rest], m[rest:count], out=spare[: count - rest])
        return spare[: count - rest]
    return m[:count]


@dataclass(frozen=True)
class _Solution:
    moves: np.ndarray  # (rows, hours) grid steps per hour, + charge / - discharge
    withdrawn_mwh: np.ndarray  # (rows,) battery-side energy withdrawn per row


def _tie_tolerance(prices: np.ndarray, battery: Battery) -> float:
    """Values within this of an hour's best are ties in a forward pass (the smallest move
    among them is taken, so indifferent hours idle)."""
    return 1e-9 * (max(1.0, float(np.max(np.abs(prices)))) * battery.energy_mwh)


def _ranked_moves(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The grid's moves ``-down .. up`` in natural order and each one's rank in the order
    ``_solve`` tries them (the smallest first, a charge before a discharge of its size)."""
    moves = np.arange(-grid.down, grid.up + 1)
    return moves, 2 * np.abs(moves) + (moves < 0)


def _solve(
    prices: np.ndarray,
    real: np.ndarray,
    battery: Battery,
    grid: Grid,
    penalty: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray] | None = None,
) -> _Solution:
    """Backward Bellman pass over all rows at once, then the forward pass.

    ``prices``, ``real`` and ``penalty`` are (rows, hours); ``penalty`` is subtracted from
    the value of withdrawing one stored MWh. Every row starts and ends at ``grid.start``, or
    at its own levels ``ends = (first, last)`` (grid indices, one per row: a day between
    given midnights). Value tables are (levels, rows) so the window maxima run over
    contiguous memory.
    """
    rows, hours = prices.shape
    if ends is None:
        first_level = last_level = np.full(rows, grid.start)
    else:
        first_level, last_level = ends
    h = grid.step_mwh
    # (hours, rows), each hour's row contiguous: cost of one step up, income of one step down
    buy, sell = stored_rates(prices, battery)
    a = np.ascontiguousarray((buy * h).T)
    b = np.ascontiguousarray(((sell - penalty) * h).T)
    idle_hour = ~real.T
    k = np.arange(grid.levels, dtype=float)[:, None]
    levels = grid.levels
    values = np.empty((hours + 1, levels, rows))
    v = values[hours]
    v[...] = -np.inf
    v[last_level, np.arange(rows)] = 0.0
    # window maxima over the levels: up, max(g[k : k + U + 1]), on g padded with -inf after
    # the last level; down, max(g[k - W : k + 1]), on g padded with -inf before the first
    # (the windows past the grid count as -inf; one longer than the grid reaches no further)
    wide_up, wide_down = min(grid.up + 1, levels), min(grid.down + 1, levels)
    g_up, spare_up = np.empty((2, levels + wide_up - 1, rows))
    g_down, spare_down = np.empty((2, levels + wide_down - 1, rows))
    idles = cast("list[bool]", idle_hour.any(axis=1).tolist())
    lowest_first, top_first = int(first_level.min()), int(first_level.max())
    lowest_last, top_last = int(last_level.min()), int(last_level.max())
    for t in range(hours - 1, -1, -1):
        # only the levels [lo, hi) a schedule can be at after t hours and still get back to
        # the start by the end are worked on: V_t is -inf at the levels that cannot get back
        # (as the recursion would find), and the others, beyond the reach of the first t
        # hours, are never read (the forward pass reads V_t at levels it reaches; V_{t-1} at
        # levels one hour's move from those it reaches)
        # (over the rows' own starts and ends, the union of their bands)
        lo = max(lowest_first - t * grid.down, lowest_last - (hours - t) * grid.up, 0)
        hi = min(top_first + t * grid.up, top_last + (hours - t) * grid.down, levels - 1) + 1
        first = max(lo - wide_down + 1, 0)  # the lowest level a window reads
        last = min(hi + wide_up - 1, levels)  # one past the highest
        kk = k[first:last]
        ak, bk = kk * a[t], kk * b[t]  # rows: levels first .. last - 1
        count = hi - lo
        span_up = count + wide_up - 1
        g = g_up[:span_up]
        np.subtract(v[lo:last], ak[lo - first :], out=g[: last - lo])
        g[last - lo :] = -np.inf
        up = _window_max(g, spare_up[:span_up], wide_up)
        up += ak[lo - first : hi - first]
        span_down = count + wide_down - 1
        g = g_down[:span_down]
        below = span_down - (hi - first)  # window rows before level 0
        g[:below] = -np.inf
        np.subtract(v[first:hi], bk[: hi - first], out=g[below:])
        down = _window_max(g, spare_down[:span_down], wide_down)
        down += bk[lo - first : hi - first]
        out = values[t]
        np.maximum(up, down, out=out[lo:hi])
        out[:lo] = -np.inf
        out[hi:] = -np.inf
        if idles[t]:  # padding hours keep V unchanged
            np.copyto(out, v, where=idle_hour[t])
        v = out

    # forward: candidate moves ordered by size, so the first of equal values is the smallest
    steps = np.arange(1, max(grid.up, grid.down) + 1)
    moves = np.concatenate(([0], np.column_stack((steps, -steps)).ravel()))
    moves = moves[(moves <= grid.up) & (moves >= -grid.down)]
    tol = _tie_tolerance(prices, battery)
    level = first_level.astype(np.intp)
    chosen = np.zeros((hours, rows), dtype=np.intp)
    # V_{t+1} is read through a copy padded with -inf on both sides (rows below ..
    # below + levels - 1), so every move's target is read without a range check: ``reach``
    # is the flat index of each move's target from level 0, one column per row
    below = grid.down
    padded = np.full((below + levels + grid.up, rows), -np.inf)
    # (rows, moves): each row's candidates side by side, so that the reductions over them
    # run along the last axis
    reach = (moves[None, :] + below) * rows + np.arange(rows)[:, None]
    # each move's reward: -a_t·m for a charge (m > 0), b_t·(-m) otherwise, i.e. the hour's
    # a_t or b_t times -m (exactly the same products)
    charges = moves > 0
    minus = -moves
    for t in range(hours):
        padded[below : below + levels] = values[t + 1]
        total = padded.take(reach + (level * rows)[:, None])  # (rows, moves)
        total += np.where(charges, a[t][:, None], b[t][:, None]) * minus
        best = total.max(axis=1)
        step = moves[np.argmax(total >= (best - tol)[:, None], axis=1)]
        if idles[t]:
            step = np.where(idle_hour[t], 0, step)
        chosen[t] = step
        level += step
    chosen = chosen.T
    withdrawn = np.where(chosen < 0, -chosen, 0).sum(axis=1) * h
    return _Solution(moves=chosen, withdrawn_mwh=withdrawn)


def _solve_chain(
    prices: np.ndarray, battery: Battery, grid: Grid, penalty: np.ndarray
) -> np.ndarray:
    """``_solve`` for one chain of hours (``continuous``): the same recursion and the same
    tie-breaking on 1-D arrays, with slices instead of gathers in the forward pass (the chain
    is long and thin, so the number of numpy calls per hour is what costs)."""
    hours = prices.size
    h = grid.step_mwh
    buy, sell = stored_rates(prices, battery)
    a = buy * h
    b = (sell - penalty) * h
    levels = grid.levels
    index = np.arange(levels)
    # the grid as a lattice of levels 0 .. levels - 1 (in steps): each level's charge window
    # [k, k + U] and discharge window [k - W, k], cut at the grid's ends, so each hour is
    # ``optimizer.lattice.bellman_hour``: both rates through each numpy call at once, the
    # window maxima by a sparse table read by slices, nothing allocated
    hour = bellman_hour(
        Lattice(
            levels=index.astype(float),
            start=grid.start,
            up_end=np.minimum(index + grid.up, levels - 1),
            down_begin=np.maximum(index - grid.down, 0),
            up_mwh=float(grid.up),
            down_mwh=float(grid.down),
        )
    )
    values = np.empty((hours + 1, levels))
    v = values[hours]
    v.fill(-np.inf)
    v[grid.start] = 0.0
    buys, sells = a.tolist(), b.tolist()
    for t in range(hours - 1, -1, -1):
        hour(v, buys[t], sells[t], values[t])
        v = values[t]

    # the moves in the order ties are broken (the smallest first, a charge before a discharge
    # of its size): the first of them within ``tol`` of the best is ``_solve``'s choice. Each
    # hour's row is read through one buffer padded with -inf by a full move on either side,
    # so every move's target is read without cutting its window at the grid's ends.
    moves, rank = _ranked_moves(grid)
    ranked = moves[np.argsort(rank)]
    pad = grid.down
    padded = np.full(pad + levels + grid.up, -np.inf)
    row = padded[pad : pad + levels]
    targets = ranked + pad  # a move's target in the buffer, from level 0
    reward = np.multiply.outer(-a, ranked)  # charging; discharging below
    discharges = ranked < 0
    reward[:, discharges] = np.multiply.outer(-b, ranked[discharges])
    tol = _tie_tolerance(prices, battery)
    chosen = np.zeros(hours, dtype=np.intp)
    level = grid.start
    largest = np.maximum.reduce
    for t in range(hours):
        row[:] = values[t + 1]
        total = padded[targets + level] + reward[t]  # moves off the grid: -inf
        step = int(ranked[(total >= largest(total) - tol).argmax()])  # the first True
        chosen[t] = step
        level += step
    return chosen


def chain_grid(battery: Battery, hours: int) -> Grid:
    """The grid of a ``continuous`` chain of ``hours`` hours: its value tables within
    ``MAX_TABLE_VALUES``; with a cycle limit, also as many levels as keep
    ``_capped_chain_exact`` within ``MAX_CAPPED_STATE_HOURS`` (its states are ~(levels + cap
    steps) if that leaves at least ``LEVELS.start``; else the grid an uncapped chain would
    have (a year's 8,784 hours allow ~570 levels), where the chain is searched. Capping that
    grid at 200 levels, as before, left a 168-h battery's full-power hour one step each way
    (82 % and 70 % of its moves): ``dp`` earned 77.3 % of ``optimal`` on the real year with
    cap 0.5 and 77.6 % on its first 30 days with cap 1; now 92.9 % (3 and 4 steps, 0.30 ->
    0.50 s) and 99.7 % (1,814 levels)."""
    most = MAX_TABLE_VALUES // (hours + 1)
    cap = battery.daily_withdrawal_cap_mwh
    if cap is not None:
        # r cap steps per level; L levels (at most max_levels + 1) give (L + r L)(r L + 1)
        # states: the largest L within the bound, less one for the extra level
        r = max(cap / (battery.energy_mwh * (battery.max_soc - battery.min_soc)), 1e-12)
        q = MAX_CAPPED_STATE_HOURS / (2 * hours)
        fits = (math.sqrt((1 + r) ** 2 + 4 * r * (1 + r) * q) - (1 + r)) / (2 * r * (1 + r))
        fits_levels = math.floor(fits) - 1
        if fits_levels >= LEVELS.start:
            most = min(most, fits_levels)
    return make_grid(battery, max_levels=most)


def _window_max_forward(g: np.ndarray, width: int) -> np.ndarray:
    """``out[i] = max(g[i : i + width])`` along axis 0, windows cut at the end (``g`` is
    not changed)."""
    rows = g.shape[0]
    padded = np.full((rows + width - 1, *g.shape[1:]), -np.inf)
    padded[:rows] = g
    return _window_max(padded, np.empty_like(padded), width)


def _capped_chain_exact(
    prices: np.ndarray, offsets: np.ndarray, battery: Battery, grid: Grid
) -> np.ndarray | None:
    """Grid moves (steps per hour) of the best schedule on the grid of one chain under the
    cycle limit, by the Bellman recursion over (level, energy withdrawn so far today), or
    None when its tables exceed ``MAX_CAPPED_STATE_HOURS``.

    States are kept in skewed coordinates ``(s, w)`` with ``s = k + w`` (``k`` the level,
    ``w`` the withdrawn grid steps, ``0 <= w <= cap / h``): a charge moves along ``s`` at
    fixed ``w`` and a discharge along ``w`` at fixed ``s`` (the level falls by what the
    withdrawal rises), so each hour is two window maxima along an axis, as on the 1-D grid.
    At each midnight the withdrawal starts again from 0. The backward pass keeps each day's
    start values only; the forward pass recomputes one day's tables at a time."""
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    h = grid.step_mwh
    levels = grid.levels
    longest = int(np.diff(offsets).max())
    top = min(math.floor(cap / h + _SLACK), longest * grid.down)  # withdrawal steps a day
    shape = (levels + top, top + 1)
    if shape[0] * shape[1] * prices.size * 2 > MAX_CAPPED_STATE_HOURS:
        return None
    buy, sell = stored_rates(prices, battery)
    a, b = buy * h, sell * h
    s_index = np.arange(shape[0], dtype=float)[:, None]
    w_index = np.arange(shape[1], dtype=float)[None, :]
    k_of = np.arange(shape[0])[:, None] - np.arange(shape[1])[None, :]
    valid = (k_of >= 0) & (k_of < levels)
    k_at = np.clip(k_of, 0, levels - 1)
    up, down = min(grid.up, levels - 1), min(grid.down, top)

    def hour(v: np.ndarray, t: int) -> np.ndarray:
        charge = _window_max_forward(v - a[t] * s_index, up + 1) + a[t] * s_index
        withdraw = v + b[t] * w_index
        discharge = _window_max_forward(withdraw.T, down + 1).T - b[t] * w_index
        out: np.ndarray = np.maximum(charge, discharge)
        out[~valid] = -np.inf
        return out

    def day_tables(d: int, end: np.ndarray) -> list[np.ndarray]:
        v = np.where(valid, end[k_at], -np.inf)  # any withdrawal at the day's end
        tables = [v]
        for t in range(int(offsets[d + 1]) - 1, int(offsets[d]) - 1, -1):
            v = hour(v, t)
            tables.append(v)
        return tables[::-1]  # tables[i]: values before hour offsets[d] + i

    days = offsets.size - 1
    starts = [np.empty(0)] * (days + 1)
    end = np.full(levels, -np.inf)
    end[grid.start] = 0.0
    starts[days] = end
    for d in range(days - 1, -1, -1):
        starts[d] = day_tables(d, starts[d + 1])[0][:levels, 0].copy()  # w = 0: s = k
    if not np.isfinite(starts[0][grid.start]):
        return None
    tol = _tie_tolerance(prices, battery)
    moves, rank = _ranked_moves(grid)
    chosen = np.zeros(prices.size, dtype=np.intp)
    k = grid.start
    for d in range(days):
        tables = day_tables(d, starts[d + 1])
        w = 0
        for i, t in enumerate(range(int(offsets[d]), int(offsets[d + 1]))):
            nxt = tables[i + 1]
            lo, hi = max(-grid.down, -k, -(top - w)), min(grid.up, levels - 1 - k)
            options = moves[lo + grid.down : hi + grid.down + 1]
            new_w = w + np.maximum(-options, 0)
            value = nxt[k + options + new_w, new_w] + np.where(
                options > 0, -a[t] * options, -b[t] * options
            )
            near = np.flatnonzero(value >= value.max() - tol)
            step = int(options[near[np.argmin(rank[options[near] + grid.down])]])
            chosen[t] = step
            k += step
            w += max(-step, 0)
    return chosen


def _powers(moves: np.ndarray, battery: Battery, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    stored = np.where(moves > 0, moves, 0) * grid.step_mwh
    withdrawn = np.where(moves < 0, -moves, 0) * grid.step_mwh
    return stored / battery.eta_charge, withdrawn * battery.eta_discharge


def _revenue(
    prices: np.ndarray, charge: np.ndarray, discharge: np.ndarray, kappa: float
) -> np.ndarray:
    return np.asarray((prices * (discharge - charge) - kappa * discharge).sum(axis=-1))


def _unmix(
    charge: np.ndarray, discharge: np.ndarray, battery: Battery
) -> tuple[np.ndarray, np.ndarray]:
    """Remove simultaneous charge and discharge by lowering both so that the stored-energy
    change of the hour stays the same (c - x, d - x·eta_c·eta_d)."""
    loop = battery.eta_charge * battery.eta_discharge
    overlap = np.minimum(charge, discharge / loop)
    return charge - overlap, np.maximum(discharge - overlap * loop, 0.0)


def _daily(
    prices: np.ndarray,
    real: np.ndarray,
    battery: Battery,
    grid: Grid,
    ends: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-day charge and discharge MW (rows = days), per-day multipliers (0 where the cycle
    limit does not bind) and which days keep the limit. Days start and end at the grid's
    start, or each at its own levels ``ends`` (grid indices: a day between two midnights of
    a chain), where a day may have to withdraw more than the limit (a multiplier too large
    for any cycle to pay still leaves the withdrawal that ``ends`` forces)."""
    rows = prices.shape[0]
    kappa = battery.degradation_cost_mxn_per_mwh
    lam = np.zeros(rows)
    kept = np.ones(rows, dtype=bool)
    solution = _solve(prices, real, battery, grid, np.zeros_like(prices), ends)
    charge, discharge = _powers(solution.moves, battery, grid)
    cap = battery.daily_withdrawal_cap_mwh
    if cap is None:
        return charge, discharge, lam, kept
    limit = cap
    over = np.flatnonzero(solution.withdrawn_mwh > limit)
    if over.size == 0:
        return charge, discharge, lam, kept

    # Bisection on the multiplier for the days over the cap. ``lo`` side: over the cap;
    # ``hi`` side: within it (at the initial hi no cycle pays, so the schedule idles, or
    # between given levels withdraws only what they force).
    sub_p, sub_r = prices[over], real[over]
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    buy = np.where(sub_r, sub_p / eta_c, np.inf).min(axis=1)
    sell = np.where(sub_r, (sub_p - kappa) * eta_d, -np.inf).max(axis=1)
    lo, hi = np.zeros(over.size), np.maximum(sell - buy, 0.0) + 1.0
    lo_c, lo_d, lo_w = charge[over], discharge[over], solution.withdrawn_mwh[over]
    sub_ends = None if ends is None else (ends[0][over], ends[1][over])
    if sub_ends is None:
        hi_c, hi_d, hi_w = np.zeros_like(lo_c), np.zeros_like(lo_d), np.zeros(over.size)
    else:
        top = np.broadcast_to(hi[:, None], sub_p.shape)
        least = _solve(sub_p, sub_r, battery, grid, top, sub_ends)
        hi_c, hi_d = _powers(least.moves, battery, grid)
        hi_w = least.withdrawn_mwh
    feasible = hi_w <= limit
    best_c, best_d = hi_c.copy(), hi_d.copy()
    best_rev = np.where(feasible, _revenue(sub_p, hi_c, hi_d, kappa), -np.inf)
    for _ in range(CAP_BISECTIONS):
        mid = 0.5 * (lo + hi)
        trial = _solve(
            sub_p, sub_r, battery, grid, np.broadcast_to(mid[:, None], sub_p.shape), sub_ends
        )
        c, d = _powers(trial.moves, battery, grid)
        ok = trial.withdrawn_mwh <= limit
        rev = _revenue(sub_p, c, d, kappa)
        better = ok & (rev > best_rev)
        best_c[better], best_d[better], best_rev[better] = c[better], d[better], rev[better]
        hi_c[ok], hi_d[ok], hi_w[ok] = c[ok], d[ok], trial.withdrawn_mwh[ok]
        lo_c[~ok], lo_d[~ok], lo_w[~ok] = c[~ok], d[~ok], trial.withdrawn_mwh[~ok]
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    # The capped optimum lies between the bracket's two schedules: mix them so the day
    # withdraws exactly the cap. A mix of valid schedules is valid (the constraints are
    # convex; both run between the same levels) once hours that would both charge and
    # discharge are unmixed.
    feasible = hi_w <= limit
    theta = np.clip((cap - hi_w) / np.where(feasible, lo_w - hi_w, 1.0), 0.0, 1.0)[:, None]
    mix_c, mix_d = _unmix(
        theta * lo_c + (1 - theta) * hi_c, theta * lo_d + (1 - theta) * hi_d, battery
    )
    mix_rev = _revenue(sub_p, mix_c, mix_d, kappa)
    use = feasible & (mix_rev > best_rev)
    best_c[use], best_d[use] = mix_c[use], mix_d[use]
    charge[over], discharge[over] = best_c, best_d
    lam[over] = hi
    kept[over] = feasible
    return charge, discharge, lam, kept


def dp_dispatch(days: Sequence[MarketDay], battery: Battery, *, horizon: Horizon) -> Dispatch:
    """Grid-side charge and discharge MW for every hour of every day, concatenated."""
    kappa = battery.degradation_cost_mxn_per_mwh
    prices, hours = price_matrix(days)
    table = prices.size + len(days)  # (hours + 1) x rows value tables, per level
    grid = make_grid(
        battery,
        reach_mwh=day_reach_mwh(battery, prices.shape[1]),
        max_levels=MAX_TABLE_VALUES // table,
    )
    real = hour_mask(hours, prices.shape[1])
    charge, discharge, lam, _ = _daily(prices, real, battery, grid)
    daily = guard_physics(flatten(charge, hours), flatten(discharge, hours), days, battery)
    if horizon is not Horizon.CONTINUOUS or len(days) == 1:
        return daily
    flat_p = flatten(prices, hours)
    offsets = day_offsets(days)
    cap = battery.daily_withdrawal_cap_mwh
    grid = chain_grid(battery, flat_p.size)
    if cap is None:
        chain_c, chain_d = _powers(_solve_chain(flat_p, battery, grid, 0 * flat_p), battery, grid)
        if chain_is_valid(chain_c, chain_d, offsets, battery):
            return Dispatch(chain_c, chain_d)
        return daily
    # With a cycle limit: chains priced by per-day multipliers, searched along the chain,
    # and mixes of any two of them (and the daily schedules) within every day's limit
    # (module docstring); the best valid one is kept.
    starts = offsets[:-1]
    eta_d = battery.eta_discharge
    # the daily schedules and idling (both valid on the chain: a mix with either scales a
    # chain over the cap down to it), the grid's exact optimum where it fits, and the
    # searched chains (a mix of two can fall between grid points and beat the grid's optimum)
    idle = np.zeros_like(flat_p)
    tried = [(daily.charge_mw, daily.discharge_mw), (idle, idle)]
    exact = _capped_chain_exact(flat_p, offsets, battery, grid)
    if exact is not None:
        tried.append(_powers(exact, battery, grid))
    tried += _capped_chains(prices, real, battery, grid, flat_p, offsets, lam)
    withdrawn = [np.add.reduceat(d, starts) / eta_d for _, d in tried]
    candidates = list(tried)
    for i, j in itertools.combinations(range(len(tried)), 2):
        for theta in _mix_weights(withdrawn[i], withdrawn[j], cap):
            candidates.append(
                _unmix(
                    theta * tried[i][0] + (1 - theta) * tried[j][0],
                    theta * tried[i][1] + (1 - theta) * tried[j][1],
                    battery,
                )
            )
    best = daily
    best_rev = _revenue(flat_p, daily.charge_mw, daily.discharge_mw, kappa)
    for chain_c, chain_d in candidates:
        rev = _revenue(flat_p, chain_c, chain_d, kappa)
        if rev <= best_rev:
            continue
        chain_w = np.add.reduceat(chain_d, starts) / eta_d
        if (chain_w <= cap + CAP_SLACK * max(cap, 1.0)).all() and chain_is_valid(
            chain_c, chain_d, offsets, battery
        ):
            best, best_rev = Dispatch(chain_c, chain_d), rev
    return best


def _mix_weights(first: np.ndarray, second: np.ndarray, cap: float) -> list[float]:
    """The ends of the interval of ``theta`` in [0, 1] for which ``theta`` of a schedule
    withdrawing ``first`` per day plus ``1 - theta`` of one withdrawing ``second`` keeps every
    day within ``cap`` (the revenue of a mix is linear in ``theta``, so one end is the best
    mix; unmixing only lowers withdrawals); none when no ``theta`` does."""
    gap = first - second
    room = cap - second
    lo, hi = 0.0, 1.0
    rises, falls = gap > 0, gap < 0
    if np.any(~rises & ~falls & (room < 0)):
        return []
    if rises.any():
        hi = min(hi, float((room[rises] / gap[rises]).min()))
    if falls.any():
        lo = max(lo, float((room[falls] / gap[falls]).max()))
    if lo > hi:
        return []
    return [lo, hi] if hi > lo else [lo]


def _capped_chains(
    prices: np.ndarray,
    real: np.ndarray,
    battery: Battery,
    grid: Grid,
    flat_p: np.ndarray,
    offsets: np.ndarray,
    lam: np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Chains (charge, discharge MW, concatenated) for the cycle limit: under no multiplier,
    then under per-day multipliers bisected along the chain from the daily ones ``lam`` (a
    day over the limit raises its own, a day within it lowers its own; ``CHAIN_BISECTIONS``
    rounds); each chain as it is and, where it breaks the limit, with its days over the limit
    re-solved between its own midnights (``_resolve_days``)."""
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    hours = np.diff(offsets)
    starts = offsets[:-1]
    kappa = battery.degradation_cost_mxn_per_mwh
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    buy = float(np.where(real, prices / eta_c, np.inf).min())
    sell = float(np.where(real, (prices - kappa) * eta_d, -np.inf).max())
    top = max(sell - buy, 0.0) + 1.0  # no withdrawal pays anywhere on the chain
    lo, hi = np.zeros(lam.size), np.maximum(top, lam)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for round_ in range(CHAIN_BISECTIONS + 2):
        price = (np.zeros_like(lam), lam)[round_] if round_ < 2 else 0.5 * (lo + hi)
        moves = _solve_chain(flat_p, battery, grid, np.repeat(price, hours))
        chain_c, chain_d = _powers(moves, battery, grid)
        excess = np.add.reduceat(chain_d, starts) / eta_d > cap
        out.append((chain_c, chain_d))
        if excess.any():
            spliced = _resolve_days(prices, real, battery, grid, moves, offsets, excess)
            if spliced is not None:
                out.append(spliced)
        if round_ >= 1:  # each day's bracket moves with what the chain did on that day
            lo = np.where(excess, price, lo)
            hi = np.where(excess, hi, price)
    return out


def _resolve_days(
    prices: np.ndarray,
    real: np.ndarray,
    battery: Battery,
    grid: Grid,
    moves: np.ndarray,
    offsets: np.ndarray,
    days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The chain of grid ``moves`` (MW, concatenated) with the ``days`` (a mask) replaced by
    their best schedules within the cycle limit between the chain's own levels at their
    midnights (``_daily`` with ``ends``); None when a midnight pair forces a day over it.
    The other days and every midnight level are the chain's, so the SoC chain stays whole."""
    at = grid.start + np.concatenate(([0], np.cumsum(moves)))[offsets]  # level at each midnight
    which = np.flatnonzero(days)
    charge, discharge, _, kept = _daily(
        prices[which], real[which], battery, grid, (at[:-1][which], at[1:][which])
    )
    if not kept.all():
        return None
    chain_c, chain_d = _powers(moves, battery, grid)
    for row, day in enumerate(which.tolist()):
        first, stop = int(offsets[day]), int(offsets[day + 1])
        chain_c[first:stop] = charge[row, : stop - first]
        chain_d[first:stop] = discharge[row, : stop - first]
    return chain_c, chain_d


class DynamicProgramming(Strategy):
    name = "dp"
    description = (
        "Dynamic programming over a discretised state of charge: an independent route to "
        "near-optimal schedules."
    )
    order = 10
    supports_continuous = True

    def dispatch(
        self,
        days: Sequence[MarketDay],
        battery: Battery,
        *,
        horizon: Horizon,
        deadline_s: float | None = None,
        history: Sequence[MarketDay] = (),  # days before days[0]: unused with foresight
    ) -> Dispatch:
        return dp_dispatch(days, battery, horizon=horizon)


STRATEGY = DynamicProgramming()
