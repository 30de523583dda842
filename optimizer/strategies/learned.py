"""``learned``: scheduling without foresight on a machine-learned day-ahead price forecast
(SPEC §11).

The forecast (LEAR-style, after Lago et al.'s "lasso estimated autoregressive" model, with a
ridge penalty so that one fit is one linear solve). For each target day D and each clock hour
h, a linear model predicts the price of (D, h) from

* the prices of D-1, all 24 hours;
* the prices of D-2, D-3 and D-7 at hour h;
* seven weekday indicators of D (their coefficients are not penalised: one level per weekday).

It is refitted for every day D on a rolling window of the ``WINDOW_DAYS`` days before D only
(each window day is one training sample per hour, its features taken from the days before
it), so nothing from D or later enters D's forecast. Prices are variance-stabilised as in
LEAR: over the window, ``z = asinh((p - median) / mad)`` (``mad`` the scaled median absolute
deviation), the model is fitted on ``z`` and its prediction mapped back with ``sinh``. Each
fit is one ridge solve of a 34 x 34 system per hour; all days and hours are assembled and
solved at once with numpy, so a 366-day request costs a few tens of milliseconds.

The 7-day mean (the ``forecast`` strategy's) is combined with it where that measures better:
for each day, both forecasts' errors on the ``BLEND_DAYS`` days before it (out of sample: each
of those days was forecast from its own earlier days) weigh the two, inverse to their mean
squared error. The forecast day is then scheduled exactly by ``optimal`` (daily) and settled
at the actual prices, as ``forecast`` does.

Clock-change days are put on a 24-hour clock and back exactly as ``forecast`` does. Days are
placed on the calendar: a day whose lags (D-1, D-2, D-3, D-7) are missing is no training
sample, and a day with too few samples in its window (short history) or with a missing lag is
forecast by the 7-day mean alone; a day with no earlier day idles.

Hyper-parameters were chosen on 2016-07-01..2016-12-31 of the five SIN zones of the
2016-2017 MDA file only (``bench/bench_learned.py --grid``; the grid is flat, 85.1-85.8 % mean
capture): ``WINDOW_DAYS`` = 56, the service's default history, so that a request's first day
has a full window; at that window ``RIDGE_LAMBDA`` and ``BLEND_DAYS`` the best first-half mean.
``MIN_TRAIN_DAYS`` (half a window) and the lags were fixed beforehand. The second half
(2017-01-01..2017-06-30) was looked at only after that choice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from optimizer.battery import Battery
from optimizer.errors import DeadlineExceededError
from optimizer.market import MarketDay
from optimizer.results import Horizon
from optimizer.settle import Dispatch
from optimizer.strategies.base import Strategy
from optimizer.strategies.forecast import (
    earlier_days,
    forecast_profiles,
    schedule_on_profiles,
    to_24_hours,
)

#: Days before D whose prices train D's model.
WINDOW_DAYS = 56
#: Ridge penalty on the price coefficients (in asinh units).
RIDGE_LAMBDA = 300.0
#: Days before D on which the learned forecast and the 7-day mean are compared.
BLEND_DAYS = 28
#: A day's model needs at least this many training days in its window, else the 7-day mean.
MIN_TRAIN_DAYS = 28
#: Same-hour lags (days) besides D-1's full day.
SAME_HOUR_LAGS = (2, 3, 7)
#: MAD to standard deviation of a normal distribution.
_MAD_TO_SIGMA = 1.4826
_HOURS = 24
_MAX_LAG = max(SAME_HOUR_LAGS)


def _calendar(days: Sequence[MarketDay]) -> tuple[np.ndarray, dt.date]:
    """Every day's prices on a 24-hour clock, one row per calendar date from the first day to
    the last (NaN rows for absent dates), and the first date."""
    first = days[0].date
    span = (days[-1].date - first).days + 1
    grid = np.full((span, _HOURS), np.nan)
    for day in days:
        grid[(day.date - first).days] = to_24_hours(day.prices)
    return grid, first


def learned_profiles(
    days: Sequence[MarketDay],
    targets: np.ndarray,
    *,
    window_days: int = WINDOW_DAYS,
    ridge_lambda: float = RIDGE_LAMBDA,
    min_train_days: int = MIN_TRAIN_DAYS,
) -> np.ndarray:
    """The model's 24-hour forecast for ``days[i]`` for every i in ``targets`` (rows in that
    order), NaN where the day has no model (a missing lag or too few training days).

    ``days`` are in strictly increasing date order; row i uses days before ``days[i]`` only.
    """
    grid, first = _calendar(days)
    lead = window_days + _MAX_LAG  # rows a window and its lags span before the target
    padded = np.concatenate((np.full((lead, _HOURS), np.nan), grid))
    # calendar row of every target (in padded coordinates), its window rows c-lead .. c-1
    rows = np.array([(days[i].date - first).days for i in targets], dtype=np.intp) + lead
    n = rows.size
    out = np.full((n, _HOURS), np.nan)
    if n == 0:
        return out
    windows = sliding_window_view(padded, lead, axis=0)[rows - lead].transpose(0, 2, 1)
    # window-wise robust scale (the W training targets' prices, all hours)
    median, mad = _median_and_mad(windows[:, _MAX_LAG:, :].reshape(n, -1))
    z = np.arcsinh((windows - median[:, None, None]) / mad[:, None, None])  # (n, lead, 24)

    # training samples j = lag .. lead-1 (days c-W .. c-1), and the target day itself (lead)
    z_ext = np.concatenate((z, np.zeros((n, 1, _HOURS))), axis=1)
    sample = np.arange(_MAX_LAG, lead + 1)
    lag1 = z_ext[:, sample - 1, :]  # (n, W+1, 24): D-1 all hours
    same = np.stack([z_ext[:, sample - k, :] for k in SAME_HOUR_LAGS], axis=-1)  # (n,W+1,24,3)
    target = z_ext[:, sample, :]  # (n, W+1, 24); the last column is the unknown day
    weekday = (first.toordinal() - lead + rows[:, None] + sample[None, :] - lead) % 7
    dummies = (weekday[..., None] == np.arange(7)).astype(float)  # (n, W+1, 7)

    ok = ~np.isnan(lag1).any(axis=2) & ~np.isnan(same).any(axis=(2, 3))  # features present
    valid = ok[:, :-1] & ~np.isnan(target[:, :-1]).any(axis=2)
    has_model = ok[:, -1] & (valid.sum(axis=1) >= min_train_days)

    shared = np.concatenate((np.nan_to_num(lag1), dummies), axis=2)  # (n, W+1, 31)
    same = np.nan_to_num(same)
    y = np.nan_to_num(target[:, :-1, :])
    m = valid.astype(float)[:, :, None]
    xs, xs_pred = shared[:, :-1, :] * m, shared[:, -1, :]
    xh, xh_pred = same[:, :-1], same[:, -1]
    xh = xh * m[..., None]
    beta_s, beta_h = _ridge(xs, xh, y, ridge_lambda)
    z_hat = np.einsum("ni,nhi->nh", xs_pred, beta_s) + np.einsum("nhi,nhi->nh", xh_pred, beta_h)
    # never beyond the window's own range by more than one asinh unit (an extrapolating fit
    # on wild prices must not overflow sinh)
    reach = np.nanmax(np.abs(np.where(np.isnan(z), 0.0, z)), axis=(1, 2)) + 1.0
    z_hat = np.clip(z_hat, -reach[:, None], reach[:, None])
    predicted = median[:, None] + mad[:, None] * np.sinh(z_hat)
    out[has_model] = predicted[has_model]
    return out


def _median_and_mad(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise median and scaled MAD ignoring NaN (0 and 1 for rows without numbers)."""
    counts = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(values.shape[0])
    low, high = np.maximum(counts - 1, 0) // 2, np.maximum(counts, 1) // 2

    def median_of(x: np.ndarray) -> np.ndarray:
        ordered = np.sort(x, axis=1)  # NaN sort last
        return 0.5 * (ordered[rows, low] + ordered[rows, high])

    median = median_of(values)
    mad = median_of(np.abs(values - median[:, None])) * _MAD_TO_SIGMA
    ok = (counts > 0) & (mad > 1e-9)
    return np.where(counts > 0, median, 0.0), np.where(ok, mad, 1.0)


def _ridge(
    xs: np.ndarray, xh: np.ndarray, y: np.ndarray, ridge_lambda: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge coefficients of every (day, hour) model.

    ``xs`` (n, W, ks): features shared by the 24 hours' models (D-1's prices, weekdays, whose
    last 7 columns are not penalised); ``xh`` (n, W, 24, kh): each hour's own features; ``y``
    (n, W, 24): targets. The normal equations ``[[A, B], [B', C]] [bs; bh] = [rs; rh]`` share
    ``A`` across the hours, so they are solved by the Schur complement: one ks x ks solve per
    day and one kh x kh solve per (day, hour).
    """
    n, _, ks = xs.shape
    kh = xh.shape[3]
    penalty = np.full(ks, float(ridge_lambda))
    penalty[ks - 7 :] = 1e-3  # weekday levels: (practically) unpenalised
    xs_t = xs.transpose(0, 2, 1)
    a = xs_t @ xs + np.diag(penalty)  # (n, ks, ks)
    b = (xs_t @ xh.reshape(n, -1, _HOURS * kh)).reshape(n, ks, _HOURS, kh)
    c = np.einsum("nwhi,nwhj->nhij", xh, xh, optimize=True) + ridge_lambda * np.eye(kh)
    rs = xs_t @ y  # (n, ks, 24)
    rh = np.einsum("nwhi,nwh->nhi", xh, y, optimize=True)  # (n, 24, kh)
    solved = np.linalg.solve(a, np.concatenate((b.reshape(n, ks, -1), rs), axis=2))
    a_inv_b = solved[:, :, : _HOURS * kh].reshape(n, ks, _HOURS, kh)
    a_inv_rs = solved[:, :, _HOURS * kh :]  # (n, ks, 24)
    schur = c - np.einsum("nihj,nihk->nhjk", b, a_inv_b, optimize=True)
    rhs = rh - np.einsum("nihj,nih->nhj", b, a_inv_rs, optimize=True)
    beta_h = np.linalg.solve(schur, rhs[..., None])[..., 0]  # (n, 24, kh)
    beta_s = a_inv_rs.transpose(0, 2, 1) - np.einsum(
        "nihj,nhj->nhi", a_inv_b, beta_h, optimize=True
    )
    return beta_s, beta_h


def combined_profiles(
    days: Sequence[MarketDay],
    targets: np.ndarray,
    *,
    window_days: int = WINDOW_DAYS,
    ridge_lambda: float = RIDGE_LAMBDA,
    blend_days: int = BLEND_DAYS,
    min_train_days: int = MIN_TRAIN_DAYS,
) -> np.ndarray:
    """The forecast ``learned`` schedules on, for ``days[i]``, i in ``targets``: the model and
    the 7-day mean weighed by their errors on the ``blend_days`` days before (row i uses days
    before ``days[i]`` only); NaN rows where no earlier day exists."""
    mean7 = forecast_profiles(days)
    first_scored = max(int(targets.min()) - blend_days, 0) if targets.size else 0
    scored = np.arange(first_scored, len(days))
    model = learned_profiles(
        days,
        scored,
        window_days=window_days,
        ridge_lambda=ridge_lambda,
        min_train_days=min_train_days,
    )
    later = days[first_scored:]
    actual = np.array([to_24_hours(d.prices) for d in later])
    err_model = np.mean((model - actual) ** 2, axis=1)
    err_mean = np.mean((mean7[scored] - actual) ** 2, axis=1)
    dates = np.array([d.date.toordinal() for d in later])
    out = np.empty((targets.size, _HOURS))
    for row, i in enumerate(targets):
        j = i - first_scored
        mine, fallback = model[j], mean7[i]
        if np.isnan(mine).any():
            out[row] = fallback
            continue
        before = (dates < dates[j]) & (dates >= dates[j] - blend_days)
        e_model, e_mean = err_model[before], err_mean[before]
        both = ~np.isnan(e_model) & ~np.isnan(e_mean)
        if both.sum() == 0 or np.isnan(fallback).any():
            out[row] = mine
            continue
        w_model = 1.0 / max(float(e_model[both].mean()), 1e-9)
        w_mean = 1.0 / max(float(e_mean[both].mean()), 1e-9)
        out[row] = (w_model * mine + w_mean * fallback) / (w_model + w_mean)
    return out


class Learned(Strategy):
    name = "learned"
    description = (
        "No foresight: schedules each day on a ridge-regularised autoregressive price forecast "
        "(LEAR-style, refitted daily on earlier days only, blended with the 7-day mean), then "
        "settles at the actual prices."
    )
    order = 50

    def dispatch(
        self,
        days: Sequence[MarketDay],
        battery: Battery,
        *,
        horizon: Horizon,
        deadline_s: float | None = None,
        history: Sequence[MarketDay] = (),
    ) -> Dispatch:
        earlier = earlier_days(history, days[0].date)
        every = [*earlier, *days]
        targets = np.arange(len(earlier), len(every))
        _check_deadline(deadline_s, "fitting the price model")
        profiles = combined_profiles(every, targets)
        _check_deadline(deadline_s, "fitting the price model")  # the optimizer checks on
        return schedule_on_profiles(days, profiles, battery, deadline_s=deadline_s)


def _check_deadline(deadline_s: float | None, doing: str) -> None:
    """The request deadline as a last guard (``Strategy.dispatch``); never changes a number."""
    if deadline_s is not None and time.monotonic() > deadline_s:
        raise DeadlineExceededError(f"the request's deadline passed while {doing}")


STRATEGY = Learned()
