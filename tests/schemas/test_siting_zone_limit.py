"""SPEC §10: the 108-zone limit of POST /siting is the API's; ``api_limits=False`` (the
``flask siting`` command) takes any list of nodes, and still at least one."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from blueprints.errors import flatten_messages
from prices.zones import ZONES, nodes_of
from schemas.analysis import MAX_SITING_ZONES, SitingRequest, SitingRequestSchema

BATTERY = {"capacity_mw": 10, "efficiency": 0.85, "min_soc": 0.1, "max_soc": 1.0}
#: three times the API's limit, every one a catalogue node key
NODES = [node for zone in ZONES for node in nodes_of(zone)][: 3 * MAX_SITING_ZONES]


def _body(zones: Any) -> dict[str, Any]:
    market = {"zones": zones, "start_date": "2020-08-01", "end_date": "2020-08-02"}
    return {"battery_params": {**BATTERY, "duration_hours": 4}, "market_params": market}


def _errors(schema: SitingRequestSchema, body: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        schema.load(body)
    return flatten_messages(info.value.messages)


def test_the_cli_schema_takes_more_nodes_than_the_api() -> None:
    request = SitingRequestSchema(api_limits=False).load(_body(NODES))
    assert isinstance(request, SitingRequest)
    assert len(request.sites) == len(NODES)
    assert _errors(SitingRequestSchema(), _body(NODES)) == {
        "market_params.zones": [f"Give 1 to {MAX_SITING_ZONES} zones or nodes."]
    }


def test_the_api_limit_stays_on_beside_a_cli_schema() -> None:
    """Each schema instance keeps its own limit (the nested market schema is not shared)."""
    SitingRequestSchema(api_limits=False)
    limited = SitingRequestSchema()
    assert "market_params.zones" in _errors(limited, _body(NODES[: MAX_SITING_ZONES + 1]))
    assert isinstance(limited.load(_body(NODES[:MAX_SITING_ZONES])), SitingRequest)


def test_the_cli_schema_still_wants_one_zone() -> None:
    assert _errors(SitingRequestSchema(api_limits=False), _body([])) == {
        "market_params.zones": ["Give at least one zone or node."]
    }


def test_the_cli_schema_still_checks_every_item() -> None:
    errors = _errors(SitingRequestSchema(api_limits=False), _body([*NODES, NODES[0]]))
    assert errors == {f"market_params.zones.{len(NODES)}": [f"Duplicate of item 0 ({NODES[0]})."]}
