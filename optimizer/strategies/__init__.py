"""Strategy registry: every module in this package that defines ``STRATEGY`` is a strategy."""

from __future__ import annotations

import importlib
import pkgutil
from types import MappingProxyType

from optimizer.errors import UnknownStrategyError
from optimizer.strategies.base import Strategy


def _discover() -> MappingProxyType[str, Strategy]:
    found: list[Strategy] = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        strategy = getattr(module, "STRATEGY", None)
        if isinstance(strategy, Strategy):
            found.append(strategy)
    found.sort(key=lambda s: (s.order, s.name))
    return MappingProxyType({s.name: s for s in found})


#: name -> strategy, in display order (``optimal`` first)
STRATEGIES = _discover()


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategyError(
            f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None


__all__ = ["STRATEGIES", "Strategy", "get_strategy"]
