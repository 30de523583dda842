"""``optimal``: the exact perfect-foresight optimum of SPEC §2.

Routes (``daily`` horizon), all exact, none timed: which one a day takes depends on its prices
and the battery only, and its work is fixed by the day's length, never by a clock.

* **Convex days** (every hour's reward concave in the stored-energy move, see
  ``optimizer.envelope``): the vectorised value-function recursion of ``optimizer.envelope``,
  all such days at once.
* **Non-convex days** (some hour where ``p (1 - eta_c eta_d) + kappa eta_c eta_d < 0``, i.e.
  prices so negative that burning energy would pay, so charging and discharging must be kept
  apart): the lattice recursion of ``optimizer.lattice``, exact without any concavity, all such
  days at once.
* **Cycle cap** (``max_cycles_per_day``, withdrawal ``w <= K`` per day): Lagrangian
  relaxation with the multiplier found *exactly* (``optimizer.capped_day.newton``, whose
  docstring has the argument). For a price ``lambda >= 0`` on withdrawn energy, ``L(lambda) =
  max_pi f(pi) + lambda (K - w(pi))`` is an upper bound on the capped optimum (weak duality)
  and a maximum of lines in ``lambda``; Newton's method ends on its minimum ``lambda*`` with
  two schedules optimal there, one over the cap and one under, and their mix withdrawing
  exactly ``K`` is feasible. When the mix earns ``L(lambda*)`` it is optimal: a certificate
  checked on every capped day. It always holds on convex days (netting never loses); on a
  non-convex day it fails where one schedule charges and the other discharges in one hour
  (and where the rounds run out, ``capped_day.MAX_ROUNDS``, never seen in the tests or the
  bench). Measured (``bench/bench_worst_case.py``): realistic years reach it -- solar dips
  with cap 2 on 18 days, 90 % negative hours with cap 3 on 23 -- and on every such day checked
  it is a true duality gap: the bound at ``lambda*`` lies 2e-7..2e-4 above the optimum
  (0.02-0.8 % on days of -1200 +- 50 at round trip 0.5), so no multiplier certifies it. Those
  days go to ``capped_day.close_gaps`` (``_search_gaps``): branch and bound on the hours'
  signs, each node (the day with hours barred from charging or from discharging) bounded by
  its own ``L`` at its own ``lambda*`` on the lattice, split at the hour where its mix nets
  most (so at most one level per hour), pruned against the best schedule within the cap found;
  a node with every hour signed is a linear programme with no duality gap, so the search ends
  with the optimum. Its work is capped (``capped_day.MAX_NODES`` a day); past it the day goes
  to one HiGHS MILP (``solve_milp``). Measured (``bench/bench_capped_day.py``, one core): the
  306 gap days of a year of -1200 +- 50 at round trip 0.5 with cap 3 in 0.34 s, 1.1 ms a day
  (147 nodes at most, median 9; their MILPs 56 ms a day); the 120 of -1200 +- 1 with cap 3
  2.8 ms a day (MILPs 24); the 18 of solar dips with cap 2 and the 23 of 90 % negative hours
  with cap 3 1.9 and 2.4 ms (MILPs 15 and 18); no day past the cap, every one equal to
  HiGHS's MILP (at most 5.7e-12 relative).

``continuous`` horizon (one chain of hours over all days):

* some hour not concave, no cycle cap: the exact chain recursion of ``optimizer.chain``
  (piecewise-linear value functions that need not be concave; work linear in the hours,
  bounded per hour by the breakpoint count);
* every hour concave, with or without a cycle cap: one HiGHS LP over the chain (no
  binaries; polynomial);
* a cycle cap and some hour not concave (``chain_with_cap``): certificates first, each an
  upper bound on the capped chain optimum met by a feasible schedule; HiGHS MILPs only when
  neither holds. Write ``OPT`` for the optimum (the MILP with a binary on every non-concave
  hour, SPEC §2).

  1. **The LP relaxation** (``solve_program`` with no integral binary): ``z`` in ``[0, 1]``,
     i.e. ``c_t + d_t <= P`` on the non-concave hours, which replaces each such hour's
     reward by its concave envelope (the chord from full discharge to full charge: charging
     and discharging at once allowed). Every schedule of the exact program is feasible for
     it, so its optimum ``U >= OPT``. Its optimal schedule with the overlap removed
     (``remove_overlap``: stored energy unchanged, withdrawal lowered, so SoC limits, the end
     condition and the cap still hold) is feasible for the exact program; when its exact
     revenue reaches ``U`` (to 1e-9 relative), it is optimal. This is the case exactly when
     the LP optimum does not burn energy in a non-concave hour (on concave hours removing the
     overlap never loses). One HiGHS LP over the chain (3 variables per hour, one more row
     per non-concave hour), no branch and bound; exact to HiGHS's tolerances like every HiGHS
     route. Measured, a year (PRD battery, one core, ``bench/bench_worst_case.py``): solar
     dips with cap 1, 30 % of hours at -20..-1200 with cap 1, and -1200 +- 50 with cap 1
     are all certified here (the LP's optimum never burns): 0.17-0.23 s in all, where the
     MILP took 3.4-3.7 s. Why it never burns there is not proven (with the cap binding,
     burning spends the cap); the check decides, not the argument.
  2. **The Lagrangian certificate** (``_lagrangian_certificate``). The daily route gives each
     day a multiplier ``lambda_d >= 0`` (0 where its cap does not bind); one chain recursion
     with withdrawn energy priced at ``lambda_d`` gives ``L = max_chain [revenue - sum_d
     lambda_d (w_d - K)] >= OPT`` for any ``lambda >= 0`` (weak duality: no convexity
     needed). Two schedules are feasible on the capped chain: the priced chain's own, when
     it stays within the cap every day, and the daily capped schedule (every day back at
     ``soc_0``). Whichever reaches ``min(L, U)`` (to 1e-9 relative) is optimal; the daily
     schedule is tried against ``U`` before the chain recursion. This holds for flat and
     repeated negative days, where the relaxation's optimum burns in ties (a year of flat
     -1200 with cap 1: 0.26-0.31 s, the LP included) and whenever the cap never binds.
  3. **The Lagrangian bound re-priced day by day** (``optimizer.chain_cap.reprice``; the
     proof is its module docstring). The priced chain's schedule misses ``L`` only on the
     days that break complementary slackness (above ``K``, or ``lambda_d > 0`` with slack).
     Each such day's multiplier is found exactly by Newton's method on that day alone,
     between the chain's value functions at its midnights (24 hours of recursion a round,
     arrivals over a 48-hour window), or, for broken days at most two days apart, the run's
     multipliers by Kelley's cutting planes; the mix of the schedules optimal at
     ``lambda*`` that withdraws exactly ``K`` replaces their stretch of the schedule; the
     bound at the new multipliers is recomputed by a backward pass that stops wherever the
     chain has forgotten the change (``V`` within a constant of the priced chain's: an upper
     bound either way). Certified when that schedule is feasible and reaches ``min(L', L,
     U)``.
     From the daily multipliers' chain (route 2's, ``chain_cap.priced_chain``: on the
     chain's lattice when it is small, 0.11 s a year for the PRD battery's 134 levels), then,
     if those were not all 0, from the uncapped chain (one more). No binary, no HiGHS beyond
     the LP. Measured (a year, PRD battery, one core, ``bench/bench_worst_case.py``, medians
     of 3, the LP included): 30 % of hours at -20..-1200 with cap 3, 6 days re-priced,
     0.61-0.62 s (the lazy MILP took 1.7-2.2 s); solar dips with cap 3, 1 day, 0.52-0.62 s
     (the full MILP took 6.6-7.6 s); both equal to HiGHS's full MILP in the same process
     (3.2e-14 and 0 relative); the same year with the negative hours of seed 31 (9 days,
     two adjacent: one run), 0.70 s where a lazy MILP round took 1.9 s. It fails (and the
     MILP below runs) when a window does not rejoin the priced chain's schedule before the
     next one or carries a neighbouring day over the cap, when the mix loses to netting,
     at a duality gap, or when more than ``chain_cap.MAX_REPRICED_DAYS`` days break
     (``chain_cap``'s docstring).
  4. **Branch and bound on the hours' signs** (``optimizer.chain_branch.SignSearch``; the proof is
     its module docstring), on chains of at most ``chain_branch.MAX_DAYS`` days
     (``MAX_DENSE_DAYS`` on lattices of at most ``lattice.DENSE_LEVELS`` levels): each node
     (hours barred from charging or from discharging) bounded by its own Lagrangian dual over
     every day's multiplier (cutting planes, each round one chain recursion, the root's
     starting from the daily route's multipliers), split on a day's count of charging or
     discharging hours where that mix packs the day with more moving hours than it has
     (near-ties: at round trip 0.8 a day's cap of 3 takes 10.7 hours to withdraw and 13.4 to
     put back), else where the mix of the schedules optimal at its minimum loses most to
     netting, pruned against the best schedule within the cap met.
     HiGHS's bound is the LP relaxation, which on nearly flat negative prices burns energy in
     every hour at a rate no schedule reaches: a fuzz's 3 days of -1200 +- 0.4 at round trip
     0.5 with cap 4 (68 binaries) kept its gap at 0.55 % for 15 minutes; the Lagrangian bound
     lies 1e-6 above the optimum, and the search closes in 3-5 nodes (figures:
     ``bench/bench_worst_case.py``, README). Its work is counted (``chain_branch.MAX_NODES``,
     ``MAX_WORK_US``), never timed. Neither method wins everywhere (a 168-h battery over 3
     days of -1200 +- 1 with cap 0.1: HiGHS 205 nodes, 0.6 s; the search ~4,000 recursions,
     32 s), so a short chain gets, in turn: the search within ``PROBE_WORK_US``; HiGHS within
     ``SHORT_CHAIN_MILP_NODE_HOURS`` nodes times hours (``NodeLimitReached``; a count,
     the same on any machine), unless that brief search bounded its root and a child (it is
     under way) on a chain of more than ``HIGHS_FIRST_MAX_HOURS`` hours (nearly flat negative
     days, where HiGHS's root alone takes seconds); the same search continued to
     ``MAX_WORK_US`` in all (``SignSearch.run`` in stages: nothing is done twice); and then
     the MILP below. That last stage, past its limits, keeps its incumbent if it lies within
     ``chain_branch.PROVEN_REL_GAP`` (5e-7, half the promised 1e-6) of the bound of every
     node still open, and the route says the gap it proved: near-ties (a fuzz's 2 days of
     -1200 +- 0.01, 768,326 MXN, whose symmetric nodes share a bound 1.1e-7 above the
     optimum) that neither method closed to 1e-9 in minutes answered in ~4 s (stop 25; the
     near-ties tried since close exactly by the count splits).
  5. **The MILP with a binary on every non-concave hour** (``solve_milp``): the last resort,
     and **the one route whose work is not bounded in advance** (branch and bound). It is
     reached when the relaxation is not tight, the Lagrangian bound leaves a gap and the
     re-pricing fails: a cap that binds on many days, adjacent ones among them. Measured (a
     year, PRD battery, one core; the bench's families "solar dips, cap 2" and "50 %
     negative hours, cap 3"): solar dips with cap 2 (the uncapped chain breaks the cap on
     211 days, 108 of them next to another) 5.5 s; 50 % of hours negative with cap 3 (101
     days) 4.4-4.9 s; 30 % negative with cap 2 (192 days) 2.2 s -- with HiGHS's root
     reduced-cost heuristic off (``HIGHS_MIP_OPTIONS``; 11-14, 8.5-10.4 and 2.2-2.9 s with
     it, the same optima); about 1 s of each is the routes above. With RENS off too
     (``HIGHS_UNLIMITED_OPTIONS``): 3.7, 3.3 and 1.6 s, and 90 % of hours negative with cap 3
     12 s (70 s with it). Starting from the LP
     relaxation's own cap multipliers (HiGHS's duals, through ``linprog``) does not help
     there: its priced chain breaks 226-258 days. There used to be up to three MILP rounds
     with binaries only on the hours where the previous relaxation burned (at most 256):
     each is a relaxation too, optimal when its solution does not burn; they saved 0.3 s
     on the last year above but failed and cost 12-25 s before the full MILP on the first
     two, so branch and bound now runs once.

  Hypothesis-generated short chains reach it too (of the 50 examples of
  ``tests/optimizer/test_chain_cap.py``'s deterministic profile, 49 are certified by the LP
  relaxation and 1 took the full MILP before route 4: a run of two days whose bound is exact
  but whose mix loses 2e-4 to netting; the other routes are covered by its named cases). Why
  no bounded exact method in general (looked for, issue 9): the cap is one constraint per
  market day across a chain that does not return to ``x0`` at midnight. An exact recursion
  needs a second state within the day (energy withdrawn so far, reset at midnight), so each
  within-day value function is a two-dimensional piecewise-linear surface (charging moves
  along ``w`` constant, discharging along ``x + w`` constant); a lattice argument like
  ``optimizer.lattice``'s bounds its levels, but over the chain the free moves of a vertex
  couple segments that span many days (each pinned segment and each binding day adds one), so
  the candidate levels are sums of many anchor differences, not a small set. (With the signs
  fixed, a free move lies in one segment's row and, if it discharges on a day whose cap binds,
  in that day's row: a bipartite incidence matrix, totally unimodular, so every level of a
  vertex is an integer combination ``a x0 + b W + c K + i C - j D``; but ``|b|`` and ``|c|``
  grow with the components that the binding days link. Measured, stop 29: the optimal
  vertices of four realistic capped years (the real year with solar dips) need ``|b|, |c| <=
  4``; a recursion over (level, energy withdrawn that day) on that set with ``|b|, |c| <= 3``
  reaches the optimum of 3 days of -1200 +- 50 at round trip 0.5 with cap 3, but stays 1.7e-6
  below it over 15 such days.) The dual side
  does not close the gap in bounded work either: subgradient steps on the 366 multipliers
  (each a chain recursion, 0.3-1.2 s) with the optimum known in advance (Polyak steps) left a
  gap of 6e-4 after 40 recursions on the 30 % negative year with cap 1; sweeps of day-by-day
  Newton re-pricing over all 211 broken days of solar dips with cap 2 (route 3 without runs
  and without the primal, 1.7-2.3 s each) leave the bound 1.1e-4 above the optimum after 6
  sweeps, rising and falling; and on non-concave hours a duality gap may remain at the best
  multipliers anyway. Without non-concave hours the problem is the LP above.

HiGHS's schedules (the daily fallback, the chain's LP and MILP, the LP relaxation's
certificate) meet their program only to HiGHS's feasibility tolerances, while settlement
rejects a stored energy more than 1e-7 of the SoC window past a SoC bound, the start at the
end, or the cap. ``solve_program`` therefore states stored energy in units of the SoC window
(the same share of it for every battery size and duration) and asks HiGHS for 1e-9 of it
(``HIGHS_FEASIBILITY_TOL``; the defaults, 1e-7 for LPs and 1e-6 for MILPs in units of P, let a
1-hour battery starting 1e-7 above empty end 1e-5 MWh past its bounds), and every HiGHS
schedule is checked as settlement will check it, with half of its tolerances
(``_days.guard_faults``), before it leaves the optimizer: ``solve_milp`` raises ``SolverError``
naming the broken rules (never seen in the tests, the bench or the review's scans), and the
LP relaxation's schedule is then not certified (the routes after it decide).

Small numbers. The optimum is homogeneous in the prices (with the degradation cost) and in
the battery's power (its schedule scales with it), but the routes' tolerances are partly
absolute: HiGHS's (reduced costs to 1e-7, a MIP gap to 1e-6), and the ``max(1, |value|)``
floors of the envelope's and the chains' comparisons. ``Optimal.dispatch`` therefore scales
prices and degradation below ``COST_FLOOR`` (largest) and a battery whose SoC window is below
``WINDOW_FLOOR_MWH`` up by powers of two (exact: the same schedule, its powers times ``2**m``,
scaled back), and ``solve_program`` does the same with its objective for its other callers.
Before (stop 29) 11 of a fuzz's 200 cases with prices of 1e-9..1e3 MXN/MWh and batteries of
1 kW..1 MW were up to 45 % below the optimum, all on revenues below 1e-6 MXN; since, none
differs by 1e-6 relative. A window that fills or empties within an hour at P is first given
the power it can use (``power_unit_mw``: the same schedules), so that the lattice's moves and
its tolerances (relative to ``max(W, C, D)``) are of the window's size: a 36-second battery
over a window of 1e-7 of its energy lost 1.8e-6 to them (stop 30).

The request deadline (``deadline_s``, a ``time.monotonic()`` timestamp, SPEC §13) is only a
last guard: it is checked between vectorised steps and raises ``DeadlineExceededError``; it
never changes a route or a number. HiGHS gets it as its time limit (none without a deadline).

When are binaries needed (HiGHS routes)? Take an hour with c_t, d_t > 0 and lower both, c by
delta and d by delta*eta_c*eta_d: the stored energy is unchanged and the hour's revenue changes
by delta*(p_t*(1 - eta_c*eta_d) + kappa*eta_c*eta_d). Where that is >= 0 an optimum without
simultaneous charge and discharge exists (and extraction removes any overlap the same way);
only hours with p_t*(1 - eta_c*eta_d) + kappa*eta_c*eta_d < 0 can profit from burning energy,
and only those get a binary.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from optimizer import chain_branch, lattice
from optimizer.battery import Battery
from optimizer.capped_day import CAP_REL_TOL, close_gaps, newton
from optimizer.chain import Chain, solve_chain
from optimizer.chain_cap import feasible, priced_chain, reprice
from optimizer.envelope import (
    HourModels,
    needs_binary,
    recurse,
    stored_rates,
    stored_revenue,
    to_grid,
    to_stored,
)
from optimizer.errors import (
    DeadlineExceededError,
    InfeasibleProblemError,
    SolverError,
    check_deadline,
)
from optimizer.market import MarketDay, market_days
from optimizer.results import Horizon
from optimizer.settle import Dispatch, day_offsets
from optimizer.strategies._days import flatten, guard_faults, hour_mask, price_matrix
from optimizer.strategies.base import Strategy

#: the least largest rate (MXN/MWh) of the objective HiGHS gets (``solve_program``): a smaller
#: one is scaled up by a power of two (exact, the same optimum) to at least this. HiGHS's
#: tolerances are absolute -- an LP's reduced costs to 1e-7 (``dual_feasibility_tolerance``),
#: a MILP's gap to 1e-6 (``mip_abs_gap``) on top of ``MIP_REL_GAP`` -- so over prices of
#: ~1e-6 MXN/MWh they are the prices' own size: a fuzz (stop 29) found the chain's LP 57 %
#: below the optimum over two days at 3.6e-7 MXN/MWh, and a capped day's LP relaxation,
#: taken as its bound, certified a schedule 2.2 % below the daily route's over prices of
#: +-1e-6. Prices of 1,024 MXN/MWh and more are solved as given, as before. A power of two:
#: the scaled rates land in ``[COST_FLOOR, 2 COST_FLOOR)``, whatever their size, subnormal too.
COST_FLOOR = 1024.0
#: the least SoC window (MWh) of the battery ``Optimal.dispatch`` hands its routes: a smaller
#: one is scaled up by a power of two (its power; the schedule scales back exactly), as prices
#: below ``COST_FLOOR`` are (module docstring, "Small numbers")
WINDOW_FLOOR_MWH = 1.0


def up_exponent(top: float, floor: float) -> int:
    """The power of two that brings ``top`` into ``[floor, 2 floor)`` where ``0 < top < floor``
    (0 otherwise): from the exponents (``np.frexp``), so it is exact and finite for any
    positive float, subnormal too."""
    if not 0.0 < top < floor:
        return 0
    return int(np.frexp(floor)[1]) - int(np.frexp(top)[1])


#: relative MIP gap of the HiGHS routes: far below the 1e-6 exactness the product promises
MIP_REL_GAP = 1e-9
#: HiGHS's primal and MIP feasibility tolerances (``solve_program``), in its units: powers in
#: units of P, stored energy in units of the SoC window. Its defaults (1e-7 and 1e-6) let a
#: schedule overrun a SoC bound, the end condition or the cap by more than settlement's
#: 1e-7 of the window (``settle.physics_faults``); 1e-9 of the window keeps 100x inside it.
HIGHS_FEASIBILITY_TOL = 1e-9
#: HiGHS's root reduced-cost heuristic (a sub-MIP over the variables the root LP's reduced
#: costs leave free) is off: on the capped chains that reach branch and bound it spent most of
#: the solve finding an incumbent that the root's other heuristics find too (a year of solar
#: dips with cap 2: 10.5 -> 4.4 s of HiGHS; 50 % negative hours with cap 3: 9.0 -> 3.5 s;
#: 30 % negative hours with cap 2: 2.1 -> 1.4 s; the same optimum). It is a primal
#: heuristic only: the search still proves the optimum to ``MIP_REL_GAP``.
HIGHS_MIP_OPTIONS: dict[str, float | bool] = {"mip_heuristic_run_root_reduced_cost": False}
#: ... and in a branch and bound without a node limit (the last route), RENS too (a sub-MIP
#: over the variables the LP relaxation leaves integral, run again after every restart): on
#: capped chains over mostly negative prices it ran dozens of sub-MIPs, nested up to 14 deep,
#: after the optimum was found (a year with 90 % of hours negative and cap 3: 70 -> 12.5 s of
#: CPU, 95 %: 133 -> 38 s; 7 and 15 days of -1200 +- 50 at round trip 0.5 with cap 3: 12.4
#: -> 7.1 s and 26 -> 21 s; 31 days of -1200 +- 1 with cap 3: 8.0 -> 1.6 s; one-off, one
#: core, the same optima). Within a node limit it stays on: there it finds the incumbent that
#: closes the search in time (3 days of -1200 +- 1 with a 168-h battery and cap 0.1: 205
#: nodes, 0.66 s; without RENS past the limit, 5.3 s). RINS stays on everywhere (without it
#: those 15 days took 80 s).
HIGHS_UNLIMITED_OPTIONS: dict[str, float | bool] = {"mip_heuristic_run_rens": False}
#: branch-and-bound nodes times hours HiGHS gets on a short capped chain before
#: ``optimizer.chain_branch`` searches at length (then HiGHS again without a limit; a node
#: costs about in proportion to the chain's hours): HiGHS closes most such chains in a few
#: nodes (the bench's 168-h battery over 3 days of -1200 +- 1 with cap 0.1 in 205, 0.6 s),
#: while nearly flat negative days keep its LP bound far above the optimum for tens of
#: thousands (module docstring, route 4)
SHORT_CHAIN_MILP_NODE_HOURS = 18_000


#: on a short capped chain of more hours than this, a brief sign search that is under way
#: (``chain_branch.SignSearch.descending``: its root and a child bounded) goes on at length
#: before HiGHS's node-limited run, not after it: HiGHS's root (LP, cuts, heuristics) costs
#: more than the node limit counts and grows faster than the hours -- the limited run took
#: 1.15 s on a fuzz's 8 days of -1200 +- 0.4 and 3.1 s on its 14 days, which the search
#: closes in 0.2-1.0 s -- while on 3 days HiGHS was the quicker (a 168-h battery with cap 0.1:
#: 0.45 s, where the search passes its limits; -1200 +- 50 at round trip 0.5: 0.77 s against
#: 1.5 s, one-off, one core -- since the dense rounds and the kept master LP, 2026-11-30, the
#: search closes those 3 days within its brief stage, 0.50 s in all, before HiGHS is asked)
HIGHS_FIRST_MAX_HOURS = 96


def short_chain_milp_nodes(hours: int) -> int:
    """HiGHS's node limit on a short capped chain of ``hours`` hours (at least 10)."""
    return max(10, SHORT_CHAIN_MILP_NODE_HOURS // max(hours, 1))


#: relative tolerance of the chain's cap certificate (two exact recursions' rounding; far
#: below the promised 1e-6)
CHAIN_CAP_REL_TOL = 1e-9


@dataclass(frozen=True)
class Route:
    """How ``daily_moves`` solved a request (for benchmarks and logs): distinct days by route,
    Newton rounds of the cycle cap, then days closed by ``capped_day``'s branch and bound and
    days left to HiGHS (those two count every day, repeats included)."""

    convex_days: int
    lattice_days: int
    capped_days: int
    cap_rounds: int
    searched_days: int
    milp_days: int

    def __str__(self) -> str:
        text = f"envelope {self.convex_days} + lattice {self.lattice_days} distinct days"
        if self.capped_days:
            text += f", cap binding on {self.capped_days} ({self.cap_rounds} Newton rounds)"
        if self.searched_days:
            text += f", duality gap closed by branch and bound on {self.searched_days}"
        return text + f", HiGHS {self.milp_days}"


def solve_milp(
    prices: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    *,
    horizon: Horizon,
    deadline_s: float | None = None,
    max_nodes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimum by HiGHS over all hours at once; returns (charge_mw, discharge_mw),
    checked against settlement's rules with half of its tolerances (``highs_checked``).
    ``max_nodes``: ``NodeLimitReached`` past that many branch-and-bound nodes."""
    charge, discharge = remove_overlap(
        *solve_program(
            prices, offsets, battery, horizon=horizon, deadline_s=deadline_s,
            max_nodes=max_nodes,
        ),
        battery,
    )  # fmt: skip
    return highs_checked(charge, discharge, offsets, battery, horizon=horizon)


def highs_checked(
    charge: np.ndarray,
    discharge: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    *,
    horizon: Horizon,
) -> tuple[np.ndarray, np.ndarray]:
    """``(charge, discharge)`` unchanged when ``_days.guard_faults`` finds nothing, else
    ``SolverError`` naming the rules: a schedule outside SPEC §2 never leaves the optimizer
    as an optimum (no repair could make it one). HiGHS meets its program only to its
    feasibility tolerances (``HIGHS_FEASIBILITY_TOL`` of the SoC window, 50x inside
    settlement's), so this check is what guarantees that no HiGHS schedule reaches
    settlement beyond noise."""
    broken = guard_faults(charge, discharge, offsets, battery, horizon=horizon)
    if broken:
        raise SolverError(
            "HiGHS's schedule breaks SPEC §2 beyond its tolerances: " + "; ".join(broken)
        )
    return charge, discharge


def power_unit_mw(battery: Battery) -> float:
    """``solve_program``'s unit of power: P, or ``max(W / eta_c, W eta_d)`` (``W`` the SoC
    window, MWh) where that is less -- a battery whose window fills or empties in under an
    hour at P. Every schedule that never charges and discharges in one hour has ``eta_c c_t
    <= W`` and ``d_t / eta_d <= W``, so bounds at that unit are implied: the same optima
    (on concave hours an optimum without overlap exists, module docstring), and
    ``c_t + d_t <= unit`` still relaxes the exact programme. HiGHS then sees coefficients of
    the window's size whatever P."""
    usable_mwh = battery.usable_energy_mwh
    return min(
        battery.power_mw,
        max(usable_mwh / battery.eta_charge, usable_mwh * battery.eta_discharge),
    )


def solve_program(
    prices: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    *,
    horizon: Horizon,
    deadline_s: float | None = None,
    integral: np.ndarray | None = None,
    max_nodes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """HiGHS's optimum of the schedule program, (charge_mw, discharge_mw) as solved (overlap
    not removed); ``NodeLimitReached`` where branch and bound passes ``max_nodes`` nodes (a
    count, the same on any machine). The hours that ``needs_binary`` and ``integral`` selects
    (a mask over the hours, default every hour) get a binary ``z``; the other hours that need
    one are relaxed to ``c + d <= P`` (``z`` in ``[0, 1]`` projected out): the hour's reward
    replaced by its concave envelope (charging and discharging at once allowed), so the
    program is then a relaxation of the exact one and its optimum an upper bound
    (``chain_with_cap``).

    Every hour that needs a binary also gets two *headroom cuts*, ``eta_c c_t <= e_max -
    e_{t-1}`` and ``d_t / eta_d <= e_{t-1} - e_min`` (``e_{-1}`` = the start level): valid
    for every schedule that never charges and discharges in one hour (charging alone must
    fit below the ceiling, discharging alone above the floor), so they cut no schedule of
    the exact program and change no optimum, but they forbid burning in a full (empty)
    battery in the relaxation: its bound is tighter and branch and bound shorter (a year of
    30 % negative hours, one-way efficiencies 0.1, cap 0.1: 14.8 -> 2.7 s; solar dips,
    cap 3: 8.5 -> 5.9 s).

    Units: powers in units of ``power_unit_mw`` (P, or what the SoC window lets one hour use
    where that is less), stored energy (levels, the cap, the headroom cuts) in units
    of the SoC window ``W = E (max_soc - min_soc)``, HiGHS's feasibility tolerances
    ``HIGHS_FEASIBILITY_TOL`` (module docstring); the objective in MXN/MWh, times a power of
    two where its largest rate is below ``COST_FLOOR`` (the same optimum: HiGHS's
    optimality tolerances and its MIP's absolute gap then mean the same share of the rates as
    over real prices). The schedule returned is HiGHS's, clipped to
    ``[0, P]``; callers check it (``highs_checked``, ``_days.guard_faults``)."""
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = prices.size
    # powers in units of P (objective: revenue / P; P is power_unit_mw, below) and stored
    # energy in units of the SoC window W (as tests/optimizer/reference.py): HiGHS's absolute
    # tolerances then mean the same share of the window for a 1 kWh and a 1 GWh battery, of a
    # 15-minute battery as of a 6-hour one. In units of P a 1-hour battery could overrun its
    # SoC bounds by HiGHS's tolerance, 1e-7 P MWh (LP) or 1e-6 P MWh (MIP): beyond
    # settlement's 1e-7 of the window.
    #
    # That P is the battery's, or less where the SoC window fills or empties in under an hour
    # at P (``power_unit_mw``): a window of 1e-8 P h gave HiGHS coefficients of 1e9 and, with
    # a price of 1.4e-42 beside one of 1,000, no answer (a 500; stop 30's hypothesis search).
    scale = power_unit_mw(battery)
    P = 1.0
    hours = battery.energy_mwh / scale  # E / unit, hours
    window = hours * (battery.max_soc - battery.min_soc)  # W / unit, hours
    E = hours / window  # E / W
    eta_c = battery.eta_charge / window  # stored energy (in W) per hour of full-power charge
    inv_d = 1.0 / (battery.eta_discharge * window)  # ... withdrawn per hour of full discharge
    e0 = battery.soc_start * E
    hard = needs_binary(prices, battery)
    binary = hard if integral is None else hard & integral
    relaxed = hard & ~binary  # c_t + d_t <= P: z_t projected out
    nb = int(binary.sum())
    nv = 3 * n + nb
    idx = np.arange(n)
    c_col, d_col, e_col = idx, n + idx, 2 * n + idx

    # --- build: objective (minimise cost = -revenue), scaled up by a power of two where its
    # largest rate is below COST_FLOOR (HiGHS's tolerances are absolute: COST_FLOOR) ---
    cost = np.zeros(nv)
    cost[c_col] = prices
    cost[d_col] = -prices + battery.degradation_cost_mxn_per_mwh
    cost = np.ldexp(cost, up_exponent(float(np.max(np.abs(cost))), COST_FLOOR))

    starts = offsets[:-1] if horizon is Horizon.DAILY else offsets[:1]
    ends = offsets[1:] - 1 if horizon is Horizon.DAILY else offsets[-1:] - 1
    first = np.zeros(n, dtype=bool)
    first[starts] = True
    linked = idx[~first]

    # energy balance: e_t - e_{t-1} - eta_c c_t + d_t / eta_d = (e0 at a chain start, else 0)
    rows = [idx, idx, idx, linked]
    cols = [e_col, c_col, d_col, e_col[linked] - 1]
    vals = [np.ones(n), np.full(n, -eta_c), np.full(n, inv_d), -np.ones(linked.size)]
    lo = [np.where(first, e0, 0.0)]
    hi = [np.where(first, e0, 0.0)]
    nrows = n
    cap = battery.daily_withdrawal_cap_mwh
    if cap is not None:
        cap /= scale * window  # sum of battery-side withdrawal per market day <= cap
        day_of_hour = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        rows.append(nrows + day_of_hour)
        cols.append(d_col)
        vals.append(np.full(n, inv_d))
        lo.append(np.full(offsets.size - 1, -np.inf))
        hi.append(np.full(offsets.size - 1, cap))
        nrows += offsets.size - 1
    if nb:  # c_t <= P z_t and d_t <= P (1 - z_t) on the hours that need it
        hb = idx[binary]
        z_col = 3 * n + np.arange(nb)
        k = np.arange(nb)
        rows += [nrows + k, nrows + k, nrows + nb + k, nrows + nb + k]
        cols += [c_col[hb], z_col, d_col[hb], z_col]
        vals += [np.ones(nb), np.full(nb, -P), np.ones(nb), np.full(nb, P)]
        lo += [np.full(nb, -np.inf), np.full(nb, -np.inf)]
        hi += [np.zeros(nb), np.full(nb, P)]
        nrows += 2 * nb
    nr = int(relaxed.sum())
    if nr:
        hr = idx[relaxed]
        rows += [nrows + np.arange(nr)] * 2
        cols += [c_col[hr], d_col[hr]]
        vals += [np.ones(nr), np.ones(nr)]
        lo.append(np.full(nr, -np.inf))
        hi.append(np.full(nr, P))
        nrows += nr
    if hard.any():  # headroom cuts: eta_c c_t <= e_hi - e_{t-1}, d_t / eta_d <= e_{t-1} - e_lo
        hh = idx[hard]
        k = np.arange(hh.size)
        prev = ~first[hh]  # e_{t-1} a variable, else e0
        e_lo, e_hi = battery.min_soc * E, battery.max_soc * E
        rows += [nrows + k, nrows + k[prev], nrows + hh.size + k, nrows + hh.size + k[prev]]
        cols += [c_col[hh], e_col[hh[prev]] - 1, d_col[hh], e_col[hh[prev]] - 1]
        vals += [np.full(hh.size, eta_c), np.ones(prev.sum()), np.full(hh.size, inv_d)]
        vals.append(-np.ones(prev.sum()))
        lo += [np.full(2 * hh.size, -np.inf)]
        hi += [np.where(prev, e_hi, e_hi - e0), np.where(prev, -e_lo, e0 - e_lo)]
        nrows += 2 * hh.size
    A = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrows, nv)
    )
    lb = np.zeros(nv)
    ub = np.full(nv, P)
    lb[e_col], ub[e_col] = battery.min_soc * E, battery.max_soc * E
    lb[e_col[ends]] = ub[e_col[ends]] = e0
    integrality = np.zeros(nv)
    if nb:
        ub[3 * n :] = 1.0
        integrality[3 * n :] = 1

    # --- solve (the deadline, if any, is HiGHS's only time limit) ---
    options: dict[str, float | bool] = {
        "mip_rel_gap": MIP_REL_GAP,
        # presolve only for branch and bound: on the LPs (a chain with no binary, the
        # relaxation) it cost more than it saved -- a year's chain LP 0.18 -> 0.14 s for the
        # PRD battery, 0.62 -> 0.14 s for a 168-h one, the relaxations of the capped bench
        # families 0.28-0.34 -> 0.20-0.24 s, the same optima (one-off, one core)
        "presolve": nb > 0,
        "primal_feasibility_tolerance": HIGHS_FEASIBILITY_TOL,
        "mip_feasibility_tolerance": HIGHS_FEASIBILITY_TOL,
        **HIGHS_MIP_OPTIONS,
    }
    if deadline_s is not None:
        remaining = deadline_s - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceededError("the request's deadline passed before HiGHS started")
        options["time_limit"] = remaining
    if max_nodes is not None:
        options["mip_max_nodes"] = max_nodes
    elif nb:
        options.update(HIGHS_UNLIMITED_OPTIONS)
    with warnings.catch_warnings():
        # milp hands options it does not list (the tolerances, the heuristic) to HiGHS
        # verbatim, with a RuntimeWarning saying so; only that warning is silenced, only
        # around this call
        warnings.filterwarnings(
            "ignore", message="Unrecognized options detected", category=RuntimeWarning
        )
        result = milp(
            cost,
            constraints=LinearConstraint(A, np.concatenate(lo), np.concatenate(hi)),
            bounds=Bounds(lb, ub),
            integrality=integrality,
            options=options,
        )
    # --- check ---
    if result.status == 2:
        raise InfeasibleProblemError("HiGHS reports the schedule program infeasible")
    if result.status == 1:
        raise DeadlineExceededError("the request's deadline passed while HiGHS was solving")

    def extract(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.clip(x[c_col], 0.0, P) * scale, np.clip(x[d_col], 0.0, P) * scale

    if max_nodes is not None and result.status == 4:  # HiGHS's node limit (status 16)
        raise NodeLimitReached(max_nodes, None if result.x is None else extract(result.x))
    if result.status != 0 or result.x is None:
        raise SolverError(f"HiGHS did not solve the schedule program: {result.message}")
    return extract(result.x)


def remove_overlap(
    charge: np.ndarray, discharge: np.ndarray, battery: Battery
) -> tuple[np.ndarray, np.ndarray]:
    """Lower simultaneous c and d together, keeping the stored-energy change (module docs):
    the smaller side (in stored-energy terms) becomes exactly 0, never a 1-ulp leftover of
    either sign."""
    loop = battery.eta_charge * battery.eta_discharge
    charging = discharge / loop <= charge  # the discharge side hits 0
    net_charge = np.maximum(charge - discharge / loop, 0.0)
    net_discharge = np.maximum(discharge - charge * loop, 0.0)
    return np.where(charging, net_charge, 0.0), np.where(charging, 0.0, net_discharge)


def _solve_rows(
    buy: np.ndarray,
    sell: np.ndarray,
    movable: np.ndarray,
    hard: np.ndarray,
    battery: Battery,
    deadline_s: float | None,
) -> np.ndarray:
    """Optimal stored-energy moves of every row: envelope recursion where ``hard`` is False,
    lattice recursion where it is True."""
    moves = np.zeros(buy.shape)
    easy = np.flatnonzero(~hard)
    if easy.size:
        models = HourModels(
            buy=buy[easy],
            sell=sell[easy],
            up=np.where(movable[easy], battery.eta_charge * battery.power_mw, 0.0),
            down=np.where(movable[easy], battery.power_mw / battery.eta_discharge, 0.0),
            offset=np.zeros((easy.size, buy.shape[1])),
        )
        moves[easy] = recurse(models, battery)[0]
        check_deadline(deadline_s, "scheduling the days")
    chosen = np.flatnonzero(hard)
    if chosen.size:
        moves[chosen] = lattice.solve(
            buy[chosen], sell[chosen], movable[chosen], battery, deadline_s=deadline_s
        )[0]
    return moves


def _capped(
    buy: np.ndarray,
    sell: np.ndarray,
    movable: np.ndarray,
    hard: np.ndarray,
    battery: Battery,
    cap: float,
    deadline_s: float | None,
) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    """Moves under the daily withdrawal cap (module docstring; ``capped_day.newton``), a
    per-row flag: True where the certificate failed or the rounds ran out (the caller closes
    those rows by ``capped_day.close_gaps``, then HiGHS), the number of rows the cap binds on,
    the Newton rounds taken, and each row's multiplier ``lambda*`` (0 where the cap does not
    bind, NaN where the rounds ran out)."""

    def solve(rows: np.ndarray, lam: np.ndarray) -> np.ndarray:
        return _solve_rows(
            buy[rows], sell[rows] - lam[:, None], movable[rows], hard[rows], battery, deadline_s
        )

    dual = newton(solve, buy, sell, cap, deadline_s)
    unsolved = dual.binding & ~dual.closed
    return dual.mix, unsolved, int(dual.binding.sum()), dual.rounds, dual.multiplier


def within_cap(moves: np.ndarray, offsets: np.ndarray, cap: float | None) -> bool:
    """Whether a chain's stored-energy moves withdraw at most ``cap`` (MWh, battery side) on
    every market day (``offsets``: each day's first hour, then the total); True without a
    cap. The uncapped chain optimum that passes is the capped optimum too (the optimum of a
    relaxation that is feasible)."""
    if cap is None:
        return True
    withdrawn = np.add.reduceat(np.maximum(-moves, 0.0), offsets[:-1])
    return bool((withdrawn <= cap + CAP_REL_TOL * max(cap, 1e-300)).all())


def daily_moves(
    prices: np.ndarray, movable: np.ndarray, battery: Battery, *, deadline_s: float | None = None
) -> tuple[np.ndarray, np.ndarray, Route]:
    """Exact stored-energy moves of every day (rows of ``prices``) under the ``daily`` rule,
    a per-day flag of the days left to HiGHS (module docstring), and the route taken."""
    moves, unsolved, route, _ = _daily(prices, movable, battery, deadline_s)
    return moves, unsolved, route


def _daily(
    prices: np.ndarray, movable: np.ndarray, battery: Battery, deadline_s: float | None
) -> tuple[np.ndarray, np.ndarray, Route, np.ndarray]:
    """``daily_moves`` plus each day's cycle-cap multiplier (``_capped``; zeros without a
    cap)."""
    # identical days (flat prices, repeated inline values) are solved once
    unique, inverse = np.unique(
        np.concatenate([prices, movable], axis=1), axis=0, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    width = prices.shape[1]
    p, mov = unique[:, :width], unique[:, width:].astype(bool)
    buy, sell = stored_rates(p, battery)
    hard = (needs_binary(p, battery) & mov).any(axis=1)
    cap = battery.daily_withdrawal_cap_mwh
    if cap is None:
        moves = _solve_rows(buy, sell, mov, hard, battery, deadline_s)
        unsolved = np.zeros(p.shape[0], dtype=bool)
        capped = rounds = 0
        multipliers = np.zeros(p.shape[0])
    else:
        moves, unsolved, capped, rounds, multipliers = _capped(
            buy, sell, mov, hard, battery, cap, deadline_s
        )
    searched = _search_gaps(moves, unsolved, buy, sell, mov, battery, deadline_s)
    searched = searched[inverse]
    route = Route(
        convex_days=int((~hard).sum()),
        lattice_days=int(hard.sum()),
        capped_days=capped,
        cap_rounds=rounds,
        searched_days=int(searched.sum()),
        milp_days=int(unsolved[inverse].sum()),
    )
    return moves[inverse], unsolved[inverse], route, multipliers[inverse]


def _search_gaps(
    moves: np.ndarray,
    unsolved: np.ndarray,
    buy: np.ndarray,
    sell: np.ndarray,
    movable: np.ndarray,
    battery: Battery,
    deadline_s: float | None,
) -> np.ndarray:
    """Close the capped rows the Lagrangian route left open (a duality gap) by
    ``capped_day.close_gaps``'s branch and bound, in place: their moves, and their flag
    cleared; the rest (past its node cap) stay for HiGHS. Returns which rows it solved."""
    solved = np.zeros(unsolved.shape, dtype=bool)
    rows = np.flatnonzero(unsolved)
    if not rows.size:
        return solved
    closed = close_gaps(
        buy[rows], sell[rows], movable[rows], battery, moves[rows], deadline_s=deadline_s
    )
    moves[rows[closed.solved]] = closed.moves[closed.solved]
    unsolved[rows[closed.solved]] = False
    solved[rows[closed.solved]] = True
    return solved


@dataclass(frozen=True)
class ChainCap:
    """A ``continuous`` chain under a cycle cap with some non-concave hour: the schedule and
    the route that certified it (module docstring; for benchmarks and logs)."""

    charge_mw: np.ndarray
    discharge_mw: np.ndarray
    route: str
    milp: bool  # whether a branch and bound (binaries) was needed


class NodeLimitReached(Exception):
    """HiGHS's branch and bound passed ``solve_program``'s ``max_nodes``; ``incumbent`` is
    the best schedule it had found, ``(charge_mw, discharge_mw)`` as solved, if any."""

    def __init__(
        self, max_nodes: int, incumbent: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        super().__init__(f"HiGHS passed its limit of {max_nodes} branch-and-bound nodes")
        self.incumbent = incumbent


def _grid_revenue(
    prices: np.ndarray, charge: np.ndarray, discharge: np.ndarray, battery: Battery
) -> float:
    """Exact revenue (MXN) of a grid-side schedule of one-hour steps (SPEC §2)."""
    kappa = battery.degradation_cost_mxn_per_mwh
    return float(np.sum(prices * (discharge - charge)) - kappa * np.sum(discharge))


def _reaches(revenue: float, bound: float) -> bool:
    return revenue >= bound - CHAIN_CAP_REL_TOL * max(1.0, abs(bound))


def chain_with_cap(
    prices: np.ndarray,
    offsets: np.ndarray,
    days: Sequence[MarketDay],
    battery: Battery,
    *,
    deadline_s: float | None = None,
) -> ChainCap:
    """Exact schedule of the ``continuous`` chain under the cycle cap when some hour is not
    concave (module docstring, "continuous horizon"): the relaxation's certificate, then the
    Lagrangian one, then that bound re-priced day by day (``optimizer.chain_cap``), then, on
    chains the sign search is tried on (``chain_branch.tried_on``), the sign search of
    ``optimizer.chain_branch`` briefly, HiGHS within a node limit (unless that search is under
    way) and the same search at length,
    then HiGHS's MILP with every binary."""
    cap = battery.daily_withdrawal_cap_mwh
    if cap is None:
        raise ValueError("chain_with_cap needs a battery with max_cycles_per_day")
    continuous = Horizon.CONTINUOUS
    no_binary = np.zeros(prices.size, dtype=bool)  # the LP relaxation
    raw = solve_program(
        prices, offsets, battery, horizon=continuous, deadline_s=deadline_s, integral=no_binary
    )
    bound = _grid_revenue(prices, *raw, battery)  # >= the optimum
    clean = remove_overlap(*raw, battery)
    if _reaches(_grid_revenue(prices, *clean, battery), bound) and not guard_faults(
        *clean, offsets, battery, horizon=continuous
    ):  # (a schedule beyond HiGHS's noise is not certified: the routes below decide)
        return ChainCap(*clean, route="certified by its LP relaxation", milp=False)
    matrix, hours = price_matrix(days)
    day_moves, unsolved, _, multipliers = _daily(
        matrix, hour_mask(hours, matrix.shape[1]), battery, deadline_s
    )
    # every day back at soc_0 within its cap: feasible on the chain
    daily = None if unsolved.any() else flatten(day_moves, hours)
    lam = np.nan_to_num(multipliers, nan=0.0)  # any lambda >= 0 gives a bound
    buy, sell = stored_rates(prices, battery)
    certified = _lagrangian_certificate(
        buy, sell, offsets, battery, cap, bound, daily, lam, deadline_s
    )
    if certified is not None:
        charge, discharge = to_grid(certified[0][None, :], battery)
        return ChainCap(charge[0], discharge[0], route=certified[1], milp=False)
    binaries = int(needs_binary(prices, battery).sum())
    milp_route = f"HiGHS MILP over the chain, {binaries} binaries (all)"
    chain = Chain.of(battery)
    if chain_branch.tried_on(chain, prices.size, len(days)):
        # a short chain: the search on the signs briefly; HiGHS a while unless the search is
        # under way (its root and a child bounded) on more than a few days; the same search
        # at length
        search = chain_branch.SignSearch(
            buy, sell, offsets, chain, cap, incumbents=[to_stored(*clean, battery)],
            multipliers=lam, deadline_s=deadline_s,
        )  # fmt: skip
        closed = search.run(chain_branch.PROBE_WORK_US)
        if closed is None and (prices.size <= HIGHS_FIRST_MAX_HOURS or not search.descending):
            nodes = short_chain_milp_nodes(prices.size)
            try:
                charge, discharge = _chain_milp(
                    prices, offsets, battery, binaries, deadline_s, max_nodes=nodes
                )
                return ChainCap(charge, discharge, route=milp_route, milp=True)
            except NodeLimitReached as limit:  # its best schedule so far is an incumbent too
                if limit.incumbent is not None:
                    search.offer(to_stored(*remove_overlap(*limit.incumbent, battery), battery))
        if closed is None:
            closed = search.run(chain_branch.MAX_WORK_US, accept_gap=chain_branch.PROVEN_REL_GAP)
        if closed is not None:
            return _signed(closed, battery)
    charge, discharge = _chain_milp(prices, offsets, battery, binaries, deadline_s)
    return ChainCap(charge, discharge, route=milp_route, milp=True)


def _signed(closed: chain_branch.Closed, battery: Battery) -> ChainCap:
    """The capped chain as ``optimizer.chain_branch`` closed it, and its route."""
    charge, discharge = to_grid(closed.moves[None, :], battery)
    proven = f" to a proven gap of {closed.gap:.1e}" if closed.gap > 0.0 else ""
    return ChainCap(
        charge[0], discharge[0], milp=False,
        route=f"closed by branch and bound on the hours' signs{proven} ({closed.nodes} "
        f"node{'s' if closed.nodes > 1 else ''}, {closed.recursions} chain recursions)",
    )  # fmt: skip


def _chain_milp(
    prices: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    binaries: int,
    deadline_s: float | None,
    *,
    max_nodes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """HiGHS's MILP over the capped chain (``solve_milp``); a deadline inside it says what ran
    out of time, and what would not."""
    try:
        return solve_milp(
            prices, offsets, battery, horizon=Horizon.CONTINUOUS, deadline_s=deadline_s,
            max_nodes=max_nodes,
        )  # fmt: skip
    except DeadlineExceededError as exc:
        work = (
            "whose work has no bound fixed in advance"
            if max_nodes is None
            else f"within its limit of {max_nodes} nodes, before the sign search goes on"
        )
        raise DeadlineExceededError(
            f"{exc} (branch and bound over the continuous chain under the daily cycle limit, "
            f"{binaries} binaries, {work}; the daily horizon, or the chain without "
            "max_cycles_per_day, is exact in bounded time)"
        ) from exc


def _lagrangian_certificate(
    buy: np.ndarray,
    sell: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    cap: float,
    relaxed_bound: float,
    daily: np.ndarray | None,
    lam: np.ndarray,
    deadline_s: float | None,
) -> tuple[np.ndarray, str] | None:
    """Stored-energy moves of the capped chain certified by the daily route's multipliers
    ``lam`` priced into one chain recursion, or by ``relaxed_bound``, or by that bound
    re-priced day by day (``optimizer.chain_cap``; module docstring), and the route; else
    None. ``buy``, ``sell``: the chain's stored-energy rates (``stored_rates``); ``daily``: the
    daily route's schedule (every day back at ``soc_0``), if it solved every day."""

    def revenue(moves: np.ndarray) -> float:
        return float(stored_revenue(moves, buy, sell))

    route = "certified by its Lagrangian bound"
    if daily is not None and _reaches(revenue(daily), relaxed_bound):
        return daily, route
    hours = np.diff(offsets)
    chain = Chain.of(battery)
    solution = priced_chain(buy, sell - np.repeat(lam, hours), chain, deadline_s=deadline_s)
    tables, priced = solution.tables, solution.moves
    bound = min(solution.value + cap * float(lam.sum()), relaxed_bound)  # >= the optimum
    candidates = [daily] if daily is not None else []
    if within_cap(priced, offsets, cap):
        candidates.insert(0, priced)
    for moves in candidates:
        if _reaches(revenue(moves), bound):
            return moves, route
    # the days that break complementary slackness re-priced alone (optimizer.chain_cap): from
    # the daily multipliers' chain, then, if those were not all 0, from the uncapped chain
    for start in ("daily", "uncapped"):
        if start == "uncapped":
            if not lam.any():
                break
            lam = np.zeros_like(lam)
            solution = priced_chain(buy, sell, chain, deadline_s=deadline_s)
            tables, priced = solution.tables, solution.moves
            bound = min(bound, solution.value)
            if within_cap(priced, offsets, cap) and _reaches(revenue(priced), bound):
                return priced, route
        proposal = reprice(
            buy, sell, offsets, chain, cap, lam, tables, priced, deadline_s=deadline_s
        )
        if proposal is None:
            continue
        bound = min(proposal.bound, bound)  # each >= the optimum
        how = [f"{proposal.rounds} Newton rounds"] if proposal.rounds else []
        how += [f"{proposal.cuts} cutting-plane rounds"] if proposal.cuts else []
        how += ["from the uncapped chain"] if start == "uncapped" else []
        label = (
            f"certified by its Lagrangian bound re-priced on {proposal.days} "
            f"day{'s' if proposal.days > 1 else ''} ({', '.join(how)})"
        )
        for moves in (proposal.moves, *candidates):
            if feasible(moves, offsets, chain, cap) and _reaches(revenue(moves), bound):
                return moves, label
    return None


class Optimal(Strategy):
    name = "optimal"
    description = "Exact perfect-foresight optimum of every day (SPEC §2); the benchmark."
    order = 0
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
        # a window that fills or empties within an hour at P: the power it can use instead
        # (power_unit_mw: the same schedules, so the same optima), so that the routes' moves
        # and tolerances are of the window's size, not of P's
        unit = power_unit_mw(battery)
        if unit < battery.power_mw:
            battery = replace(battery, power_mw=unit, duration_h=battery.energy_mwh / unit)
        # small numbers scaled up by powers of two (exact: the same schedule, in MW times 2**m)
        # so that the routes' absolute tolerances mean what they mean over real ones
        flat = market_days(days).flat  # built once per request, shared with settlement
        top = max(float(np.max(np.abs(flat), initial=0.0)), battery.degradation_cost_mxn_per_mwh)
        k = up_exponent(top, COST_FLOOR)
        m = up_exponent(battery.usable_energy_mwh, WINDOW_FLOOR_MWH)
        if not k and not m:
            return self._dispatch(days, battery, horizon=horizon, deadline_s=deadline_s)
        if k:  # new days only where the prices scale (their arrays built once, as the request's)
            days = market_days([MarketDay.from_array(d.date, np.ldexp(d.prices, k)) for d in days])
        scaled = self._dispatch(
            days,
            replace(
                battery,
                power_mw=math.ldexp(battery.power_mw, m),
                degradation_cost_mxn_per_mwh=math.ldexp(battery.degradation_cost_mxn_per_mwh, k),
            ),
            horizon=horizon,
            deadline_s=deadline_s,
        )
        return Dispatch(np.ldexp(scaled.charge_mw, -m), np.ldexp(scaled.discharge_mw, -m))

    def _dispatch(
        self,
        days: Sequence[MarketDay],
        battery: Battery,
        *,
        horizon: Horizon,
        deadline_s: float | None,
    ) -> Dispatch:
        if horizon is Horizon.CONTINUOUS:
            prices = market_days(days).flat  # dispatch's, when the prices were not scaled
            convex = not needs_binary(prices, battery).any()
            offsets = day_offsets(days)
            if not convex and battery.daily_withdrawal_cap_mwh is not None:
                solved = chain_with_cap(prices, offsets, days, battery, deadline_s=deadline_s)
                return Dispatch(solved.charge_mw, solved.discharge_mw)
            if not convex:
                buy, sell = stored_rates(prices, battery)
                moves = solve_chain(buy, sell, battery, deadline_s=deadline_s).moves
                charge, discharge = to_grid(moves[None, :], battery)
                return Dispatch(charge[0], discharge[0])
            return Dispatch(
                *solve_milp(prices, offsets, battery, horizon=horizon, deadline_s=deadline_s)
            )
        matrix, hours = price_matrix(days)  # days x hours, padded
        movable = hour_mask(hours, matrix.shape[1])
        moves, unsolved, _ = daily_moves(matrix, movable, battery, deadline_s=deadline_s)
        charge, discharge = to_grid(moves, battery)
        for day in np.flatnonzero(unsolved).tolist():
            n = int(hours[day])
            charge[day, :n], discharge[day, :n] = solve_milp(
                matrix[day, :n], np.array([0, n]), battery, horizon=horizon, deadline_s=deadline_s
            )
        return Dispatch(flatten(charge, hours), flatten(discharge, hours))


STRATEGY = Optimal()
