"""``learned``: scheduling without foresight on a machine-learned day-ahead price forecast
(SPEC §11).

The forecast (LEAR-style, after Lago et al.'s "lasso estimated autoregressive" model, with a
ridge penalty so that one fit is one linear solve). For each target day D and each clock hour
h, a linear model predicts the price of (D, h) from

* the prices of D-1, all 24 hours;
* the prices of D-2, D-3 and D-7 at hour h;
* seven weekday indicators of D (their coefficients are not penalised: one level per weekday).

It is refitted for every day D on a rolling window of the ``WINDOW_DAYS`` days before D only
(each window day t is one training sample per hour, its features taken from the days before
t), so nothing from D or later enters D's forecast. Prices are variance-stabilised as in LEAR,
``z = asinh((p - median) / mad)`` (``mad`` the scaled median absolute deviation), with the
median and MAD of the ``STATS_DAYS`` days before each sample's own day: a sample (its target
and its lags alike) is expressed relative to the week before it, and D's prediction relative
to the week before D, then mapped back with ``sinh``. Because a sample's numbers no longer
depend on which window it sits in, all windows are built from one table of samples: the
terms the 24 hourly models share are one matrix product per window (a strided view of the
table, no copy), each hour's own terms differences of running sums over the calendar; each
fit is then one 31 x 31 inverse per day (through its Cholesky factor, inverted by blocks)
and one 3 x 3 solve per hour (Schur complement), and only each model's prediction is formed,
all days at once with numpy: the model of a 366-day request costs about 18 ms of CPU, of the
PRD request's 38 fitted days about 2 ms.

The 7-day mean (the ``forecast`` strategy's) is combined with it where that measures better:
for each day, both forecasts' errors on the ``BLEND_DAYS`` days before it (out of sample: each
of those days was forecast from its own earlier days) weigh the two, inverse to their mean
squared error. The forecast day is then scheduled exactly by ``optimal`` (daily) and settled
at the actual prices, as ``forecast`` does.

Clock-change days are put on a 24-hour clock and back exactly as ``forecast`` does. Days are
placed on the calendar: a day whose lags (D-1, D-2, D-3, D-7) are missing is no training
sample, and a day with too few samples in its window (short history) or with a missing lag is
forecast by the 7-day mean alone; a day with no earlier day idles. A prediction is kept within
one asinh unit of the largest scaled price seen before it (a guard against an extrapolating
fit on wild prices).

Hyper-parameters were chosen on 2016-07-01..2016-12-31 of the five SIN zones of the
2016-2017 MDA file only (``bench/bench_learned.py --grid``): ``WINDOW_DAYS`` = 56, the
service's default history, so that a request's first day has a full window; ``STATS_DAYS``,
``RIDGE_LAMBDA`` and ``BLEND_DAYS`` the best first-half mean capture of that grid.
``MIN_TRAIN_DAYS`` (half a window) and the lags were fixed beforehand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from optimizer.errors import check_deadline
from optimizer.market import MarketDay
from optimizer.strategies.forecast import (
    ProfileStrategy,
    days_on_24_hours,
    earlier_days,
    mean_profiles,
)

#: Days before D whose samples train D's model.
WINDOW_DAYS = 56
#: Days before a sample's day whose median and MAD scale it.
STATS_DAYS = 7
#: Ridge penalty on the price coefficients (in asinh units).
RIDGE_LAMBDA = 100.0
#: Days before D on which the learned forecast and the 7-day mean are compared.
BLEND_DAYS = 7
#: A day's model needs at least this many training days in its window, else the 7-day mean.
MIN_TRAIN_DAYS = 28
#: Same-hour lags (days) besides D-1's full day.
SAME_HOUR_LAGS = (2, 3, 7)
#: Penalty on the weekday levels: practically none, only enough to keep a weekday the window
#: lacks from making the system singular.
WEEKDAY_PENALTY = 1e-3
#: MAD to standard deviation of a normal distribution.
_MAD_TO_SIGMA = 1.4826
_HOURS = 24
_WEEKDAYS = 7
_MAX_LAG = max(SAME_HOUR_LAGS)


def _calendar(prices_24: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Every day's prices on a 24-hour clock (``prices_24``, one row per day), one row per
    calendar date from the first day (``offsets``: each day's date minus the first's, in
    days) to the last (NaN rows for absent dates)."""
    grid = np.full((int(offsets[-1]) + 1, _HOURS), np.nan)
    grid[offsets] = prices_24
    return grid


def _day_offsets(days: Sequence[MarketDay]) -> np.ndarray:
    """Each day's date minus the first day's, in days."""
    ordinals = np.fromiter((d.date.toordinal() for d in days), dtype=np.intp, count=len(days))
    return np.asarray(ordinals - ordinals[0])


def _row_windows(x: np.ndarray, width: int) -> np.ndarray:
    """``sliding_window_view(x, width, axis=0)`` (a read-only view: window k is rows k .. k +
    width - 1, on a last axis), built directly: the generic function's checks cost more
    than the view on the arrays here."""
    step = x.strides[0]
    return as_strided(
        x,
        shape=(x.shape[0] - width + 1, *x.shape[1:], width),
        strides=(step, *x.strides[1:], step),
        writeable=False,
    )


def _window_sums(per_row: np.ndarray, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of ``per_row`` over rows ``starts[i]`` .. ``rows[i] - 1``, for every i."""
    total = np.zeros((per_row.shape[0] + 1, *per_row.shape[1:]))
    np.cumsum(per_row, axis=0, out=total[1:])
    return np.asarray(total[rows] - total[starts])


def learned_profiles(
    days: Sequence[MarketDay],
    targets: np.ndarray,
    *,
    window_days: int = WINDOW_DAYS,
    stats_days: int = STATS_DAYS,
    ridge_lambda: float = RIDGE_LAMBDA,
    min_train_days: int = MIN_TRAIN_DAYS,
    prices_24: np.ndarray | None = None,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """The model's 24-hour forecast for ``days[i]`` for every i in ``targets`` (rows in that
    order), NaN where the day has no model (a missing lag or too few training days).

    ``days`` are in strictly increasing date order; row i uses days before ``days[i]`` only.
    ``prices_24`` and ``offsets``: ``days_on_24_hours(days)`` and each day's date minus the
    first's (days), when the caller has them.
    """
    out = np.full((len(targets), _HOURS), np.nan)
    if len(targets) == 0:
        return out
    if offsets is None:
        offsets = _day_offsets(days)
    grid = _calendar(days_on_24_hours(days) if prices_24 is None else prices_24, offsets)
    span = grid.shape[0]
    # every calendar row t as a sample: scaled by the days t - stats_days .. t - 1
    lead = max(stats_days, _MAX_LAG)
    before = np.concatenate((np.full((lead, _HOURS), np.nan), grid))
    week = _row_windows(before[lead - stats_days :], stats_days)[:span]
    median, mad = _median_and_mad(week.reshape(span, -1))
    # row t of the day itself and of its lags (D-1, then the same-hour lags), each scaled by
    # row t's week: (1 + 1 + 3, t, 24)
    shifts = np.array((0, 1, *SAME_HOUR_LAGS))
    lagged = before[(lead - shifts)[:, None] + np.arange(span)]
    scaled = np.arcsinh((lagged - median[:, None]) / mad[:, None])
    missing = np.isnan(scaled).any(axis=2)  # (5, t)
    has_lags = ~missing[1:].any(axis=0)
    sample = has_lags & ~missing[0]
    scaled = np.nan_to_num(scaled)
    y, lag1 = scaled[0], scaled[1]
    weekday = (days[0].date.toordinal() + np.arange(span)) % _WEEKDAYS
    dummies = (weekday[:, None] == np.arange(_WEEKDAYS)).astype(float)

    xs = np.concatenate((lag1, dummies), axis=1)  # (t, 31) shared by the hours
    xh = np.ascontiguousarray(scaled[2:].transpose(1, 2, 0))  # (t, 24, 3) each hour's own
    weight = sample.astype(float)
    xs_w, xh_w = xs * weight[:, None], xh * weight[:, None, None]

    rows = offsets[targets]
    starts = np.maximum(rows - window_days, 0)
    # only the days that get a model are fitted (each fit is its own: the others change none)
    trained = _window_sums(weight, rows, starts)
    has_model = has_lags[rows] & (trained >= min_train_days)
    if not has_model.any():
        return out
    rows, starts = rows[has_model], starts[has_model]
    ks, kh = xs.shape[1], xh.shape[2]
    n = rows.size

    # the terms the 24 hours share -- A (ks x ks), B (ks x 24 x kh) and the right-hand sides
    # (ks x 24) -- as products of each target's window of samples: A = Xs_w' Xs and
    # [B rs] = Xs_w' [XH Y] over the window
    def windows(x: np.ndarray) -> np.ndarray:
        """Each target's window of rows of ``x`` (zero rows before the first day),
        (targets, columns, window_days)."""
        padded = np.concatenate((np.zeros((window_days, x.shape[1])), x))
        return _row_windows(padded, window_days)[lo:hi]

    lo, hi = int(rows.min()), int(rows.max()) + 1

    pick = rows - lo
    every_row = n == hi - lo and bool((pick == np.arange(n)).all())

    def fitted(products: np.ndarray) -> np.ndarray:
        """The fitted days' rows of ``products`` (no copy when they are all of them, in
        order)."""
        return products if every_row else products[pick]

    weighted = windows(xs_w)
    a = fitted(weighted @ windows(xs).transpose(0, 2, 1))
    sides = fitted(weighted @ windows(np.hstack((xh.reshape(span, -1), y))).transpose(0, 2, 1))
    b = sides[:, :, : _HOURS * kh].reshape(n, ks, _HOURS, kh)
    rs = sides[:, :, _HOURS * kh :]
    # each hour's own terms (C, 24 x kh x kh; the right-hand sides, 24 x kh), as differences
    # of running sums
    own = _window_sums(
        np.concatenate(
            (
                (xh_w[:, :, :, None] * xh[:, :, None, :]).reshape(span, -1),
                (xh_w * y[:, :, None]).reshape(span, -1),
            ),
            axis=1,
        ),
        rows,
        starts,
    )
    c = own[:, : _HOURS * kh * kh].reshape(n, _HOURS, kh, kh)
    rh = own[:, _HOURS * kh * kh :].reshape(n, _HOURS, kh)
    z_hat = _ridge_predictions(a, b, c, rs, rh, ridge_lambda, xs[rows], xh[rows], sides=sides)
    # never more than one asinh unit beyond the largest scaled price seen before
    seen = np.maximum.accumulate(np.concatenate(([0.0], np.abs(y).max(axis=1))))[rows] + 1.0
    z_hat = np.clip(z_hat, -seen[:, None], seen[:, None])
    out[has_model] = median[rows, None] + mad[rows, None] * np.sinh(z_hat)
    return out


def _median_and_mad(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise median and scaled MAD ignoring NaN (0 and 1 for rows without numbers)."""
    counts = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(values.shape[0])
    low, high = np.maximum(counts - 1, 0) // 2, np.maximum(counts, 1) // 2

    def median_of(x: np.ndarray) -> np.ndarray:
        ordered = np.sort(x, axis=1)  # NaN sort last
        return np.asarray(0.5 * (ordered[rows, low] + ordered[rows, high]))

    median = median_of(values)
    mad = median_of(np.abs(values - median[:, None])) * _MAD_TO_SIGMA
    ok = (counts > 0) & (mad > 1e-9)
    return np.where(counts > 0, median, 0.0), np.where(ok, mad, 1.0)


def _ridge_predictions(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    rs: np.ndarray,
    rh: np.ndarray,
    ridge_lambda: float,
    xs: np.ndarray,
    xh: np.ndarray,
    *,
    sides: np.ndarray | None = None,
) -> np.ndarray:
    """Every (day, hour) ridge model's prediction ``xs' bs + xh' bh`` (n, 24) at the features
    ``xs`` (n, ks) and ``xh`` (n, 24, kh), from the models' normal equations
    ``[[A, B], [B', C]] [bs; bh] = [rs; rh]`` (before the penalty).

    ``a`` (n, ks, ks): the features the 24 hours share (D-1's prices, then the 7 weekday
    levels, penalised ``WEEKDAY_PENALTY`` only); ``b`` (n, ks, 24, kh) and ``c``
    (n, 24, kh, kh): each hour's own features; ``rs`` (n, ks, 24), ``rh`` (n, 24, kh): the
    right-hand sides. ``A`` is shared across the hours, so the systems are solved by the
    Schur complement: one ks x ks inverse per day and one kh x kh (3 x 3, in closed form)
    solve per (day, hour) for ``bh``. ``bs`` is never formed: with ``bs = inv(A) (rs - B bh)``
    and ``u = inv(A) xs``, the prediction is ``u' rs + (xh - B' u)' bh``. ``sides``: ``b``
    and ``rs`` side by side, (n, ks, 24 kh + 24), when the caller has them so (saves a
    copy)."""
    n, ks, _ = a.shape
    kh = c.shape[-1]
    penalty = np.full(ks, float(ridge_lambda))
    penalty[ks - _WEEKDAYS :] = WEEKDAY_PENALTY
    a_inv = _spd_inverse(a + np.diag(penalty))
    if sides is None:
        sides = np.concatenate((b.reshape(n, ks, _HOURS * kh), rs), axis=2)
    solved = a_inv @ sides
    # per hour: (n, 24, ks, kh) and (n, 24, ks)
    a_inv_b = solved[:, :, : _HOURS * kh].reshape(n, ks, _HOURS, kh).transpose(0, 2, 1, 3)
    a_inv_rs = solved[:, :, _HOURS * kh :].transpose(0, 2, 1)
    b_t = b.transpose(0, 2, 3, 1)  # (n, 24, kh, ks)
    schur = c + ridge_lambda * np.eye(kh) - b_t @ a_inv_b
    beta_h = _solve_3x3(schur, rh - (b_t @ a_inv_rs[..., None])[..., 0])
    u = (a_inv @ xs[:, :, None])[:, :, 0]  # inv(A) xs (A symmetric)
    at_u = (u[:, None, :] @ sides)[:, 0]  # u' [B rs]: (n, 24 kh + 24)
    own = xh - at_u[:, : _HOURS * kh].reshape(n, _HOURS, kh)
    return np.asarray(at_u[:, _HOURS * kh :] + np.einsum("nhi,nhi->nh", own, beta_h))


def _spd_inverse(m: np.ndarray) -> np.ndarray:
    """Inverses of a stack of symmetric positive definite matrices through their Cholesky
    factors ``L`` (``inv(m) = inv(L)' inv(L)``, ``inv(L)`` by blocks over all matrices at
    once, ``_lower_inverse``): several times cheaper than ``np.linalg.inv`` on a stack of
    small matrices. Falls back to ``np.linalg.inv`` if a factorisation fails."""
    try:
        low = np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.inv(m))
    inv_low = _lower_inverse(low)
    return np.asarray(inv_low.transpose(0, 2, 1) @ inv_low)


#: Rows per block of ``_lower_inverse``'s block forward substitution.
_BLOCK = 8


def _lower_inverse(low: np.ndarray) -> np.ndarray:
    """Inverses of a stack of lower-triangular matrices (non-zero diagonals), by block forward
    substitution: the matrices are padded with the identity to whole ``_BLOCK`` x ``_BLOCK``
    blocks, every diagonal block of every matrix is inverted at once (``_lower_inverse_rows``)
    and block row ``b`` of the inverse is ``-inv(L_bb) L_b,<b inv(L)_<b`` -- a few numpy calls
    per block row instead of per row (31 rows: 4 block rows)."""
    n, k, _ = low.shape
    blocks = -(-k // _BLOCK)
    if blocks == 1:
        return _lower_inverse_rows(low)
    size = blocks * _BLOCK
    full = np.zeros((n, size, size))
    full[:, :k, :k] = low
    pad = np.arange(k, size)
    full[:, pad, pad] = 1.0
    on_diagonal = np.arange(blocks)
    diagonal = full.reshape(n, blocks, _BLOCK, blocks, _BLOCK)[:, on_diagonal, :, on_diagonal, :]
    diagonal_inv = _lower_inverse_rows(diagonal.reshape(-1, _BLOCK, _BLOCK)).reshape(
        blocks, n, _BLOCK, _BLOCK
    )
    inv = np.zeros_like(full)
    inv[:, :_BLOCK, :_BLOCK] = diagonal_inv[0]
    for b in range(1, blocks):
        lo, hi = b * _BLOCK, (b + 1) * _BLOCK
        inv[:, lo:hi, :lo] = -(diagonal_inv[b] @ (full[:, lo:hi, :lo] @ inv[:, :lo, :lo]))
        inv[:, lo:hi, lo:hi] = diagonal_inv[b]
    return inv[:, :k, :k]


def _lower_inverse_rows(low: np.ndarray) -> np.ndarray:
    """``_lower_inverse`` row by row (forward substitution over all matrices at once)."""
    k = low.shape[-1]
    inv_low = np.zeros_like(low)
    for i in range(k):
        row = -(low[:, i : i + 1, :i] @ inv_low[:, :i, :])[:, 0, :]
        row[:, i] += 1.0
        inv_low[:, i, :] = row / low[:, i, i, None]
    return inv_low


def _solve_3x3(m: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``m[...] x = r[...]`` for stacks of 3 x 3 systems, by the adjugate (``m`` symmetric
    positive definite here: a ridge Gram matrix's Schur complement)."""
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = (
        (m[..., i, 0], m[..., i, 1], m[..., i, 2]) for i in range(3)
    )
    adjugate = np.stack(
        (
            np.stack((m11 * m22 - m12 * m21, m02 * m21 - m01 * m22, m01 * m12 - m02 * m11), -1),
            np.stack((m12 * m20 - m10 * m22, m00 * m22 - m02 * m20, m02 * m10 - m00 * m12), -1),
            np.stack((m10 * m21 - m11 * m20, m01 * m20 - m00 * m21, m00 * m11 - m01 * m10), -1),
        ),
        -2,
    )
    determinant = m00 * adjugate[..., 0, 0] + m01 * adjugate[..., 1, 0] + m02 * adjugate[..., 2, 0]
    return np.asarray(np.einsum("...ij,...j->...i", adjugate, r) / determinant[..., None])


def combined_profiles(
    days: Sequence[MarketDay],
    targets: np.ndarray,
    *,
    window_days: int = WINDOW_DAYS,
    stats_days: int = STATS_DAYS,
    ridge_lambda: float = RIDGE_LAMBDA,
    blend_days: int = BLEND_DAYS,
    min_train_days: int = MIN_TRAIN_DAYS,
) -> np.ndarray:
    """The forecast ``learned`` schedules on, for ``days[i]``, i in ``targets``: the model and
    the 7-day mean weighed by their errors on the ``blend_days`` days before (row i uses days
    before ``days[i]`` only); NaN rows where no earlier day exists."""
    if len(targets) == 0:
        return np.full((0, _HOURS), np.nan)
    prices_24 = days_on_24_hours(days)
    offsets = _day_offsets(days)
    mean7 = mean_profiles(prices_24)
    first_scored = max(int(targets.min()) - blend_days, 0)
    model = learned_profiles(
        days,
        np.arange(first_scored, len(days)),
        window_days=window_days,
        stats_days=stats_days,
        ridge_lambda=ridge_lambda,
        min_train_days=min_train_days,
        prices_24=prices_24,
        offsets=offsets,
    )
    actual = prices_24[first_scored:]
    # both forecasts' squared errors on the calendar, summed over the blend window before
    # each day (days without either forecast count in neither)
    both = ~np.isnan(model).any(axis=1) & ~np.isnan(mean7[first_scored:]).any(axis=1)
    err_model = np.where(both, np.mean((model - actual) ** 2, axis=1), 0.0)
    err_mean = np.where(both, np.mean((mean7[first_scored:] - actual) ** 2, axis=1), 0.0)
    offset = offsets[first_scored:] - offsets[first_scored]
    span = int(offset[-1]) + 1
    on_calendar = np.zeros((span, 3))
    on_calendar[offset] = np.stack((err_model, err_mean, both.astype(float)), axis=1)
    rows = offset[targets - first_scored]
    sums = _window_sums(on_calendar, rows, np.maximum(rows - blend_days, 0))
    mine, fallback = model[targets - first_scored], mean7[targets]
    with np.errstate(divide="ignore", invalid="ignore"):
        w_model = sums[:, 2] / np.maximum(sums[:, 0], 1e-9)
        w_mean = sums[:, 2] / np.maximum(sums[:, 1], 1e-9)
        blend = (w_model[:, None] * mine + w_mean[:, None] * fallback) / (w_model + w_mean)[:, None]
    no_model = np.isnan(mine).any(axis=1)
    no_mean = np.isnan(fallback).any(axis=1) | (sums[:, 2] == 0)
    return np.asarray(
        np.where(no_model[:, None], fallback, np.where(no_mean[:, None], mine, blend))
    )


class Learned(ProfileStrategy):
    name = "learned"
    description = (
        "No foresight: schedules each day on a ridge-regularised autoregressive price forecast "
        "(LEAR-style, refitted daily on earlier days only, blended with the 7-day mean), then "
        "settles at the actual prices."
    )
    order = 50
    needs_history = True

    def profiles(
        self,
        days: Sequence[MarketDay],
        history: Sequence[MarketDay] = (),
        *,
        deadline_s: float | None = None,
    ) -> np.ndarray:
        earlier = earlier_days(history, days[0].date)
        every = [*earlier, *days]
        targets = np.arange(len(earlier), len(every))
        check_deadline(deadline_s, "fitting the price model")
        profiles = combined_profiles(every, targets)
        check_deadline(deadline_s, "fitting the price model")  # the optimizer checks on
        return profiles


STRATEGY = Learned()
