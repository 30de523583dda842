"""One hour of the lattice's Bellman recursion (``lattice.bellman_hour``) and its window maxima
(``lattice.window_maxima_plan``) against a plain loop over the levels: the same bits, by every
route to the maxima -- sliding windows read by slices (a chain lattice's windows: one width,
cut at the ends; the same or different sparse-table rows for the two sides), a sparse table
read by gathers (any other windows), ``maximum.reduceat``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import lattice
from optimizer.chain import Chain, lattice_of
from optimizer.envelope import stored_rates, stored_revenue
from tests.optimizer.helpers import prd_battery


def plain_hour(lat: lattice.Lattice, v: np.ndarray, a: float, b: float) -> np.ndarray:
    """``V_{t-1}`` level by level: each window's best ``v - rate * level``, plus the rate
    times the level, the larger of charge and discharge."""
    levels = lat.levels
    out = np.empty(levels.size)
    for k in range(levels.size):
        lo, hi = int(lat.down_begin[k]), int(lat.up_end[k])
        charge = (v[k : hi + 1] - a * levels[k : hi + 1]).max() + a * levels[k]
        discharge = (v[lo : k + 1] - b * levels[lo : k + 1]).max() + b * levels[k]
        out[k] = max(charge, discharge)
    return out


def sliding(m: int, up: int, down: int, seed: int) -> lattice.Lattice:
    """Random levels with the windows of a chain lattice: ``up + 1`` and ``down + 1`` levels,
    cut at the ends."""
    k = np.arange(m)
    levels = np.sort(np.random.default_rng(seed).uniform(0.0, 100.0, m))
    return lattice.Lattice(
        levels=levels,
        start=m // 3,
        up_end=np.minimum(k + up, m - 1),
        down_begin=np.maximum(k - down, 0),
        up_mwh=1.0,
        down_mwh=1.0,
    )


def uneven(m: int, seed: int) -> lattice.Lattice:
    """Random levels whose windows (of one move of 7 and 9 units) hold different numbers of
    levels."""
    levels = np.sort(np.random.default_rng(seed).uniform(0.0, 100.0, m))
    return lattice.Lattice(
        levels=levels,
        start=0,
        up_end=np.searchsorted(levels, levels + 7.0, side="right") - 1,
        down_begin=np.searchsorted(levels, levels - 9.0, side="left"),
        up_mwh=7.0,
        down_mwh=9.0,
    )


def half_even(m: int, up: int, seed: int) -> lattice.Lattice:
    """``uneven``'s levels and discharge windows, with charge windows of ``up + 1`` levels cut
    at the end: only one side looks like a chain lattice's (review: a check of the charge side
    alone went unnoticed)."""
    grid = uneven(m, seed)
    return dataclasses.replace(grid, up_end=np.minimum(np.arange(m) + up, m - 1))


def chain_grid(**battery: float) -> lattice.Lattice:
    chain = Chain.of(prd_battery(**battery))
    grid = lattice.chain_lattice(chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh, 5000)
    assert grid is not None
    return grid


LATTICES: dict[str, Callable[[], lattice.Lattice]] = {
    "one row for both sides": lambda: sliding(300, 40, 50, 1),  # 41, 51 levels: row 5
    "a row each side": lambda: sliding(300, 20, 70, 2),  # 21, 71 levels: rows 4 and 6
    "charge the deeper": lambda: sliding(200, 130, 3, 3),  # rows 7 and 2
    "charge the deeper, 2**7 levels": lambda: sliding(300, 127, 5, 8),  # the top row's reach
    "discharge the deeper, 2**7 levels": lambda: sliding(300, 5, 127, 9),
    "windows of one level": lambda: sliding(50, 0, 0, 4),
    "windows of two levels and one": lambda: sliding(50, 1, 0, 10),
    "windows holding the whole lattice": lambda: sliding(40, 60, 45, 5),
    "one level": lambda: sliding(1, 0, 0, 6),
    "uneven windows": lambda: uneven(400, 7),
    "even charge windows, uneven discharge windows": lambda: half_even(400, 20, 11),
    "chain lattice, round trip 0.85": lambda: chain_grid(),
    "chain lattice, 0.92 / 0.92": lambda: chain_grid(
        charge_efficiency=0.92, discharge_efficiency=0.92
    ),
}


def is_sliding(lat: lattice.Lattice) -> bool:
    m = lat.levels.size
    return lattice.sliding_window_plan(np.arange(m), lat.up_end, lat.down_begin) is not None


@pytest.mark.parametrize("make", LATTICES.values(), ids=LATTICES.keys())
@pytest.mark.parametrize("sparse", [None, True, False], ids=["chosen", "table", "reduceat"])
def test_hours_are_the_plain_loop_bit_for_bit(
    make: Callable[[], lattice.Lattice], sparse: bool | None
) -> None:
    lat = make()
    m = lat.levels.size
    rng = np.random.default_rng(m)
    hour = lattice.bellman_hour(lat, sparse)
    v = rng.normal(0.0, 1e3, m)
    v[rng.random(m) < 0.3] = -np.inf  # levels not reachable yet
    v[lat.start] = 0.0
    rates = rng.normal(0.0, 500.0, (30, 2))
    rates[:5] = [[-1200.0, -1100.0]] * 5  # paid to burn energy
    for a, b in rates.tolist():
        want = plain_hour(lat, v, a, b)
        got = np.empty(m)
        hour(v, a, b, got)
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))
        hour(v, a, b, v)  # in place, as chain_values' rows not kept
        np.testing.assert_array_equal(v, want)


@pytest.mark.parametrize(
    ("make", "by_slices"),
    [(make, not name.startswith(("uneven", "even charge"))) for name, make in LATTICES.items()],
    ids=LATTICES.keys(),
)
def test_chain_windows_are_read_by_slices(
    make: Callable[[], lattice.Lattice], by_slices: bool
) -> None:
    # the fast form is the one the lattices above take (else the test above would not test it)
    assert is_sliding(make()) == by_slices


@pytest.mark.parametrize("make", LATTICES.values(), ids=LATTICES.keys())
@pytest.mark.parametrize("sparse", [None, True, False], ids=["chosen", "table", "reduceat"])
def test_window_maxima_are_each_window_s_maximum(
    make: Callable[[], lattice.Lattice], sparse: bool | None
) -> None:
    lat = make()
    m = lat.levels.size
    k = np.arange(m)
    rng = np.random.default_rng(m + 1)
    inputs, maxima = lattice.window_maxima_plan(k, lat.up_end, lat.down_begin, sparse)
    for _ in range(3):
        fa, fb = rng.normal(size=m), rng.normal(size=m)
        inputs[0], inputs[1] = fa, fb
        want = np.concatenate(
            (
                [fa[i : lat.up_end[i] + 1].max() for i in k],
                [fb[lat.down_begin[i] : i + 1].max() for i in k],
            )
        )
        np.testing.assert_array_equal(maxima().reshape(-1), want)


def test_a_chain_of_hours_is_the_same_by_every_route() -> None:
    # chain_values (and ChainValues' recomputed rows) by slices and by reduceat
    lat = chain_grid(round_trip_efficiency=0.87)  # 672 levels
    assert is_sliding(lat)
    rng = np.random.default_rng(11)
    buy = np.concatenate((rng.normal(400.0, 900.0, 300), -1200.0 + rng.uniform(-1.0, 1.0, 200)))
    sell = buy * 0.9
    rows = [lattice.chain_values(buy, sell, lat, sparse=sparse) for sparse in (True, False)]
    np.testing.assert_array_equal(rows[0], rows[1])
    kept = lattice.chain_values(buy, sell, lat, every=24)
    again = lattice.ChainValues(kept, 24, buy, sell, lat)
    for t in range(0, buy.size + 1, 5):
        np.testing.assert_array_equal(again[t], rows[0][t])


@pytest.mark.parametrize(
    "battery",
    [{}, {"duration_h": 168.0, "initial_soc": 0.5}, {"round_trip_efficiency": 0.5}],
    ids=["PRD", "168 h from SoC 0.5", "round trip 0.5"],
)
@pytest.mark.parametrize("rows", [1, 7])
def test_a_day_lattice_s_window_maxima_are_each_window_s_maximum(
    battery: dict[str, float], rows: int
) -> None:
    # _range_max, the days' recursion (lattice.solve): one table over all the rows end to end
    lat = lattice.make_lattice(prd_battery(**battery), 24)
    m = lat.levels.size
    k = np.arange(m)
    rng = np.random.default_rng(rows)
    g = rng.normal(size=(rows, m))
    g[rng.random((rows, m)) < 0.2] = -np.inf
    for begin, end in ((k, lat.up_end), (lat.down_begin, k)):
        want = np.array(
            [[row[b : e + 1].max() for b, e in zip(begin, end, strict=True)] for row in g]
        )
        np.testing.assert_array_equal(lattice._range_max(g, begin, end), want)


@settings(max_examples=40, deadline=None)
@given(
    round_trip=st.sampled_from([0.5, 0.6, 0.75, 0.8]),
    soc=st.sampled_from([(0.1, 1.0), (0.2, 0.8), (0.0, 1.0)]),
    start=st.sampled_from([None, 0.0, 1.0]),
    hours=st.integers(1, 60),
    barred=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**16),
)
def test_a_small_chain_is_the_same_dense_as_by_the_sparse_table(
    round_trip: float,
    soc: tuple[float, float],
    start: float | None,
    hours: int,
    barred: float,
    seed: int,
) -> None:
    # dense_chain (chain_branch's rounds on small lattices) against chain_values and
    # chain_moves: the same optimum to rounding, and a path on the lattice that earns it,
    # over prices far below and above zero and hours barred from charging or discharging as
    # the sign search bars them (a price beyond every rate)
    first = soc[0] if start is None else soc[0] + start * (soc[1] - soc[0])
    battery = prd_battery(
        round_trip_efficiency=round_trip, min_soc=soc[0], max_soc=soc[1], initial_soc=first
    )
    chain = Chain.of(battery)
    lat = lattice.chain_lattice(chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh, 500)
    assert lat is not None
    rng = np.random.default_rng(seed)
    level, spread = rng.choice([-1200.0, 0.0, 600.0]), rng.choice([0.0, 1.0, 500.0])
    prices = level + rng.normal(0.0, spread, hours)
    buy, sell = stored_rates(prices, battery)
    big = 1e6
    buy = np.where(rng.random(hours) < barred, big, buy)
    sell = np.where(rng.random(hours) < barred, -big, sell)
    moves, value = lattice.dense_chain(buy, sell, lat)
    rows = lattice.chain_values(buy, sell, lat)
    # rounding: a few operations an hour on rates times levels (a barred rate of 1e6 times
    # 40 MWh leaves ~1e-9 MXN an operation)
    rounding = 1e-14 * float(np.maximum(np.abs(buy), np.abs(sell)).sum()) * chain.width_mwh
    assert value == pytest.approx(float(rows[0][lat.start]), rel=1e-12, abs=rounding)
    assert float(stored_revenue(moves, buy, sell)) == pytest.approx(value, rel=1e-12, abs=rounding)
    # every level of the path a lattice level, every move inside its window, back at x0
    path = lat.levels[lat.start] + np.concatenate(([0.0], np.cumsum(moves)))
    at = np.abs(path[:, None] - lat.levels[None, :]).argmin(axis=1)  # the nearest level
    np.testing.assert_allclose(lat.levels[at], path, rtol=0, atol=1e-9 * chain.width_mwh)
    assert at[-1] == lat.start
    assert ((at[1:] >= lat.down_begin[at[:-1]]) & (at[1:] <= lat.up_end[at[:-1]])).all()
    # indifferent hours idle (the forward pass's tie rule): flat zero prices move nothing
    idle, _ = lattice.dense_chain(np.zeros(hours), np.zeros(hours), lat)
    assert not idle.any()


def counted_milp(
    buy: np.ndarray,
    sell: np.ndarray,
    chain: Chain,
    offsets: np.ndarray,
    charges: np.ndarray,
    discharges: np.ndarray,
) -> float:
    """The best value of the chain at rates ``(buy, sell)`` with at most ``charges[d]``
    charging and ``discharges[d]`` discharging hours on day ``d``: a plain MILP (stored
    energy in ``x_t``, withdrawal in ``y_t``, a binary for each side of each hour), nothing
    shared with ``optimizer.lattice``."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = buy.size
    up, down, width, x0 = chain.up_mwh, chain.down_mwh, chain.width_mwh, chain.x0_mwh
    # variables: x (n), y (n), charging binaries (n), discharging binaries (n)
    cost = np.concatenate([buy, -sell, np.zeros(2 * n)])  # minimise -(revenue)
    rows, lo, hi = [], [], []
    for t in range(n):
        level = np.zeros(4 * n)
        level[: t + 1], level[n : n + t + 1] = 1.0, -1.0
        rows.append(level)
        lo.append(-x0 if t < n - 1 else 0.0)
        hi.append(width - x0 if t < n - 1 else 0.0)
        for column, binary, limit in ((t, 2 * n + t, up), (n + t, 3 * n + t, down)):
            row = np.zeros(4 * n)
            row[column], row[binary] = 1.0, -limit
            rows.append(row)
            lo.append(-np.inf)
            hi.append(0.0)
        both = np.zeros(4 * n)
        both[2 * n + t] = both[3 * n + t] = 1.0
        rows.append(both)
        lo.append(0.0)
        hi.append(1.0)
    for d in range(offsets.size - 1):
        for side, limit in ((2 * n, charges[d]), (3 * n, discharges[d])):
            row = np.zeros(4 * n)
            row[side + offsets[d] : side + offsets[d + 1]] = 1.0
            rows.append(row)
            lo.append(0.0)
            hi.append(float(limit))
    result = milp(
        cost,
        constraints=LinearConstraint(np.array(rows), lo, hi),
        bounds=Bounds(
            np.zeros(4 * n), np.concatenate([np.full(n, up), np.full(n, down), np.ones(2 * n)])
        ),
        integrality=np.concatenate([np.zeros(2 * n), np.ones(2 * n)]),
        options={"mip_rel_gap": 1e-10},
    )
    assert result.status == 0, result.message
    return -float(result.fun)


@pytest.mark.parametrize("dense", [True, False], ids=["dense", "sparse table"])
@settings(max_examples=25, deadline=None)
@given(
    round_trip=st.sampled_from([0.5, 0.6, 0.8]),
    soc=st.sampled_from([(0.1, 1.0), (0.2, 0.8)]),
    days=st.integers(1, 2),
    limits=st.lists(st.integers(0, 24), min_size=4, max_size=4),
    unlimited=st.lists(st.booleans(), min_size=4, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_a_chain_with_count_limits_is_the_milp_s(
    dense: bool,
    round_trip: float,
    soc: tuple[float, float],
    days: int,
    limits: list[int],
    unlimited: list[bool],
    seed: int,
) -> None:
    # counted_chain (the sign search's count limits, optimizer.chain_branch) against a plain
    # MILP with a binary for each side of each hour: the same optimum, and a schedule that
    # keeps every limit and earns it; the lattice stays exact under upper limits on counts
    battery = prd_battery(round_trip_efficiency=round_trip, min_soc=soc[0], max_soc=soc[1])
    chain = Chain.of(battery)
    lat = lattice.chain_lattice(chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh, 500)
    assert lat is not None
    rng = np.random.default_rng(seed)
    # (not nearly flat: the reference MILP takes minutes on some -1200 +- 0.01 days at round
    # trip 0.8 with limits, the near-ties the limits are for; a spread of 5 is close enough)
    level, spread = rng.choice([-1200.0, 0.0, 600.0]), rng.choice([5.0, 50.0, 500.0])
    prices = level + rng.normal(0.0, spread, 24 * days)
    buy, sell = stored_rates(prices, battery)
    offsets = np.arange(days + 1) * 24
    charges = np.where(unlimited[:days], 24, limits[:days])
    discharges = np.where(unlimited[2 : 2 + days], 24, limits[2 : 2 + days])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lattice, "DENSE_LEVELS", 10**6 if dense else 0)
        moves, value = lattice.counted_chain(buy, sell, lat, offsets, charges, discharges)
    want = counted_milp(buy, sell, chain, offsets, charges, discharges)
    rounding = 1e-9 * float(np.maximum(np.abs(buy), np.abs(sell)).sum()) * chain.width_mwh
    assert value == pytest.approx(want, rel=1e-7, abs=rounding)
    assert float(stored_revenue(moves, buy, sell)) == pytest.approx(value, rel=1e-9, abs=rounding)
    starts = offsets[:-1]
    assert (np.add.reduceat(moves > 0.0, starts) <= charges).all()
    assert (np.add.reduceat(moves < 0.0, starts) <= discharges).all()
    path = chain.x0_mwh + np.cumsum(moves)
    assert path.min() >= -1e-9 * chain.width_mwh
    assert path.max() <= chain.width_mwh * (1 + 1e-9)
    assert abs(path[-1] - chain.x0_mwh) <= 1e-9 * chain.width_mwh
    assert np.abs(moves).max(initial=0.0) <= max(chain.up_mwh, chain.down_mwh) * (1 + 1e-9)


def plain_step(
    lat: lattice.Lattice, row: np.ndarray, at: int, a: float, b: float, tol: float | None
) -> int:
    """The forward pass's rule level by level: the window's best ``V_{t+1}`` less the move's
    cost; among those within the tolerance of it, the smallest move, then the lowest level."""
    lo, hi = int(lat.down_begin[at]), int(lat.up_end[at])
    totals = {}
    for j in range(lo, hi + 1):
        u = float(lat.levels[j] - lat.levels[at])
        totals[j] = float(row[j]) - (a * u if u > 0 else b * u)
    top = max(totals.values())
    near = top - (1e-12 * max(1.0, abs(top)) if tol is None else tol)
    kept = [j for j, total in totals.items() if not total < near]
    return min(kept, key=lambda j: (abs(float(lat.levels[j] - lat.levels[at])), j))


@pytest.mark.parametrize("round_trip", [0.5, 0.85, 0.87])
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_the_forward_pass_s_step_is_the_plain_rule(round_trip: float, seed: int) -> None:
    """``Step`` (its windows kept, or computed again past ``STEP_KEPT_ENTRIES``) picks the
    level the plain rule picks, on rows with exact ties, near-ties and unreachable levels, at
    every level of the chain's lattice, on the same level met again."""
    grid = lattice_of(Chain.of(prd_battery(round_trip_efficiency=round_trip)), 24 * 366)
    assert grid is not None
    rng = np.random.default_rng(seed)
    m = grid.levels.size
    row = np.round(rng.normal(0.0, 50.0, m), 0)  # coarse values: many exact ties
    row[rng.integers(0, m, max(1, m // 8))] = -np.inf
    a, b = (float(x) for x in np.round(rng.uniform(-30.0, 30.0, 2), 1))
    kept, fresh = lattice.Step(grid, 4 * m), lattice.Step(grid, 4 * m)
    fresh.keep = False
    assert kept.keep
    for at in [*range(m), *rng.integers(0, m, 20).tolist()]:
        for tol in (None, 0.0, 0.5):
            want = plain_step(grid, row, at, a, b, tol)
            assert kept(row, at, a, b, tol) == want
            assert fresh(row, at, a, b, tol) == want
    assert not fresh.windows
