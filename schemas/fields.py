"""Strict fields for the JSON edge: numbers are numbers, booleans are booleans."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from marshmallow import ValidationError, fields


class StrictFloat(fields.Float):
    """A finite JSON number: rejects strings, booleans, NaN and infinities."""

    default_error_messages = {"type": "Not a valid number."}  # noqa: RUF012 (marshmallow merges it)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, (str, bool)) or not isinstance(value, (int, float)):
            raise self.make_error("type")
        result = super()._deserialize(value, attr, data, **kwargs)
        if result is None:
            raise self.make_error("type")
        return float(result)


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` / ``false`` (no "yes", 1, "true")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


#: A CENACE load zone or node key (SPEC §4): it ends up in upstream URLs. Real node keys have
#: dots (``08CHB-34.5``).
ZONE_PATTERN = r"^[A-Z0-9 .-]{1,64}$"
_ZONE_RE = re.compile(ZONE_PATTERN)


class ZoneKey(fields.String):
    """A zone or node key; surrounding whitespace is stripped before validation."""

    def __init__(self, **kwargs: Any) -> None:
        # documented in OpenAPI as the pattern (apispec reads ``metadata``)
        kwargs["metadata"] = {
            "pattern": ZONE_PATTERN,
            "maxLength": 64,
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 200:  # do not run the regex over huge strings
            raise ValidationError("Must be at most 64 characters.")
        text = text.strip()
        if not _ZONE_RE.fullmatch(text):
            message = (
                "Must be 1 to 64 upper-case letters, digits, spaces, hyphens or dots (a CENACE "
                "load zone such as APATZINGAN or a node key such as 01PLO-115 or 08CHB-34.5)."
            )
            spelled = _plain_upper(text)
            if spelled != text and _ZONE_RE.fullmatch(spelled):
                message += f" Did you mean {spelled!r}?"
            raise ValidationError(message)
        return text


def _plain_upper(text: str) -> str:
    """``text`` upper-cased without accents (``Querétaro`` -> ``QUERETARO``), the way CENACE
    spells its keys: a suggestion for a key that only its case or accents kept out."""
    letters = unicodedata.normalize("NFKD", text.upper())
    return "".join(c for c in letters if not unicodedata.combining(c))


#: Market dates the service accepts: CENACE's market opened in January 2016 (no market data
#: exists before), and the upper bound guards date arithmetic.
MIN_DATE = dt.date(2016, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)


class DateOrDateTime(fields.Field[dt.date]):
    """An ISO 8601 date (``2024-01-01``) or date-time (``2024-01-01T00:00:00Z``); loads as the
    calendar date written in the string (the market day), ignoring time and offset."""

    default_error_messages = {  # noqa: RUF012 (marshmallow merges it)
        "invalid": "Not a valid ISO 8601 date or date-time.",
        "range": f"Must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {
            "anyOf": [
                {"type": "string", "format": "date", "example": "2024-01-01"},
                {"type": "string", "format": "date-time", "example": "2024-01-01T00:00:00Z"},
            ],
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        try:
            if len(value) == 10:
                day = dt.date.fromisoformat(value)
            else:
                day = dt.datetime.fromisoformat(value).date()
        except ValueError:
            raise self.make_error("invalid") from None
        if not MIN_DATE <= day <= MAX_DATE:
            raise self.make_error("range")
        return day


class StrictDate(fields.Date):
    """A calendar date ``YYYY-MM-DD`` within the accepted range."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if not isinstance(value, str) or len(value) != 10:
            raise self.make_error("invalid")
        day = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_DATE <= day <= MAX_DATE:
            raise ValidationError(
                f"Must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}."
            )
        return day
