"""The cycle cap of a day: its Lagrangian multiplier found exactly (``newton``), and the days
where no multiplier certifies the optimum closed by branch and bound on the hours' signs
(``close_gaps``; used by ``optimizer.strategies.optimal``, issue 9).

Notation of ``optimizer.lattice``: stored energy above the floor ``x`` in ``[0, W]``, a day
from ``x0`` back to ``x0``, moves ``u_t`` earning ``-a_t u`` charging and ``-b_t u``
discharging; ``f(pi)`` a schedule's revenue, ``w(pi)`` the energy it withdraws (battery side),
capped at ``K`` a day. ``OPT`` is the best revenue within the cap.

**The bound.** For a price ``lambda >= 0`` on withdrawn energy, ``L(lambda) = max_pi f(pi) +
lambda (K - w(pi)) >= OPT`` (weak duality: every capped schedule is a candidate and gains
``lambda (K - w) >= 0``; no convexity needed). ``L`` is one recursion with ``b_t`` lowered by
``lambda``, and a maximum of lines in ``lambda``: convex and piecewise linear.

**Newton's method** (``newton``). Start from ``lambda = 0`` (the uncapped optimum: where it
keeps within the cap it is optimal, a relaxation's optimum that is feasible) and idling
(optimal for ``lambda`` above every hour's spread). Each round intersects the lines of the two
bracketing schedules, one over the cap and one under, and solves the day at that ``lambda``;
when the new schedule lies on the intersection, that ``lambda*`` minimises ``L`` and both
schedules are optimal there (it ends on a breakpoint after finitely many rounds, as every
round finds a new line; ``MAX_ROUNDS`` bounds them). The mix ``theta over + (1 - theta)
under`` withdrawing exactly ``K`` is feasible: SoC limits and the end condition are linear,
and netting an hour only lowers withdrawal. Each hour's reward is linear on each side of 0,
so where the two schedules never move in opposite directions in one hour the mix earns
``theta f_over + (1 - theta) f_under = L(lambda*)``, the bound itself, and is optimal. Where
they do (an hour charging in one and discharging in the other) netting loses and the mix may
fall short: a duality gap, possible only because the day is not convex (prices so negative
that burning energy would pay).

**Branch and bound** (``close_gaps``). A *node* is the day with some hours barred from
discharging and some from charging (``lattice.solve``'s ``signs``: the lattice argument holds
for any fixed signs, so each node's recursion stays exact). Newton's method on the node gives
its bound ``B``, the least ``L(lambda)`` it evaluated (an upper bound on the node's best
whether or not the rounds converged), and schedules within the cap (the node's uncapped
optimum where it keeps within it, the under side, the mix): feasible for the day, they raise
the day's *incumbent*. Each node's rounds start from a feasible schedule near its multiplier
(``newton``'s ``start``): the route's mix at a root, the parent's schedule that keeps the
child's signs below it.

* A node with ``B`` at most the incumbent (``CAP_REL_TOL`` relative) is closed: nothing in it
  beats the incumbent. A node whose rounds converged and whose mix nets nowhere (or reaches
  ``B``) is closed too, since its mix earns ``B``.
* Otherwise the node splits at the hour where the mix nets most: one child bars discharging
  there, the other charging. No schedule of the exact program charges and discharges in one
  hour, so every schedule of the node is in a child; and neither child can net at that hour
  again, so each split signs a new hour: the tree is at most as deep as the day is long. A
  node with every hour signed is a linear programme, whose Lagrangian dual has no gap: its
  mix nets nowhere, so the search ends.

When no node is left, the incumbent is optimal (to ``CAP_REL_TOL`` relative, far below the
1e-6 the product promises). The work is counted in nodes, capped per day (``MAX_NODES``):
past the cap, or where a node's rounds run out with its mix netting nowhere, the day is left
to the caller's MILP. The nodes of all days are rows of one lattice recursion per Newton round,
level by level of the tree. Measured (``bench/bench_capped_day.py``, one core): the gap days
of the bench's four families close in 1.1-2.8 ms a day (at most 147 nodes, median 3-9), where
their MILPs take 15-56 ms and the label search this module held before took 14-21 ms (and
gave up on nearly flat days).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer import lattice
from optimizer.battery import Battery
from optimizer.envelope import stored_revenue
from optimizer.errors import check_deadline

#: Newton rounds on a row's multiplier before it counts as unconverged
MAX_ROUNDS = 60
#: relative tolerance of Newton's stopping test and of the search's pruning (far below the
#: promised 1e-6)
CAP_REL_TOL = 1e-10
#: rounding allowance of Newton's stopping test, relative to the magnitudes it subtracts
#: (revenues and priced withdrawals that may nearly cancel): without it a row whose bound is
#: small next to them could not stop before ``MAX_ROUNDS`` (review)
ROUNDING_REL = 1e-12
#: nodes a day may take before it is left to the caller's MILP (module docstring)
MAX_NODES = 512

#: ``solve(rows, lam)``: optimal stored-energy moves of those rows with withdrawn energy priced
#: at ``lam`` (one multiplier a row)
Solve = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Dual:
    """Newton's method on every row (module docstring): the mix, the bound, the multiplier
    (0 where the cap does not bind, NaN where the rounds ran out), the best schedule within
    the cap met and its revenue, how much the mix nets in each hour (``min(|over|, |under|)``
    where they move in opposite directions), which rows the cap binds on, which rows the mix
    is optimal for (the cap does not bind, or the rounds converged, the mix keeps within the
    cap and nets nowhere or reaches the bound: it then earns the bound, to ``CAP_REL_TOL``, by
    the argument of the module docstring, whatever the rounding of the two numbers), the last
    schedules over and under the cap (the row's optimum where it does not bind), and the
    rounds."""

    mix: np.ndarray
    bound: np.ndarray
    multiplier: np.ndarray
    best_moves: np.ndarray
    best: np.ndarray
    netted: np.ndarray
    binding: np.ndarray
    closed: np.ndarray
    over: np.ndarray
    under: np.ndarray
    rounds: int


def revenue_and_withdrawal(
    moves: np.ndarray, buy: np.ndarray, sell: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact revenue (MXN) and battery-side withdrawal (MWh) of stored-energy moves, per row."""
    return stored_revenue(moves, buy, sell), np.sum(np.maximum(-moves, 0.0), axis=1)


def newton(
    solve: Solve,
    buy: np.ndarray,
    sell: np.ndarray,
    cap: float,
    deadline_s: float | None,
    start: np.ndarray | None = None,
) -> Dual:
    """Newton's method on each row's ``L`` (module docstring). ``start``, if given, holds a
    feasible schedule of each row (a branch's parent's schedule that keeps its signs, or the
    route's mix) that replaces the first bracket on its side: any feasible schedule's line
    lies below ``L``, so the method stays exact, and one optimal near the row's ``lambda*``
    saves rounds (``close_gaps`` on the 99 gap days of a year of -1200 +- 50 with a 4-h battery
    at round trip 0.7777 and cap 3: 3,601 -> 2,622 row solves, 0.78 -> 0.53 s, one-off)."""
    n_rows = buy.shape[0]
    tol_w = CAP_REL_TOL * max(cap, 1e-300)
    moves = solve(np.arange(n_rows), np.zeros(n_rows))
    f, w = revenue_and_withdrawal(moves, buy, sell)
    bound = f.copy()
    multiplier = np.zeros(n_rows)
    within = w <= cap + tol_w
    best = np.where(within, f, 0.0)  # idling is within the cap and earns 0
    best_moves = np.where(within[:, None], moves, 0.0)
    netted = np.zeros(buy.shape)
    binding = ~within
    open_rows = np.flatnonzero(binding)
    mix = moves
    if not open_rows.size:
        return Dual(
            mix, bound, multiplier, best_moves, best, netted, binding, ~binding, mix, mix, 0
        )
    m_over, f_over, w_over = moves[open_rows], f[open_rows], w[open_rows]
    m_under = np.zeros_like(m_over)
    f_under = np.zeros(open_rows.size)
    w_under = np.zeros(open_rows.size)
    if start is not None:
        kept = start[open_rows]
        f_kept, w_kept = revenue_and_withdrawal(kept, buy[open_rows], sell[open_rows])
        above = w_kept > cap + tol_w
        below = ~above
        m_over[above], f_over[above], w_over[above] = kept[above], f_kept[above], w_kept[above]
        m_under[below], f_under[below], w_under[below] = kept[below], f_kept[below], w_kept[below]
    lam_star = np.full(open_rows.size, np.nan)
    active = np.arange(open_rows.size)
    rounds = 0
    while active.size and rounds < MAX_ROUNDS:
        rounds += 1
        check_deadline(deadline_s, "applying the daily cycle limit")
        lam = (f_over[active] - f_under[active]) / (w_over[active] - w_under[active])
        rows = open_rows[active]
        trial = solve(rows, lam)
        f_new, w_new = revenue_and_withdrawal(trial, buy[rows], sell[rows])
        relaxed = f_new + lam * (cap - w_new)  # L(lam): the trial is optimal at lam
        bound[rows] = np.minimum(bound[rows], relaxed)
        on_line = f_over[active] + lam * (cap - w_over[active])
        slack = _slack(on_line, f_over[active], f_new, lam, w_over[active] + w_new, cap)
        done = relaxed <= on_line + slack
        lam_star[active[done]] = lam[done]
        over = ~done & (w_new > cap + tol_w)
        under = ~done & ~over
        m_over[active[over]], f_over[active[over]] = trial[over], f_new[over]
        w_over[active[over]] = w_new[over]
        m_under[active[under]], f_under[active[under]] = trial[under], f_new[under]
        w_under[active[under]] = w_new[under]
        active = active[~done]
    theta = np.clip((cap - w_under) / (w_over - w_under), 0.0, 1.0)  # under within tol_w
    mixed = theta[:, None] * m_over + (1.0 - theta[:, None]) * m_under
    f_mix, w_mix = revenue_and_withdrawal(mixed, buy[open_rows], sell[open_rows])
    mix = moves.copy()
    mix[open_rows] = mixed
    multiplier[open_rows] = lam_star
    opposite = m_over * m_under < 0.0  # one charges, the other discharges
    netted[open_rows] = np.where(opposite, np.minimum(np.abs(m_over), np.abs(m_under)), 0.0)
    # the mix is optimal where the rounds converged, it keeps within the cap, and it nets
    # nowhere (then it earns the bound in exact arithmetic) or its revenue reaches the bound to
    # the stopping test's slack (netting may lose nothing: on convex days it never does)
    closed = ~binding
    top = bound[open_rows]
    slack = _slack(top, f_over, f_under, np.nan_to_num(lam_star), w_over + w_under, cap)
    reaches = f_mix >= top - slack
    converged = ~np.isnan(lam_star) & (w_mix <= cap + tol_w)
    closed[open_rows] = converged & (~opposite.any(axis=1) | reaches)
    # the best schedule within the cap of each open row: the mix or the under side
    for moves_k, f_k, ok in (
        (mixed, f_mix, w_mix <= cap + tol_w),
        (m_under, f_under, np.ones(open_rows.size, dtype=bool)),
    ):
        better = ok & (f_k > best[open_rows])
        best[open_rows[better]] = f_k[better]
        best_moves[open_rows[better]] = moves_k[better]
    over, under = moves.copy(), moves.copy()
    over[open_rows], under[open_rows] = m_over, m_under
    return Dual(
        mix, bound, multiplier, best_moves, best, netted, binding, closed, over, under, rounds
    )


def _slack(
    value: np.ndarray,
    f_1: np.ndarray,
    f_2: np.ndarray,
    lam: np.ndarray,
    withdrawn: np.ndarray,
    cap: float,
) -> np.ndarray:
    """The stopping test's allowance at a line's ``value``: ``CAP_REL_TOL`` of it, plus
    ``ROUNDING_REL`` of the magnitudes that formed it (two revenues ``f_1``, ``f_2`` and the
    priced withdrawals, ``withdrawn`` their sum, and the cap twice)."""
    sizes = np.abs(f_1) + np.abs(f_2) + lam * (cap + withdrawn)
    slack: np.ndarray = CAP_REL_TOL * np.maximum(1.0, np.abs(value)) + ROUNDING_REL * sizes
    return slack


def _node_solver(
    buy: np.ndarray,
    sell: np.ndarray,
    movable: np.ndarray,
    signs: tuple[np.ndarray, np.ndarray],
    battery: Battery,
    deadline_s: float | None,
) -> Solve:
    """``Solve`` over nodes (rows of these arrays) on the lattice, with their signs."""

    def solve(rows: np.ndarray, lam: np.ndarray) -> np.ndarray:
        moves, _ = lattice.solve(
            buy[rows], sell[rows] - lam[:, None], movable[rows], battery,
            deadline_s=deadline_s, signs=(signs[0][rows], signs[1][rows]),
        )  # fmt: skip
        return moves

    return solve


@dataclass(frozen=True)
class ClosedRows:
    """``close_gaps``'s result per row: the best schedule found (the incumbent where nothing
    beat it), whether it is proved optimal, and the nodes the row took."""

    moves: np.ndarray
    solved: np.ndarray
    nodes: np.ndarray


def close_gaps(
    buy: np.ndarray,
    sell: np.ndarray,
    movable: np.ndarray,
    battery: Battery,
    incumbent: np.ndarray,
    *,
    deadline_s: float | None = None,
) -> ClosedRows:
    """Branch and bound on the hours' signs (module docstring) for every row (a day: ``buy``,
    ``sell`` and ``movable`` as ``lattice.solve``'s), from ``incumbent``, moves within the cap
    (the Lagrangian route's mix)."""
    cap = battery.daily_withdrawal_cap_mwh
    if cap is None:
        raise ValueError("close_gaps needs a battery with max_cycles_per_day")
    n_rows = buy.shape[0]
    best_moves = np.array(incumbent, dtype=float)
    best = stored_revenue(best_moves, buy, sell)
    nodes = np.zeros(n_rows, dtype=int)
    given_up = np.zeros(n_rows, dtype=bool)
    day = np.arange(n_rows)  # the open nodes: their day, their signs, a feasible schedule
    may_charge, may_discharge = movable.copy(), movable.copy()
    start = best_moves.copy()
    while day.size:
        np.add.at(nodes, day, 1)
        given_up[day[nodes[day] > MAX_NODES]] = True
        keep = ~given_up[day]
        day, may_charge, may_discharge = day[keep], may_charge[keep], may_discharge[keep]
        start = start[keep]
        if not day.size:
            break
        check_deadline(deadline_s, "closing a duality gap of the daily cycle limit")

        nodes_buy, nodes_sell, nodes_movable = buy[day], sell[day], movable[day]
        solve = _node_solver(
            nodes_buy, nodes_sell, nodes_movable, (may_charge, may_discharge), battery, deadline_s
        )
        dual = newton(solve, nodes_buy, nodes_sell, cap, deadline_s, start)
        for node in np.flatnonzero(dual.best > best[day]).tolist():
            if dual.best[node] > best[day[node]]:
                best[day[node]] = dual.best[node]
                best_moves[day[node]] = dual.best_moves[node]
        tol = CAP_REL_TOL * np.maximum(1.0, np.abs(dual.bound))
        alive = ~dual.closed & (dual.bound > best[day] + tol)  # a closed node's mix is in best
        hour = dual.netted.argmax(axis=1)
        splits = dual.netted[np.arange(day.size), hour] > 0.0
        given_up[day[alive & ~splits]] = True  # unconverged with nothing to split: HiGHS
        split = np.flatnonzero(alive & splits)
        pick = np.arange(split.size)
        day = np.concatenate([day[split], day[split]])
        may_charge = np.concatenate([may_charge[split], may_charge[split]])
        may_discharge = np.concatenate([may_discharge[split], may_discharge[split]])
        may_discharge[pick, hour[split]] = False  # first child: no discharge there
        may_charge[split.size + pick, hour[split]] = False  # second: no charge
        # each child starts from the parent's schedule that keeps its signs
        charges = dual.over[split, hour[split]] > 0.0
        over, under = dual.over[split], dual.under[split]
        start = np.concatenate(
            [np.where(charges[:, None], over, under), np.where(charges[:, None], under, over)]
        )
    return ClosedRows(moves=best_moves, solved=~given_up, nodes=nodes)
