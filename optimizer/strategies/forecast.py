"""``forecast``: scheduling without foresight (SPEC §3).

Day D is scheduled on a forecast built only from the days before it: for each
hour, the mean of that hour's price over up to the last 7 earlier days. The forecast day is
scheduled by the exact daily optimizer (the ``optimal`` strategy, called once for every
forecast day of the request), and settlement then prices that schedule at D's actual prices.
The gap to ``optimal`` is what foresight is worth.

Clock-change days (``optimizer.clock``). Mexico (and the US, for BCA) change clocks at 02:00:
a 23-hour day has no 02:00-03:00 hour, a 25-hour day has 01:00-02:00 twice. Every earlier day
is first put on a 24-hour clock -- a 23-hour day gets the missing hour as the mean of its
neighbours, a 25-hour day has its two 01:00 hours averaged -- and the 24-hour forecast is
mapped back to the target day's length by dropping 02:00 (23 hours) or repeating 01:00
(25 hours).

History and the caller's forecast (SPEC §11). Days before the first scheduled day
(``history``) are forecast inputs only, so the first day has a forecast too; with
``with_forecast`` the caller's own forecast of each day replaces the 7-day mean.

First day. With no earlier day (and no history) there is no forecast, and the first day
idles. A generic "typical Mexican price shape" would be an invented number unrelated to the
zone, season and fuel prices of the request; idling is the only choice that uses no
information the strategy does not have, and it costs at most one day's revenue. From the
second day on the forecast is the mean over the days available (1 to 7).
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from optimizer.battery import Battery
from optimizer.clock import (
    FALL_BACK_HOURS,
    REPEATED_CLOCK_HOUR,
    SKIPPED_CLOCK_HOUR,
    SPRING_FORWARD_HOURS,
)
from optimizer.market import MarketDay, market_days
from optimizer.results import Horizon
from optimizer.settle import Dispatch
from optimizer.strategies import optimal
from optimizer.strategies.base import Strategy

#: How many earlier days the forecast averages.
WINDOW_DAYS = 7
_DATE = attrgetter("date")


def to_24_hours(prices: Sequence[float] | np.ndarray) -> np.ndarray:
    """A day's prices on a 24-hour clock (see the module docstring)."""
    p = np.asarray(prices, dtype=float)
    if p.size == SPRING_FORWARD_HOURS:
        # market hours 1 and 2 are clock hours 1 and 3: the skipped clock hour 2 sits between
        gap = 0.5 * (p[SKIPPED_CLOCK_HOUR - 1] + p[SKIPPED_CLOCK_HOUR])
        return np.insert(p, SKIPPED_CLOCK_HOUR, gap)
    if p.size == FALL_BACK_HOURS:
        # market hours 1 and 2 are the two occurrences of the repeated clock hour 1
        r = REPEATED_CLOCK_HOUR
        return np.concatenate((p[:r], [0.5 * (p[r] + p[r + 1])], p[r + 2 :]))
    return p


def from_24_hours(profile: np.ndarray, hours: int) -> np.ndarray:
    """A 24-hour profile mapped onto a day of ``hours`` hours."""
    if hours == SPRING_FORWARD_HOURS:
        return np.delete(profile, SKIPPED_CLOCK_HOUR)
    if hours == FALL_BACK_HOURS:
        return np.insert(profile, REPEATED_CLOCK_HOUR, profile[REPEATED_CLOCK_HOUR])
    return profile


def days_on_24_hours(days: Sequence[MarketDay]) -> np.ndarray:
    """Row i: ``days[i]``'s prices on a 24-hour clock (``to_24_hours``), (days, 24); days of
    24 hours are stacked as they are."""
    prices = [d.prices for d in days]
    if all(p.size == 24 for p in prices):
        return np.array(prices).reshape(len(prices), 24)
    return np.array([to_24_hours(p) for p in prices]).reshape(len(prices), 24)


def forecast_profiles(days: Sequence[MarketDay]) -> np.ndarray:
    """Row i: the 24-hour forecast for day i from days max(0, i-7) .. i-1 (row 0 is NaN)."""
    return mean_profiles(days_on_24_hours(days))


def mean_profiles(profiles: np.ndarray) -> np.ndarray:
    """``forecast_profiles`` of the days whose 24-hour prices are ``profiles`` (one row each,
    ``days_on_24_hours``)."""
    total = np.concatenate((np.zeros((1, 24)), np.cumsum(profiles, axis=0)))
    i = np.arange(profiles.shape[0])
    first = np.maximum(i - WINDOW_DAYS, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((total[i] - total[first]) / (i - first)[:, None])


def schedule_on_profiles(
    days: Sequence[MarketDay],
    profiles: np.ndarray,
    battery: Battery,
    *,
    deadline_s: float | None = None,
) -> Dispatch:
    """Schedule ``days[i]`` exactly (``optimal``, daily) on the 24-hour forecast
    ``profiles[i]``; a day whose row has a NaN (no forecast) idles. Settlement later prices
    the schedule at the days' actual prices."""
    return schedule_plans([(days, profiles)], battery, deadline_s=deadline_s)[0]


def schedule_plans(
    plans: Sequence[tuple[Sequence[MarketDay], np.ndarray | None]],
    battery: Battery,
    *,
    deadline_s: float | None = None,
) -> list[Dispatch]:
    """Several daily schedules by ``optimal`` in one call: a plan ``(days, profiles)`` is
    scheduled as ``schedule_on_profiles(days, profiles)``, or, with ``profiles`` None, on the
    days' own prices (``optimal``'s daily schedule). Every day is solved on its own, so each
    plan gets exactly what it would get alone; one call shares ``optimal``'s per-hour work
    (a comparison runs ``optimal``, ``forecast`` and ``learned`` on the same days)."""
    layouts = [market_days(days) for days, _ in plans]
    to_solve: list[MarketDay] = []
    chosen: list[np.ndarray | None] = []  # per plan: which of its hours are scheduled (all: None)
    for layout, (_, profiles) in zip(layouts, plans, strict=True):
        if profiles is None:
            to_solve.extend(layout)
            chosen.append(None)
            continue
        forecast = ~np.isnan(profiles).any(axis=1)
        hours = layout.hours[forecast]
        bounds: Sequence[int]
        if (hours == profiles.shape[1]).all():  # days of 24 hours: the profiles as they are
            prices = profiles[forecast].reshape(-1)
            bounds = range(0, prices.size + 1, profiles.shape[1])
        else:
            picked = np.flatnonzero(forecast).tolist()
            prices = np.concatenate(
                [from_24_hours(profiles[i], int(n)) for i, n in zip(picked, hours, strict=True)]
            )
            bounds = [0, *np.cumsum(hours).tolist()]
        if hours.size:
            dates = [day.date for day, keep in zip(layout, forecast.tolist(), strict=True) if keep]
            to_solve.extend(MarketDay.split(dates, prices, bounds))
        chosen.append(None if forecast.all() else np.repeat(forecast, layout.hours))
    charge = np.zeros(0)
    discharge = np.zeros(0)
    if to_solve:
        # each day is scheduled on its own (daily), whatever the horizon: the next day's
        # forecast is not known when today is scheduled
        planned = optimal.STRATEGY.dispatch(
            market_days(to_solve), battery, horizon=Horizon.DAILY, deadline_s=deadline_s
        )
        charge = np.asarray(planned.charge_mw, dtype=float)
        discharge = np.asarray(planned.discharge_mw, dtype=float)
    out = []
    start = 0
    for layout, mask in zip(layouts, chosen, strict=True):
        if mask is None:  # every hour scheduled: the plan's run of the solved hours
            stop = start + int(layout.offsets[-1])
            out.append(Dispatch(charge[start:stop].copy(), discharge[start:stop].copy()))
            start = stop
            continue
        stop = start + int(mask.sum())
        plan_charge, plan_discharge = np.zeros(mask.size), np.zeros(mask.size)
        plan_charge[mask] = charge[start:stop]
        plan_discharge[mask] = discharge[start:stop]
        out.append(Dispatch(plan_charge, plan_discharge))
        start = stop
    return out


def earlier_days(history: Sequence[MarketDay], first: dt.date) -> list[MarketDay]:
    """The history days before ``first``, in date order (later ones are ignored)."""
    return sorted((d for d in history if d.date < first), key=_DATE)


class ProfileStrategy(Strategy):
    """A strategy without foresight: a 24-hour price forecast of every day (``profiles``),
    on which ``optimal`` schedules the day (daily); settlement prices it at the actual
    prices. ``optimizer.run`` schedules the forecasts of several such strategies, and
    ``optimal``'s own days, in one call (``schedule_plans``)."""

    @abstractmethod
    def profiles(
        self,
        days: Sequence[MarketDay],
        history: Sequence[MarketDay] = (),
        *,
        deadline_s: float | None = None,
    ) -> np.ndarray:
        """Row i: the 24-hour forecast ``days[i]`` is scheduled on, from days before it only
        (``days[:i]`` and ``history``); a row with a NaN idles that day."""

    def dispatch(
        self,
        days: Sequence[MarketDay],
        battery: Battery,
        *,
        horizon: Horizon,
        deadline_s: float | None = None,
        history: Sequence[MarketDay] = (),
    ) -> Dispatch:
        profiles = self.profiles(days, history, deadline_s=deadline_s)
        return schedule_on_profiles(days, profiles, battery, deadline_s=deadline_s)


class Forecast(ProfileStrategy):
    name = "forecast"
    description = (
        "No foresight: schedules each day on the mean of the same hour over the last 7 days "
        "(or on your own forecast), then settles at the actual prices."
    )
    order = 40
    needs_history = True

    def __init__(self, caller_forecast: Sequence[MarketDay] = ()) -> None:
        #: the caller's forecast by date (SPEC §11); empty: the 7-day mean
        self.caller_forecast = {day.date: day for day in caller_forecast}

    def with_forecast(self, forecast: Sequence[MarketDay]) -> Forecast:
        """``forecast`` scheduling each day on the caller's forecast of it (a day the caller
        left out keeps the 7-day mean); a forecast day of another length than the actual day
        is mapped through the 24-hour clock."""
        return Forecast(forecast)

    def profiles(
        self,
        days: Sequence[MarketDay],
        history: Sequence[MarketDay] = (),
        *,
        deadline_s: float | None = None,
    ) -> np.ndarray:
        earlier = earlier_days(history, days[0].date)
        profiles = forecast_profiles([*earlier, *days])[len(earlier) :]
        for i, day in enumerate(days):
            mine = self.caller_forecast.get(day.date)
            if mine is not None:
                profiles[i] = to_24_hours(mine.prices)
        return profiles


STRATEGY = Forecast()
