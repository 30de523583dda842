"""The battery model of SPEC §2: parameters, validation and derived quantities."""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer.errors import InvalidBatteryError

#: Smallest efficiency accepted: below it a battery is physically meaningless and the
#: numbers (P / eta) stop being well-conditioned for any solver.
MIN_EFFICIENCY = 0.01
_EFFICIENCY_RANGE = f"must be at least {MIN_EFFICIENCY} and at most 1"
#: the round trip of a one-way pair obeys the same lower bound as ``round_trip_efficiency``
ONE_WAY_PRODUCT_RANGE = (
    f"charge_efficiency * discharge_efficiency (the round trip) must be at least {MIN_EFFICIENCY}"
)


def _finite(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidBatteryError(field, "must be a number")
    if not math.isfinite(value):
        raise InvalidBatteryError(field, "must be a finite number")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class Battery:
    """A grid-connected battery (SPEC §2).

    ``power_mw`` is the charge and discharge limit at the grid connection; the energy capacity
    is ``power_mw * duration_h``. Efficiencies are fractions: ``round_trip_efficiency`` is split
    as sqrt(eta) each way unless both one-way efficiencies are given, which then replace it.
    SoC values are fractions of the energy capacity.
    """

    power_mw: float
    duration_h: float
    round_trip_efficiency: float = 0.85
    charge_efficiency: float | None = None
    discharge_efficiency: float | None = None
    min_soc: float = 0.0
    max_soc: float = 1.0
    initial_soc: float | None = None
    degradation_cost_mxn_per_mwh: float = 0.0
    max_cycles_per_day: float | None = None

    def __post_init__(self) -> None:
        self._validate()
        # store plain floats: an int here would leak integer dtypes into numpy arrays
        for field in (
            "power_mw",
            "duration_h",
            "round_trip_efficiency",
            "charge_efficiency",
            "discharge_efficiency",
            "min_soc",
            "max_soc",
            "initial_soc",
            "degradation_cost_mxn_per_mwh",
            "max_cycles_per_day",
        ):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, float(value))

    def _validate(self) -> None:
        power = _finite("capacity_mw", self.power_mw)
        if power <= 0:
            raise InvalidBatteryError("capacity_mw", "must be greater than 0")
        duration = _finite("duration_hours", self.duration_h)
        if duration <= 0:
            raise InvalidBatteryError("duration_hours", "must be greater than 0")
        one_way = (self.charge_efficiency, self.discharge_efficiency)
        if (one_way[0] is None) != (one_way[1] is None):
            field = "charge_efficiency" if one_way[0] is None else "discharge_efficiency"
            raise InvalidBatteryError(
                field, "charge_efficiency and discharge_efficiency must be given together"
            )
        for field, value in (
            ("charge_efficiency", one_way[0]),
            ("discharge_efficiency", one_way[1]),
        ):
            if value is not None and not MIN_EFFICIENCY <= _finite(field, value) <= 1:
                raise InvalidBatteryError(field, _EFFICIENCY_RANGE)
        # a one-way pair replaces the round trip: blame the fields that were given
        if (
            one_way[0] is not None
            and one_way[1] is not None
            and one_way[0] * one_way[1] < MIN_EFFICIENCY
        ):
            raise InvalidBatteryError("charge_efficiency", ONE_WAY_PRODUCT_RANGE)
        eta = _finite("efficiency", self.round_trip_efficiency)
        if not MIN_EFFICIENCY <= eta <= 1:
            raise InvalidBatteryError("efficiency", _EFFICIENCY_RANGE)
        lo = _finite("min_soc", self.min_soc)
        hi = _finite("max_soc", self.max_soc)
        if not 0 <= lo <= 1:
            raise InvalidBatteryError("min_soc", "must be between 0 and 1")
        if not 0 <= hi <= 1:
            raise InvalidBatteryError("max_soc", "must be between 0 and 1")
        if lo >= hi:
            raise InvalidBatteryError("min_soc", "must be less than max_soc")
        if self.initial_soc is not None:
            s0 = _finite("initial_soc", self.initial_soc)
            if not lo <= s0 <= hi:
                raise InvalidBatteryError("initial_soc", "must lie between min_soc and max_soc")
        if _finite("degradation_cost_per_mwh", self.degradation_cost_mxn_per_mwh) < 0:
            raise InvalidBatteryError("degradation_cost_per_mwh", "must be at least 0")
        if (
            self.max_cycles_per_day is not None
            and _finite("max_cycles_per_day", self.max_cycles_per_day) <= 0
        ):
            raise InvalidBatteryError("max_cycles_per_day", "must be greater than 0")

    @property
    def energy_mwh(self) -> float:
        """Energy capacity E = P * duration (MWh)."""
        return self.power_mw * self.duration_h

    @property
    def eta_charge(self) -> float:
        """One-way charging efficiency (grid MWh in -> stored MWh)."""
        if self.charge_efficiency is not None:
            return float(self.charge_efficiency)
        return math.sqrt(self.round_trip_efficiency)

    @property
    def eta_discharge(self) -> float:
        """One-way discharging efficiency (stored MWh out -> grid MWh)."""
        if self.discharge_efficiency is not None:
            return float(self.discharge_efficiency)
        return math.sqrt(self.round_trip_efficiency)

    @property
    def soc_start(self) -> float:
        """SoC fraction at 00:00 of every day (``initial_soc``, default ``min_soc``)."""
        return self.min_soc if self.initial_soc is None else float(self.initial_soc)

    @property
    def usable_energy_mwh(self) -> float:
        """E * (soc_max - soc_min): the energy of one full cycle, battery side."""
        return self.energy_mwh * (self.max_soc - self.min_soc)

    @property
    def daily_withdrawal_cap_mwh(self) -> float | None:
        """Battery-side energy that may be withdrawn per day (k * E * (max - min)), or None."""
        if self.max_cycles_per_day is None:
            return None
        return float(self.max_cycles_per_day) * self.usable_energy_mwh
