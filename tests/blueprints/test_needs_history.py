"""SPEC §3, §11: whether the service fetches history is a property of the strategy
(``Strategy.needs_history``), so a strategy without foresight is one module."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from types import MappingProxyType

import pytest
from flask import Flask

import blueprints.service as service
import optimizer.strategies as registry
from app import create_app
from optimizer import STRATEGIES, Battery, MarketDay, Strategy
from optimizer.results import Horizon
from optimizer.settle import Dispatch
from prices import PriceQuery, PriceSettings
from schemas.request import OptimizeRequest, OptimizeRequestSchema
from testkit.events import prd_request
from tests.conftest import RecordedSource

FIRST = dt.date(2020, 8, 15)
#: FORECAST_HISTORY_DAYS of these tests: history from 2020-08-01
HISTORY_DAYS = 14


class _Registered(Strategy):
    """A strategy registered by a test; it is never asked to dispatch."""

    description = "registered by a test"

    def dispatch(
        self,
        days: Sequence[MarketDay],
        battery: Battery,
        *,
        horizon: Horizon,
        deadline_s: float | None = None,
        history: Sequence[MarketDay] = (),
    ) -> Dispatch:  # pragma: no cover - the tests stop before the optimizer
        raise AssertionError("not dispatched in these tests")


class WithoutForesight(_Registered):
    name = "test-without-foresight"
    needs_history = True


class WithForesight(_Registered):
    name = "test-with-foresight"


def make_app(source: RecordedSource) -> Flask:
    settings = PriceSettings(forecast_history_days=HISTORY_DAYS)
    return create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": source, "PRICE_SETTINGS": settings})


def register(monkeypatch: pytest.MonkeyPatch, *strategies: Strategy) -> None:
    """The registry with ``strategies`` added, as if each were a module of the package."""
    extended = MappingProxyType({**STRATEGIES, **{s.name: s for s in strategies}})
    monkeypatch.setattr(registry, "STRATEGIES", extended)
    monkeypatch.setattr(service, "STRATEGIES", extended)


def loaded(**changes: object) -> OptimizeRequest:
    body = prd_request(start_date="2020-08-15", end_date="2020-08-20")
    request = OptimizeRequestSchema().load(body)
    assert isinstance(request, OptimizeRequest)
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


def history_of(request: OptimizeRequest, source: RecordedSource) -> tuple[MarketDay, ...]:
    query = request.query
    assert query is not None
    days = tuple(source.fetch(query))
    with make_app(source).app_context():
        return service.request_history(request, days, source=source, deadline_s=None)


@pytest.mark.parametrize(
    ("strategy", "fetched"), [(WithoutForesight(), True), (WithForesight(), False)]
)
def test_a_registered_strategy_gets_history_when_it_declares_it_needs_it(
    monkeypatch: pytest.MonkeyPatch, strategy: Strategy, fetched: bool
) -> None:
    register(monkeypatch, strategy)
    source = RecordedSource()
    history = history_of(loaded(strategy=strategy.name, compare=False), source)
    history_query = PriceQuery(
        zone="APATZINGAN",
        start=FIRST - dt.timedelta(days=HISTORY_DAYS),
        end=FIRST - dt.timedelta(days=1),
    )
    assert (history_query in source.calls) is fetched
    expected = history_query.days if fetched else []
    assert [day.date for day in history] == expected


def test_a_comparison_fetches_history_only_if_a_strategy_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``compare`` runs every registered strategy: history is fetched because one of them
    needs it, and not when none does."""
    source = RecordedSource()
    assert history_of(loaded(compare=True), source)
    without = MappingProxyType({n: s for n, s in STRATEGIES.items() if not s.needs_history})
    monkeypatch.setattr(service, "STRATEGIES", without)
    source = RecordedSource()
    assert history_of(loaded(compare=True), source) == ()
    assert len(source.calls) == 1  # the requested days only


def test_post_optimize_reads_the_attribute_not_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through POST /optimize: ``spread`` declared without foresight gets history; ``forecast``
    declared with foresight does not."""
    monkeypatch.setattr(type(STRATEGIES["spread"]), "needs_history", True)
    monkeypatch.setattr(type(STRATEGIES["forecast"]), "needs_history", False)
    source = RecordedSource()
    client = make_app(source).test_client()
    for strategy, history_start in (("spread", dt.date(2020, 8, 1)), ("forecast", None)):
        source.calls.clear()
        body = prd_request(start_date="2020-08-15", end_date="2020-08-20")
        body.update(strategy=strategy, compare=False)
        response = client.post("/optimize", json=body)
        assert response.status_code == 200, response.get_json()
        starts = [query.start for query in source.calls]
        assert starts == [FIRST] + ([history_start] if history_start else [])
