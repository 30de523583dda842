"""The synthetic source's random process: log prices of one zone or node over a range of days.

Prices for one (system, zone or node, process, date) depend only on those four values: every
random number is a counter-based hash (splitmix64) of a key seed (blake2b of the names) and the
day's ordinal, so a day is the same whichever range it is requested in, in any process, on any
machine. Everything is vectorised over the days of the query; 366 days take a few milliseconds.

The model, in log price (constants in ``prices.synthetic.model``):

    log p[d, h] = zone level (2026 median, de-seasonalised)
                + season(day of year) + weekday(d)
                + slow(d) + fast(d)                    day-level AR(1)s, mostly system-wide
                + amplitude(d) · profile(era(d), h)    mean normalised hourly shape
                + hourly(d, h)                         hour-to-hour AR(1) noise
                + spikes and dips                      rare, mostly in dear / cheap hours

MTR (real time) is the MDA price times a noisier deviation; a NodoP gets its zone's price
times a small node-specific factor. Clock-change days (``optimizer.clock``) lose the skipped
hour or repeat the doubled one, as CENACE publishes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache
from typing import Final

import numpy as np

from optimizer import MarketDay
from optimizer.clock import (
    FALL_BACK_HOURS,
    REPEATED_CLOCK_HOUR,
    SKIPPED_CLOCK_HOUR,
    SPRING_FORWARD_HOURS,
    hours_in_day,
)
from prices.base import Process, System
from prices.synthetic.model import (
    COMMON_DAY_SHARE,
    COMMON_HOUR_SHARE,
    FAST_TAPS,
    LEVEL_YEAR_FRACTION,
    LOG_BOUNDS,
    LOG_KNEES,
    MAX_AMPLITUDE_LOG,
    MIN_LOG_DEVIATION,
    MODELS,
    MTR_SPIKE_FACTOR,
    NODE_HOUR_LOG_SD,
    NODE_LOG_SD,
    SLOW_TAPS,
    ZONE_MODEL,
    SystemModel,
)


def generate(
    zone: str, node: str | None, system: System, process: Process, start: dt.date, end: dt.date
) -> list[MarketDay]:
    """The market days ``start`` .. ``end`` (inclusive, ``start <= end``) of a load zone, or of
    its NodoP ``node``, in ``system``'s ``process``."""
    days = np.arange(start.toordinal(), end.toordinal() + 1, dtype=np.int64)
    prices = hourly_prices(zone, node, system, process, days)
    seed = _seed(system, zone, process)
    return _market_days(start, prices, system=system, seed=seed, days=days)


def hourly_prices(
    zone: str, node: str | None, system: System, process: Process, days: np.ndarray
) -> np.ndarray:
    """Prices (MXN/MWh, rounded to 2 decimals) of the days with these ordinals on a 24-hour
    clock, one row per day, before clock-change days are given their 23 or 25 hours."""
    log_prices = _log_mda(zone, system, days)
    if process is Process.MTR:
        log_prices = log_prices + _log_mtr_deviation(zone, system, days)
    if node is not None:
        log_prices = log_prices + _node_deviation(node, system, days)
    log_level = float(np.log(ZONE_MODEL[zone][0]))
    log_prices = log_level + _soft_bound(log_prices - log_level)
    return np.round(np.exp(log_prices), 2)


# --- counter-based random numbers ---------------------------------------------------------------

_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX2: Final = np.uint64(0x94D049BB133111EB)
_SLOTS_PER_DAY: Final = np.uint64(256)

# Slot layout of the 256 draws each (seed, day) owns.
_HOURLY = 0  # 48 uniforms → 24 normals
_DAY = 48  # 2 → 1 normal (fast day-level innovation)
_SLOW = 50  # 2 → 1 normal (slow innovation)
_AMPLITUDE = 52  # 2 → 1 normal
_EXTRA_HOUR = 54  # 2 → 1 normal (25th hour on a fall-back day)
_SPIKE = 64  # 24 uniforms
_SPIKE_SIZE = 88  # 24 uniforms
_DIP = 112  # 24 uniforms
_DIP_SIZE = 136  # 24 uniforms


def _seed(*parts: str) -> np.uint64:
    """A stable 64-bit seed for a key (blake2b; never Python's randomised ``hash``)."""
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8, person=b"synthpml").digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _uniform(seed: np.uint64, days: np.ndarray, slot: int, count: int) -> np.ndarray:
    """Uniforms in (0, 1), shape (len(days), count): splitmix64 of (seed, day, slot)."""
    counter = days.astype(np.uint64)[:, None] * _SLOTS_PER_DAY + np.arange(
        slot, slot + count, dtype=np.uint64
    )
    z = np.add(seed, np.multiply(counter, _GOLDEN, dtype=np.uint64), dtype=np.uint64)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    uniforms: np.ndarray = ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return uniforms


def _normal(seed: np.uint64, days: np.ndarray, slot: int, count: int) -> np.ndarray:
    """Standard normals, shape (len(days), count), from 2·count slots (Box-Muller)."""
    u = _uniform(seed, days, slot, 2 * count)
    normals: np.ndarray = np.sqrt(-2.0 * np.log(u[:, :count])) * np.cos(2.0 * np.pi * u[:, count:])
    return normals


def _mixed_normal(
    common: np.uint64, own: np.uint64, days: np.ndarray, slot: int, count: int, share: float
) -> np.ndarray:
    """Unit normals whose variance is ``share`` common to the system and the rest own."""
    mixed: np.ndarray = np.sqrt(share) * _normal(common, days, slot, count) + np.sqrt(
        1.0 - share
    ) * _normal(own, days, slot, count)
    return mixed


def _ar1_days(
    common: np.uint64,
    own: np.uint64,
    days: np.ndarray,
    slot: int,
    *,
    phi: float,
    sd: float,
    taps: int,
) -> np.ndarray:
    """A stationary AR(1) over days as a truncated moving average of per-date innovations."""
    first = int(days[0])
    span = np.arange(first - taps + 1, int(days[-1]) + 1, dtype=np.int64)
    innovations = _mixed_normal(common, own, span, slot, 1, COMMON_DAY_SHARE)[:, 0]
    weights = sd * np.sqrt(1.0 - phi * phi) * phi ** np.arange(taps)
    return np.convolve(innovations, weights, mode="valid")


def _ar1_matrix(phi: float, sd: float, n: int = 24) -> np.ndarray:
    """M with (Z @ M.T)[d] a stationary AR(1) of n steps from n unit innovations Z[d]."""
    lag = np.arange(n)[:, None] - np.arange(n)[None, :]
    m: np.ndarray = (
        np.where(lag >= 0, phi ** np.clip(lag, 0, None), 0.0) * sd * np.sqrt(1.0 - phi * phi)
    )
    m[:, 0] = sd * phi ** np.arange(n)  # first hour drawn from the stationary distribution
    return m


@cache
def _hour_matrix(system: System) -> np.ndarray:
    """The MDA hour-to-hour AR(1) of ``system`` as a matrix (see ``_ar1_matrix``)."""
    model = MODELS[system]
    return _ar1_matrix(model.hour_phi, model.hour_sd)


@cache
def _mtr_matrix(system: System) -> np.ndarray:
    """The hourly AR(1) of log(MTR / MDA) of ``system`` as a matrix."""
    model = MODELS[system]
    return _ar1_matrix(model.mtr_hour_phi, model.mtr_hour_sd)


# --- the MDA model, the MTR deviation and the node factor ---------------------------------------


def _log_mda(zone: str, system: System, days: np.ndarray) -> np.ndarray:
    model = MODELS[system]
    level, zone_amplitude, spikiness = ZONE_MODEL[zone]
    # Spiky (congested) zones are noisier all round, not only in their spikes.
    noise = float(np.sqrt(spikiness))
    common, own = _seed(system, "*", Process.MDA), _seed(system, zone, Process.MDA)

    calendar = days - dt.date(1970, 1, 1).toordinal()
    d64 = calendar.astype("datetime64[D]")
    year_start = d64.astype("datetime64[Y]")
    year = year_start.astype(np.int64) + 1970
    fraction = ((d64 - year_start.astype("datetime64[D]")).astype(np.int64) + 0.5) / 365.25
    weekday = (calendar + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0

    base = np.log(level) - _season(model, np.array([LEVEL_YEAR_FRACTION]))[0]
    day_level = (
        base
        + model.level_log_correction
        + _season(model, fraction)
        + np.asarray(model.weekday_log)[weekday]
        + _ar1_days(common, own, days, _SLOW, phi=model.slow_phi, sd=model.slow_sd, taps=SLOW_TAPS)
        + _ar1_days(
            common, own, days, _DAY, phi=model.day_phi, sd=model.day_sd * noise, taps=FAST_TAPS
        )
    )

    # Hourly shape of the day's era; zones deviate from the system shape in proportion to
    # how far the day is towards 2026 (where per-zone shapes were measured).
    era = year + fraction
    anchors = np.asarray(model.profile_years)
    profiles = np.asarray(model.log_profiles)
    position = np.interp(era, anchors, np.arange(len(anchors), dtype=np.float64))
    lower = np.minimum(position.astype(np.int64), len(anchors) - 2)
    weight = (position - lower)[:, None]
    shape = (1.0 - weight) * profiles[lower] + weight * profiles[lower + 1]
    towards_2026 = np.clip((era - anchors[0]) / (anchors[-1] - anchors[0]), 0.0, 1.0)
    variation = (
        model.amplitude_log_sd
        * _mixed_normal(common, own, days, _AMPLITUDE, 1, COMMON_DAY_SHARE)[:, 0]
    )
    amplitude = (1.0 + towards_2026 * (zone_amplitude - 1.0)) * np.exp(
        np.clip(variation, -MAX_AMPLITUDE_LOG, MAX_AMPLITUDE_LOG)
    )
    expected = day_level[:, None] + amplitude[:, None] * shape
    log_prices = expected.copy()

    hourly = _mixed_normal(common, own, days, _HOURLY, 24, COMMON_HOUR_SHARE)
    log_prices += noise * (hourly @ _hour_matrix(system).T)

    # Spikes in dear hours, dips in cheap ones (zone-specific: congestion is local).
    dear = np.exp(2.0 * shape)
    dear /= dear.mean(axis=1, keepdims=True)
    cheap = np.exp(-2.0 * shape)
    cheap /= cheap.mean(axis=1, keepdims=True)
    p = model.spike_prob * spikiness
    size = model.spike_log_size * (1.0 + np.log(spikiness))
    spike = _uniform(own, days, _SPIKE, 24) < p * dear
    dip = _uniform(own, days, _DIP, 24) < p * cheap
    log_prices += spike * (np.log(1.4) - size * np.log(_uniform(own, days, _SPIKE_SIZE, 24)))
    log_prices -= dip * (np.log(1.4) - size * np.log(_uniform(own, days, _DIP_SIZE, 24)))
    bounded: np.ndarray = np.maximum(log_prices, expected + MIN_LOG_DEVIATION)
    return bounded


def _log_mtr_deviation(zone: str, system: System, days: np.ndarray) -> np.ndarray:
    """log(MTR / MDA): a bias, a day-level shift, hourly AR(1) noise and extra spikes."""
    model = MODELS[system]
    _, _, spikiness = ZONE_MODEL[zone]
    common, own = _seed(system, "*", Process.MTR), _seed(system, zone, Process.MTR)
    day = model.mtr_day_sd * _mixed_normal(common, own, days, _DAY, 1, COMMON_DAY_SHARE)
    hourly = _mixed_normal(common, own, days, _HOURLY, 24, COMMON_HOUR_SHARE)
    deviation = model.mtr_bias + day + hourly @ _mtr_matrix(system).T
    p = model.spike_prob * spikiness * MTR_SPIKE_FACTOR
    size = model.spike_log_size * (1.0 + np.log(spikiness))
    spike = _uniform(own, days, _SPIKE, 24) < p
    dip = _uniform(own, days, _DIP, 24) < p
    deviation += spike * (np.log(1.4) - size * np.log(_uniform(own, days, _SPIKE_SIZE, 24)))
    deviation -= dip * (np.log(1.4) - size * np.log(_uniform(own, days, _DIP_SIZE, 24)))
    bounded: np.ndarray = np.maximum(deviation, MIN_LOG_DEVIATION)
    return bounded


def _soft_bound(x: np.ndarray) -> np.ndarray:
    """Identity between the knees; beyond them, tanh-compressed towards the bounds."""
    (knee_low, knee_high), (low, high) = LOG_KNEES, LOG_BOUNDS
    above = knee_high + (high - knee_high) * np.tanh((x - knee_high) / (high - knee_high))
    below = knee_low - (knee_low - low) * np.tanh((knee_low - x) / (knee_low - low))
    return np.where(x > knee_high, above, np.where(x < knee_low, below, x))


def _season(model: SystemModel, fraction: np.ndarray) -> np.ndarray:
    c1, s1, c2, s2 = model.season
    angle = 2.0 * np.pi * fraction
    return c1 * np.cos(angle) + s1 * np.sin(angle) + c2 * np.cos(2 * angle) + s2 * np.sin(2 * angle)


def _node_deviation(node: str, system: System, days: np.ndarray) -> np.ndarray:
    """log(node price / zone price): a fixed per-node offset plus small hourly noise."""
    seed = _seed(system, "node", node)
    offset = NODE_LOG_SD * _normal(seed, np.zeros(1, dtype=np.int64), _DAY, 1)[0, 0]
    deviation: np.ndarray = offset + NODE_HOUR_LOG_SD * _normal(seed, days, _HOURLY, 24)
    return deviation


def _market_days(
    start: dt.date, prices: np.ndarray, *, system: System, seed: np.uint64, days: np.ndarray
) -> list[MarketDay]:
    """One MarketDay per row; on clock-change days drop the skipped clock hour (02:00) or repeat
    the doubled one (01:00, with its own noise), as CENACE publishes them."""
    rows: list[list[float]] = prices.tolist()
    dates = []
    offsets = [0]
    values: list[float] = []
    for i, row in enumerate(rows):
        date = start + dt.timedelta(days=i)
        hours = hours_in_day(system, date)
        if hours == SPRING_FORWARD_HOURS:
            del row[SKIPPED_CLOCK_HOUR]
        elif hours == FALL_BACK_HOURS:
            noise = _normal(seed, days[i : i + 1], _EXTRA_HOUR, 1)[0, 0]
            repeat = round(row[REPEATED_CLOCK_HOUR] * float(np.exp(0.05 * noise)), 2)
            row.insert(REPEATED_CLOCK_HOUR + 1, repeat)
        dates.append(date)
        values.extend(row)
        offsets.append(len(values))
    # checked and laid out as one array (MarketDay.split), not day by day
    return list(MarketDay.split(dates, np.array(values), offsets))
