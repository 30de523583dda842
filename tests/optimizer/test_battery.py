from __future__ import annotations

import math

import pytest

from optimizer import Battery, InvalidBatteryError

BASE = {"power_mw": 10.0, "duration_h": 4.0}


def test_defaults_and_derived_quantities() -> None:
    b = Battery(**BASE, round_trip_efficiency=0.81, min_soc=0.1, max_soc=0.9)
    assert b.energy_mwh == 40.0
    assert b.eta_charge == pytest.approx(0.9)
    assert b.eta_discharge == pytest.approx(0.9)
    assert b.soc_start == 0.1  # initial SoC defaults to min_soc
    assert b.usable_energy_mwh == pytest.approx(32.0)
    assert b.daily_withdrawal_cap_mwh is None


def test_one_way_efficiencies_replace_round_trip() -> None:
    b = Battery(**BASE, round_trip_efficiency=0.5, charge_efficiency=0.85, discharge_efficiency=1)
    assert (b.eta_charge, b.eta_discharge) == (0.85, 1.0)


def test_cycle_cap_is_battery_side_usable_energy() -> None:
    b = Battery(**BASE, min_soc=0.2, max_soc=0.7, max_cycles_per_day=1.5)
    assert b.daily_withdrawal_cap_mwh == pytest.approx(1.5 * 40 * 0.5)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"power_mw": 0}, "capacity_mw"),
        ({"power_mw": -1}, "capacity_mw"),
        ({"power_mw": math.nan}, "capacity_mw"),
        ({"duration_h": math.inf}, "duration_hours"),
        ({"duration_h": 0}, "duration_hours"),
        ({"round_trip_efficiency": 0}, "efficiency"),
        ({"round_trip_efficiency": 5e-324}, "efficiency"),
        ({"charge_efficiency": 0.005, "discharge_efficiency": 1.0}, "charge_efficiency"),
        ({"round_trip_efficiency": 1.01}, "efficiency"),
        ({"charge_efficiency": 0.9}, "discharge_efficiency"),
        ({"discharge_efficiency": 0.9}, "charge_efficiency"),
        ({"charge_efficiency": 0.9, "discharge_efficiency": 1.2}, "discharge_efficiency"),
        ({"min_soc": -0.1}, "min_soc"),
        ({"max_soc": 1.1}, "max_soc"),
        ({"min_soc": 0.5, "max_soc": 0.5}, "min_soc"),
        ({"min_soc": 0.6, "max_soc": 0.5}, "min_soc"),
        ({"min_soc": 0.2, "initial_soc": 0.1}, "initial_soc"),
        ({"initial_soc": 1.5}, "initial_soc"),
        ({"degradation_cost_mxn_per_mwh": -1}, "degradation_cost_per_mwh"),
        ({"max_cycles_per_day": 0}, "max_cycles_per_day"),
        ({"power_mw": True}, "capacity_mw"),
        ({"power_mw": "10"}, "capacity_mw"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_invalid_parameters_raise_a_typed_error_naming_the_field(
    overrides: dict, field: str
) -> None:
    with pytest.raises(InvalidBatteryError) as excinfo:
        Battery(**{**BASE, **overrides})
    assert excinfo.value.field == field
    assert isinstance(excinfo.value, ValueError)


def test_numbers_are_stored_as_floats() -> None:
    b = Battery(power_mw=10, duration_h=4, min_soc=0, max_soc=1, initial_soc=0)
    assert all(
        type(getattr(b, f)) is float
        for f in ("power_mw", "duration_h", "min_soc", "max_soc", "initial_soc")
    )
