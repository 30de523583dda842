"""The exact optimum of one day under the cycle cap, without branch and bound.

A day runs from ``x0`` back to ``x0`` (stored energy above the floor, room ``W``, a full hour's
charge ``C`` and discharge ``D``) and withdraws at most ``K`` (``max_cycles_per_day``, battery
side). ``optimizer.strategies.optimal``'s Lagrangian route certifies most capped days; on the
rest there is a duality gap (no multiplier closes it) and this module finds the optimum.

**Coordinates.** Write ``w`` for the energy withdrawn so far and ``s = x + w`` for ``x0`` plus
the energy charged so far. A charge moves ``s`` only, a discharge ``w`` only; the SoC limits
read ``0 <= s - w <= W`` and the cap ``w_n <= K``.

**Which schedules suffice.** Fix each hour's sign (charging, discharging or idle): what is
left is a linear program, so some optimum is a vertex. Call a time *pinned* where ``x`` is at
0 or ``W`` (and at the start and the end). Between two pins the hours' moves are bounded by
``0 / C`` or ``0 / D``; at a vertex at most one move per stretch between pins is *free*
(strictly between its bounds), except in at most one stretch, where the cap (one more equation
when it binds) lets one charge and one discharge both be free. So on an optimal vertex:

* before that stretch's first free move the level is one of ``optimizer.lattice``'s levels
  (``x0``, 0 or ``W`` plus whole moves: ``make_lattice``), and ``w`` a sum of moves between
  them: a *forward lattice label* (level, ``w``, revenue so far);
* after its second free move the level is a lattice level again, counted backwards from the
  end, where ``w_n = K``: a *backward lattice label* (level, ``w`` still to withdraw,
  revenue to go), with ``w = K - (w still to withdraw)``;
* in between the moves are whole (0, ``+C``, ``-D``) and, if the free charge came first,
  ``s`` is pinned by the backward side (``s = K + level - withdrawn after``, shifted by whole
  charges) and ``w`` by the forward side; if the free discharge came first, the other way
  round: a *mixed label* (``s``, ``w``, revenue so far).

The search: backward lattice labels hour by hour from the end; from them, the values ``s``
(and ``w``) a mixed label may hold at each time and still meet a backward label; then forward
lattice labels from the start, mixed labels entered from them by one free move onto those
values, carried by whole moves, and closed by one free move onto a backward label (the
matching ``s``, or ``w``, and the other coordinate within one hour's move). The best closed
path, or the best forward label back at ``x0``, is the optimum. A schedule with the cap not
binding is a lattice schedule (a forward label alone).

**Pruning (exact).** For any ``lambda >= 0``, any path through a label earns at most its value
so far, plus the best value-to-go ``V`` (or value-to-arrive ``A``) of the day with withdrawn
energy priced at ``lambda`` (``optimizer.chain``'s exact recursions), plus ``lambda (K - w)``:
weak duality for the rest of the day. The least of those bounds at the day's multiplier and
at 0 (``LAMBDA_FACTORS``) is used, against the incumbent's revenue, raised to the best
lattice schedule once the forward labels reach the end (they are built first) and to every
better schedule the search closes. Lattice labels at the same level and time are dominated
by one with no more withdrawn and no less value. Nothing else is dropped, so the search is
exact. Its work is the labels it makes, counted and capped (``MAX_LABELS``): past the cap the
caller's MILP decides. The cap is where the search stops paying: on nearly flat prices
(-1200 +- 1), where thousands of schedules lie within a hair of the optimum, a day keeps
millions of labels (0.1-4 s, one-off) where its MILP takes 24 ms; on the days it was built for
(-1200 +- 50 at round trip 0.5) it keeps at most 85 k (21 ms against HiGHS's 56 ms). (A search
whose floor starts just below the day's bound and falls in steps, exact because a search that
reaches its floor has the optimum, kept those flat days to 0.7-6 M labels but still lost to
HiGHS 5x; not kept.) The proof that the structure above holds an optimum is the argument
above; the tests check it against an independent MILP on days of every family that reaches
this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.battery import Battery
from optimizer.chain import Chain, Table, arrival_functions, value_functions
from optimizer.envelope import stored_revenue
from optimizer.errors import check_deadline
from optimizer.lattice import make_lattice

#: labels made over the day before the search gives up (the caller's MILP decides): its work
#: and memory are bounded by it. Past it the day's MILP is the faster route (module docstring;
#: measured by ``bench/bench_capped_day.py``)
MAX_LABELS = 150_000
#: the multipliers whose bounds prune, as multiples of the day's: ``lambda*`` and 0 (the
#: uncapped bound, tighter for labels that have withdrawn much of the cap: on days of -1200 +-
#: 50 at round trip 0.5 with cap 3 it keeps a tenth of the labels, 35 -> 22 ms a day, one-off)
LAMBDA_FACTORS = (1.0, 0.0)
#: level matching, in units of ``max(W, C, D)``: levels and sums of moves agree to rounding
X_REL = 1e-9
#: value ties, relative to the incumbent: a label must be at most this far below it to go
V_REL = 1e-9


@dataclass(frozen=True)
class CappedDay:
    """One capped day's optimal stored-energy moves (MWh per hour), their revenue (MXN, at the
    day's stored-energy rates) and the labels the search kept."""

    moves: np.ndarray
    revenue_mxn: float
    labels: int


class _TooMany(Exception):
    """The search passed ``MAX_LABELS``."""


def _on_levels(table: Table, x: np.ndarray, tol: float) -> np.ndarray:
    """``table`` (a piecewise-linear function) at ``x``; ``-inf`` outside its domain."""
    xs, vs = table
    out = np.interp(x, xs, vs)
    out[(x < xs[0] - tol) | (x > xs[-1] + tol)] = -np.inf
    return np.asarray(out)


def _spans(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (owner, position) with ``lo[owner] <= position < hi[owner]``."""
    count = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(lo.size), count)
    first = np.cumsum(count) - count
    position = lo[owner] + np.arange(owner.size) - first[owner]
    return owner, position


def _pareto(level: np.ndarray, withdrawn: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the labels no other label at the same level dominates (no more withdrawn,
    no less value); of equal ones, one."""
    if not value.size:
        return np.zeros(0, dtype=int)
    # by level, then withdrawn (one float key: levels a span apart), then value downwards
    span = float(withdrawn.max() - withdrawn.min()) + 1.0
    order = np.lexsort((-value, level * span + (withdrawn - withdrawn.min())))
    lv, v = level[order], value[order]
    new_level = np.r_[True, lv[1:] != lv[:-1]]
    # one running maximum over all levels: each level's values lifted above the last's
    low = float(v.min())
    lift = float(v.max()) - low + 1.0
    key = (np.cumsum(new_level) - 1) * lift + (v - low)
    best = np.maximum.accumulate(key)
    before = np.r_[-np.inf, best[:-1]]
    before[new_level] = -np.inf
    return np.asarray(order[key > before])


def _distinct(values: np.ndarray, tol: float) -> np.ndarray:
    values = np.sort(values)
    if values.size == 0:
        return values
    return values[np.r_[True, np.diff(values) > tol]]


def _snap(grid: np.ndarray, values: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest ``grid`` value (sorted) to each value, and whether within ``tol``."""
    if grid.size == 0:
        return np.zeros(values.size, dtype=int), np.zeros(values.size, dtype=bool)
    k = np.clip(np.searchsorted(grid, values), 1, max(grid.size - 1, 1))
    k = np.minimum(k, grid.size - 1)
    left = np.maximum(k - 1, 0)
    take_left = np.abs(grid[left] - values) < np.abs(grid[k] - values)
    k = np.where(take_left, left, k)
    return k, np.abs(grid[k] - values) <= tol


@dataclass
class _Labels:
    """Labels of one kind at one time: arrays of equal length."""

    a: np.ndarray  # lattice labels: level index; mixed labels: s (MWh)
    w: np.ndarray  # withdrawn so far (forward, mixed) or still to withdraw (backward)
    value: np.ndarray
    link: np.ndarray  # parent (forward, mixed) or child (backward) index
    source: np.ndarray  # mixed labels: 0 entered from a forward label, 1 a whole move

    @staticmethod
    def empty() -> _Labels:
        none = np.empty(0)
        return _Labels(none, none, none, np.empty(0, int), np.empty(0, int))

    @property
    def size(self) -> int:
        return int(self.a.size)


def solve_capped_day(
    buy: np.ndarray,
    sell: np.ndarray,
    battery: Battery,
    multiplier: float,
    incumbent_mxn: float,
    *,
    deadline_s: float | None = None,
) -> CappedDay | None:
    """The optimal stored-energy moves of one day (every hour movable) under the battery's
    cycle cap, at stored-energy rates ``buy``/``sell`` (``envelope.stored_rates``), given the
    day's multiplier (any ``lambda >= 0``: the closer to the dual optimum, the fewer labels)
    and the revenue of a feasible schedule; None when the search passes ``MAX_LABELS``
    (module docstring). ``deadline_s`` (``time.monotonic()``) is checked as labels are made
    (``errors.check_deadline``: a last guard, it never changes a number)."""
    cap = battery.daily_withdrawal_cap_mwh
    if cap is None:
        raise ValueError("solve_capped_day needs a battery with max_cycles_per_day")
    try:
        return _Search(
            buy, sell, battery, cap, max(multiplier, 0.0), incumbent_mxn, deadline_s
        ).run()
    except _TooMany:
        return None


class _Search:
    def __init__(
        self,
        buy: np.ndarray,
        sell: np.ndarray,
        battery: Battery,
        cap: float,
        lam: float,
        incumbent: float,
        deadline_s: float | None,
    ) -> None:
        self.buy, self.sell = np.asarray(buy, float), np.asarray(sell, float)
        self.deadline_s = deadline_s
        self.n = self.buy.size
        chain = Chain.of(battery)
        self.W, self.C, self.D, self.K = chain.width_mwh, chain.up_mwh, chain.down_mwh, cap
        self.tol = X_REL * max(self.W, self.C, self.D)
        self.lattice = make_lattice(battery, self.n)
        self.L = self.lattice.levels
        self.floor = incumbent - V_REL * max(1.0, abs(incumbent))
        self.labels = 0
        self.lams = np.array([lam * f for f in LAMBDA_FACTORS])
        self.V: list[list[Table]] = []  # per multiplier, per time
        values, arrivals = [], []
        for price in self.lams:
            V, _ = value_functions(self.buy, self.sell - price, chain)
            A, _ = arrival_functions(self.buy, self.sell - price, chain)
            self.V.append(V)
            values.append([_on_levels(t, self.L, self.tol) for t in V])
            arrivals.append([_on_levels(t, self.L, self.tol) for t in A])
        # on the levels: (multipliers, n + 1, levels)
        self.VL, self.AL = np.array(values), np.array(arrivals)
        # predecessors of level j: the levels i whose move window holds j (contiguous)
        up_end, down_begin = self.lattice.up_end, self.lattice.down_begin
        j = np.arange(self.L.size)
        self.pred_lo = np.searchsorted(up_end, j, side="left")
        self.pred_hi = np.searchsorted(down_begin, j, side="right")
        self.succ_lo, self.succ_hi = down_begin, up_end + 1

    def level_bound(
        self, table: np.ndarray, level: np.ndarray, withdrawn: np.ndarray
    ) -> np.ndarray:
        """The least of the Lagrangian bounds at every multiplier kept, for lattice labels."""
        out: np.ndarray = table[0][level] + self.lams[0] * (self.K - withdrawn)
        for k in range(1, self.lams.size):
            np.minimum(out, table[k][level] + self.lams[k] * (self.K - withdrawn), out=out)
        return out

    def count(self, more: int) -> None:
        check_deadline(self.deadline_s, "searching a capped day's schedules")
        self.labels += more
        if self.labels > MAX_LABELS:
            raise _TooMany

    def step_reward(self, t: int, u: np.ndarray) -> np.ndarray:
        return np.asarray(np.where(u > 0, -self.buy[t] * u, -self.sell[t] * u))

    def backward(self) -> list[_Labels]:
        """Backward lattice labels ``B[t]``: level at ``t``, withdrawn in hours ``t..n-1``,
        revenue to go, child in ``B[t+1]``."""
        start = np.array([self.lattice.start])
        B = [_Labels.empty() for _ in range(self.n + 1)]
        B[self.n] = _Labels(start, np.zeros(1), np.zeros(1), np.zeros(1, int), np.zeros(1, int))
        for t in range(self.n - 1, -1, -1):
            B[t] = self.lattice_step(B[t + 1], t, self.pred_lo, self.pred_hi, self.AL[:, t], -1)
        return B

    def lattice_step(
        self,
        labels: _Labels,
        t: int,
        lo: np.ndarray,
        hi: np.ndarray,
        table: np.ndarray,
        direction: int,
    ) -> _Labels:
        """Lattice labels one hour on: forward (``direction`` 1: from ``t`` to ``t + 1``,
        every level in the window ``lo..hi`` of a label's) or backward (-1: from ``t + 1`` to
        ``t``), each move's withdrawal and revenue at hour ``t`` added, pruned by the bound on
        ``table`` (the levels' value-to-go or value-to-arrive at the new time) and by
        dominance; each new label links to the one it came from."""
        owner, level = _spans(lo[labels.a], hi[labels.a])
        self.count(owner.size)
        u = direction * (self.L[level] - self.L[labels.a[owner]])
        w = labels.w[owner] + np.maximum(-u, 0.0)
        value = labels.value[owner] + self.step_reward(t, u)
        keep = w <= self.K + self.tol
        keep &= value + self.level_bound(table, level, w) >= self.floor
        level, w, value, owner = level[keep], w[keep], value[keep], owner[keep]
        sel = _pareto(level, w, value)
        return _Labels(level[sel], w[sel], value[sel], owner[sel], np.zeros(sel.size, int))

    def run(self) -> CappedDay | None:
        """The search (module docstring): the best path's moves, or None if it finds none."""
        n, L, K, C, D, W, tol = self.n, self.L, self.K, self.C, self.D, self.W, self.tol
        start = np.array([self.lattice.start])
        F = [_Labels(start, np.zeros(1), np.zeros(1), np.zeros(1, int), np.zeros(1, int))]
        for t in range(n):
            F.append(self.lattice_step(F[t], t, self.succ_lo, self.succ_hi, self.VL[:, t + 1], 1))
        # the best lattice schedule first: a feasible revenue that prunes what follows
        best: float = -np.inf
        where: tuple[str, int, int, int] | None = None
        back = np.flatnonzero(F[n].a == self.lattice.start)
        if back.size:
            k = int(back[np.argmax(F[n].value[back])])
            best, where = float(F[n].value[k]), ("f", n, k, -1)
            self.raise_floor(best)
        B = self.backward()
        # each backward label's s and w, and the s (w) a mixed label charge-first
        # (discharge-first) may hold at t: Sb[t] (Wb[t])
        s_of = [K + L[b.a] - b.w for b in B]
        w_of = [K - b.w for b in B]
        Sb = [np.empty(0) for _ in range(n + 2)]
        Wb = [np.empty(0) for _ in range(n + 2)]
        s_low, s_high = self.lattice.levels[self.lattice.start] - tol, W + K + tol
        for t in range(n - 1, -1, -1):
            s_all = np.concatenate([s_of[t + 1], Sb[t + 1], Sb[t + 1] - C])
            w_all = np.concatenate([w_of[t + 1], Wb[t + 1], Wb[t + 1] - D])
            Sb[t] = _distinct(s_all[(s_all >= s_low) & (s_all <= s_high)], tol)
            Wb[t] = _distinct(w_all[(w_all >= -tol) & (w_all <= K + tol)], tol)
        CF, DF = [_Labels.empty()], [_Labels.empty()]  # mixed: a = s, snapped to Sb / Wb
        for t in range(n):
            a_t, b_t = self.buy[t], self.sell[t]
            f, cf, df = F[t], CF[t], DF[t]
            nb = B[t + 1]
            # close a mixed label onto a backward label at t + 1
            for kind, fam in (("cf", cf), ("df", df)):
                if not fam.size or not nb.size:
                    continue
                got = self.close(
                    kind, fam, s_of[t + 1], w_of[t + 1], nb.value, a_t, b_t, Sb[t], Wb[t]
                )
                if got is not None and got[0] > best:
                    best, where = got[0], (kind, t, got[1], got[2])
                    self.raise_floor(best)
            # mixed labels at t + 1: whole moves, then entries from forward labels
            s_f, w_f = L[f.a] + f.w, f.w
            parts_cf = [self.whole(cf, a_t, b_t, 1)]
            parts_df = [self.whole(df, a_t, b_t, 1)]
            if f.size and Sb[t + 1].size:  # free charge onto Sb[t + 1]
                owner, s_new = self.enter(Sb[t + 1], s_f, C)
                value = f.value[owner] - a_t * np.maximum(s_new - s_f[owner], 0.0)
                parts_cf.append(self.mixed(s_new, w_f[owner], value, owner, 0))
            if f.size and Wb[t + 1].size:  # free discharge onto Wb[t + 1]
                owner, w_new = self.enter(Wb[t + 1], w_f, D)
                value = f.value[owner] + b_t * np.maximum(w_new - w_f[owner], 0.0)
                parts_df.append(self.mixed(s_f[owner], w_new, value, owner, 0))
            CF.append(self.merge(parts_cf, Sb[t + 1], t + 1, True))
            DF.append(self.merge(parts_df, Wb[t + 1], t + 1, False))
        return None if where is None else self.schedule(best, where, F, CF, DF, B)

    def schedule(
        self,
        best: float,
        where: tuple[str, int, int, int],
        F: list[_Labels],
        CF: list[_Labels],
        DF: list[_Labels],
        B: list[_Labels],
    ) -> CappedDay | None:
        """The best path's moves, checked (else None: the caller's MILP decides)."""
        K, C, D, W, tol = self.K, self.C, self.D, self.W, self.tol
        levels = self.path(where, F, CF, DF, B)
        moves = np.diff(levels)
        revenue = float(stored_revenue(moves, self.buy, self.sell))
        withdrawn = float(np.sum(np.maximum(-moves, 0.0)))
        ok = (
            revenue >= best - V_REL * max(1.0, abs(best))
            and withdrawn <= K + tol
            and bool((levels >= -tol).all() and (levels <= W + tol).all())
            and bool((moves <= C + tol).all() and (moves >= -D - tol).all())
        )
        return CappedDay(moves, revenue, self.labels) if ok else None

    def raise_floor(self, revenue: float) -> None:
        """A schedule earning ``revenue`` was found: prune below it from now on."""
        self.floor = max(self.floor, revenue - V_REL * max(1.0, abs(revenue)))

    def enter(
        self, grid: np.ndarray, coordinate: np.ndarray, reach: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """One free move of each forward label's ``coordinate`` (``s`` charging, ``w``
        discharging) onto every ``grid`` value within ``[coordinate, coordinate + reach]``:
        the label of each move and the value it lands on."""
        lo = np.searchsorted(grid, coordinate - self.tol)
        hi = np.searchsorted(grid, coordinate + reach + self.tol, side="right")
        owner, pos = _spans(lo, hi)
        self.count(owner.size)
        return owner, grid[pos]

    def mixed(
        self, s: np.ndarray, w: np.ndarray, value: np.ndarray, parent: np.ndarray, source: int
    ) -> _Labels:
        return _Labels(s, w, value, parent, np.full(s.size, source))

    def whole(self, fam: _Labels, a_t: float, b_t: float, source: int) -> _Labels:
        """A mixed label's whole moves in one hour: idle, a full charge, a full discharge."""
        if not fam.size:
            return _Labels.empty()
        idx = np.arange(fam.size)
        self.count(3 * fam.size)
        return _Labels(
            np.concatenate([fam.a, fam.a + self.C, fam.a]),
            np.concatenate([fam.w, fam.w, fam.w + self.D]),
            np.concatenate([fam.value, fam.value - a_t * self.C, fam.value + b_t * self.D]),
            np.concatenate([idx, idx, idx]),
            np.full(3 * fam.size, source),
        )

    def merge(self, parts: list[_Labels], grid: np.ndarray, t: int, by_s: bool) -> _Labels:
        """Mixed labels at ``t`` that can still close (``s`` on ``Sb[t]``, or ``w`` on
        ``Wb[t]``, snapped to it), within the SoC limits, the cap and the bound; one per
        (``s``, ``w``), the best."""
        s = np.concatenate([p.a for p in parts])
        w = np.concatenate([p.w for p in parts])
        value = np.concatenate([p.value for p in parts])
        link = np.concatenate([p.link for p in parts])
        source = np.concatenate([p.source for p in parts])
        if not s.size:
            return _Labels.empty()
        k, alive = _snap(grid, s if by_s else w, self.tol)
        if grid.size:
            if by_s:
                s = np.where(alive, grid[k], s)
            else:
                w = np.where(alive, grid[k], w)
        x = s - w
        alive &= (x >= -self.tol) & (x <= self.W + self.tol) & (w <= self.K + self.tol)
        x = np.clip(x, 0.0, self.W)
        bounds = [
            _on_levels(V[t], x, self.tol) + p * (self.K - w)
            for V, p in zip(self.V, self.lams, strict=True)
        ]
        bound = value + np.min(bounds, axis=0)
        alive &= bound >= self.floor
        keep = np.flatnonzero(alive)
        if not keep.size:
            return _Labels.empty()
        key_s = np.round(s[keep] / self.tol).astype(np.int64)
        key_w = np.round(w[keep] / self.tol).astype(np.int64)
        order = np.lexsort((-value[keep], key_w, key_s))
        ks, kw = key_s[order], key_w[order]
        first = np.r_[True, (ks[1:] != ks[:-1]) | (kw[1:] != kw[:-1])]
        sel = keep[order[first]]
        return _Labels(s[sel], w[sel], value[sel], link[sel], source[sel])

    def close(
        self,
        kind: str,
        fam: _Labels,
        s_b: np.ndarray,
        w_b: np.ndarray,
        g_b: np.ndarray,
        a_t: float,
        b_t: float,
        s_grid: np.ndarray,
        w_grid: np.ndarray,
    ) -> tuple[float, int, int] | None:
        """The best path closing a mixed label at ``t`` by one free move onto a backward
        label at ``t + 1``: charge-first labels discharge (``s`` equal, ``w_b - w`` in
        ``[0, D]``), discharge-first ones charge (``w`` equal, ``s_b - s`` in ``[0, C]``).
        Returns (value, label, backward label)."""
        if kind == "cf":
            key_fam, key_b = _snap(s_grid, fam.a, self.tol)[0], _snap(s_grid, s_b, self.tol)
            other_fam, other_b, reach = fam.w, w_b, self.D
            gain_b = g_b + b_t * w_b
            gain_fam = fam.value - b_t * fam.w
        else:
            key_fam, key_b = _snap(w_grid, fam.w, self.tol)[0], _snap(w_grid, w_b, self.tol)
            other_fam, other_b, reach = fam.a, s_b, self.C
            gain_b = g_b - a_t * s_b
            gain_fam = fam.value + a_t * fam.a
        on_grid = np.flatnonzero(key_b[1])
        if not on_grid.size:
            return None
        span = 2.0 * (max(self.K, self.W) + reach) + 1.0
        # sort the backward labels by (key, other coordinate): one float key, keys apart
        combined = key_b[0][on_grid] + other_b[on_grid] / span
        order = np.argsort(combined, kind="stable")
        combined, ids = combined[order], on_grid[order]
        lo = np.searchsorted(combined, key_fam + (other_fam - self.tol) / span)
        hi = np.searchsorted(combined, key_fam + (other_fam + reach + self.tol) / span, "right")
        owner, pos = _spans(lo, hi)
        if not owner.size:
            return None
        self.count(owner.size)
        total = gain_fam[owner] + gain_b[ids[pos]]
        k = int(np.argmax(total))
        return float(total[k]), int(owner[k]), int(ids[pos[k]])

    def path(
        self,
        where: tuple[str, int, int, int],
        F: list[_Labels],
        CF: list[_Labels],
        DF: list[_Labels],
        B: list[_Labels],
    ) -> np.ndarray:
        """Levels at ``t = 0 .. n`` of the best path (``where``: kind, hour, label, backward
        label)."""
        kind, t, k, kb = where
        L = self.L
        levels = np.empty(self.n + 1)
        if kind != "f":
            j = kb
            for tau in range(t + 1, self.n + 1):  # backward labels forward in time
                levels[tau] = L[B[tau].a[j]]
                j = int(B[tau].link[j])
            fam = CF if kind == "cf" else DF
            while True:  # mixed labels back to their entry
                label = fam[t]
                levels[t] = label.a[k] - label.w[k]
                parent, source = int(label.link[k]), int(label.source[k])
                t -= 1
                k = parent
                if source == 0:
                    break
        while t >= 0:  # forward labels back to the start
            levels[t] = L[F[t].a[k]]
            k = int(F[t].link[k])
            t -= 1
        levels[0] = levels[self.n] = L[self.lattice.start]
        return levels
