"""The capped ``continuous`` chain certified without binaries: a Lagrangian bound re-priced
one market day at a time (``reprice``; used by ``optimal.chain_with_cap``, issue 9).

Notation of ``optimizer.chain``: stored energy ``x`` in ``[0, W]``, moves ``u_t``, revenue
``f(pi) = sum_t r_t(u_t)`` with ``r_t(u) = -a_t u`` (charging) or ``-b_t u`` (discharging);
withdrawal of market day ``d`` (hours ``[s_d, e_d)``) ``w_d = sum max(-u_t, 0)``, capped at
``K``. ``OPT`` is the best revenue of a chain within the cap every day.

**The bound.** For any ``lambda >= 0`` (one per day),

    L(lambda) = max_pi [ f(pi) - sum_d lambda_d (w_d(pi) - K) ] >= OPT

(weak duality: every capped schedule is a candidate and its penalty is ``<= 0``; no
convexity needed). ``L`` is one chain recursion with ``b_t`` lowered by ``lambda`` on each
day's hours: ``L = V_0(x0) + K sum lambda``.

**The certificate.** A schedule ``Pi`` within the cap every day (levels in ``[0, W]``, back
at ``x0``, moves within the power limits) with ``f(Pi) >= min(L(lambda), U) - tol`` is
optimal (``U``: the LP relaxation's bound; ``tol``: ``CHAIN_CAP_REL_TOL`` relative).
Everything below only *proposes* ``lambda`` and ``Pi``; both inequalities are checked on the
numbers at the end, so a bad proposal costs time and falls back to the MILP routes, never
exactness.

**Proposal.** Start from a priced chain: multipliers ``lambda`` (the daily route's, or 0),
its value functions ``V_t`` and its schedule ``pi`` (``priced_chain``, which the Lagrangian
route of ``optimal`` runs anyway: on the chain's lattice when it is small, exact at the
lattice's levels, see there; else the piecewise recursion of ``optimizer.chain``). Days
where ``pi`` breaks complementary slackness -- withdrawal above ``K``, or ``lambda_d > 0``
with slack -- are the only gap between ``f(pi)`` and ``L`` (``L - f(pi) = sum_d lambda_d (K
- w_d)``, and above ``K`` ``pi`` is not feasible). Each such day ``d`` is re-priced alone,
as ``optimal._capped`` does a day, but between the chain's value functions at its
midnights:

* with ``lambda_d`` changed and every other multiplier kept, ``L`` is ``max_x A_s(x) +
  V^lambda_s(x)`` (plus constants), where ``V^lambda_s`` is 24 hours of recursion in front
  of ``V_e`` (``value_functions(end=V_e)``) and ``A_s`` the best revenue of arriving at ``x``
  at ``s``. ``A_s`` is taken over a window: from ``pi``'s own level ``ARRIVAL_WINDOW_H``
  hours before ``s`` (``pi``'s revenue up to there is the best way to reach it, as ``pi``
  is optimal), so ``A~_s <= A_s``, equal wherever the best arrivals pass through ``pi``'s
  level there -- the usual case, as a battery full or empty at some hour forgets where it
  was. Any error here only weakens the proposal: the bound is computed exactly below.
* That local ``L`` is a maximum of lines ``F - lambda_d (w - K)`` in ``lambda_d``: Newton's
  method on it (``_newton``, the intersection of the lines of two bracketing schedules, one
  above ``K`` and one below, until the schedule found lies on it) ends at its minimum
  ``lambda*_d`` with both bracketing schedules optimal there. Their mix ``theta`` over +
  ``(1 - theta)`` under with ``theta w_over + (1 - theta) w_under = K`` withdraws at most
  ``K`` (levels mix linearly; netting an hour only lowers withdrawal), and, when it loses
  nothing to netting, earns exactly the local ``L(lambda*)``.
* Broken days at most ``RUN_GAP_DAYS`` apart are coupled through the levels between them,
  so they are re-priced together as one *run* (the days between included, up to
  ``MAX_RUN_DAYS``): ``L`` over the run's multipliers is a maximum of planes ``F - lambda .
  (w - K)``, and Kelley's cutting-plane method (``_cutting_planes``: the next ``lambda``
  minimises the planes found so far, a small LP; it ends when ``L`` there equals that
  minimum, after finitely many rounds as every round finds a new plane) gives its minimum
  ``lambda*`` and, from the LP's multipliers, weights on the planes active there (each such
  schedule optimal at ``lambda*``) that withdraw exactly ``K`` on every day with
  ``lambda*_d > 0`` and at most ``K`` on the others -- Newton's two-schedule mix in several
  dimensions. The weights are recomputed on their support by a linear solve, so the mix
  meets ``K`` to rounding, not to HiGHS's tolerances.
* Each schedule to mix is a whole chain: ``pi`` up to where its path (followed back from the
  chosen level at ``s`` through the window's arrival tables) joins ``pi``, the day(s)
  themselves, and forward from the level at ``e`` through ``V`` until it joins ``pi`` again.
  ``Pi`` is ``pi`` with every re-priced day's or run's window replaced by its mix (windows
  must not overlap, else no proposal).

**Evaluations.** Each Newton or cutting-plane round evaluates the day (or run) at its
multipliers: ``V^lambda_s`` by 24 hours a day of recursion in front of ``V_e``, the best start
level, the moves from it. Where the priced chain was solved on its closed lattice
(``priced_chain``), so is each evaluation (``_Day.on_grid``): ``V_e`` at the lattice's levels,
a Bellman hour at a time back to ``s`` (exact at the levels, as ``priced_chain``'s own
recursions), the start the best level of ``A~_s + V_s`` (their concave kinks are levels: a
maximum lies at one), and the forward pass with one ``lattice.Step`` shared by every
evaluation. The piecewise recursion over a run of days from a lattice table grows its
breakpoints (crossings of lines, shifted by whole moves) and spent most of ``reprice`` (a
year of 30 % negative hours with cap 3: 318 -> 268 ms in all, bench, one core). Either way
an evaluation only proposes: the bound below is computed exactly.

**Computing ``L(lambda')`` exactly** for the new multipliers (``_recurse_to``): one backward pass
from the last re-priced day, 24 hours at a time with ``end=`` the pass's own ``V``. Between
re-priced days the pass recurses only until its ``V_t`` and the priced chain's ``V_t`` differ
by a constant: write ``T_t`` for one hour's operator; it is monotone and ``T(V + c) = T(V) +
c``, so ``V'_t <= V_t + c_max`` (``c_max``: the largest difference, at a breakpoint of either
function) gives ``V'_{t'} <= V_{t'} + c_max`` for every earlier hour up to the next re-priced
day, whose recursion starts from that upper bound. The result is an upper bound on
``L(lambda')``, hence on ``OPT``, and equal to it when the differences are constant (their
spread is at most ``1e-11`` of the values, else the pass keeps recursing). Work: the
re-priced days plus the hours the chain needs to forget them, not the year.

When the days' windows are apart and the arrivals pass through ``pi`` as assumed, the local
minima add up: ``L(lambda') = L(lambda) - sum_d (L(lambda) - L_d(lambda*_d))`` and ``f(Pi) =
f(pi) + sum_d (f(mix_d) - f(pi))`` are the same number, and the check passes. Measured (a
year, PRD battery, cap 3): 30 % of hours at -20..-1200 (6 days above the cap at ``lambda =
0``, 6 Newton searches of 6-9 rounds, ~0.1 s) and solar dips (1 day, ~0.02 s): the bound
and the schedule's revenue agree to 1e-14 .. 1e-11 relative, and both equal HiGHS's full
MILP (to 3e-14 and 0). A year of 30 % negative hours with another seed (9 broken days at
the daily multipliers, two of them adjacent: one run, 9 cutting-plane rounds): the same.
When it does not work: a window that does not rejoin ``pi`` before the next re-priced day or
carries a neighbouring day over the cap (no proposal, or the check fails), a mix that loses
to netting (schedules optimal at ``lambda*`` that charge and discharge in the same
non-concave hour: their mix earns less than their planes promise, while an optimum inside
that face exists), a duality gap (no ``lambda`` closes it), or a cap that binds on many days
(more than ``MAX_REPRICED_DAYS``, or runs longer than ``MAX_RUN_DAYS``). Then ``optimal``
runs HiGHS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.chain import (
    Chain,
    ChainSolution,
    LatticeTables,
    Table,
    follow,
    solve,
    value_functions,
)
from optimizer.envelope import stored_revenue
from optimizer.errors import check_deadline
from optimizer.lattice import Lattice, Step, bellman_hour, chain_moves

#: hours before a re-priced day over which its arrival tables are computed (module docs)
ARRIVAL_WINDOW_H = 48
#: Newton rounds on one day's multiplier before the proposal is given up
NEWTON_MAX_ROUNDS = 40
#: the most days re-priced in one proposal (each costs ~10-30 ms); more: no proposal
MAX_REPRICED_DAYS = 24
#: broken days at most this many days apart are re-priced together (``_cutting_planes``)
RUN_GAP_DAYS = 2
#: the longest such run (days, those between included); longer: no proposal
MAX_RUN_DAYS = 6
#: cutting-plane rounds on a run's multipliers before the proposal is given up
CUTTING_PLANE_MAX_ROUNDS = 80
#: hours per step of the bound's pass and of the splices' forward passes
STEP_H = 24
#: relative tolerance of the cap (as ``optimal.CAP_REL_TOL``)
CAP_REL_TOL = 1e-10
#: largest spread (relative to the values) of a difference of value functions taken as a
#: constant by the bound's pass (the pass uses its maximum: an upper bound either way)
SPREAD_REL = 1e-11


@dataclass(frozen=True)
class Repriced:
    """A proposal (module docstring): stored-energy moves ``moves``, withdrawing at most
    ``K`` a day if the checks pass, the bound ``bound`` (``>= L(lambda') >= OPT``), the days
    re-priced and the Newton rounds taken."""

    moves: np.ndarray
    bound: float
    days: int
    rounds: int
    cuts: int = 0  # cutting-plane rounds of runs of days (``_cutting_planes``)


@dataclass(frozen=True)
class _Side:
    """One optimal schedule of the locally re-priced day (or run of days) at ``lam`` (one
    per day): level ``xs`` at the start, the moves, its plane ``value - lam . (ws - K)``."""

    lam: np.ndarray
    xs: float
    moves: np.ndarray
    value: float  # A~_s(xs) + the revenue of the moves + V_e(xe)
    ws: np.ndarray  # withdrawal of each day
    start: Table  # V_s at lam

    @property
    def w(self) -> float:
        return float(self.ws.sum())


class _Overlay:
    """The priced chain's ``V_t`` with the hours the bound's pass recursed replaced (each
    within a constant of ``V'_t``: what the forward passes of the splices need)."""

    def __init__(self, base: Sequence[Table]) -> None:
        self.base = base
        self.replaced: dict[int, Table] = {}

    def stretch(self, start: int, stop: int) -> list[Table]:
        return [
            self.replaced[t] if t in self.replaced else self.base[t] for t in range(start, stop)
        ]

    def replace(self, start: int, tables: list[Table]) -> None:
        self.replaced.update(enumerate(tables, start))


def _at(table: Table, x: float) -> float:
    return float(np.interp(x, table[0], table[1]))


@dataclass(frozen=True)
class _Grid:
    """The chain's closed lattice where the priced chain was solved on it, its Bellman hour and
    one forward-pass step for every evaluation (``_Day.on_grid``)."""

    lattice: Lattice
    hour: Callable[[np.ndarray, float, float, np.ndarray], None]
    step: Step


class _Day:
    """One market day, or a run of them (``hours`` each), re-priced between the chain's
    value functions (module docstring)."""

    def __init__(
        self,
        s: int,
        e: int,
        arrival: list[Table],
        begin: int,
        end: Table,
        buy: np.ndarray,
        sell: np.ndarray,
        chain: Chain,
        hours: np.ndarray,
        grid: _Grid | None = None,
    ) -> None:
        self.grid = grid
        self.s, self.e, self.begin = s, e, begin
        self.arrival = arrival  # A~_t for t = begin .. s
        self.end = end  # V_e
        self.buy, self.sell = buy[s:e], sell[s:e]
        self.chain = chain
        self.hours = hours
        self.firsts = np.concatenate(([0], np.cumsum(hours)[:-1]))
        if grid is not None:  # V_e and A~_s at the lattice's levels, the same every evaluation
            levels = grid.lattice.levels
            self.end_at_levels = _at_levels(end, levels, chain.tol_x)
            self.arrival_at_levels = _at_levels(arrival[-1], levels, chain.tol_x)

    def evaluate(self, lam: float | np.ndarray, deadline_s: float | None) -> _Side:
        """The day(s) at multipliers ``lam``: the best level at the start (the maximum of
        ``A~_s + V_s`` lies at a breakpoint of either), the moves that follow from it."""
        lam = np.atleast_1d(np.asarray(lam, dtype=float))
        sell = self.sell - np.repeat(lam, self.hours)
        if self.grid is not None:
            found = self.on_grid(lam, sell, self.grid, deadline_s)
            if found is not None:
                return found
        tables, _ = value_functions(self.buy, sell, self.chain, end=self.end, deadline_s=deadline_s)
        (vx, vv), (ax, av) = tables[0], self.arrival[-1]
        lo, hi = max(vx[0], ax[0]), min(vx[-1], ax[-1])
        points = np.unique(np.clip(np.concatenate((vx, ax)), lo, hi))
        total = np.interp(points, ax, av) + np.interp(points, vx, vv)
        xs = float(points[int(np.argmax(total))])
        return self._side(lam, xs, follow(tables, self.buy, sell, self.chain, xs), tables[0])

    def _side(self, lam: np.ndarray, xs: float, moves: np.ndarray, start: Table) -> _Side:
        """The evaluation at ``lam`` whose schedule starts at ``xs`` and makes ``moves``."""
        value = (
            _at(self.arrival[-1], xs)
            + float(stored_revenue(moves, self.buy, self.sell))
            + _at(self.end, xs + float(moves.sum()))
        )
        ws = np.add.reduceat(np.maximum(-moves, 0.0), self.firsts)
        return _Side(lam, xs, moves, value, ws, start)

    def on_grid(
        self, lam: np.ndarray, sell: np.ndarray, grid: _Grid, deadline_s: float | None
    ) -> _Side | None:
        """``evaluate`` on the chain's closed lattice (module docstring, "Evaluations"): ``V``
        at its levels a Bellman hour at a time back from ``V_e``'s values there, the start
        the best level of ``A~_s + V_s``, the forward pass from it; None where no level is
        in both domains."""
        check_deadline(deadline_s, "re-pricing the capped chain")
        levels = grid.lattice.levels
        h = self.buy.size
        rows = np.empty((h + 1, levels.size))
        rows[h] = self.end_at_levels
        buys, sells = self.buy.tolist(), sell.tolist()
        for t in range(h - 1, -1, -1):
            grid.hour(rows[t + 1], buys[t], sells[t], rows[t])
        total = self.arrival_at_levels + rows[0]
        k = int(np.argmax(total))
        if not np.isfinite(total[k]):
            return None
        moves = chain_moves(rows, self.buy, sell, grid.lattice, start=k, step=grid.step)
        finite = np.isfinite(rows[0])
        return self._side(lam, float(levels[k]), moves, (levels[finite], rows[0][finite]))


def _at_levels(table: Table, levels: np.ndarray, tol_x: float) -> np.ndarray:
    """``table`` at each of ``levels``: -inf outside its domain (to ``tol_x``)."""
    x, v = table
    out: np.ndarray = np.interp(levels, x, v)
    out[(levels < x[0] - tol_x) | (levels > x[-1] + tol_x)] = -np.inf
    return out


def _newton(
    day: _Day, lam0: float, cap: float, deadline_s: float | None
) -> tuple[_Side, _Side, _Side, int] | None:
    """``lambda*`` of the day (module docstring): the schedules above (``over``) and below
    (``under``) the cap that are both optimal there, the evaluation at ``lambda*`` (its
    ``V_s``), and the rounds; None if the rounds run out or no schedule below the cap is
    found."""
    tol_w = CAP_REL_TOL * cap
    first = day.evaluate(lam0, deadline_s)
    rounds = 1
    if first.w > cap + tol_w:
        over = first
        high = lam0 + 2.0 * max(float(np.max(day.sell) - np.min(day.buy)), 1.0)
        for _ in range(6):
            under = day.evaluate(high, deadline_s)
            rounds += 1
            if under.w <= cap + tol_w:
                break
            high *= 4.0
        else:
            return None
    else:  # lam0 > 0 with slack: lower it
        under = first
        over = day.evaluate(0.0, deadline_s)
        rounds += 1
        if over.w <= cap + tol_w:  # the cap does not bind at 0: lambda* = 0
            return over, over, over, rounds
    while rounds < NEWTON_MAX_ROUNDS:
        lam = (over.value - under.value) / (over.w - under.w)
        new = day.evaluate(lam, deadline_s)
        rounds += 1
        scale = max(1.0, abs(over.value), abs(under.value))
        if new.value - lam * new.w <= over.value - lam * over.w + 1e-12 * scale:
            return over, under, new, rounds
        if new.w > cap + tol_w:
            over = new
        else:
            under = new
    return None


def quiet_highs(options: dict[str, float] | None = None) -> Any:
    """An empty HiGHS model (highspy) that logs nothing, with ``options`` set."""
    import highspy

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    for name, value in (options or {}).items():
        highs.setOptionValue(name, value)
    return highs


@dataclass(frozen=True)
class MasterSolution:
    """The master LP's minimum: the multipliers there, the planes' minimum (the LP's value), and
    the weights on the planes (its rows' duals, negated: where the box does not bind they sum
    to 1 and average each day's withdrawal to at most ``K``)."""

    lam: np.ndarray
    value: float
    weights: np.ndarray


class KelleyMaster:
    """The master LP of Kelley's cutting planes on ``L(lambda) = max_i values_i - lambda .
    (ws_i - K)``: ``min K sum(lambda) + z`` subject to ``z >= values_i - lambda . ws_i`` for
    every plane ``i`` found so far and ``lambda`` within a box. One HiGHS model (highspy) kept
    across the rounds: a plane is one more row (``add``), a new box new column bounds
    (``solve``), and each solve starts from the last basis, a few dual simplex pivots where
    scipy's ``linprog`` built, checked and solved the whole LP again (~1 ms a round; the sign
    search's rounds on 5 days of -1200 +- 50 at round trip 0.5: 6.7 -> 4.4 s, one-off)."""

    def __init__(self, days: int, cap: float, options: dict[str, float] | None = None) -> None:
        import highspy

        self._highs = highs = quiet_highs(options)
        self._optimal = highspy.HighsModelStatus.kOptimal
        self._inf = inf = highspy.kHighsInf
        self.days = days
        columns = np.arange(days + 1)
        self._columns = columns
        highs.addVars(days + 1, np.append(np.zeros(days), -inf), np.full(days + 1, inf))
        highs.changeColsCost(days + 1, columns, np.append(np.full(days, cap), 1.0))

    def add(self, value: float, ws: np.ndarray) -> None:
        """The plane of a schedule earning ``value`` that withdraws ``ws`` (one a day)."""
        row = np.append(-np.asarray(ws, dtype=float), -1.0)
        self._highs.addRow(-self._inf, -value, self.days + 1, self._columns, row)

    def solve(self, low: np.ndarray, high: np.ndarray) -> MasterSolution | None:
        """The planes' minimum with ``lambda`` in ``[low, high]``; None unless HiGHS proves
        it optimal (from the last basis or, where that ends in numerical trouble -- status
        unknown after a few rounds on nearly parallel planes, seen on 3 days of -1200 +- 50
        -- from scratch)."""
        highs, days = self._highs, self.days
        highs.changeColsBounds(days, self._columns[:days], low, high)
        highs.run()
        if highs.getModelStatus() != self._optimal:
            highs.clearSolver()  # the basis goes; the model stays
            highs.run()
        if highs.getModelStatus() != self._optimal:
            return None
        solution = highs.getSolution()
        x = np.asarray(solution.col_value)
        return MasterSolution(
            lam=x[:days],
            value=float(highs.getInfo().objective_function_value),
            weights=np.maximum(-np.asarray(solution.row_dual), 0.0),
        )


def _cutting_planes(
    day: _Day, lam0: np.ndarray, cap: float, deadline_s: float | None
) -> tuple[list[tuple[_Side, float]], _Side, int] | None:
    """``lambda*`` of a run of days (module docstring) by Kelley's cutting planes: each
    evaluation at ``lambda`` is a plane ``value - lambda . (ws - K)`` below the run's ``L``
    (a maximum of such planes, convex and piecewise linear); the next ``lambda`` minimises
    the planes found so far (a small LP, ``lambda`` in a box), until ``L`` there equals that
    minimum -- then it is ``L``'s minimum, after finitely many rounds (each finds a new
    plane). The planes active there, weighted by the LP's multipliers (recomputed exactly on
    their support: weights 1 in sum, withdrawal ``K`` on every day with ``lambda_d > 0``, at
    most ``K`` on the others), are the schedules to mix. Returns them with their weights,
    the evaluation at ``lambda*`` and the rounds; None when the rounds run out, the box
    binds or no such weights exist."""
    b = lam0.size
    high = 4.0 * (float(np.max(np.abs(day.sell))) + float(np.max(np.abs(day.buy))) + 1.0)
    high += float(lam0.max(initial=0.0))
    low_box, high_box = np.zeros(b), np.full(b, high)
    planes = [day.evaluate(lam0, deadline_s)]
    master = KelleyMaster(b, cap)
    master.add(planes[0].value, planes[0].ws)
    rounds = 1
    while rounds < CUTTING_PLANE_MAX_ROUNDS:
        result = master.solve(low_box, high_box)
        if result is None:
            return None
        lam = result.lam
        lower = result.value
        new = day.evaluate(lam, deadline_s)
        rounds += 1
        upper = new.value - float(new.ws @ lam) + cap * float(lam.sum())
        if upper > lower + 1e-11 * max(1.0, abs(upper)):
            planes.append(new)
            master.add(new.value, new.ws)
            continue
        if (lam >= high * (1.0 - 1e-9)).any():
            return None
        weights = result.weights
        support = np.flatnonzero(weights > 1e-12 * max(1.0, float(weights.max())))
        binding = np.flatnonzero(lam > 0.0)
        ws = np.array([planes[i].ws for i in support])  # support x days
        system = np.vstack((np.ones(support.size), ws[:, binding].T))
        target = np.concatenate(([1.0], np.full(binding.size, cap)))
        mu = np.linalg.lstsq(system, target, rcond=None)[0]
        if (
            (mu < 0.0).any()
            or np.abs(system @ mu - target).max() > 1e-12 * max(1.0, cap)
            or (mu @ ws > cap * (1.0 + CAP_REL_TOL)).any()
        ):
            return None
        return [(planes[i], float(m)) for i, m in zip(support, mu, strict=True)], new, rounds
    return None


def _offset(table: Table, base: Table, tol_x: float) -> float | None:
    """``c_max`` with ``table <= base + c_max`` on their (common) domain, when the difference
    is constant to ``SPREAD_REL``; else None."""
    (x1, v1), (x2, v2) = table, base
    if abs(x1[0] - x2[0]) > tol_x or abs(x1[-1] - x2[-1]) > tol_x:
        return None
    lo, hi = max(x1[0], x2[0]), min(x1[-1], x2[-1])
    points = np.clip(np.concatenate((x1, x2)), lo, hi)
    diff = np.interp(points, x1, v1) - np.interp(points, x2, v2)
    scale = max(1.0, float(np.max(np.abs(v1))), float(np.max(np.abs(v2))))
    if float(diff.max() - diff.min()) > SPREAD_REL * scale:
        return None
    return float(diff.max())


def _backward_path(
    day: _Day, xs: float, levels: np.ndarray, buy: np.ndarray, sell: np.ndarray
) -> tuple[int, np.ndarray]:
    """The moves of hours ``t0 .. s-1`` that reach ``xs`` at ``s`` through the window's
    arrival tables (the reversed chain followed forward), from ``pi``'s level at ``t0``, the
    last hour where that path meets ``pi``."""
    s, begin = day.s, day.begin
    if s == begin or xs == levels[s]:
        return s, np.zeros(0)
    # the reversed stretch [begin, s): level y_r = x_{s - r}, rates (-b, -a), bounds (D, C)
    tables = day.arrival[::-1]
    rev = follow(tables, -sell[begin:s][::-1], -buy[begin:s][::-1], day.chain.reversed(), xs)
    path = xs + np.cumsum(rev)  # level at s - 1 - j
    times = s - 1 - np.arange(s - begin)
    hit = np.flatnonzero(np.abs(path - levels[times]) <= day.chain.tol_x)
    j = int(hit[0]) if hit.size else s - begin - 1  # the window starts on pi's level
    moves = -rev[: j + 1][::-1].copy()
    moves[0] += path[j] - levels[times[j]]  # join pi's level exactly
    return int(times[j]), moves


def _forward_path(
    tables: _Overlay,
    xe: float,
    e: int,
    stop: int,
    levels: np.ndarray,
    buy: np.ndarray,
    sell: np.ndarray,
    chain: Chain,
) -> tuple[int, np.ndarray] | None:
    """The moves of hours ``e .. t1-1`` from ``xe`` at ``e`` under ``tables`` until the path
    meets ``pi``'s level at ``t1 <= stop``; None if it does not by then."""
    if abs(xe - levels[e]) <= chain.tol_x:  # the caller joins the levels exactly
        return e, np.zeros(0)
    parts = []
    x, t = xe, e
    while t < stop:
        h = min(STEP_H, stop - t)
        moves = follow(tables.stretch(t, t + h + 1), buy[t : t + h], sell[t : t + h], chain, x)
        path = x + np.cumsum(moves)
        hit = np.flatnonzero(np.abs(path - levels[t + 1 : t + h + 1]) <= chain.tol_x)
        if hit.size:
            j = int(hit[0])
            last = moves[: j + 1].copy()
            last[-1] -= path[j] - levels[t + j + 1]  # join pi's level exactly
            parts.append(last)
            return t + j + 1, np.concatenate(parts)
        parts.append(moves)
        x, t = float(path[-1]), t + h
    return None


def reprice(
    buy: np.ndarray,
    sell: np.ndarray,
    offsets: np.ndarray,
    chain: Chain,
    cap: float,
    multipliers: np.ndarray,
    tables: Sequence[Table],
    moves: np.ndarray,
    *,
    deadline_s: float | None = None,
) -> Repriced | None:
    """A proposal for the capped chain (module docstring) from a priced chain: ``buy``,
    ``sell`` unpriced stored-energy rates, ``multipliers`` one per day (``offsets``: each
    day's first hour, then the total), ``tables`` the ``V_t`` of the chain priced with them
    and ``moves`` its schedule. None when there is nothing to re-price or no proposal;
    otherwise the caller checks it."""
    hours = np.diff(offsets)
    lam = np.asarray(multipliers, dtype=float).copy()
    priced = sell - np.repeat(lam, hours)
    withdrawn = np.add.reduceat(np.maximum(-moves, 0.0), offsets[:-1])
    tol_w = CAP_REL_TOL * cap
    broken = (withdrawn > cap + tol_w) | ((lam > 0.0) & (withdrawn < cap - tol_w))
    days = np.flatnonzero(broken).tolist()
    if not days or len(days) > MAX_REPRICED_DAYS:
        return None
    # runs: broken days at most RUN_GAP_DAYS apart, with the days between them
    runs: list[list[int]] = [[days[0]]]
    for d in days[1:]:
        if d - runs[-1][-1] <= RUN_GAP_DAYS:
            runs[-1].extend(range(runs[-1][-1] + 1, d + 1))
        else:
            runs.append([d])
    if max(len(run) for run in runs) > MAX_RUN_DAYS:
        return None
    levels = chain.x0_mwh + np.concatenate(([0.0], np.cumsum(moves)))
    n = buy.size
    grid = None  # the priced chain's lattice, if it was solved on one (module docstring)
    if isinstance(tables, LatticeTables) and tables.closed:
        grid = _Grid(tables.lattice, bellman_hour(tables.lattice), Step(tables.lattice, n))
    current = _Overlay(tables)  # V_t at the new multipliers, up to a constant per hour
    # --- the backward pass (``_recurse_to``): last run first ---
    table: Table = tables[n]
    t = n
    shift: float | None = 0.0  # V'_t <= V_t + shift (None: ``table`` is V'_t itself)
    mixes: list[tuple[_Day, list[tuple[_Side, float]]]] = []
    rounds = cuts = 0
    for k in range(len(runs) - 1, -1, -1):
        run = runs[k]
        s, e = int(offsets[run[0]]), int(offsets[run[-1] + 1])
        floor = int(offsets[runs[k - 1][-1] + 1]) if k else 0
        t, table, shift = _recurse_to(
            e, t, table, shift, tables, current, buy, priced, chain, deadline_s
        )
        end = table if shift is None else (tables[e][0], tables[e][1] + shift)
        begin = max(s - ARRIVAL_WINDOW_H, floor)
        arrival = _arrival(begin, s, levels[begin], buy, priced, chain, deadline_s)
        # unpriced rates: the run's multipliers are set by evaluate
        day = _Day(s, e, arrival, begin, end, buy, sell, chain, hours[run[0] : run[-1] + 1], grid)
        mix: list[tuple[_Side, float]]
        if len(run) == 1:
            found = _newton(day, float(lam[run[0]]), cap, deadline_s)
            if found is None:
                return None
            over, under, at_star, taken = found
            rounds += taken
            theta = 1.0 if over is under else (cap - under.w) / (over.w - under.w)
            mix = [(over, theta)] if over is under else [(over, theta), (under, 1.0 - theta)]
        else:
            planes = _cutting_planes(day, lam[run[0] : run[-1] + 1], cap, deadline_s)
            if planes is None:
                return None
            mix, at_star, taken = planes
            cuts += taken
        lam[run[0] : run[-1] + 1] = at_star.lam
        priced[s:e] = sell[s:e] - np.repeat(at_star.lam, day.hours)
        mixes.append((day, mix))
        t, table, shift = s, at_star.start, None
        t, table, shift = _recurse_to(
            floor, t, table, shift, tables, current, buy, priced, chain, deadline_s
        )
    value = _at(table, chain.x0_mwh) if shift is None else _at(tables[0], chain.x0_mwh) + shift
    bound = value + cap * float(lam.sum())
    # --- the proposal: pi with each run's window replaced by its mix ---
    proposal = moves.copy()
    previous_end = 0
    mixes.reverse()  # in time order
    for k, (day, mix) in enumerate(mixes):
        stop = mixes[k + 1][0].s if k + 1 < len(mixes) else n
        sides = []
        for side, _ in mix:
            t0, before = _backward_path(day, side.xs, levels, buy, priced)
            xe = side.xs + float(side.moves.sum())
            after = _forward_path(current, xe, day.e, stop, levels, buy, priced, chain)
            if after is None:
                return None
            t1, later = after
            full = moves.copy()
            full[t0 : day.s] = before
            full[day.s : day.e] = side.moves
            full[day.e : t1] = later
            # rounding of the sums: the window ends exactly on pi's level
            full[t1 - 1] += levels[t1] - levels[t0] - float(full[t0:t1].sum())
            sides.append((t0, t1, full))
        lo = min(side[0] for side in sides)
        hi = max(side[1] for side in sides)
        if lo < previous_end:
            return None  # overlapping windows
        previous_end = hi
        mixed = np.zeros(hi - lo)
        for (_, weight), (_, _, full) in zip(mix, sides, strict=True):
            mixed += weight * full[lo:hi]
        proposal[lo:hi] = mixed
    repriced = sum(len(run) for run in runs)
    return Repriced(moves=proposal, bound=bound, days=repriced, rounds=rounds, cuts=cuts)


def _recurse_to(
    target: int,
    t: int,
    table: Table,
    shift: float | None,
    tables: Sequence[Table],
    current: _Overlay,
    buy: np.ndarray,
    priced: np.ndarray,
    chain: Chain,
    deadline_s: float | None,
) -> tuple[int, Table, float | None]:
    """The bound's pass from hour ``t`` back to ``target``: while ``V'`` is not within a
    constant of the priced chain's ``V`` (``shift`` None), ``STEP_H`` hours of recursion at a
    time, recording the tables in ``current``; once it is, nothing (the constant carries
    over, module docstring)."""
    while shift is None and t > target:
        h = min(STEP_H, t - target)
        part, _ = value_functions(
            buy[t - h : t], priced[t - h : t], chain, end=table, deadline_s=deadline_s
        )
        current.replace(t - h, part[:-1])
        t -= h
        table = part[0]
        shift = _offset(table, tables[t], chain.tol_x)
    if shift is not None:
        return target, tables[target], shift
    return t, table, shift


def _arrival(
    begin: int,
    s: int,
    level: float,
    buy: np.ndarray,
    priced: np.ndarray,
    chain: Chain,
    deadline_s: float | None,
) -> list[Table]:
    """``A~_t`` for ``t = begin .. s``: the best revenue of hours ``begin .. t-1`` from
    ``level`` at ``begin`` (the reversed stretch's value-to-go, as ``chain.arrival_functions``
    from one given level)."""
    if begin == s:
        return [(np.array([level]), np.array([0.0]))]
    reversed_tables, _ = value_functions(
        -priced[begin:s][::-1],
        -buy[begin:s][::-1],
        chain.reversed(),
        end=(np.array([level]), np.array([0.0])),
        deadline_s=deadline_s,
    )
    return reversed_tables[::-1]


def feasible(moves: np.ndarray, offsets: np.ndarray, chain: Chain, cap: float) -> bool:
    """Whether stored-energy moves are a schedule of the capped chain: each within ``[-D,
    C]``, levels within ``[0, W]``, back at ``x0``, at most ``cap`` withdrawn every day (to
    the chain's ``tol_x`` and ``CAP_REL_TOL``)."""
    tol = chain.tol_x
    levels = chain.x0_mwh + np.cumsum(moves)
    withdrawn = np.add.reduceat(np.maximum(-moves, 0.0), offsets[:-1])
    return bool(
        moves.max(initial=0.0) <= chain.up_mwh + tol
        and moves.min(initial=0.0) >= -chain.down_mwh - tol
        and levels.min(initial=chain.x0_mwh) >= -tol
        and levels.max(initial=chain.x0_mwh) <= chain.width_mwh + tol
        and abs(float(levels[-1]) - chain.x0_mwh) <= tol
        and (withdrawn <= cap + CAP_REL_TOL * cap).all()
    )


def priced_chain(
    buy: np.ndarray, sell: np.ndarray, chain: Chain, *, deadline_s: float | None = None
) -> ChainSolution:
    """``V_t`` and an optimal schedule of the chain at rates ``(buy, sell)``
    (``optimizer.chain.solve`` with the chain's whole lattice, ``closed``: on it when it is
    small, else by the piecewise recursion; which one depends on the battery and the
    chain's length only).

    On the lattice ``V_t`` is known at its levels only, and kept as the piecewise-linear
    function through those values. That is what ``reprice`` needs: an optimal schedule from
    a lattice level stays on lattice levels for any rates (``optimizer.lattice``'s vertex
    argument: every level of a vertex is reached from 0, W or a given level by whole moves),
    and also for a chain ending in such a table (its breakpoints are lattice levels, so they
    pin levels like 0 and W do). So every recursion from these tables is exact at lattice
    levels -- the chain's start ``x0`` among them -- and the bound's pass (module docstring)
    stays an upper bound there."""
    return solve(buy, sell, chain, closed=True, deadline_s=deadline_s)
