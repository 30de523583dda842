"""``SyntheticSource``: the offline default price source (SPEC §5), a ``PriceSource`` over the
generator in ``prices.synthetic.generator``: it resolves the zone or node a query names (with a
helpful 404) and asks the generator for its days."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer import MarketDay
from prices.base import NoPricesError, PriceQuery, Process, System
from prices.synthetic.generator import generate
from prices.zones import ZONES, close_matches, node_zone, tie_node_system


@dataclass(frozen=True)
class _Target:
    zone: str
    node: str | None


class SyntheticSource:
    """Deterministic, realistic hourly prices for the 108 CENACE load zones and their NodosP."""

    name = "synthetic"

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        """``deadline_s`` is accepted for the ``PriceSource`` protocol: a year takes a few
        milliseconds, so there is nothing to cut short."""
        system = System(query.system)
        target = resolve(query.zone, system)
        if query.end < query.start:
            raise NoPricesError(f"no market days from {query.start} to {query.end}")
        return generate(
            target.zone, target.node, system, Process(query.process), query.start, query.end
        )


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
