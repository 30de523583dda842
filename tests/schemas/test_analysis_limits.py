"""SPEC §13's bounded work per byte on POST /sizing and POST /siting: list lengths before their
items, at most 50 field errors listed plus a count of the rest, error bodies under 64 KB. And
SPEC §10: the 108-zone limit of POST /siting is the API's; ``api_limits=False`` (the ``flask
siting`` command) takes any list of nodes, and still at least one. Keys the catalogue does not
know are no field errors (SPEC §10 lists them in ``failed``): the 422s here come from keys that
break the key pattern."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from itertools import product
from typing import Any

import pytest
from flask.testing import FlaskClient
from marshmallow import ValidationError

import schemas.analysis
from blueprints.errors import flatten_messages
from prices.zones import ZONES, close_matches, nodes_of
from schemas.analysis import (
    MAX_DURATIONS,
    MAX_SITING_ZONES,
    SitingRequest,
    SitingRequestSchema,
    SizingRequestSchema,
)
from schemas.request import MAX_LISTED_ERRORS
from testkit.events import REQUEST_ID, make_v2_event

BATTERY = {"capacity_mw": 10, "efficiency": 0.85, "min_soc": 0.1, "max_soc": 1.0}
MARKET = {"zone": "APATZINGAN", "start_date": "2020-08-01", "end_date": "2020-08-31"}
#: SPEC §13: error bodies stay under 64 KB
MAX_ERROR_BODY = 64 * 1024
#: what the audit sent: 200,000 durations, a body of ~1.7 MB
MANY = 200_000
TOO_MANY = [f"Give at most {MAX_DURATIONS} durations."]
#: 108 distinct load-zone look-alikes, none in the catalogue (each close to APATZINGAN)
UNKNOWN_ZONES = [
    "APATZINGA" + a + b for a, b in product(string.ascii_uppercase, repeat=2) if a + b != "AN"
][:108]
#: the same 108 in lower case: malformed keys (the pattern wants upper case), each a 422
MALFORMED_ZONES = [zone.lower() for zone in UNKNOWN_ZONES]

#: three times the API's zone limit, every one a catalogue node key
NODES = [node for zone in ZONES for node in nodes_of(zone)][: 3 * MAX_SITING_ZONES]


def _sizing(durations: Any) -> dict[str, Any]:
    return {"battery_params": BATTERY, "market_params": MARKET, "durations_hours": durations}


def _siting_body(zones: Any) -> dict[str, Any]:
    market = {"zones": zones, "start_date": "2020-08-01", "end_date": "2020-08-31"}
    return {"battery_params": {**BATTERY, "duration_hours": 4}, "market_params": market}


def _errors(schema: Any, body: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        schema.load(body)
    return flatten_messages(info.value.messages)


def _unlisted(count: int) -> list[str]:
    return [f"{count} more fields have errors; only the first {MAX_LISTED_ERRORS} are listed."]


# --- sizing: durations_hours ---------------------------------------------------------------


@pytest.mark.parametrize(
    "items",
    [[1.5] * (MAX_DURATIONS + 1), ["x"] * (MAX_DURATIONS + 1), [None] * MANY, [0] * MANY],
    ids=["17-duplicates", "17-strings", "many-nulls", "many-zeros"],
)
def test_too_many_durations_are_refused_on_the_length_alone(items: list[Any]) -> None:
    """Items that would each fail (wrong type, out of range, duplicates) are never looked at:
    the one error is the length's."""
    assert _errors(SizingRequestSchema(), _sizing(items)) == {"durations_hours": TOO_MANY}


def test_sixteen_bad_durations_are_each_reported() -> None:
    """At the limit the items are checked as before (the length check is not the only one)."""
    errors = _errors(SizingRequestSchema(), _sizing(["x"] * MAX_DURATIONS))
    assert set(errors) == {f"durations_hours.{i}" for i in range(MAX_DURATIONS)}


def test_the_cli_lifts_the_length_limit_but_errors_stay_capped() -> None:
    """``api_limits=False`` (``flask sizing``) takes any number of durations; 200 duplicates
    still list only 50 errors plus a count of the rest."""
    many = [1.0 + i / 100 for i in range(40)]
    request = SizingRequestSchema(api_limits=False).load(_sizing(many))
    assert request.durations_hours == tuple(many)
    errors = _errors(SizingRequestSchema(api_limits=False), _sizing([1.0] * 201))
    listed = [path for path in errors if path != "body"]
    assert listed == [f"durations_hours.{i}" for i in range(1, 1 + MAX_LISTED_ERRORS)]
    assert errors["durations_hours.1"] == ["Duplicate of item 0 (1 h)."]
    assert errors["body"] == _unlisted(200 - MAX_LISTED_ERRORS)


def test_a_huge_durations_list_is_a_small_422(client: FlaskClient) -> None:
    response = client.post("/sizing", json=_sizing([0.001] * MANY))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert len(response.data) < MAX_ERROR_BODY
    assert response.get_json()["errors"] == {"durations_hours": TOO_MANY}


# --- siting: zones -------------------------------------------------------------------------


def test_malformed_zones_beyond_50_are_counted_not_listed(client: FlaskClient) -> None:
    response = client.post("/siting", json=_siting_body(MALFORMED_ZONES))
    assert response.status_code == 422
    assert len(response.data) < MAX_ERROR_BODY
    errors = response.get_json()["errors"]
    listed = [path for path in errors if path != "body"]
    assert listed == [f"market_params.zones.{i}" for i in range(MAX_LISTED_ERRORS)]
    for path in listed:
        (message,) = errors[path]
        assert message.startswith("Must be 1 to 64 upper-case letters")
    assert errors["body"] == _unlisted(len(MALFORMED_ZONES) - MAX_LISTED_ERRORS)


def test_108_unknown_zones_are_a_small_404_and_no_catalogue_search_in_validation(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown keys pass validation without a search of the catalogue; the answer (every key
    unknown, so the first one's 404) suggests names for that key, the only one searched."""
    calls: list[str] = []

    def counted(key: str, **kwargs: Any) -> list[str]:
        calls.append(key)
        return close_matches(key, **kwargs)

    monkeypatch.setattr(schemas.analysis, "close_matches", counted)
    request = SitingRequestSchema().load(_siting_body(UNKNOWN_ZONES))
    assert isinstance(request, SitingRequest)
    assert request.sites == ()
    assert [entry.key for entry in request.requested] == UNKNOWN_ZONES  # every one unknown
    assert calls == []
    response = client.post("/siting", json=_siting_body(UNKNOWN_ZONES))
    assert response.status_code == 404
    assert len(response.data) < MAX_ERROR_BODY
    detail = response.get_json()["detail"]
    assert detail.startswith(f"Unknown load zone or node {UNKNOWN_ZONES[0]!r}")
    assert detail.endswith("Did you mean APATZINGAN?")
    assert calls == UNKNOWN_ZONES[:1]


def test_errors_of_other_fields_share_the_50(client: FlaskClient) -> None:
    """The cap is over the whole request: a battery error and 108 zone errors list 50."""
    body = _siting_body(MALFORMED_ZONES)
    body["battery_params"]["efficiency"] = 2
    response = client.post("/siting", json=body)
    errors = response.get_json()["errors"]
    listed = [path for path in errors if path != "body"]
    assert listed[0] == "battery_params.efficiency"
    assert listed[1:] == [f"market_params.zones.{i}" for i in range(MAX_LISTED_ERRORS - 1)]
    assert errors["body"] == _unlisted(1 + len(MALFORMED_ZONES) - MAX_LISTED_ERRORS)


# --- through the deployed Lambda handler ---------------------------------------------------


@dataclass
class LambdaContext:
    aws_request_id: str
    function_name: str = "battery-optimizer"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/sizing", _sizing([0.001] * MANY), {"durations_hours": TOO_MANY}),
        (
            "/siting",
            _siting_body(MALFORMED_ZONES),
            {"body": _unlisted(len(MALFORMED_ZONES) - MAX_LISTED_ERRORS)},
        ),
    ],
    ids=["sizing-200000-durations", "siting-108-malformed-zones"],
)
def test_through_the_lambda_handler(path: str, body: dict[str, Any], expected: Any) -> None:
    """API Gateway (HTTP API) event -> ``app.lambda_handler``: a 422 problem well under 64 KB
    (far from Lambda's 6 MB response limit, past which API Gateway answers without one)."""
    from app import lambda_handler

    event = make_v2_event(
        method="POST",
        path=path,
        headers={"content-type": "application/json"},
        body=json.dumps(body, separators=(",", ":")),
    )
    response = lambda_handler(event, LambdaContext(aws_request_id=REQUEST_ID))
    assert response["statusCode"] == 422
    assert response["headers"]["content-type"] == "application/problem+json"
    assert len(response["body"].encode()) < MAX_ERROR_BODY
    problem = json.loads(response["body"])
    assert problem["status"] == 422
    errors = problem["errors"]
    assert len(errors) <= MAX_LISTED_ERRORS + 1
    for key, messages in expected.items():
        assert errors[key] == messages


def test_the_cli_schema_takes_more_nodes_than_the_api() -> None:
    request = SitingRequestSchema(api_limits=False).load(_siting_body(NODES))
    assert isinstance(request, SitingRequest)
    assert len(request.sites) == len(NODES)
    assert _errors(SitingRequestSchema(), _siting_body(NODES)) == {
        "market_params.zones": [f"Give 1 to {MAX_SITING_ZONES} zones or nodes."]
    }


def test_the_api_limit_stays_on_beside_a_cli_schema() -> None:
    """Each schema instance keeps its own limit (the nested market schema is not shared)."""
    SitingRequestSchema(api_limits=False)
    limited = SitingRequestSchema()
    assert "market_params.zones" in _errors(limited, _siting_body(NODES[: MAX_SITING_ZONES + 1]))
    assert isinstance(limited.load(_siting_body(NODES[:MAX_SITING_ZONES])), SitingRequest)


def test_the_cli_schema_still_wants_one_zone() -> None:
    assert _errors(SitingRequestSchema(api_limits=False), _siting_body([])) == {
        "market_params.zones": ["Give at least one zone or node."]
    }


def test_the_cli_schema_still_checks_every_item() -> None:
    errors = _errors(SitingRequestSchema(api_limits=False), _siting_body([*NODES, NODES[0]]))
    assert errors == {f"market_params.zones.{len(NODES)}": [f"Duplicate of item 0 ({NODES[0]})."]}
