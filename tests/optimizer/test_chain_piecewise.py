"""The piecewise chain recursion's faster forms (issue 9): each helper against the plain
computation it stands for, bit for bit, and the general step's two window-maximum methods on
a chain with many breakpoints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import chain
from optimizer.envelope import stored_rates
from tests.optimizer.helpers import assert_same_chain, prd_battery


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
    st.lists(st.tuples(st.integers(0, 79), st.integers(-3, 80)), min_size=1, max_size=40),
    st.booleans(),
)
def test_an_empty_window_reads_the_last_entry(
    values: list[float], windows: list[tuple[int, int]], sparse: bool
) -> None:
    # every window by either method: its maximum, and where it is empty the last entry of f
    # (the general step's absent value, which no window holds)
    f = np.asarray([*values, chain._ABSENT])
    begin = np.array([min(b, f.size - 1) for b, _ in windows]).reshape(1, -1)
    end = np.clip(begin + np.array([[n for _, n in windows]]), begin, f.size - 1)
    got = chain._window_maxima(f, np.concatenate((begin, end)), sparse)
    for b, e, m in zip(begin.ravel(), end.ravel(), got.ravel(), strict=True):
        assert m == (f[b:e].max() if e > b else chain._ABSENT)


@st.composite
def breakpoints(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Sorted levels, values, and a few levels inside their domain (some on breakpoints)."""
    xs = np.unique(draw(st.lists(st.floats(0.0, 100.0), min_size=2, max_size=30)))
    if xs.size < 2:
        xs = np.array([0.0, 1.0])
    vs = np.asarray(draw(st.lists(st.floats(-1e6, 1e6), min_size=xs.size, max_size=xs.size)))
    picks = draw(
        st.lists(
            st.one_of(
                st.floats(float(xs[0]), float(xs[-1])),
                st.sampled_from(xs.tolist()),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return xs, vs, picks


@given(breakpoints())
def test_levels_looked_up_in_arrays_are_those_looked_up_in_lists(
    table: tuple[np.ndarray, np.ndarray, list[float]],
) -> None:
    # the forward pass's wide windows look their ends up in the arrays (``_at_each``): the
    # same value as ``_at`` on the whole lists, to the bit, on and between breakpoints
    xs, vs, ys = table
    assert chain._at_each(xs, vs, ys) == [chain._at(xs.tolist(), vs.tolist(), y) for y in ys]


def plain_merged(
    left: float,
    left_v: float,
    slopes: np.ndarray,
    lengths: np.ndarray,
    width: float,
    tol_x: float,
    tol_v: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``chain._merged`` written plainly: the pieces by decreasing slope (equal ones joined),
    then the points strictly inside ``(lo + tol_x, hi - tol_x)`` by a mask and the two ends
    interpolated, concatenated."""
    order = np.argsort(-slopes, kind="stable")
    s, ln = slopes[order], lengths[order]
    new = np.concatenate(([True], (s[:-1] - s[1:]) * np.minimum(ln[:-1], ln[1:]) > tol_v))
    starts = new.nonzero()[0]
    s, ln = s[starts], np.add.reduceat(ln, starts)
    x = np.concatenate(([left], left + np.cumsum(ln)))
    v = np.concatenate(([left_v], left_v + np.cumsum(s * ln)))
    lo, hi = max(left, 0.0), min(float(x[-1]), width)
    if lo == left and hi == x[-1]:
        return x, v
    inside = (x > lo + tol_x) & (x < hi - tol_x)
    ends = np.interp(np.array([lo, hi]), x, v)
    return (
        np.concatenate(([lo], x[inside], [hi])),
        np.concatenate((ends[:1], v[inside], ends[1:])),
    )


@given(
    st.floats(-30.0, 10.0),
    st.floats(-1e6, 1e6),
    st.lists(st.tuples(st.floats(-3000.0, 3000.0), st.floats(0.01, 15.0)), min_size=1),
    st.floats(1.0, 60.0),
)
def test_a_concave_merge_is_the_plain_one(
    left: float, left_v: float, pieces: list[tuple[float, float]], width: float
) -> None:
    # the concave hour's merge, clipped to [0, W] by one run of its sorted points: the very
    # points and values of the mask-and-concatenate form, whether or not either end is cut
    slopes = np.array([s for s, _ in pieces])
    lengths = np.array([ln for _, ln in pieces])
    args = (left, left_v, slopes, lengths, width, 1e-9 * width, 1e-6)
    x, v = chain._merged(*args)
    want_x, want_v = plain_merged(*args)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(v, want_v)


def test_many_breakpoints_give_the_same_bits_by_either_window_method(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a 168-h battery over slowly drifting very negative prices: V holds more breakpoints than
    # SPARSE_BREAKPOINTS, where the general step takes the sparse table whatever the windows'
    # density; forcing reduceat instead must change no bit of any V, the schedule or the value
    rng = np.random.default_rng(1)
    prices = np.cumsum(rng.normal(0.0, 5.0, 24 * 6)) - 5000.0
    battery = prd_battery(duration_h=168.0)
    buy, sell = stored_rates(prices, battery)
    table = chain.solve_piecewise(buy, sell, battery)
    peak = int(table.route.split()[2])
    assert peak > chain.SPARSE_BREAKPOINTS
    monkeypatch.setattr(chain, "SPARSE_BREAKPOINTS", 10**9)
    monkeypatch.setattr(chain, "SPARSE_RATIO", 1e18)
    reduceat = chain.solve_piecewise(buy, sell, battery)
    assert_same_chain(reduceat, table)


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=8, max_size=80),
    st.lists(st.tuples(st.integers(0, 40), st.integers(2, 40)), min_size=1, max_size=40),
)
def test_windows_longer_than_the_level_table_take_the_shared_halves(
    values: list[float], windows: list[tuple[int, int]]
) -> None:
    # windows longer than chain._FLOOR_LOG2 covers (2**15 entries; here 2, so that any window
    # of two or more does) find their covering halves by lattice.sparse_halves: the same maxima
    # (one window of 3 whose maximum is its last entry, beyond the first half, among them)
    f = np.asarray([*values, chain._ABSENT])
    f[2] = max(values) + 1.0
    windows = [(0, 3), *windows]
    begin = np.array([min(b, f.size - 1) for b, _ in windows]).reshape(1, -1)
    end = np.clip(begin + np.array([[n for _, n in windows]]), begin, f.size - 1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "_FLOOR_LOG2", chain._FLOOR_LOG2[:2])
        got = chain._window_maxima(f, np.concatenate((begin, end)), True)
    for b, e, m in zip(begin.ravel(), end.ravel(), got.ravel(), strict=True):
        assert m == (f[b:e].max() if e > b else chain._ABSENT)
