"""Registered tools: the catalog asset kind `tool`, and the tools served under the gateway's label.

A tool's content names it, the Cedar action a call of it is (`payments.refund`), the kind of thing it
acts on, its side-effect class (`read`, `write` or `external`: it reaches outside the platform, such
as sending mail), a description and optionally the JSON Schema of its arguments. Like deployments
and routes, the versions under the serving label are what counts; the set is kept in memory and
reloaded when the catalog changes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aifactory.catalog import Catalog

__all__ = ["KIND", "SIDE_EFFECTS", "ToolCatalog", "ToolSpec"]

KIND = "tool"
"""The catalog asset kind of a registered tool."""

SIDE_EFFECTS: tuple[str, ...] = ("read", "write", "external")

log = logging.getLogger(__name__)


class ToolSpec(BaseModel):
    """The content of a `tool` asset version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The function name models call.")
    action: str = Field(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
        max_length=100,
        description='The Cedar action a call is (`Aifactory::Action::"<action>"`).',
    )
    resource_kind: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$", description="What the tool acts on (`Payment`, `Email`)."
    )
    side_effect: Literal["read", "write", "external"]
    description: str = Field(default="", max_length=2000)
    parameters: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the arguments (an object)."
    )

    @field_validator("parameters")
    @classmethod
    def _schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        if schema.get("type", "object") != "object":
            raise ValueError('parameters must be a JSON Schema with "type": "object"')
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"parameters is not a valid JSON Schema: {exc.message}") from None
        return schema

    def arguments_error(self, arguments: Any) -> str | None:
        """Why `arguments` do not fit the schema (None when they do, or when there is no schema)."""
        if self.parameters is None:
            return None if isinstance(arguments, dict) else "the arguments are not a JSON object"
        error = next(iter(validator_for(self.parameters)(self.parameters).iter_errors(arguments)), None)
        return None if error is None else error.message[:200]


class ToolCatalog:
    """The tools registered under the serving label, by name, in memory."""

    def __init__(self, catalog: Catalog, label: str) -> None:
        self.catalog = catalog
        self.label = label
        self._tools: dict[str, ToolSpec] = {}
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Reload from the catalog (on this process's changes and on the change feed's)."""
        with self._lock:  # one at a time, so that the newest read is the one left in force
            self._tools = self._read()

    def _read(self) -> dict[str, ToolSpec]:
        tools: dict[str, ToolSpec] = {}
        for asset in self.catalog.assets(KIND):
            number = asset.labels.get(self.label)
            if number is None or asset.status == "retired":
                continue
            try:
                spec = ToolSpec.model_validate(self.catalog.version(asset.id, number).content)
            except ValidationError as error:
                log.warning("tool asset %s is not a valid tool, not served: %s", asset.name, error)
                continue
            if spec.name != asset.name:
                log.warning("tool asset %s names its function %s: not served", asset.name, spec.name)
                continue
            tools[spec.name] = spec
        return tools

    def get(self, name: str) -> ToolSpec | None:
        """The registered tool of that name, if any."""
        return self._tools.get(name)

    def all(self) -> list[ToolSpec]:
        """Every served tool, by name."""
        return [self._tools[name] for name in sorted(self._tools)]
