"""Generate the zone catalogue shipped with the ``prices`` package from CENACE's NodosP catalogue.

    .venv/bin/python scripts/generate_zones.py          # rewrite prices/catalogue/*.csv
    .venv/bin/python scripts/generate_zones.py --check  # exit 1 if they are out of date

Input: ``data/cenace/zonas_de_carga_catalogo_v2025-09-26.csv.gz`` (one row per load zone and
system) and ``data/cenace/nodosp_catalogo_v2025-09-26.csv.gz`` (one row per NodoP), see
data/cenace/README.md. Output, read by ``prices/zones.py`` at run time:

- ``prices/catalogue/zones.csv``: ``zone,system``, the 108 load zones (SIN, then BCA, then BCS,
  each in alphabetical order); the catalogue's ``No Aplica`` pseudo-zone is not a zone.
- ``prices/catalogue/nodes.csv``: ``node,zone,system``, every NodoP in the same order (then by
  key); international-tie nodes (``No Aplica``) come last with an empty ``zone``.

The script checks that the two inputs agree (systems, and each zone's node count) and fails
otherwise, so a new catalogue version cannot be half-applied.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "cenace"
ZONES_SOURCE = DATA / "zonas_de_carga_catalogo_v2025-09-26.csv.gz"
NODES_SOURCE = DATA / "nodosp_catalogo_v2025-09-26.csv.gz"
OUTPUT = REPO / "prices" / "catalogue"
#: the catalogue's label for nodes outside every load zone (international ties)
NO_ZONE = "No Aplica"
SYSTEM_ORDER = ("SIN", "BCA", "BCS")


class CatalogueError(Exception):
    """The two CENACE catalogue files disagree or hold something unexpected."""


def read_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def to_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def render(zones_source: Path = ZONES_SOURCE, nodes_source: Path = NODES_SOURCE) -> dict[str, str]:
    """File name → CSV text of the package's catalogue, from the two CENACE files."""
    zone_rows = read_rows(zones_source)
    node_rows = read_rows(nodes_source)
    for row in (*zone_rows, *node_rows):
        if row["sistema"] not in SYSTEM_ORDER:
            raise CatalogueError(f"unknown system {row['sistema']!r} in {row}")
    rank = {system: i for i, system in enumerate(SYSTEM_ORDER)}

    zones: dict[str, str] = {}
    for row in zone_rows:
        zone, system = row["zona_carga"], row["sistema"]
        if zone == NO_ZONE:
            continue
        if zones.setdefault(zone, system) != system:
            raise CatalogueError(f"zone {zone!r} listed in two systems")

    nodes: dict[str, tuple[str, str]] = {}
    for row in node_rows:
        key, zone, system = row["clave"], row["zona_carga"], row["sistema"]
        if key in nodes:
            raise CatalogueError(f"NodoP {key!r} listed twice")
        if zone != NO_ZONE and zones.get(zone) != system:
            raise CatalogueError(f"NodoP {key!r}: zone {zone!r} is not a {system} load zone")
        nodes[key] = ("" if zone == NO_ZONE else zone, system)

    counted = Counter((system, zone or NO_ZONE) for zone, system in nodes.values())
    declared = {(row["sistema"], row["zona_carga"]): int(row["n_nodosp"]) for row in zone_rows}
    if dict(counted) != declared:
        raise CatalogueError("the zone catalogue's n_nodosp disagrees with the NodosP catalogue")

    zone_lines = sorted(((z, s) for z, s in zones.items()), key=lambda zs: (rank[zs[1]], zs[0]))
    node_lines = sorted(
        ((key, zone, system) for key, (zone, system) in nodes.items()),
        key=lambda n: (n[1] == "", rank[n[2]], n[1], n[0]),
    )
    return {
        "zones.csv": to_csv(("zone", "system"), zone_lines),
        "nodes.csv": to_csv(("node", "zone", "system"), node_lines),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the files on disk, write nothing"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default {OUTPUT}")
    args = parser.parse_args(argv)
    try:
        files = render()
    except CatalogueError as error:
        print(f"generate_zones: {error}", file=sys.stderr)
        return 1
    stale = [
        name
        for name, text in files.items()
        if not (args.output / name).is_file()
        or (args.output / name).read_text(encoding="utf-8") != text
    ]
    if args.check:
        for name in stale:
            print(f"{args.output / name} is out of date: run scripts/generate_zones.py")
        return 1 if stale else 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.output / name).write_text(text, encoding="utf-8", newline="")
        print(f"wrote {args.output / name} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
