"""The project's zone list against CENACE's catalogue (data/cenace/, read at test time only)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from prices import zones
from prices.base import System

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "cenace"
GENERATOR = REPO / "scripts" / "generate_zones.py"


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


def _generator() -> Any:
    """scripts/generate_zones.py as a module."""
    if "generate_zones" not in sys.modules:
        spec = importlib.util.spec_from_file_location("generate_zones", GENERATOR)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["generate_zones"] = module
        spec.loader.exec_module(module)
    return sys.modules["generate_zones"]


def test_package_data_is_what_the_generator_makes_from_the_catalogue() -> None:
    shipped = resources.files("prices").joinpath("catalogue")
    generated = _generator().render()
    assert sorted(generated) == ["nodes.csv", "zones.csv"]
    for name, text in generated.items():
        assert shipped.joinpath(name).read_text(encoding="utf-8") == text, name


def test_the_generator_refuses_catalogues_that_disagree(tmp_path: Path) -> None:
    rows = _rows("nodosp_catalogo_v2025-09-26.csv")
    moved = next(row for row in rows if row["clave"] == "03APZ-115")
    moved["zona_carga"] = "MORELIA"  # the zone file still counts it in APATZINGAN
    tampered = tmp_path / "nodos.csv.gz"
    with gzip.open(tampered, "wt", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    generator = _generator()
    with pytest.raises(generator.CatalogueError, match="n_nodosp"):
        generator.render(nodes_source=tampered)


def test_the_module_reads_the_package_data_not_the_repositorys_data_folder() -> None:
    """The wheel and the Lambda zip hold the package, not data/: the module must not look there."""
    source = Path(zones.__file__).read_text(encoding="utf-8")
    assert 'resources.files("prices")' in source
    assert "data/cenace" not in source.replace("``data/cenace/``", "")
    assert "shared" not in source
