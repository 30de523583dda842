"""The offline default price source (SPEC §5): deterministic, realistic synthetic zone prices.

Prices for one (system, zone or node, process, date) depend only on those four values: every
random number is a counter-based hash (splitmix64) of a key seed (blake2b of the names) and the
day's ordinal, so a day is the same whichever range it is requested in, in any process, on any
machine. Everything is vectorised over the days of the query; 366 days take a few milliseconds.

The model, in log price (constants fitted on the real CENACE files by
``bench/calibrate_synthetic.py``; docs/synthetic-prices.md explains each term and shows the fit):

    log p[d, h] = zone level (2026 median, de-seasonalised)
                + season(day of year) + weekday(d)
                + slow(d) + fast(d)                    day-level AR(1)s, mostly system-wide
                + amplitude(d) · profile(era(d), h)    mean normalised hourly shape
                + hourly(d, h)                         hour-to-hour AR(1) noise
                + spikes and dips                      rare, mostly in dear / cheap hours

MTR (real time) is the MDA price times a noisier deviation; a NodoP gets its zone's price
times a small node-specific factor. BCA keeps US daylight-saving time (23/25-hour days); SIN and
BCS had Mexican DST until October 2022.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Final

import numpy as np

from optimizer import MarketDay
from prices.base import NoPricesError, PriceQuery, Process, System
from prices.zones import ZONES, close_matches, node_zone, tie_node_system

# --- fitted constants ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _SystemModel:
    """Per-system constants. "fit" values are printed by ``bench/calibrate_synthetic.py --fit``
    from the real files; "tuned" values were then adjusted so that the same script's
    side-by-side comparison (data vs generator) matches; docs/synthetic-prices.md has both."""

    #: Years the hourly profiles were measured in (middle of each real file's dates).
    profile_years: tuple[float, ...]
    #: log of the mean normalised hourly profile (price / day mean), hour-beginning 0..23.
    log_profiles: tuple[tuple[float, ...], ...]
    #: Monday..Sunday log factor (2016-17 MDA, after monthly means).
    weekday_log: tuple[float, ...]
    #: Season: log factor = c1·cos(2πf) + s1·sin(2πf) + c2·cos(4πf) + s2·sin(4πf), f = year
    #: fraction (2016-17 MDA monthly log means, with a linear trend fitted and dropped).
    season: tuple[float, float, float, float]
    #: Fast day-level AR(1) of log daily mean after month and weekday (2016-17 MDA fit; sd
    #: tuned down where the amplitude and slow terms already add day-to-day variance).
    day_phi: float
    day_sd: float
    #: Slow (month-scale) AR(1): sd = residual sd of the monthly season fit; phi chosen
    #: (0.97/day, about a month's memory).
    slow_phi: float
    slow_sd: float
    #: Day-to-day log-sd of the profile's amplitude (2026 week: the era with the clearest shape).
    amplitude_log_sd: float
    #: Hour-to-hour AR(1) of the log residual after day mean and profile (fit: mean over the
    #: eras; sd tuned down because amplitude variation and spikes add to the residual).
    hour_phi: float
    hour_sd: float
    #: Probability per hour of a spike (and of a dip) in an ordinary zone, and the mean of the
    #: exponential part of its log size (tuned: share of hours above 1.5x / 2x their expected
    #: price, and below 0.5x, as in the data).
    spike_prob: float
    spike_log_size: float
    #: log(MTR / MDA): mean, day-level sd, hourly AR(1) (fit on the 2017 and 2020-08 files,
    #: averaged; the two disagree: 2017 MTR was new and wild, August 2020 calm).
    mtr_bias: float
    mtr_day_sd: float
    mtr_hour_phi: float
    mtr_hour_sd: float
    #: Level correction (fit by simulation: ``level bias`` in the --fit output) so that the
    #: generator's median over the 2026 week, across 40 years of draws, equals the real one.
    level_log_correction: float


# fmt: off
_SIN = _SystemModel(
    profile_years=(2016.9, 2020.6, 2026.5),
    log_profiles=(
        # 2016-01 .. 2017-06, 5 SIN zones: night valley, flat day, evening shoulder.
        (-0.071, -0.170, -0.243, -0.296, -0.316, -0.290, -0.206, -0.136, -0.046, 0.034, 0.076,
         0.095, 0.110, 0.119, 0.125, 0.126, 0.133, 0.112, 0.104, 0.108, 0.129, 0.120, 0.089, 0.009),
        # 2020-08, 26 SIN zones: flat, evening peak.
        (0.030, 0.002, -0.017, -0.028, -0.037, -0.027, -0.014, -0.015, -0.016, -0.035, -0.040,
         -0.034, -0.024, -0.011, -0.013, -0.015, -0.007, -0.012, -0.017, 0.005, 0.064, 0.087,
         0.090, 0.068),
        # 2026-06-25 .. 07-01, 101 SIN zones: solar midday valley, sharp 19-21 h peak.
        (0.034, -0.031, -0.076, -0.091, -0.108, -0.117, -0.164, -0.257, -0.288, -0.298, -0.294,
         -0.243, -0.237, -0.209, -0.154, -0.126, -0.103, -0.114, -0.060, 0.237, 0.798, 0.687,
         0.106, 0.058),
    ),
    weekday_log=(-0.006, 0.079, 0.079, 0.085, 0.093, -0.036, -0.294),
    season=(-0.240, -0.025, 0.018, 0.033),
    day_phi=0.55,
    day_sd=0.17,
    slow_phi=0.97,
    slow_sd=0.129,
    amplitude_log_sd=0.47,
    hour_phi=0.8,
    hour_sd=0.13,
    spike_prob=0.002,
    spike_log_size=0.2,
    mtr_bias=0.06,
    mtr_day_sd=0.16,
    mtr_hour_phi=0.58,
    mtr_hour_sd=0.15,
    level_log_correction=0.090,
)

_BCA = _SystemModel(
    profile_years=(2016.9, 2026.5),
    log_profiles=(
        # 2016-01 .. 2017-06, MEXICALI.
        (-0.050, -0.090, -0.131, -0.143, -0.145, -0.155, -0.151, -0.107, -0.075, -0.039, 0.013,
         0.062, 0.064, 0.086, 0.084, 0.098, 0.080, 0.087, 0.093, 0.114, 0.109, 0.076, 0.030,
         -0.017),
        # 2026-06-25 .. 07-01, 4 BCA zones: summer air-conditioning evening.
        (-0.052, -0.110, -0.253, -0.339, -0.360, -0.359, -0.385, -0.366, -0.328, -0.368, -0.296,
         -0.207, -0.082, 0.007, 0.091, 0.145, 0.204, 0.273, 0.371, 0.426, 0.473, 0.319, 0.283,
         -0.087),
    ),
    weekday_log=(-0.003, 0.011, 0.039, 0.019, 0.031, -0.019, -0.077),
    season=(-0.121, -0.265, 0.126, 0.100),
    day_phi=0.53,
    day_sd=0.117,
    slow_phi=0.97,
    slow_sd=0.100,
    amplitude_log_sd=0.53,
    hour_phi=0.65,
    hour_sd=0.13,
    spike_prob=0.003,
    spike_log_size=0.2,
    mtr_bias=0.02,
    mtr_day_sd=0.20,
    mtr_hour_phi=0.44,
    mtr_hour_sd=0.20,
    level_log_correction=0.031,
)

_BCS = _SystemModel(
    profile_years=(2016.9, 2026.5),
    log_profiles=(
        # 2016-03 .. 2017-06, LA PAZ.
        (-0.010, -0.062, -0.116, -0.168, -0.195, -0.192, -0.191, -0.190, -0.148, -0.083, -0.040,
         0.001, 0.025, 0.057, 0.085, 0.116, 0.139, 0.145, 0.122, 0.102, 0.152, 0.147, 0.098,
         0.027),
        # 2026-06-25 .. 07-01, 3 BCS zones.
        (0.204, 0.133, 0.039, -0.106, -0.330, -0.364, -0.476, -0.477, -0.418, -0.382, -0.315,
         -0.178, -0.069, 0.018, 0.092, 0.194, 0.169, 0.213, 0.260, 0.220, 0.222, 0.239, 0.212,
         0.138),
    ),
    weekday_log=(0.025, 0.040, 0.027, 0.022, -0.010, -0.023, -0.080),
    season=(-0.142, -0.163, 0.019, -0.009),
    day_phi=0.65,
    day_sd=0.195,
    slow_phi=0.97,
    slow_sd=0.156,
    amplitude_log_sd=0.35,
    hour_phi=0.78,
    hour_sd=0.15,
    spike_prob=0.006,
    spike_log_size=0.2,
    mtr_bias=0.08,
    mtr_day_sd=0.10,
    mtr_hour_phi=0.45,
    mtr_hour_sd=0.14,
    level_log_correction=0.016,
)

# fmt: on

_MODELS: Final[dict[System, _SystemModel]] = {System.SIN: _SIN, System.BCA: _BCA, System.BCS: _BCS}

#: Share of the variance of day-level and hour-level noise common to every zone of a system
#: (correlation of daily log returns, and of hourly residuals, between the 5 SIN zones of the
#: 2016-17 file: 0.94 and 0.86). Zones of one system therefore move together, as real ones do.
_COMMON_DAY_SHARE: Final = 0.94
_COMMON_HOUR_SHARE: Final = 0.86

#: The 2026 week the zone levels were measured in: its middle, as a year fraction.
_LEVEL_YEAR_FRACTION: Final = (dt.date(2026, 6, 28).timetuple().tm_yday - 0.5) / 365.25

#: Per zone, from the 2026-06-25 .. 07-01 MDA file (all 108 zones): median price (MXN/MWh),
#: amplitude of the zone's mean hourly shape relative to its system's, and how much more often
#: than an ordinary zone its prices jump above 1.5x their expected value (floored at 1).
#: Printed by ``bench/calibrate_synthetic.py --fit``.
_ZONE_MODEL: Final[dict[str, tuple[float, float, float]]] = {
    "ACAPULCO": (549.2, 0.85, 1.0),  # SIN
    "AGUASCALIENTES": (501.4, 0.91, 1.0),  # SIN
    "APATZINGAN": (532.9, 0.90, 1.0),  # SIN
    "CABORCA": (349.0, 2.12, 7.4),  # SIN
    "CAMARGO": (483.5, 1.17, 1.0),  # SIN
    "CAMPECHE": (588.3, 1.33, 3.0),  # SIN
    "CANCUN": (615.2, 1.61, 14.8),  # SIN
    "CARMEN": (603.5, 1.28, 3.0),  # SIN
    "CASAS GRANDES": (437.0, 1.30, 1.0),  # SIN
    "CELAYA": (497.4, 0.88, 1.0),  # SIN
    "CENTRO ORIENTE": (500.0, 0.86, 1.0),  # SIN
    "CENTRO SUR": (507.9, 0.85, 1.0),  # SIN
    "CHETUMAL": (600.6, 1.30, 3.0),  # SIN
    "CHIHUAHUA": (449.1, 1.22, 1.0),  # SIN
    "CHILPANCINGO": (543.8, 0.84, 1.0),  # SIN
    "CHONTALPA": (532.8, 1.20, 2.0),  # SIN
    "CIENEGA": (507.9, 0.88, 1.0),  # SIN
    "COATZACOALCOS": (517.8, 0.80, 1.0),  # SIN
    "COLIMA": (496.0, 0.87, 1.0),  # SIN
    "CORDOBA": (501.8, 0.84, 1.5),  # SIN
    "CUAUHTEMOC": (478.9, 1.19, 1.0),  # SIN
    "CUAUTLA": (510.3, 0.85, 1.0),  # SIN
    "CUERNAVACA": (508.6, 0.85, 1.0),  # SIN
    "CULIACAN": (527.2, 0.91, 1.0),  # SIN
    "DURANGO": (506.5, 0.97, 1.0),  # SIN
    "FRESNILLO": (520.7, 0.94, 1.0),  # SIN
    "GUADALAJARA": (504.9, 0.88, 1.0),  # SIN
    "GUASAVE": (530.6, 0.92, 1.0),  # SIN
    "GUAYMAS": (394.7, 1.57, 1.0),  # SIN
    "HERMOSILLO": (402.5, 1.54, 1.0),  # SIN
    "HUAJUAPAN": (544.2, 0.86, 1.0),  # SIN
    "HUASTECA": (493.0, 0.90, 1.0),  # SIN
    "HUATULCO": (603.2, 0.88, 1.0),  # SIN
    "HUEJUTLA": (500.8, 0.89, 1.0),  # SIN
    "IGUALA": (541.4, 0.83, 1.0),  # SIN
    "IRAPUATO": (505.6, 0.88, 1.0),  # SIN
    "IXMIQUILPAN": (492.2, 0.87, 1.0),  # SIN
    "IZUCAR": (525.4, 0.85, 1.0),  # SIN
    "JIQUILPAN": (501.2, 0.87, 1.0),  # SIN
    "JUAREZ": (387.9, 1.37, 1.0),  # SIN
    "LAGUNA": (490.6, 1.01, 1.0),  # SIN
    "LAZARO CARDENAS": (496.7, 0.84, 1.0),  # SIN
    "LEON": (508.4, 0.89, 1.0),  # SIN
    "LOS ALTOS": (512.9, 0.90, 1.0),  # SIN
    "LOS MOCHIS": (407.9, 1.54, 1.0),  # SIN
    "LOS RIOS": (545.5, 1.24, 2.0),  # SIN
    "LOS TUXTLAS": (543.3, 0.85, 1.0),  # SIN
    "MANZANILLO": (488.6, 0.88, 1.0),  # SIN
    "MATAMOROS": (457.4, 0.93, 1.0),  # SIN
    "MATEHUALA": (513.0, 0.89, 1.0),  # SIN
    "MAZATLAN": (525.7, 0.91, 1.0),  # SIN
    "MERIDA": (586.6, 1.55, 4.9),  # SIN
    "MINAS": (512.9, 0.89, 1.0),  # SIN
    "MONCLOVA": (479.1, 0.96, 1.0),  # SIN
    "MONTEMORELOS": (485.1, 0.93, 1.0),  # SIN
    "MONTERREY": (476.7, 0.94, 1.0),  # SIN
    "MORELIA": (503.5, 0.88, 1.0),  # SIN
    "MORELOS": (508.4, 0.85, 1.0),  # SIN
    "MOTUL TIZIMIN": (586.9, 1.65, 11.4),  # SIN
    "NAVOJOA": (412.5, 1.56, 1.0),  # SIN
    "NOGALES": (395.7, 1.54, 1.0),  # SIN
    "NUEVO LAREDO": (486.7, 0.98, 1.0),  # SIN
    "OAXACA": (529.3, 0.84, 1.0),  # SIN
    "OBREGON": (400.6, 1.56, 1.0),  # SIN
    "ORIZABA": (503.0, 0.83, 1.0),  # SIN
    "PIEDRAS NEGRAS": (471.5, 0.98, 1.0),  # SIN
    "POZA RICA": (487.0, 0.86, 1.0),  # SIN
    "PUEBLA": (503.3, 0.84, 1.0),  # SIN
    "QUERETARO": (498.2, 0.88, 1.0),  # SIN
    "REYNOSA": (457.4, 0.93, 1.0),  # SIN
    "RIVIERA MAYA": (1696.0, 1.14, 8.9),  # SIN
    "SABINAS": (480.1, 0.97, 1.0),  # SIN
    "SALTILLO": (479.0, 0.94, 1.0),  # SIN
    "SALVATIERRA": (498.9, 0.88, 1.0),  # SIN
    "SAN CRISTOBAL": (552.9, 0.81, 1.5),  # SIN
    "SAN JUAN DEL RIO": (493.3, 0.87, 1.0),  # SIN
    "SAN LUIS POTOSI": (490.2, 0.89, 1.0),  # SIN
    "SAN MARTIN": (503.9, 0.85, 1.0),  # SIN
    "TAMPICO": (474.6, 0.88, 1.0),  # SIN
    "TAPACHULA": (538.9, 0.79, 1.0),  # SIN
    "TECAMACHALCO": (509.2, 0.85, 1.0),  # SIN
    "TEHUACAN": (519.1, 0.84, 1.0),  # SIN
    "TEHUANTEPEC": (505.9, 0.84, 1.0),  # SIN
    "TEPIC VALLARTA": (529.8, 0.88, 1.0),  # SIN
    "TEZIUTLAN": (497.8, 0.88, 1.0),  # SIN
    "TICUL": (592.0, 1.38, 2.5),  # SIN
    "TLAXCALA": (502.4, 0.86, 1.0),  # SIN
    "TUXTLA": (525.6, 0.82, 1.5),  # SIN
    "URUAPAN": (513.2, 0.88, 1.0),  # SIN
    "VDM CENTRO": (503.9, 0.85, 1.0),  # SIN
    "VDM NORTE": (502.8, 0.85, 1.0),  # SIN
    "VDM SUR": (507.2, 0.85, 1.0),  # SIN
    "VERACRUZ": (500.8, 0.86, 1.5),  # SIN
    "VICTORIA": (489.3, 0.90, 1.0),  # SIN
    "VILLAHERMOSA": (529.3, 1.22, 2.0),  # SIN
    "XALAPA": (501.7, 0.88, 1.0),  # SIN
    "ZACAPU": (506.2, 0.87, 1.0),  # SIN
    "ZACATECAS": (508.6, 0.93, 1.0),  # SIN
    "ZAMORA": (510.6, 0.88, 1.0),  # SIN
    "ZAPOTLAN": (503.4, 0.87, 1.0),  # SIN
    "ZIHUATANEJO": (521.1, 0.84, 1.0),  # SIN
    "ENSENADA": (486.7, 0.98, 1.0),  # BCA
    "MEXICALI": (455.0, 1.02, 1.0),  # BCA
    "SANLUIS": (461.1, 1.04, 1.0),  # BCA
    "TIJUANA": (470.2, 0.97, 1.0),  # BCA
    "CONSTITUCION": (4632.4, 1.09, 1.0),  # BCS
    "LA PAZ": (5129.3, 1.09, 1.0),  # BCS
    "LOS CABOS": (5680.9, 0.83, 1.0),  # BCS
}

#: Node factor: a NodoP's price is its zone's times exp(N(0, sd)) per node, times hourly noise.
_NODE_LOG_SD: Final = 0.03
_NODE_HOUR_LOG_SD: Final = 0.02
#: MTR spikes are this many times more frequent than MDA spikes.
_MTR_SPIKE_FACTOR: Final = 3.0
#: No hour falls below this fraction of its expected price (keeps dips plausible).
_MIN_LOG_DEVIATION: Final = float(np.log(0.1))
#: A day's shape is at most this much (log) steeper or flatter than the average shape.
_MAX_AMPLITUDE_LOG: Final = float(np.log(1.6))
#: Every price (MDA, MTR, node) stays within 0.05x..30x its zone's level, approached smoothly
#: beyond 0.25x and 5x (no pile-up at the bounds): the real files range from 0.11x (2026
#: minimum / median) to 27x (CANCUN's 2026 maximum / median).
_LOG_KNEES: Final = (float(np.log(0.25)), float(np.log(5.0)))
_LOG_BOUNDS: Final = (float(np.log(0.05)), float(np.log(30.0)))
#: Day-level AR(1) components are moving averages truncated at these many days, so a day's
#: value depends only on its own date (never on the requested range).
_FAST_TAPS: Final = 24
_SLOW_TAPS: Final = 200

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
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _normal(seed: np.uint64, days: np.ndarray, slot: int, count: int) -> np.ndarray:
    """Standard normals, shape (len(days), count), from 2·count slots (Box-Muller)."""
    u = _uniform(seed, days, slot, 2 * count)
    return np.sqrt(-2.0 * np.log(u[:, :count])) * np.cos(2.0 * np.pi * u[:, count:])


def _mixed_normal(
    common: np.uint64, own: np.uint64, days: np.ndarray, slot: int, count: int, share: float
) -> np.ndarray:
    """Unit normals whose variance is ``share`` common to the system and the rest own."""
    return np.sqrt(share) * _normal(common, days, slot, count) + np.sqrt(1.0 - share) * _normal(
        own, days, slot, count
    )


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
    innovations = _mixed_normal(common, own, span, slot, 1, _COMMON_DAY_SHARE)[:, 0]
    weights = sd * np.sqrt(1.0 - phi * phi) * phi ** np.arange(taps)
    return np.convolve(innovations, weights, mode="valid")


def _ar1_matrix(phi: float, sd: float, n: int = 24) -> np.ndarray:
    """M with (Z @ M.T)[d] a stationary AR(1) of n steps from n unit innovations Z[d]."""
    lag = np.arange(n)[:, None] - np.arange(n)[None, :]
    m = np.where(lag >= 0, phi ** np.clip(lag, 0, None), 0.0) * sd * np.sqrt(1.0 - phi * phi)
    m[:, 0] = sd * phi ** np.arange(n)  # first hour drawn from the stationary distribution
    return m


# --- clock changes ------------------------------------------------------------------------------


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    """The n-th Sunday of a month (n = -1: the last)."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


def clock_changes(system: System, year: int) -> tuple[dt.date, dt.date] | None:
    """(23-hour day, 25-hour day) of a system's year, or ``None`` when it has no DST.

    BCA follows US daylight-saving time (since 2007: second Sunday of March → first Sunday of
    November; 1987-2006: first Sunday of April → last Sunday of October). SIN and BCS followed
    Mexico's (first Sunday of April → last Sunday of October; 2001: May → September) until
    Mexico abolished it after 2022-10-30.
    """
    if system is System.BCA:
        if year >= 2007:
            return _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)
        if year >= 1987:
            return _nth_sunday(year, 4, 1), _nth_sunday(year, 10, -1)
        return None
    if 1996 <= year <= 2022:
        if year == 2001:
            return _nth_sunday(year, 5, 1), _nth_sunday(year, 9, -1)
        return _nth_sunday(year, 4, 1), _nth_sunday(year, 10, -1)
    return None


# --- the source ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    zone: str
    node: str | None


class SyntheticSource:
    """Deterministic, realistic hourly prices for the 108 CENACE load zones and their NodosP."""

    name = "synthetic"

    def __init__(self) -> None:
        self._hour_matrix = {
            system: _ar1_matrix(model.hour_phi, model.hour_sd) for system, model in _MODELS.items()
        }
        self._mtr_matrix = {
            system: _ar1_matrix(model.mtr_hour_phi, model.mtr_hour_sd)
            for system, model in _MODELS.items()
        }

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        """``deadline_s`` is accepted for the ``PriceSource`` protocol: a year takes a few
        milliseconds, so there is nothing to cut short."""
        target = resolve(query.zone, System(query.system))
        if query.end < query.start:
            raise NoPricesError(f"no market days from {query.start} to {query.end}")
        system, process = System(query.system), Process(query.process)
        first = query.start.toordinal()
        days = np.arange(first, query.end.toordinal() + 1, dtype=np.int64)
        log_prices = self._log_mda(target.zone, system, days)
        zone_seed = _seed(system, target.zone, process)
        if process is Process.MTR:
            log_prices = log_prices + self._log_mtr_deviation(target.zone, system, days)
        if target.node is not None:
            log_prices = log_prices + _node_deviation(target.node, system, days)
        log_level = float(np.log(_ZONE_MODEL[target.zone][0]))
        log_prices = log_level + _soft_bound(log_prices - log_level)
        prices = np.round(np.exp(log_prices), 2)
        return _market_days(query.start, prices, system=system, seed=zone_seed, days=days)

    # The MDA model: see the module docstring.
    def _log_mda(self, zone: str, system: System, days: np.ndarray) -> np.ndarray:
        model = _MODELS[system]
        level, zone_amplitude, spikiness = _ZONE_MODEL[zone]
        # Spiky (congested) zones are noisier all round, not only in their spikes.
        noise = float(np.sqrt(spikiness))
        common, own = _seed(system, "*", Process.MDA), _seed(system, zone, Process.MDA)

        calendar = days - dt.date(1970, 1, 1).toordinal()
        d64 = calendar.astype("datetime64[D]")
        year_start = d64.astype("datetime64[Y]")
        year = year_start.astype(np.int64) + 1970
        fraction = ((d64 - year_start.astype("datetime64[D]")).astype(np.int64) + 0.5) / 365.25
        weekday = (calendar + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0

        base = np.log(level) - _season(model, np.array([_LEVEL_YEAR_FRACTION]))[0]
        day_level = (
            base
            + model.level_log_correction
            + _season(model, fraction)
            + np.asarray(model.weekday_log)[weekday]
            + _ar1_days(
                common, own, days, _SLOW, phi=model.slow_phi, sd=model.slow_sd, taps=_SLOW_TAPS
            )
            + _ar1_days(
                common, own, days, _DAY, phi=model.day_phi, sd=model.day_sd * noise, taps=_FAST_TAPS
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
            * _mixed_normal(common, own, days, _AMPLITUDE, 1, _COMMON_DAY_SHARE)[:, 0]
        )
        amplitude = (1.0 + towards_2026 * (zone_amplitude - 1.0)) * np.exp(
            np.clip(variation, -_MAX_AMPLITUDE_LOG, _MAX_AMPLITUDE_LOG)
        )
        expected = day_level[:, None] + amplitude[:, None] * shape
        log_prices = expected.copy()

        hourly = _mixed_normal(common, own, days, _HOURLY, 24, _COMMON_HOUR_SHARE)
        log_prices += noise * (hourly @ self._hour_matrix[system].T)

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
        return np.maximum(log_prices, expected + _MIN_LOG_DEVIATION)

    def _log_mtr_deviation(self, zone: str, system: System, days: np.ndarray) -> np.ndarray:
        """log(MTR / MDA): a bias, a day-level shift, hourly AR(1) noise and extra spikes."""
        model = _MODELS[system]
        _, _, spikiness = _ZONE_MODEL[zone]
        common, own = _seed(system, "*", Process.MTR), _seed(system, zone, Process.MTR)
        day = model.mtr_day_sd * _mixed_normal(common, own, days, _DAY, 1, _COMMON_DAY_SHARE)
        hourly = _mixed_normal(common, own, days, _HOURLY, 24, _COMMON_HOUR_SHARE)
        deviation = model.mtr_bias + day + hourly @ self._mtr_matrix[system].T
        p = model.spike_prob * spikiness * _MTR_SPIKE_FACTOR
        size = model.spike_log_size * (1.0 + np.log(spikiness))
        spike = _uniform(own, days, _SPIKE, 24) < p
        dip = _uniform(own, days, _DIP, 24) < p
        deviation += spike * (np.log(1.4) - size * np.log(_uniform(own, days, _SPIKE_SIZE, 24)))
        deviation -= dip * (np.log(1.4) - size * np.log(_uniform(own, days, _DIP_SIZE, 24)))
        return np.maximum(deviation, _MIN_LOG_DEVIATION)


def _soft_bound(x: np.ndarray) -> np.ndarray:
    """Identity between the knees; beyond them, tanh-compressed towards the bounds."""
    (knee_low, knee_high), (low, high) = _LOG_KNEES, _LOG_BOUNDS
    above = knee_high + (high - knee_high) * np.tanh((x - knee_high) / (high - knee_high))
    below = knee_low - (knee_low - low) * np.tanh((knee_low - x) / (knee_low - low))
    return np.where(x > knee_high, above, np.where(x < knee_low, below, x))


def _season(model: _SystemModel, fraction: np.ndarray) -> np.ndarray:
    c1, s1, c2, s2 = model.season
    angle = 2.0 * np.pi * fraction
    return c1 * np.cos(angle) + s1 * np.sin(angle) + c2 * np.cos(2 * angle) + s2 * np.sin(2 * angle)


def _node_deviation(node: str, system: System, days: np.ndarray) -> np.ndarray:
    """log(node price / zone price): a fixed per-node offset plus small hourly noise."""
    seed = _seed(system, "node", node)
    offset = _NODE_LOG_SD * _normal(seed, np.zeros(1, dtype=np.int64), _DAY, 1)[0, 0]
    return offset + _NODE_HOUR_LOG_SD * _normal(seed, days, _HOURLY, 24)


def _market_days(
    start: dt.date, prices: np.ndarray, *, system: System, seed: np.uint64, days: np.ndarray
) -> list[MarketDay]:
    """One MarketDay per row; on clock-change days drop the skipped hour (02:00) or repeat the
    doubled one (01:00, with its own noise), as CENACE publishes them."""
    rows: list[list[float]] = prices.tolist()
    changes: dict[dt.date, int] = {}
    end = start + dt.timedelta(days=len(rows) - 1)
    for year in range(start.year, end.year + 1):
        pair = clock_changes(system, year)
        if pair is not None:
            changes[pair[0]] = 23
            changes[pair[1]] = 25
    out = []
    for i, row in enumerate(rows):
        date = start + dt.timedelta(days=i)
        hours = changes.get(date, 24)
        if hours == 23:
            del row[2]
        elif hours == 25:
            noise = _normal(seed, days[i : i + 1], _EXTRA_HOUR, 1)[0, 0]
            row.insert(2, round(row[1] * float(np.exp(0.05 * noise)), 2))
        out.append(MarketDay(date, tuple(row)))
    return out


def resolve(name: str, system: System) -> _Target:
    """The load zone (and NodoP, if ``name`` is one) a request names, or a helpful 404."""
    key = " ".join(name.strip().upper().split())
    shown = key[:64]
    zone_system = ZONES.get(key) or ZONES.get(key.replace("-", " "))
    if zone_system is not None:
        zone = key if key in ZONES else key.replace("-", " ")
        if zone_system is not system:
            raise NoPricesError(
                f"load zone {zone} is in the {zone_system} system, not {system}; "
                f"ask for system {zone_system}"
            )
        return _Target(zone=zone, node=None)
    zone_of_node = node_zone(key)
    if zone_of_node is not None:
        node_system = ZONES[zone_of_node]
        if node_system is not system:
            raise NoPricesError(
                f"node {key} (load zone {zone_of_node}) is in the {node_system} system, "
                f"not {system}; ask for system {node_system}"
            )
        return _Target(zone=zone_of_node, node=key)
    tie_system = tie_node_system(key)
    if tie_system is not None:
        raise NoPricesError(
            f"node {key} is an international interconnection node of {tie_system} with no load "
            "zone; the synthetic source prices load zones and the nodes inside them"
        )
    suggestions = close_matches(key)
    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    raise NoPricesError(
        f"unknown load zone or node {shown!r}: the synthetic source knows CENACE's 108 load "
        f"zones and their NodosP (catalogue V20250926){hint}"
    )
