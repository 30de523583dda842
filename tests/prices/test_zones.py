"""The project's zone list against CENACE's catalogue (data/cenace/, read at test time only)."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from prices import zones
from prices.base import System

DATA = Path(__file__).resolve().parents[2] / "data" / "cenace"


def _rows(name: str) -> list[dict[str, str]]:
    with gzip.open(DATA / f"{name}.gz", "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_108_zones_with_their_system_as_in_the_catalogue() -> None:
    catalogue = {
        row["zona_carga"]: System(row["sistema"])
        for row in _rows("zonas_de_carga_catalogo_v2025-09-26.csv")
        if row["zona_carga"] != "No Aplica"
    }
    assert dict(zones.ZONES) == catalogue
    assert Counter(zones.ZONES.values()) == {System.SIN: 101, System.BCA: 4, System.BCS: 3}


def test_zone_list_matches_batus_index_too() -> None:
    with gzip.open(DATA / "atlas-sen_zonas_index.json.gz", "rt", encoding="utf-8") as fh:
        index = json.load(fh)
    assert index["count"] == 108
    assert {(e["id"], e["system"]) for e in index["zonas"]} == {
        (zone, str(system)) for zone, system in zones.ZONES.items()
    }


def test_every_catalogue_node_maps_to_its_zone() -> None:
    rows = _rows("nodosp_catalogo_v2025-09-26.csv")
    assert len(rows) == 2589
    for row in rows:
        key, zone = row["clave"], row["zona_carga"]
        if zone == "No Aplica":
            assert zones.node_zone(key) is None
            assert zones.tie_node_system(key) == System(row["sistema"])
        else:
            assert zones.node_zone(key) == zone, key
            assert zones.zone_system(zone) == System(row["sistema"])
    per_zone = Counter(row["zona_carga"] for row in rows if row["zona_carga"] != "No Aplica")
    assert {zone: len(zones.nodes_of(zone)) for zone in zones.ZONES} == dict(per_zone)


def test_apatzingan_nodes_as_listed_in_the_data_readme() -> None:
    listed = (
        "03ADR-69 03ANN-115 03APZ-115 03CBN-69 03CCR-115 03CHC-69 03CON-115 03CPT-161 03DSC-69 "
        "03HUC-69 03ING-69 03LMB-69 03NVI-69 03PAD-115 03PIZ-115 03PUU-69 03TPD-115 03VAV-115"
    )
    assert zones.nodes_of("APATZINGAN") == tuple(listed.split())
    assert zones.node_zone("03APZ-115") == "APATZINGAN"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("APATZINGAM", "APATZINGAN"),
        ("VDM CENTR", "VDM CENTRO"),
        ("MONTEREY", "MONTERREY"),
        ("03APZ-11", "03APZ-115"),
    ],
    ids=["typo", "truncated", "missing-letter", "node"],
)
def test_close_matches_suggest_the_intended_name(name: str, expected: str) -> None:
    assert expected in zones.close_matches(name)


def test_unknown_names_are_none() -> None:
    assert zones.zone_system("ATLANTIS") is None
    assert zones.node_zone("99XXX-115") is None
    assert zones.nodes_of("ATLANTIS") == ()
    assert zones.close_matches("QQQQQQQQ") == []


def test_module_carries_its_data_as_literals() -> None:
    """The Lambda package holds only the repo's code: nothing may be read from ../shared."""
    source = Path(zones.__file__).read_text(encoding="utf-8")
    assert "open(" not in source
    assert "shared" not in source.replace("../shared/data/cenace/", "")
