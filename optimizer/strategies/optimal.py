"""``optimal``: the exact perfect-foresight optimum of SPEC §2.

Routes, all exact:

* ``daily`` horizon without a cycle limit: the value-function recursion of
  ``optimizer.envelope``, vectorised over all days at once (a year in ~10-20 ms, no solver
  call); days with hours where burning energy would pay (see below) go through its branch and
  bound, whose nodes are rows of the same recursion; a day too branchy for it (more than
  ``BNB_MAX_NODES_PER_DAY`` open nodes) gets one HiGHS MILP of its own;
* ``max_cycles_per_day`` (daily): one HiGHS LP (scipy ``milp``, no binaries) over all convex
  days at once, and one small MILP per non-convex day;
* ``continuous`` horizon: one HiGHS program over the whole chain of days.

HiGHS programs: build (pure) -> solve -> check status -> extract. Variables per hour t:
charge c_t, discharge d_t (MW at the grid), stored energy e_t (MWh), and a binary only where
needed.

When are binaries needed? Take an hour with c_t, d_t > 0 and lower both, c by delta and d by
delta*eta_c*eta_d: the stored energy is unchanged and the hour's revenue changes by
delta*(p_t*(1 - eta_c*eta_d) + kappa*eta_c*eta_d). Where that is >= 0 an optimum without
simultaneous charge and discharge exists (and extraction removes any overlap the same way);
only hours with p_t*(1 - eta_c*eta_d) + kappa*eta_c*eta_d < 0 (negative enough prices) can
profit from burning energy, and only those get a binary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from optimizer.battery import Battery
from optimizer.envelope import needs_binary, solve_days, solve_nonconvex_days
from optimizer.errors import InfeasibleProblemError, SolverError, SolverTimeLimitError
from optimizer.market import MarketDay
from optimizer.results import Horizon
from optimizer.settle import Dispatch, day_offsets
from optimizer.strategies._days import flatten, hour_mask, price_matrix, unflatten
from optimizer.strategies.base import Strategy

#: HiGHS time budget for one request (seconds); below the Lambda budget (SPEC §6).
SOLVER_TIME_LIMIT_S = 5.0
#: relative MIP gap: far below the 1e-6 exactness the product promises
MIP_REL_GAP = 1e-9


def solve_milp(
    prices: np.ndarray,
    offsets: np.ndarray,
    battery: Battery,
    *,
    horizon: Horizon,
    time_limit_s: float = SOLVER_TIME_LIMIT_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimum by HiGHS over all hours at once; returns (charge_mw, discharge_mw)."""
    n = prices.size
    # work in units of P (power 1, energy in hours at full power): HiGHS's absolute
    # tolerances then mean the same for a 1 kW and a 1 GW battery; the objective is revenue / P
    scale = battery.power_mw
    P, E = 1.0, battery.duration_h
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    e0 = battery.soc_start * E
    binary = needs_binary(prices, battery)
    nb = int(binary.sum())
    nv = 3 * n + nb
    idx = np.arange(n)
    c_col, d_col, e_col = idx, n + idx, 2 * n + idx

    # --- build: objective (minimise cost = -revenue) ---
    cost = np.zeros(nv)
    cost[c_col] = prices
    cost[d_col] = -prices + battery.degradation_cost_mxn_per_mwh

    starts = offsets[:-1] if horizon is Horizon.DAILY else offsets[:1]
    ends = offsets[1:] - 1 if horizon is Horizon.DAILY else offsets[-1:] - 1
    first = np.zeros(n, dtype=bool)
    first[starts] = True
    linked = idx[~first]

    # energy balance: e_t - e_{t-1} - eta_c c_t + d_t / eta_d = (e0 at a chain start, else 0)
    rows = [idx, idx, idx, linked]
    cols = [e_col, c_col, d_col, e_col[linked] - 1]
    vals = [np.ones(n), np.full(n, -eta_c), np.full(n, 1.0 / eta_d), -np.ones(linked.size)]
    lo = [np.where(first, e0, 0.0)]
    hi = [np.where(first, e0, 0.0)]
    nrows = n
    cap = battery.daily_withdrawal_cap_mwh
    if cap is not None:
        cap /= scale  # sum of battery-side withdrawal per market day <= cap
        day_of_hour = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        rows.append(nrows + day_of_hour)
        cols.append(d_col)
        vals.append(np.full(n, 1.0 / eta_d))
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

    # --- solve ---
    result = milp(
        cost,
        constraints=LinearConstraint(A, np.concatenate(lo), np.concatenate(hi)),
        bounds=Bounds(lb, ub),
        integrality=integrality,
        options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP, "presolve": True},
    )
    # --- check ---
    if result.status == 2:
        raise InfeasibleProblemError("HiGHS reports the schedule program infeasible")
    if result.status == 1:
        raise SolverTimeLimitError(
            f"the solver's time budget ({time_limit_s:g} s) ran out; request fewer days at a time"
        )
    if result.status != 0 or result.x is None:
        raise SolverError(f"HiGHS did not solve the schedule program: {result.message}")
    # --- extract ---
    charge = np.clip(result.x[c_col], 0.0, P) * scale
    discharge = np.clip(result.x[d_col], 0.0, P) * scale
    return remove_overlap(charge, discharge, battery)


def remove_overlap(
    charge: np.ndarray, discharge: np.ndarray, battery: Battery
) -> tuple[np.ndarray, np.ndarray]:
    """Lower simultaneous c and d together, keeping the stored-energy change (module docs)."""
    loop = battery.eta_charge * battery.eta_discharge
    overlap = np.minimum(charge, discharge / loop)  # delta such that one side hits 0
    return charge - overlap, discharge - overlap * loop


class Optimal(Strategy):
    name = "optimal"
    description = "Exact perfect-foresight optimum of every day (SPEC §2); the benchmark."
    order = 0
    supports_continuous = True

    def dispatch(
        self, days: Sequence[MarketDay], battery: Battery, *, horizon: Horizon
    ) -> Dispatch:
        if horizon is Horizon.CONTINUOUS:
            prices = np.concatenate([np.asarray(d.prices_mxn_per_mwh, dtype=float) for d in days])
            return Dispatch(*solve_milp(prices, day_offsets(days), battery, horizon=horizon))
        deadline = time.monotonic() + SOLVER_TIME_LIMIT_S
        matrix, hours = price_matrix(days)  # days x hours, padded
        movable = hour_mask(hours, matrix.shape[1])
        charge = np.zeros(matrix.shape)
        discharge = np.zeros(matrix.shape)
        hard = (needs_binary(matrix, battery) & movable).any(axis=1)
        unsolved = hard.copy()  # days left for one HiGHS MILP each
        easy = np.flatnonzero(~hard)
        if easy.size and battery.max_cycles_per_day is not None:
            # the cap couples a day's hours: one LP (no binaries needed) over all these days
            c, d = solve_milp(
                flatten(matrix[easy], hours[easy]),
                np.concatenate(([0], np.cumsum(hours[easy]))),
                battery,
                horizon=horizon,
                time_limit_s=SOLVER_TIME_LIMIT_S,
            )
            charge[easy] = unflatten(c, movable[easy])
            discharge[easy] = unflatten(d, movable[easy])
        elif easy.size:
            charge[easy], discharge[easy], _ = solve_days(matrix[easy], movable[easy], battery)
        if hard.any() and battery.max_cycles_per_day is None:
            chosen = np.flatnonzero(hard)
            charge[chosen], discharge[chosen], _, unsolved[chosen] = solve_nonconvex_days(
                matrix[chosen], movable[chosen], battery, deadline=deadline
            )
        for day in np.flatnonzero(unsolved).tolist():
            n = int(hours[day])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SolverTimeLimitError(
                    f"the solver's time budget ({SOLVER_TIME_LIMIT_S:g} s) ran out before "
                    f"every day was solved ({days[day].date} was not); "
                    "request fewer days at a time"
                )
            charge[day, :n], discharge[day, :n] = solve_milp(
                matrix[day, :n],
                np.array([0, n]),
                battery,
                horizon=horizon,
                time_limit_s=remaining,
            )
        return Dispatch(flatten(charge, hours), flatten(discharge, hours))


STRATEGY = Optimal()
