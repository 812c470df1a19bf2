"""The in-memory snapshot of every prompt: versions (specs parsed once), labels with their pins and
canaries, lifecycle marks. Serving reads only this; it is rebuilt when the catalog changes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, RowMapping

from aifactory.catalog import _load
from aifactory.catalog.records import Canary
from aifactory.prompts.spec import PromptSpec
from aifactory.store import catalog_rows as rows

__all__ = ["KIND", "LabelState", "PromptEntry", "PromptSnapshot", "PromptVersion", "load_snapshot"]

KIND = "prompt"
"""The catalog kind of prompt assets."""


@dataclass(frozen=True)
class PromptVersion:
    """One immutable version, its spec parsed."""

    number: int
    content_hash: str
    spec: PromptSpec
    author_id: str
    mark: str | None = None
    """The lifecycle mark people set: candidate, deprecated or retired (None: none)."""
    sunset: date | None = None


@dataclass(frozen=True)
class LabelState:
    """Where a label points, what its includes were pinned to, and its canary if it has one."""

    version: int
    pins: Mapping[str, str] = field(default_factory=dict)
    canary: Canary | None = None
    canary_pins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptEntry:
    """One prompt asset as served."""

    asset_id: str
    name: str
    description: str
    owner_id: str
    critical: bool
    versions: Mapping[int, PromptVersion]
    by_hash: Mapping[str, int]
    labels: Mapping[str, LabelState]

    @property
    def latest(self) -> PromptVersion | None:
        """The newest version, if any."""
        return self.versions[max(self.versions)] if self.versions else None

    def tags(self, label: str) -> dict[str, Any]:
        """The tags of the version `label` serves, else of the newest (for search and listings)."""
        state = self.labels.get(label)
        version = self.versions.get(state.version) if state else self.latest
        if version is None or version.spec.tags is None:
            return {}
        return version.spec.tags.model_dump(exclude_none=True)


@dataclass(frozen=True)
class PromptSnapshot:
    """Every prompt, by name."""

    prompts: Mapping[str, PromptEntry] = field(default_factory=dict)

    def label_states(self) -> dict[tuple[str, str], tuple[int, int | None, float | None]]:
        """(name, label) -> (version, canary version, canary percent): what a watcher compares."""
        return {
            (entry.name, label): (
                state.version,
                state.canary.version if state.canary else None,
                state.canary.percent if state.canary else None,
            )
            for entry in self.prompts.values()
            for label, state in entry.labels.items()
        }

    def replacing(self, asset_id: str, fresh: PromptSnapshot) -> PromptSnapshot:
        """This snapshot with the prompt `asset_id` as `fresh` has it (or without it, if gone)."""
        prompts = {name: e for name, e in self.prompts.items() if e.asset_id != asset_id}
        return PromptSnapshot(prompts | dict(fresh.prompts))


def load_snapshot(
    conn: Connection, specs: dict[str, PromptSpec], asset_id: str | None = None
) -> PromptSnapshot:
    """Read every prompt (or the one with `asset_id`); `specs` (content hash -> parsed spec) saves
    parsing what was parsed before and is updated with what is new."""
    found = rows.kind_snapshot(conn, KIND, asset_id)
    by_asset: dict[str, dict[str, list[RowMapping]]] = {}
    for table in ("versions", "labels", "canaries", "states"):
        for row in found[table]:
            by_asset.setdefault(row["asset_id"], {}).setdefault(table, []).append(row)
    entries = {}
    for asset in found["assets"]:
        parts = by_asset.get(asset["id"], {})
        entries[asset["name"]] = _entry(asset, parts, specs)
    return PromptSnapshot(entries)


def _entry(
    asset: RowMapping, parts: dict[str, list[RowMapping]], specs: dict[str, PromptSpec]
) -> PromptEntry:
    marks = {int(r["version_number"]): r for r in parts.get("states", [])}
    versions = {}
    for row in parts.get("versions", []):
        digest = row["content_hash"]
        if digest not in specs:
            specs[digest] = PromptSpec.model_validate(json.loads(row["content"]))
        mark = marks.get(int(row["number"]))
        versions[int(row["number"])] = PromptVersion(
            number=int(row["number"]),
            content_hash=digest,
            spec=specs[digest],
            author_id=row["author_id"],
            mark=str(mark["state"]) if mark else None,
            sunset=mark["sunset"] if mark else None,
        )
    canaries = {str(r["label"]): r for r in parts.get("canaries", [])}
    labels = {}
    for row in parts.get("labels", []):
        canary = canaries.get(row["label"])
        labels[str(row["label"])] = LabelState(
            version=int(row["version_number"]),
            pins=_pins(row["pins"]),
            canary=_load.canary(canary) if canary is not None else None,
            canary_pins=_pins(canary["pins"]) if canary is not None else {},
        )
    return PromptEntry(
        asset_id=asset["id"],
        name=asset["name"],
        description=asset["description"],
        owner_id=asset["owner_id"],
        critical=bool(asset["critical"]),
        versions=versions,
        by_hash={v.content_hash: n for n, v in versions.items()},
        labels=labels,
    )


def _pins(text: str | None) -> dict[str, str]:
    return dict(json.loads(text)) if text else {}
