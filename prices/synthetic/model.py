"""The synthetic source's calibrated constants: per-system model parameters, per-zone levels,
shapes and spikiness, and the bounds of the generated prices.

Every number here is measured on the real CENACE files in data/cenace/ by
``bench/calibrate_synthetic.py --fit`` (or tuned so that its side-by-side comparison of data and
generator matches); docs/synthetic-prices.md explains each term and shows the fit. The random
process that uses them is ``prices.synthetic.generator``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np

from prices.base import System


@dataclass(frozen=True, kw_only=True)
class SystemModel:
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
_SIN = SystemModel(
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

_BCA = SystemModel(
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

_BCS = SystemModel(
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

MODELS: Final[dict[System, SystemModel]] = {System.SIN: _SIN, System.BCA: _BCA, System.BCS: _BCS}

#: Share of the variance of day-level and hour-level noise common to every zone of a system
#: (correlation of daily log returns, and of hourly residuals, between the 5 SIN zones of the
#: 2016-17 file: 0.94 and 0.86). Zones of one system therefore move together, as real ones do.
COMMON_DAY_SHARE: Final = 0.94
COMMON_HOUR_SHARE: Final = 0.86

#: The 2026 week the zone levels were measured in: its middle, as a year fraction.
LEVEL_YEAR_FRACTION: Final = (dt.date(2026, 6, 28).timetuple().tm_yday - 0.5) / 365.25

#: Per zone, from the 2026-06-25 .. 07-01 MDA file (all 108 zones): median price (MXN/MWh),
#: amplitude of the zone's mean hourly shape relative to its system's, and how much more often
#: than an ordinary zone its prices jump above 1.5x their expected value (floored at 1).
#: Printed by ``bench/calibrate_synthetic.py --fit``.
ZONE_MODEL: Final[dict[str, tuple[float, float, float]]] = {
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
NODE_LOG_SD: Final = 0.03
NODE_HOUR_LOG_SD: Final = 0.02
#: MTR spikes are this many times more frequent than MDA spikes.
MTR_SPIKE_FACTOR: Final = 3.0
#: No hour falls below this fraction of its expected price (keeps dips plausible).
MIN_LOG_DEVIATION: Final = float(np.log(0.1))
#: A day's shape is at most this much (log) steeper or flatter than the average shape.
MAX_AMPLITUDE_LOG: Final = float(np.log(1.6))
#: Every price (MDA, MTR, node) stays within 0.05x..30x its zone's level, approached smoothly
#: beyond 0.25x and 5x (no pile-up at the bounds): the real files range from 0.11x (2026
#: minimum / median) to 27x (CANCUN's 2026 maximum / median).
LOG_KNEES: Final = (float(np.log(0.25)), float(np.log(5.0)))
LOG_BOUNDS: Final = (float(np.log(0.05)), float(np.log(30.0)))
#: Day-level AR(1) components are moving averages truncated at these many days, so a day's
#: value depends only on its own date (never on the requested range).
FAST_TAPS: Final = 24
SLOW_TAPS: Final = 200
