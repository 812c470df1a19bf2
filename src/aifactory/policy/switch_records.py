"""Kill-switch records: scopes, the ladder of levels, a switch, and the restriction of one request.

No database here: the API, the CLI and the SDK exchange these shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aifactory.errors import InvalidInputError
from aifactory.records import InputModel

__all__ = [
    "GLOBAL_VALUE",
    "LEVELS",
    "SCOPES",
    "Level",
    "Restriction",
    "Scope",
    "Switch",
    "SwitchIn",
    "is_stricter",
    "normalise_value",
    "switch_id",
]

Scope = Literal["global", "jurisdiction", "use_case", "deployment", "tool"]
SCOPES: tuple[str, ...] = ("global", "jurisdiction", "use_case", "deployment", "tool")

Level = Literal["full", "no_write_tools", "no_tools", "canned_reply", "off"]
LEVELS: tuple[str, ...] = ("full", "no_write_tools", "no_tools", "canned_reply", "off")
"""The ladder, least restrictive first: normal service; no tools with side effects (write or
external); no tools at all; a fixed answer without calling a model; refused with 503."""

GLOBAL_VALUE = "*"
"""The value of the one global switch."""

_JURISDICTION = re.compile(r"^[A-Z]{2,3}(-[A-Z0-9]{1,3})?$")
_TOOL = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_stricter(a: str, b: str) -> bool:
    """Whether level `a` restricts more than level `b`."""
    return LEVELS.index(a) > LEVELS.index(b)


def switch_id(scope: str, value: str) -> str:
    """The id of a switch in URLs and the ledger: `global`, or `<scope>:<value>`."""
    return "global" if scope == "global" else f"{scope}:{value}"


def normalise_value(scope: str, value: str | None) -> str:
    """The stored value of a switch on `scope`; InvalidInputError says what is wrong."""
    if scope not in SCOPES:
        raise InvalidInputError(f"scope: {scope!r} is not one of {', '.join(SCOPES)}", field="scope")
    if scope == "global":
        if value not in (None, "", GLOBAL_VALUE):
            raise InvalidInputError("value: the global switch takes no value", field="value")
        return GLOBAL_VALUE
    if not value or not value.strip():
        raise InvalidInputError(f"value: a {scope} switch needs a value (which {scope})", field="value")
    value = value.strip()
    if scope == "jurisdiction":
        value = value.upper()
        if not _JURISDICTION.match(value):
            raise InvalidInputError(
                f"value: {value!r} is not a jurisdiction code (EU, DE, US, US-CA ...)", field="value"
            )
    elif scope == "tool" and not _TOOL.match(value):
        raise InvalidInputError("value: a tool name is 1-64 letters, digits, _ or -", field="value")
    elif len(value) > 200:
        raise InvalidInputError("value: at most 200 characters", field="value")
    return value


class SwitchIn(InputModel):
    """A flip: set `scope`/`value` to `level` (`full` clears it), saying why."""

    scope: str
    value: str | None = None
    level: str
    reason: str = Field(min_length=1, max_length=1000)
    canned_text: str | None = Field(default=None, max_length=4000)


class Switch(BaseModel):
    """A kill switch as set (or, with level `full`, as just cleared)."""

    model_config = ConfigDict(frozen=True)

    id: str
    scope: Scope
    value: str
    level: Level
    canned_text: str | None
    reason: str
    actor: str
    set_at: datetime


@dataclass(frozen=True)
class Restriction:
    """How far one request is restricted: the strictest level of every switch that covers it,
    the canned text when that level is `canned_reply`, and the covering switches (strictest first)."""

    level: str = "full"
    canned_text: str | None = None
    switches: tuple[Switch, ...] = ()

    @property
    def deciding(self) -> Switch | None:
        """The switch that set the level (None at `full`)."""
        return self.switches[0] if self.switches else None

    def describe(self) -> str:
        """The deciding switch in a few words, for messages."""
        switch = self.deciding
        if switch is None:
            return "no kill switch"
        return f"kill switch {switch.id} ({switch.level}: {switch.reason})"
