"""SPEC §4: a number out of range is a 422 at its field, however many digits it has. Python's
JSON refuses integers longer than ``sys.get_int_max_str_digits()``; the app's decoder reads
them as a stand-in beyond every range, so only a body that is not JSON is a 400."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from flask.testing import FlaskClient

from blueprints.encoding import BEYOND_EVERY_RANGE, decode_json
from tests.conftest import PRD_REQUEST_2020

#: past Python's digit limit (4,300 unless the interpreter was told otherwise)
LONG = max(sys.get_int_max_str_digits(), 4300) + 700
#: beyond a float's range, yet short enough for Python to convert
SHORT = 350


def _integer(digits: int, sign: str = "") -> str:
    return sign + "9" * digits


def _with_number(body: dict[str, Any], marker: str, number: str) -> str:
    text = json.dumps(body)
    assert text.count(marker) == 1
    return text.replace(marker, number)


def _post(client: FlaskClient, text: str) -> Any:
    return client.post("/optimize", data=text, content_type="application/json")


def _capacity(number: str) -> str:
    battery = {**PRD_REQUEST_2020["battery_params"], "capacity_mw": "@"}
    return _with_number({**PRD_REQUEST_2020, "battery_params": battery}, '"@"', number)


def _hour(number: str) -> str:
    prices = [{"date": "2020-08-01", "hour": "@", "price": 1.0}]
    body = {
        "battery_params": PRD_REQUEST_2020["battery_params"],
        "market_params": {"prices": prices},
    }
    return _with_number(body, '"@"', number)


def test_python_refuses_such_an_integer() -> None:
    """The premise: the standard library's parser alone raises on it."""
    with pytest.raises(ValueError, match="limit"):
        json.loads(_integer(LONG))


@pytest.mark.parametrize("sign", ["", "-"])
@pytest.mark.parametrize(
    ("build", "path"),
    [(_capacity, "battery_params.capacity_mw"), (_hour, "market_params.prices.0.hour")],
    ids=["float-field", "integer-field"],
)
def test_an_integer_past_the_digit_limit_is_a_422_at_its_field(
    client: FlaskClient, build: Any, path: str, sign: str
) -> None:
    """The same answer as for an integer beyond a float's range that Python does convert."""
    long = _post(client, build(_integer(LONG, sign)))
    short = _post(client, build(_integer(SHORT, sign)))
    assert short.status_code == 422
    assert list(short.get_json()["errors"]) == [path]
    assert long.status_code == 422, long.get_json()
    assert long.get_json()["errors"] == short.get_json()["errors"]


def test_a_body_that_is_not_json_stays_a_400(client: FlaskClient) -> None:
    for text in (_capacity(_integer(LONG))[:-1], _capacity(_integer(LONG) + "x"), "9" * LONG + "]"):
        response = _post(client, text)
        assert response.status_code == 400
        assert response.get_json()["detail"] == "The request body is not valid JSON."


def test_decode_json_keeps_the_sign_and_every_other_integer() -> None:
    assert decode_json(_integer(LONG)) == BEYOND_EVERY_RANGE
    assert decode_json(_integer(LONG, "-")) == -BEYOND_EVERY_RANGE
    assert decode_json(f"[{_integer(SHORT)}, -0, 7, {_integer(LONG)}]") == [
        int(_integer(SHORT)),
        0,
        7,
        BEYOND_EVERY_RANGE,
    ]
