"""The strategy plug-in contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from optimizer.battery import Battery
from optimizer.market import MarketDay
from optimizer.results import Horizon
from optimizer.settle import Dispatch


class Strategy(ABC):
    """A way of scheduling a battery over market days.

    A strategy module in ``optimizer/strategies/`` defines one subclass and exposes an
    instance as the module attribute ``STRATEGY``; the registry finds it, and the API's
    schema, ``GET /strategies`` and the comparison all read the registry.

    ``dispatch`` returns grid-side powers for every hour; settlement at the actual prices and
    the physics checks happen in ``optimizer.settle`` for every strategy alike.
    Strategies with ``supports_continuous = False`` return schedules that come back to the
    starting SoC every day, which are valid under both horizons. Strategies with
    ``needs_history = True`` (no foresight) are given days before the first requested day
    (``history``); the service fetches them only when such a strategy runs.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: position in listings and comparisons (smaller first)
    order: ClassVar[int] = 100
    supports_continuous: ClassVar[bool] = False
    #: forecasts from days before the first requested day, which the service then fetches
    #: (SPEC §11); strategies with foresight ignore ``history``
    needs_history: ClassVar[bool] = False

    @abstractmethod
    def dispatch(
        self,
        days: Sequence[MarketDay],
        battery: Battery,
        *,
        horizon: Horizon,
        deadline_s: float | None = None,
        history: Sequence[MarketDay] = (),
    ) -> Dispatch:
        """Schedule ``days`` (in date order) for ``battery``.

        ``history``: market days before ``days[0]`` (date order, possibly with gaps), never
        scheduled or reported. Strategies without foresight (``needs_history``: ``forecast``,
        ``learned``) build their first days' forecasts from them; the others ignore them.

        ``deadline_s`` is the request's absolute deadline (a ``time.monotonic()`` timestamp) or
        None: a strategy that does much work checks it between its steps and raises
        ``optimizer.errors.DeadlineExceededError`` once it has passed. It is only a last guard:
        what a strategy computes never depends on it.
        """

    def with_forecast(self, forecast: Sequence[MarketDay]) -> Strategy:
        """This strategy scheduling on the caller's own price forecast (one market day per
        scheduled day, SPEC §11) instead of a forecast of its own. Only ``forecast`` takes
        one; every other strategy returns itself."""
        return self
