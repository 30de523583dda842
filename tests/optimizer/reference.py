"""An independent reference optimum for the tests: a deliberately plain MILP.

It shares nothing with ``optimizer``'s own solvers: binaries on every hour (no argument about
when they are needed), stored energy written as dense cumulative sums (no energy variables),
one row per bound. Slow, obvious, and easy to check against SPEC §2 by reading.

Units: powers in units of P and every stored-energy row divided by the usable energy
``E (soc_max - soc_min)``, so HiGHS's absolute feasibility tolerance (1e-7) means the same
small share of the SoC window for a 10 kWh battery as for a 10 GWh one (unscaled, a tiny
battery could "gain" that tolerance, a measurable share of its window). The objective is
scaled back to MXN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from optimizer import Battery


def reference_optimum(
    day_prices: Sequence[Sequence[float]], battery: Battery, *, continuous: bool = False
) -> float:
    """Best revenue (MXN) over the days: each day back at soc_0 (daily) or only the last
    (continuous)."""
    prices = np.concatenate([np.asarray(p, dtype=float) for p in day_prices])
    sizes = [len(p) for p in day_prices]
    n = prices.size
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    # unit power: c, d in [0, 1] (times scale_mw); energies in hours at unit power, rows per
    # window. The unit is P, or less where the SoC window W fills or empties in under an hour
    # at P: a schedule that never charges and discharges in one hour has eta_c c_t <= W and
    # d_t / eta_d <= W, so bounds at max(W / eta_c, W eta_d) are implied (the same optimum),
    # and HiGHS's integrality tolerance, which lets c and d overlap by that share of the unit,
    # stays a share of the window (in units of P, a window of 1e-7 P h "gained" 2-56 %).
    usable_mwh = battery.usable_energy_mwh
    scale_mw = min(battery.power_mw, max(usable_mwh / eta_c, usable_mwh * eta_d))
    P, E = 1.0, battery.energy_mwh / scale_mw
    window = E * (battery.max_soc - battery.min_soc)
    e0 = battery.soc_start * E
    kappa = battery.degradation_cost_mxn_per_mwh
    # x = [c_0..c_{n-1}, d_0..d_{n-1}, z_0..z_{n-1}]  (z = 1: may charge, 0: may discharge)
    cost = np.concatenate([prices, kappa - prices, np.zeros(n)])
    rows, lo, hi = [], [], []
    day_start = np.repeat(np.cumsum([0, *sizes[:-1]]), sizes)
    for t in range(n):
        first = 0 if continuous else day_start[t]
        row = np.zeros(3 * n)
        row[first : t + 1] = eta_c / window
        row[n + first : n + t + 1] = -1.0 / (eta_d * window)
        last_of_day = t == n - 1 or (not continuous and day_start[t + 1] != day_start[t])
        if last_of_day:
            rows.append(row)
            lo.append(0.0)
            hi.append(0.0)
        else:
            rows.append(row)
            lo.append((battery.min_soc * E - e0) / window)
            hi.append((battery.max_soc * E - e0) / window)
        exclusive_c = np.zeros(3 * n)
        exclusive_c[t], exclusive_c[2 * n + t] = 1.0, -P  # c_t <= P z_t
        exclusive_d = np.zeros(3 * n)
        exclusive_d[n + t], exclusive_d[2 * n + t] = 1.0, P  # d_t <= P (1 - z_t)
        rows += [exclusive_c, exclusive_d]
        lo += [-np.inf, -np.inf]
        hi += [0.0, P]
    cap = battery.daily_withdrawal_cap_mwh
    if cap is not None:
        for start, size in zip(np.cumsum([0, *sizes[:-1]]), sizes, strict=True):
            row = np.zeros(3 * n)
            row[n + start : n + start + size] = 1.0 / (eta_d * window)
            rows.append(row)
            lo.append(-np.inf)
            hi.append(cap / (scale_mw * window))
    # HiGHS's optimality tolerances and its MIP's absolute gap (1e-6) are absolute: costs of
    # ~0.01 MXN/MWh would let it stop at an answer of 0 against an optimum of 2e-6 MXN. So the
    # costs are scaled by a power of two (exact: the same optimum) to a largest of 512..1024
    top = float(np.max(np.abs(cost)))
    up = float(np.ldexp(1.0, 10 - int(np.frexp(top)[1]))) if top > 0.0 else 1.0
    result = milp(
        cost * up,
        constraints=LinearConstraint(np.array(rows), np.array(lo), np.array(hi)),
        bounds=Bounds(np.zeros(3 * n), np.concatenate([np.full(2 * n, P), np.ones(n)])),
        integrality=np.concatenate([np.zeros(2 * n), np.ones(n)]),
        options={"mip_rel_gap": 1e-10, "time_limit": 60},  # integrality to 1e-6: see the unit
    )
    if result.status != 0:
        raise RuntimeError(f"reference MILP failed: {result.message}")
    return float(-result.fun) / up * scale_mw
