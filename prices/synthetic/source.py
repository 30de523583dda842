"""``SyntheticSource``: the offline default price source (SPEC §5), a ``PriceSource`` over the
generator in ``prices.synthetic.generator``: it resolves the zone or node a query names (with a
helpful 404) and asks the generator for its days.

A generated day is a pure function of its (zone, node, system, process, date), so the source
keeps the last ``KEEP_DAYS`` days it generated and answers a query whose every day it kept
without generating again (a warm Lambda asked for the same month, and its forecast history,
again); what it returns is exactly what generating would give.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

from optimizer import MarketDay
from prices.base import NoPricesError, PriceQuery, Process, System
from prices.synthetic.generator import generate
from prices.zones import ZONES, close_matches, node_zone, tie_node_system


@dataclass(frozen=True)
class _Target:
    zone: str
    node: str | None


#: generated days a source keeps (~1.5 KB each: ~6 MB)
KEEP_DAYS = 4096

_DayKey = tuple[str, str | None, System, Process, dt.date]


class SyntheticSource:
    """Deterministic, realistic hourly prices for the 108 CENACE load zones and their NodosP.

    ``keep_days``: how many generated days to keep (least recently used out; 0 keeps none)."""

    name = "synthetic"

    def __init__(self, *, keep_days: int = KEEP_DAYS) -> None:
        if keep_days < 0:
            raise ValueError("keep_days must not be negative")
        self.keep_days = keep_days
        self._kept: OrderedDict[_DayKey, MarketDay] = OrderedDict()
        self._lock = threading.Lock()

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        """``deadline_s`` is accepted for the ``PriceSource`` protocol: a year takes a few
        milliseconds, so there is nothing to cut short."""
        system = System(query.system)
        target = resolve(query.zone, system)
        if query.end < query.start:
            raise NoPricesError(f"no market days from {query.start} to {query.end}")
        process = Process(query.process)
        keys = [(target.zone, target.node, system, process, day) for day in query.days]
        if self.keep_days:
            with self._lock:
                kept = [self._kept.get(key) for key in keys]
                if all(day is not None for day in kept):
                    for key in keys:
                        self._kept.move_to_end(key)
                    return [day for day in kept if day is not None]
        days = generate(target.zone, target.node, system, process, query.start, query.end)
        if self.keep_days:
            with self._lock:
                for key, day in zip(keys[-self.keep_days :], days[-self.keep_days :], strict=True):
                    self._kept[key] = day
                    self._kept.move_to_end(key)
                while len(self._kept) > self.keep_days:
                    self._kept.popitem(last=False)
        return days


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
        f"zones and their NodosP (catalogue V20250926; GET /zones lists the load zones){hint}"
    )
