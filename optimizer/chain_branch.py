"""A short capped ``continuous`` chain closed by branch and bound on the hours' signs, every node
bounded by its Lagrangian dual over all its days' multipliers (``SignSearch``; used by
``optimal.chain_with_cap`` where its certificates fail, issue 9).

Notation of ``optimizer.chain_cap``: stored energy ``x`` in ``[0, W]`` from ``x0`` back to
``x0``, moves ``u_t`` earning ``-a_t u`` charging and ``-b_t u`` discharging, withdrawal
``w_d`` of market day ``d`` capped at ``K``; ``OPT`` the best revenue within the cap.

**Why not HiGHS.** Its bound is the LP relaxation, which lets a non-concave hour charge and
discharge at once (``c + d <= P``). On nearly flat negative prices that relaxation burns
energy in every hour at a rate no schedule can reach, and branching on one hour barely
moves it: three days of -1200 +- 0.4 at round trip 0.5 with cap 4 (a fuzz, 68 binaries)
kept a gap of 0.55 % after 20,000 nodes and 20 s, and had not closed it after 15 minutes.
The Lagrangian bound prices the cap only and solves the rest exactly (the chain recursion
of ``optimizer.chain``, which never burns): on that chain it lies 1e-6 above the optimum.

**A node** is the chain with some hours barred from charging and some from discharging, and
on some days at most so many hours that charge, or that discharge (``_Node.charges``,
``.discharges``). Barring is pricing: ``a_t`` or ``-b_t`` raised to ``big``, more than any
hour's rate and multiplier; a schedule that still uses a barred move is costed at that
price, so the node's recursion is a relaxation of the node either way, and such a schedule
is never trusted as the node's: the checks below read the numbers.

**Its bound** (``_dual``). For multipliers ``lambda >= 0`` (one per day), ``L(lambda) =
max_pi f(pi) - sum_d lambda_d (w_d(pi) - K)`` over the node's schedules is at least the
node's best within the cap (weak duality; no convexity needed), and it is one chain
recursion with ``b_t`` lowered by ``lambda`` on each day's hours. ``L`` is the maximum of
the planes ``F_i - lambda . (w_i - K)`` of all the node's schedules, convex and piecewise
linear; cutting planes find its minimum: the next ``lambda`` minimises the planes found so
far (a small LP, ``chain_cap.KelleyMaster``: one HiGHS model a node, a row a plane, each
round from the last basis) within a box around the best multipliers yet (the boxstep method;
the box doubles while its steps improve ``L``), until ``L`` there equals that minimum. The
node's bound is the least ``L`` evaluated (an upper bound whether or not the rounds
converged). A child starts from its parent's planes whose schedules keep its signs (planes
of its own schedules).

**Its mix.** The master LP's dual (``_weights``) gives weights ``mu`` on the planes, summing
to 1, whose withdrawals average at most ``K`` every day (exactly ``K`` where ``lambda_d > 0``); the
mix ``sum mu_i pi_i`` keeps every SoC limit and the end condition (they are linear) and the
cap (netting an hour only lowers withdrawal). Where no two of its schedules move in opposite
directions in one hour it earns ``sum mu_i F_i``, which at the minimum is the bound: the
node is solved. Every schedule met (the recursions' and the mixes) is checked as
``chain_cap.feasible`` does and, within the cap, raises the incumbent (its revenue computed
at the true rates).

**Count limits** are kept exactly by the recursion (``lattice.counted_chain``: the hours
used so far that day join the level as the state) and stay exact on the lattice: fix the
signs of a best schedule of the node; the linear programme over those signs (the cap
priced) has an optimal vertex on the lattice that charges and discharges in no more hours
than that schedule, so it keeps every limit and bar, and the recursion finds it.

**Search.** Best first by bound. A node whose bound is at most the incumbent
(``CAP_REL_TOL`` relative) is closed; otherwise it splits in one of two ways (``_children``):

* **on a day's count of hours** (``_split_count``; lattices of at most ``COUNT_LEVELS``
  levels), where the mix *packs* a day -- it charges and withdraws more energy than any
  schedule can move in the day's hours, ``ceil(charged / C) + ceil(withdrawn / D) > hours``,
  on a day where withdrawing the cap and putting it back would not fit either
  (``ceil(K/D)+ceil(K/C) > hours``: at round trip 0.5 the PRD battery's cap of 3 fits, 7.6 +
  15.3 hours, and hour splits close those chains in fewer, cheaper nodes) -- that has no
  count limit yet and whose schedules differ in how many hours they charge (or discharge)
  in: one child charges in at most ``k`` of the day's hours (``k`` the floor of the weighted
  count), the other discharges in at most ``hours - k - 1``. Every schedule of the node is
  in a child: one that charges in more than ``k`` hours has at most ``hours - k - 1`` left
  to discharge in (no hour does both). This is what near-ties need: at round trip 0.8 with
  cap 3 a day's cap takes 10.7 hours of full discharge and 13.4 of full charge to put back,
  more than 24, and the Lagrangian mix packs them into the day at once (the root's bound
  0.53 % above the optimum over 2 days of -1200 +- 0.01); every hour is alike, so a split on
  one hour moves the mix to another and 5,900 such nodes moved the bound by 0.7 MXN, while
  the child with at most 13 charging hours a day has its bound at the optimum and the other
  falls below it (3 nodes).

* **else at the hour** where its mix loses most to netting (``_split_hour``), one child
  barred from discharging there, the other from charging. No schedule of the exact program
  charges and discharges in one hour, so every schedule of the node is in a child, and
  neither child can net at that hour again.

The tree is finite (a day gets one count split on a path, an hour one sign), and a node whose
mix nets nowhere is solved: the mix keeps the cap, the levels and the signs (count limits
are a device of the search, not of the program: the mix is a schedule of the chain), so it is
an incumbent that earns the node's bound. When no node is left, the incumbent is optimal (to
``CAP_REL_TOL`` of the bound).

**Work** is counted, never timed: at most ``MAX_NODES`` nodes of at most ``MAX_ROUNDS``
recursions each over the whole chain, and recursions of at most ``MAX_WORK_US`` in all by
``chain.WORK``'s model (a 168-h battery's lattice costs ~100 times a PRD battery's), which is
why the route is tried on chains of at most ``MAX_DAYS`` days only (``MAX_DENSE_DAYS`` on the
small lattices below, ``tried_on``). A round on a lattice of
at most ``lattice.DENSE_LEVELS`` levels (round trips like 0.5) is ``lattice.dense_chain``,
costed by its own model (``WorkModel.dense_hours``: ~3 us an hour where the sparse table's
model said 25), and a round under count limits ``lattice.counted_chain``
(``WorkModel.counted_hours``). The master LPs are not counted (0.1-0.3 ms a round); on
those small lattices they are about half of a round. Past a limit, or at a node that cannot
be bounded (its rounds run out) or split (its mix nets nowhere yet misses
the bound: rounding, or a barred move used), the search answers None and the caller runs
HiGHS -- unless the caller accepts a gap (``accept_gap``, at most ``PROVEN_REL_GAP``: half
the product's 1e-6) and the incumbent lies within it of the best bound of every node still
open: then that incumbent is returned with the gap it proved (``Closed.gap``). ``optimal``
accepts it only in its last stage, before HiGHS's unlimited branch and bound: near-ties,
where thousands of symmetric nodes share a bound 1e-7 above the optimum and neither method
closes to 1e-9 in minutes.

**Stages** (``SignSearch.run``). A search stopped at its work limit keeps its queue (the node
it was about to bound goes back), so a later call with a larger limit goes on where it
stopped: ``optimal`` runs a brief stage (``PROBE_WORK_US``) and, after HiGHS's node-limited
run or without it, the rest (``MAX_WORK_US`` in all), one search whose nodes and answer are
those of a single run. On chains of more than ``optimal.HIGHS_FIRST_MAX_HOURS`` hours, HiGHS's
limited run is skipped when the brief stage bounded its root and a child
(``SignSearch.descending``): its nodes are cheap and its cutting planes converge, as on the
nearly flat negative days where HiGHS spends seconds at its root (a fuzz's 14 days of -1200
+- 0.4 at round trip 0.5 with cap 4: 2.8 of 3.9 s; the search alone 1.0 s). Where the brief
stage bounds its root only (windows of real years with many negative hours, which HiGHS
closes within 0.1 s), or on 3-day chains, where HiGHS's root is cheap and its cuts close
what the search cannot (a 168-h battery over -1200 +- 1 with cap 0.1: HiGHS 0.45 s, the
search past its limits), HiGHS goes first. A node that cannot be bounded or split ends the
search unless a schedule offered later (HiGHS's incumbent) reaches that node's bound (its
parent's, if its rounds ran out; +inf at the root, which nothing reaches): until then later
stages only say whether the gap over it is acceptable.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer import lattice
from optimizer.chain import MAX_LATTICE_ENTRIES, WORK, Chain, lattice_of, solve
from optimizer.chain_cap import KelleyMaster, feasible, quiet_highs
from optimizer.envelope import stored_revenue
from optimizer.errors import check_deadline

#: the longest chain (market days) the route is tried on: every round is a recursion over the
#: whole chain (module docstring)
MAX_DAYS = 14
#: ... and on a lattice of at most ``lattice.DENSE_LEVELS`` levels, whose rounds are dense and
#: cheap (``tried_on``): nearly flat negative days at round trip 0.5, which HiGHS's LP bound
#: does not close (the fuzz's battery over 21 days of -1200 +- 0.4: HiGHS 125 s, the search
#: 2.7 s, 97 nodes; 31 days 8.7 s, 217 nodes; one-off). On the PRD battery's 134 levels the
#: search costs more than HiGHS saves there (31 days of -1200 +- 1 with cap 3: 1.6 -> 7.7 s
#: when tried), so it keeps ``MAX_DAYS``
MAX_DENSE_DAYS = 31
#: nodes before the search gives up
MAX_NODES = 400
#: the modelled cost (microseconds of one core, ``chain.WORK``: the chain's lattice, or the
#: piecewise recursion's general step for every hour) of the recursions the whole search may
#: take; checked as each node starts (a node may finish its rounds past it), and the master
#: LPs (one a recursion, 0.1-0.3 ms each in ``chain_cap.KelleyMaster``: ~1.2 ms by scipy's
#: linprog before) are not counted. The fuzz's battery over 14 days of -1200 +- 0.4 (seeds
#: 1-16) closes within 1,325 recursions (1.1e7 modelled, 0.75-6.6 s of CPU before the dense
#: rounds and the kept master; at 3e6, seeds 2 and 5-8 passed it and went to HiGHS, which
#: reached a 40 s deadline on each)
MAX_WORK_US = 15_000_000.0
#: the same for the brief first stage ``optimal`` runs before HiGHS (module docstring)
PROBE_WORK_US = 200_000.0
#: cutting-plane rounds of one node before the search gives up
MAX_ROUNDS = 60
#: relative tolerance of the pruning and of a node's mix reaching its bound (far below the
#: promised 1e-6)
CAP_REL_TOL = 1e-9
#: the largest relative gap between the incumbent and the best open bound that ``run`` may
#: accept past its limits when the caller allows it (``accept_gap``): half the 1e-6 relative
#: exactness the product promises against an independent MILP, the other half left to that
#: MILP's own tolerance. Near-ties need it: on a fuzz's 2 days of -1200 +- 0.01 (768,326
#: MXN) the root's bound lies 1.1e-7 above the optimum and thousands of symmetric nodes
#: share that bound, so the search on hours never closed to ``CAP_REL_TOL`` (nor HiGHS in
#: minutes; stop 25: that chain was not kept, and the near-ties tried since close exactly by
#: the count splits, so this is a last resort)
PROVEN_REL_GAP = 5e-7
#: relative tolerance of Kelley's stopping test (``L`` at the master's minimum equals it)
KELLEY_REL_TOL = 1e-11
#: the first box of ``_dual``'s cutting planes, a share of the multipliers' range (it doubles
#: while the step it bounds improves ``L``)
BOX_SHARE = 0.01
#: count splits (``_split_count``) on lattices of at most this many levels only: a limited
#: day's hour costs a dense hour per state (``lattice.counted_chain``), ~20 us on tens of
#: levels and 0.1 s on a 168-h battery's 2,846 (whose 3-day chain took 23 s that way)
COUNT_LEVELS = 64
#: HiGHS's tolerances on the master LPs: their weights make the mix, whose withdrawal must
#: meet the cap to ``chain_cap.CAP_REL_TOL`` (the defaults, 1e-7, left a day 9e-8 of K above)
MASTER_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def tried_on(chain: Chain, hours: int, days: int) -> bool:
    """Whether ``optimal`` tries the search on a capped chain of ``days`` market days and
    ``hours`` hours: up to ``MAX_DAYS`` days, or ``MAX_DENSE_DAYS`` where its rounds are
    ``lattice.dense_chain``'s (the chain's lattice has at most ``lattice.DENSE_LEVELS``
    levels and every hour's values fit: ``_Search``'s own tests, ``_rounds_grid`` and
    ``_is_dense``)."""
    if days <= MAX_DAYS:
        return True
    return days <= MAX_DENSE_DAYS and _is_dense(_rounds_grid(lattice_of(chain, hours), hours))


def _rounds_grid(grid: lattice.Lattice | None, hours: int) -> lattice.Lattice | None:
    """The chain's lattice ``grid`` where every one of ``hours`` hours' values fit in it, so
    that the search's rounds run on it; else None (``chain.solve`` picks each round)."""
    fits = grid is not None and grid.levels.size * (hours + 1) <= MAX_LATTICE_ENTRIES
    return grid if fits else None


def _is_dense(grid: lattice.Lattice | None) -> bool:
    """Whether rounds on ``grid`` are ``lattice.dense_chain``'s (a lattice of at most
    ``lattice.DENSE_LEVELS`` levels)."""
    return grid is not None and grid.levels.size <= lattice.DENSE_LEVELS


@dataclass(frozen=True)
class Closed:
    """The optimum of the capped chain found by ``SignSearch.run``: its stored-energy moves, the
    root's bound (``>= OPT``: for logs and tests), the nodes and the chain recursions it
    took, and the gap it proved if it stopped short (``run``'s ``accept_gap``)."""

    moves: np.ndarray
    bound: float
    nodes: int
    recursions: int
    #: the relative gap proven between the moves and every open node's bound when the
    #: search stopped at its limits (``accept_gap``); 0.0 when it closed every node
    gap: float = 0.0


@dataclass(frozen=True)
class _Plane:
    """One schedule of a node: its moves, revenue ``F`` at the node's rates, withdrawal of
    each day (its plane ``F - lambda . (ws - K)``)."""

    moves: np.ndarray
    value: float
    ws: np.ndarray


@dataclass(frozen=True)
class _Node:
    """The chain with the hours where ``may_charge`` (``may_discharge``) is False barred from
    charging (discharging), each day charging in at most ``charges`` and discharging in at
    most ``discharges`` of its hours (a limit of the day's hours is none), its inherited
    planes, and the multipliers its rounds start from."""

    may_charge: np.ndarray
    may_discharge: np.ndarray
    charges: np.ndarray
    discharges: np.ndarray
    planes: list[_Plane]
    lam: np.ndarray

    def limited(self, hours: np.ndarray) -> bool:
        """Whether some day has a count limit below its hours."""
        return bool((self.charges < hours).any() or (self.discharges < hours).any())

    def keeps(self, plane: _Plane, offsets: np.ndarray, tol_x: float) -> bool:
        """Whether a schedule keeps the node's signs and count limits."""
        moves = plane.moves
        if (moves[~self.may_charge] > tol_x).any() or (moves[~self.may_discharge] < -tol_x).any():
            return False
        charging, discharging = _counts(moves[None, :], offsets)
        within = (charging[0] <= self.charges) & (discharging[0] <= self.discharges)
        return bool(within.all())


def _counts(moves: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hours each schedule (a row of ``moves``) charges and discharges in, each day (rows
    by days): a lattice schedule idles with a move of exactly 0."""
    starts = offsets[:-1]
    return (
        np.add.reduceat(moves > 0.0, starts, axis=1),
        np.add.reduceat(moves < 0.0, starts, axis=1),
    )


class _Search:
    """The chain, the incumbent and the work done of one ``SignSearch``."""

    def __init__(
        self,
        buy: np.ndarray,
        sell: np.ndarray,
        offsets: np.ndarray,
        chain: Chain,
        cap: float,
        deadline_s: float | None,
    ) -> None:
        self.buy, self.sell, self.offsets, self.chain, self.cap = buy, sell, offsets, chain, cap
        self.hours = np.diff(offsets)
        self.deadline_s = deadline_s
        rates = float(np.max(np.abs(buy))) + float(np.max(np.abs(sell))) + 1.0
        self.high = 4.0 * rates  # the multipliers' box (a day's L only rises past it)
        self.big = 4.0 * (rates + self.high)  # a barred move's price
        self.best = np.zeros(buy.size)  # idling is a schedule of every chain
        self.best_value = 0.0
        self.recursions = 0
        self.spent_us = 0.0  # the modelled work of the recursions so far (``chain.WORK``)
        # the chain's lattice, built once (``chain.solve`` would build it every round), where
        # every hour's values fit; else ``chain.solve`` picks the recursion each round
        grid = lattice_of(chain, buy.size)
        self.grid = _rounds_grid(grid, buy.size)
        self.dense = _is_dense(self.grid)
        # the work model's cost of one round (module docstring)
        if grid is None:
            self.per_recursion_us = WORK.general_us * buy.size
        elif self.dense:
            self.per_recursion_us = WORK.dense_hours(grid, buy.size)
        else:
            self.per_recursion_us = WORK.lattice_hours(grid, buy.size)
        # the days a count split may fall on (``_split_count``): on a small enough lattice,
        # where withdrawing the cap and putting it back takes more hours than the day has --
        # only there can a mix of schedules within the cap pack more moving hours into a day
        # than fit
        small = self.grid is not None and self.grid.levels.size <= COUNT_LEVELS
        full = np.full(self.hours.size, cap)
        self.countable = small & (_hours_needed(full, full, chain) > self.hours)

    def _recurse(self, buy: np.ndarray, sell: np.ndarray) -> tuple[np.ndarray, float]:
        """The chain's optimal moves at rates ``(buy, sell)`` and their value ``V_0(x0)``."""
        grid = self.grid
        if grid is None:
            solution = solve(buy, sell, self.chain)
            return solution.moves, solution.value
        if self.dense:  # a small lattice: every level's whole window at once
            return lattice.dense_chain(buy, sell, grid)
        values = lattice.chain_values(buy, sell, grid, deadline_s=self.deadline_s)
        moves = lattice.chain_moves(values, buy, sell, grid, deadline_s=self.deadline_s)
        return moves, float(values[0][grid.start])

    def offer(self, moves: np.ndarray) -> None:
        """Make ``moves`` the incumbent if it is a schedule within the cap that earns more."""
        if feasible(moves, self.offsets, self.chain, self.cap):
            value = float(stored_revenue(moves, self.buy, self.sell))
            if value > self.best_value:
                self.best, self.best_value = moves, value

    def evaluate(self, node: _Node, lam: np.ndarray) -> tuple[_Plane, float]:
        """The node's optimal schedule at ``lam`` (its plane) and ``L(lam)``."""
        check_deadline(self.deadline_s, "closing the capped chain's gap by branch and bound")
        buy = np.where(node.may_charge, self.buy, self.big)
        sell = np.where(node.may_discharge, self.sell, -self.big)
        priced_sell = sell - np.repeat(lam, self.hours)
        self.recursions += 1
        if not node.limited(self.hours):
            moves, value = self._recurse(buy, priced_sell)
            self.spent_us += self.per_recursion_us
        else:
            assert self.grid is not None  # count limits are set on a lattice only
            moves, value = lattice.counted_chain(
                buy, priced_sell, self.grid, self.offsets, node.charges, node.discharges
            )
            self.spent_us += WORK.counted_hours(
                self.grid, self.hours, node.charges, node.discharges
            )
        ws = np.add.reduceat(np.maximum(-moves, 0.0), self.offsets[:-1])
        plane = _Plane(moves, float(stored_revenue(moves, buy, sell)), ws)
        priced = self.cap * float(lam.sum())
        # the recursion's value is L; the schedule's own plane at lam can only be below it
        # (rounding aside): the larger of the two is the safer upper bound
        bound = max(value + priced, plane.value - float(plane.ws @ lam) + priced)
        self.offer(moves)
        return plane, bound

    def tolerance(self, value: float) -> float:
        return CAP_REL_TOL * max(1.0, abs(value))


def _dual(
    search: _Search, node: _Node
) -> tuple[float, np.ndarray, list[_Plane], np.ndarray] | None:
    """The minimum of the node's ``L`` by cutting planes in a box around the best
    multipliers so far (the boxstep method; module docstring): its bound, the multipliers at
    the minimum, the planes and weights on them (``_weights``); None when the rounds run
    out."""
    planes = list(node.planes)
    master = KelleyMaster(search.hours.size, search.cap, MASTER_OPTIONS)
    for inherited in planes:
        master.add(inherited.value, inherited.ws)
    lam = node.lam
    center, best = lam, np.inf  # the multipliers with the least L evaluated, and that L
    radius = BOX_SHARE * search.high
    for _ in range(MAX_ROUNDS):
        plane, value = search.evaluate(node, lam)
        planes.append(plane)
        master.add(plane.value, plane.ws)
        serious = value < best
        if serious:
            center, best = lam, value
        low = np.maximum(center - radius, 0.0)
        high = np.minimum(center + radius, search.high)
        result = master.solve(low, high)
        if result is None:
            return None
        if best <= result.value + KELLEY_REL_TOL * max(1.0, abs(best)):
            # no plane found reaches below L(center) in a box around it: L is convex and at
            # least the planes, so center minimises L over the box, hence everywhere
            weights = _weights(search, planes)
            return (best, center, planes, weights) if weights is not None else None
        lam = result.lam
        face = (lam <= low + 1e-9 * radius) & (low > 0.0)
        face |= (lam >= high - 1e-9 * radius) & (high < search.high)
        if serious and face.any():
            radius *= 2.0
    return None


def _weights(search: _Search, planes: list[_Plane]) -> np.ndarray | None:
    """Weights on the planes' schedules, summing to 1 (to HiGHS's tolerance), whose
    withdrawals average at most ``K`` every day, that earn the most by their planes'
    revenues (the master's dual: at ``L``'s minimum it reaches the minimum); None if HiGHS
    fails."""
    import highspy

    highs = quiet_highs(MASTER_OPTIONS)
    count, days, inf = len(planes), search.hours.size, highspy.kHighsInf
    columns = np.arange(count)
    highs.addVars(count, np.zeros(count), np.full(count, inf))
    highs.changeColsCost(count, columns, -np.array([p.value for p in planes]))
    withdrawn = np.array([p.ws for p in planes]).T  # days x planes
    rows = np.vstack((withdrawn, np.ones(count)))
    lower = np.append(np.full(days, -inf), 1.0)
    upper = np.append(np.full(days, search.cap), 1.0)
    highs.addRows(
        days + 1, lower, upper, rows.size, np.arange(0, rows.size, count),
        np.tile(columns, days + 1), rows.reshape(-1),
    )  # fmt: skip
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    weights: np.ndarray = np.maximum(np.asarray(highs.getSolution().col_value), 0.0)
    return weights


def _mix(search: _Search, moves: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """The mix of the planes' schedules (``moves``, one row each) by weights ``mu`` summing to
    1, scaled towards idling where the LP's rounding leaves a day above the cap (a convex
    combination with idling keeps every limit and lowers withdrawal; it earns that share
    less)."""
    mix: np.ndarray = mu @ moves
    ws = np.add.reduceat(np.maximum(-mix, 0.0), search.offsets[:-1])
    top = float(ws.max(initial=0.0))
    return mix * min(1.0, search.cap / top) if top > 0.0 else mix


def _netting_loss(search: _Search, node: _Node, moves: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """What the mix loses to netting in each hour the node has not signed: the energy its
    weighted schedules move in opposite directions there times ``|a_t - b_t|``."""
    netted = np.minimum(mu @ np.maximum(moves, 0.0), mu @ np.maximum(-moves, 0.0))
    netted[~(node.may_charge & node.may_discharge)] = 0.0
    netted[netted <= search.chain.tol_x] = 0.0  # rounding
    loss: np.ndarray = netted * np.abs(search.buy - search.sell)
    return loss


def _split_hour(search: _Search, node: _Node, moves: np.ndarray, mu: np.ndarray) -> int | None:
    """The hour where the mix loses most to netting (among those the node has not signed):
    the energy its weighted schedules move in opposite directions there, times what netting
    a stored MWh costs there (``|a_t - b_t|``); None where they net nowhere beyond rounding.
    On five 3-day chains of -1200 +- 50 and seven other short chains this took at most as
    many nodes as the largest netted energy alone, and 339 instead of 803 on one (one-off)."""
    netted = np.minimum(mu @ np.maximum(moves, 0.0), mu @ np.maximum(-moves, 0.0))
    netted[~(node.may_charge & node.may_discharge)] = 0.0
    nets = netted > search.chain.tol_x  # (never a signed hour: a child differs from its parent)
    if not nets.any():
        return None
    return int(np.where(nets, netted * np.abs(search.buy - search.sell), -1.0).argmax())


def _children(
    search: _Search, node: _Node, moves: np.ndarray, mu: np.ndarray, lam: np.ndarray
) -> tuple[_Node, _Node] | None:
    """The node's two children (module docstring, "Search"), without planes: split on a day's
    count of charging or discharging hours (``_split_count``), else at the hour where the
    mix nets most (``_split_hour``); None where neither applies."""
    count = _split_count(search, node, moves, mu)
    if count is not None:
        day, charging, k = count
        charges_a, discharges_a = node.charges.copy(), node.discharges.copy()
        charges_b, discharges_b = node.charges.copy(), node.discharges.copy()
        rest = int(search.hours[day]) - k - 1  # what more than k charging hours leave
        if charging:
            charges_a[day], discharges_b[day] = k, rest
        else:
            discharges_a[day], charges_b[day] = k, rest
        return (
            _Node(node.may_charge, node.may_discharge, charges_a, discharges_a, [], lam),
            _Node(node.may_charge, node.may_discharge, charges_b, discharges_b, [], lam),
        )
    hour = _split_hour(search, node, moves, mu)
    if hour is None:
        return None
    no_discharge = node.may_discharge.copy()
    no_discharge[hour] = False
    no_charge = node.may_charge.copy()
    no_charge[hour] = False
    return (
        _Node(node.may_charge, no_discharge, node.charges, node.discharges, [], lam),
        _Node(no_charge, node.may_discharge, node.charges, node.discharges, [], lam),
    )


def _hours_needed(charged: np.ndarray, withdrawn: np.ndarray, chain: Chain) -> np.ndarray:
    """The fewest hours that charge ``charged`` and withdraw ``withdrawn`` (stored MWh, each
    day): whole hours of at most ``C`` and ``D``."""
    needed: np.ndarray = np.ceil(charged / chain.up_mwh - 1e-9)
    return needed + np.ceil(withdrawn / chain.down_mwh - 1e-9)


def _split_count(
    search: _Search, node: _Node, moves: np.ndarray, mu: np.ndarray
) -> tuple[int, bool, int] | None:
    """A day whose weighted schedules charge (or discharge) in different numbers of hours,
    where splitting at the floor ``k`` of their weighted count narrows both children: one
    charges in at most ``k`` of the day's hours, the other discharges in at most ``hours -
    k - 1`` (a schedule charging in more than ``k`` hours has no more left to discharge in,
    module docstring); the day and side with the widest spread of counts. Returns ``(day,
    charging?, k)``, or None (none such, or no lattice to count on)."""
    if not search.countable.any():
        return None
    used = mu > 1e-9
    weights = mu[used] / float(mu[used].sum())
    charging, discharging = _counts(moves[used], search.offsets)
    # days whose mix charges and withdraws more energy than any schedule can move in the
    # day's hours: at least ceil(charged / C) charging and ceil(withdrawn / D) discharging
    starts = search.offsets[:-1]
    charged = weights @ np.add.reduceat(np.maximum(moves[used], 0.0), starts, axis=1)
    withdrawn = weights @ np.add.reduceat(np.maximum(-moves[used], 0.0), starts, axis=1)
    packed = search.countable & (_hours_needed(charged, withdrawn, search.chain) > search.hours)
    packed &= (node.charges >= search.hours) & (node.discharges >= search.hours)  # no limit yet
    best: tuple[float, int, bool, int] | None = None
    for side, counts, limit, other in (
        (True, charging, node.charges, node.discharges),
        (False, discharging, node.discharges, node.charges),
    ):
        mean = weights @ counts
        spread = weights @ (counts - mean) ** 2
        split = np.floor(mean + 1e-9).astype(int)
        narrows = packed & (spread > 1e-9) & (split < limit) & (search.hours - split - 1 < other)
        for day in np.flatnonzero(narrows).tolist():
            if best is None or spread[day] > best[0]:
                best = (float(spread[day]), day, side, int(split[day]))
    return None if best is None else best[1:]


class SignSearch:
    """One branch and bound on the hours' signs over a capped chain (module docstring) that
    can be run in stages (``run``): a stage stops at its work limit with its queue intact,
    and the next continues it, so a brief stage followed by a longer one is the same search
    as the longer one alone (the same nodes in the same order, the same answer). Schedules
    found elsewhere between stages are offered as incumbents (``offer``), as are
    ``incumbents`` (moves) at the start; the root's cutting planes start from ``multipliers``
    (one per day, NaN read as 0; the daily route's are near the chain's)."""

    def __init__(
        self,
        buy: np.ndarray,
        sell: np.ndarray,
        offsets: np.ndarray,
        chain: Chain,
        cap: float,
        *,
        incumbents: Sequence[np.ndarray] = (),
        multipliers: np.ndarray | None = None,
        deadline_s: float | None = None,
    ) -> None:
        self._search = _Search(buy, sell, offsets, chain, cap, deadline_s)
        for moves in incumbents:
            self.offer(moves)
        everything = np.ones(buy.size, dtype=bool)
        lam0 = np.zeros(offsets.size - 1) if multipliers is None else np.asarray(multipliers, float)
        lam0 = np.clip(np.nan_to_num(lam0, nan=0.0), 0.0, self._search.high)
        hours = np.diff(offsets)
        root = _Node(everything, everything, hours.copy(), hours.copy(), [], lam0)
        self._queue: list[tuple[float, int, _Node]] = [(-np.inf, 0, root)]  # (-bound, order, node)
        self._pushed = 1
        self.nodes = 0
        self._top = np.inf  # the root's bound once it is bounded
        #: the bound of a node the search could neither bound nor split (its cutting-plane
        #: rounds ran out, or its mix nets nowhere yet misses its bound): no later stage can
        #: close the search, only prove a gap over it -- unless a schedule offered since
        #: (HiGHS's, in ``optimal``) reaches that bound, which closes the node
        self._stuck: float | None = None

    def offer(self, moves: np.ndarray) -> None:
        """Make ``moves`` (stored-energy moves) the incumbent if it is a schedule within the
        cap that earns more."""
        self._search.offer(np.asarray(moves, dtype=float))

    @property
    def descending(self) -> bool:
        """The search has bounded its root and a child at least, and every node so far was
        bounded and split or pruned: only its work limits stop it (``optimal`` lets it go on
        before HiGHS when a brief stage got this far, module docstring)."""
        return self.nodes > 1 and self._stuck is None

    @property
    def work_us(self) -> float:
        """The modelled work of the recursions so far (``chain.WORK``), which ``run``'s limit
        is checked against as each node starts."""
        return self._search.spent_us

    def run(self, work_us: float | None = None, accept_gap: float = 0.0) -> Closed | None:
        """Go on until every node is closed (the optimum), or until ``MAX_NODES`` nodes in all,
        or recursions past ``work_us`` in all (modelled, ``chain.WORK``; default
        ``MAX_WORK_US``), or a node it cannot bound or split; past those, the incumbent if it
        lies within ``accept_gap`` (relative, at most ``PROVEN_REL_GAP``) of the best bound of
        the nodes still open, else None."""
        if not 0.0 <= accept_gap <= PROVEN_REL_GAP:
            raise ValueError(f"accept_gap must lie in [0, {PROVEN_REL_GAP}], not {accept_gap}")
        work_us = MAX_WORK_US if work_us is None else work_us
        search, queue = self._search, self._queue
        tol_x = search.chain.tol_x
        stuck = self._stuck  # +inf where it was the root
        if stuck is not None and stuck <= search.best_value + search.tolerance(search.best_value):
            self._stuck = None  # a schedule offered since beats the node it was stuck at
        while queue and self._stuck is None:
            key, order, node = heapq.heappop(queue)
            parent = -key  # the parent's bound (the root's: +inf)
            if parent <= search.best_value + search.tolerance(search.best_value):
                continue  # nothing in it beats the incumbent
            if self.nodes >= MAX_NODES or self.work_us > work_us:
                heapq.heappush(queue, (key, order, node))  # open for a later stage
                return self._stopped(accept_gap)
            self.nodes += 1
            dual = _dual(search, node)
            if dual is None:
                self._stuck = parent
                break
            bound, lam, planes, weights = dual
            if self.nodes == 1:
                self._top = bound
            if bound <= search.best_value + search.tolerance(bound):
                continue
            total = float(weights.sum())
            if total <= 0.0:
                self._stuck = bound  # no weights to mix or split by: HiGHS decides
                break
            moves, mu = np.array([p.moves for p in planes]), weights / total
            search.offer(_mix(search, moves, mu))
            if bound <= search.best_value + search.tolerance(bound):
                continue
            children = _children(search, node, moves, mu, lam)
            if children is None:
                self._stuck = bound  # nets nowhere yet misses the bound: HiGHS decides
                break
            for child in children:
                child.planes.extend(p for p in planes if child.keeps(p, search.offsets, tol_x))
                heapq.heappush(queue, (-bound, self._pushed, child))
                self._pushed += 1
        if self._stuck is not None:
            return self._stopped(accept_gap)
        return self._closed()

    def _closed(self, gap: float = 0.0) -> Closed:
        search = self._search
        return Closed(
            moves=search.best, bound=max(self._top, search.best_value), nodes=self.nodes,
            recursions=search.recursions, gap=gap,
        )  # fmt: skip

    def _stopped(self, accept_gap: float) -> Closed | None:
        """The incumbent if no node still open (queued ones bounded by their parents', a stuck
        one by its own) can beat it by more than ``accept_gap``."""
        bounds = [-key for key, _, _ in self._queue]
        if self._stuck is not None:
            bounds.append(self._stuck)
        best = max(bounds, default=-np.inf)  # +inf while the root is open
        value = self._search.best_value
        gap = max(0.0, (best - value) / max(1.0, abs(best)))
        return self._closed(gap) if np.isfinite(best) and gap <= accept_gap else None
