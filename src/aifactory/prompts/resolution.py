"""Resolving a prompt from the snapshot: by label (with the sticky canary split), by version number,
or by content hash (a pin). Pure and fast: no database, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from aifactory.errors import GoneError, InvalidInputError, NotFoundError
from aifactory.prompts.snapshot import PromptEntry, PromptSnapshot, PromptVersion
from aifactory.prompts.spec import PromptSpec

__all__ = ["Resolution", "Selector", "bucket", "resolve"]

_BUCKETS = 10_000


@dataclass(frozen=True)
class Selector:
    """Which version of a prompt to serve: exactly one of a label, a version number or a content hash."""

    label: str | None = None
    version: int | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.label, self.version, self.digest) if x is not None]
        if len(given) > 1:
            raise InvalidInputError("name at most one of label, version and hash")


@dataclass(frozen=True)
class Resolution:
    """The version a request resolved to, and why."""

    name: str
    asset_id: str
    version: int
    content_hash: str
    spec: PromptSpec
    label: str | None
    canary: bool
    mark: str | None
    sunset: date | None
    pins: Mapping[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        """A strong validator: the content hash, plus the mark (deprecation changes the headers)."""
        return f'"{self.content_hash}{"." + self.mark if self.mark else ""}"'


def bucket(asset_id: str, label: str, subject: str) -> int:
    """The subject's bucket (0-9999) for a label's split: the same subject always lands the same."""
    digest = hashlib.sha256(f"{asset_id}\x00{label}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS


def resolve(
    snapshot: PromptSnapshot,
    name: str,
    selector: Selector,
    *,
    subject: str,
    default_label: str,
    now: datetime,
) -> Resolution:
    """The version `selector` names (default: `default_label`); a canary serves its share of subjects.

    A retired version is gone (410) unless named by its content hash, which is how a pin keeps it.
    """
    entry = snapshot.prompts.get(name)
    if entry is None:
        raise NotFoundError(f"no prompt {name!r}; `aifactory prompts list` shows the prompts there are")
    if selector.digest is not None:
        return _resolution(entry, _by_hash(entry, selector.digest), None, False, {})
    if selector.version is not None:
        version = entry.versions.get(selector.version)
        if version is None:
            raise NotFoundError(
                f"prompt {name!r} has no version {selector.version} (latest: {_latest(entry)})"
            )
        return _served(entry, version, None, False, {})
    label = selector.label or default_label
    state = entry.labels.get(label)
    if state is None:
        known = ", ".join(sorted(entry.labels)) or "none yet"
        raise NotFoundError(f"prompt {name!r} has no label {label!r} (its labels: {known})")
    canary = state.canary
    if canary is not None and bucket(entry.asset_id, label, subject) < round(canary.percent_at(now) * 100):
        return _served(entry, entry.versions[canary.version], label, True, state.canary_pins)
    return _served(entry, entry.versions[state.version], label, False, state.pins)


def _by_hash(entry: PromptEntry, digest: str) -> PromptVersion:
    number = entry.by_hash.get(digest.removeprefix("sha256:"))
    if number is None:
        raise NotFoundError(f"prompt {entry.name!r} has no version with content hash {digest}")
    return entry.versions[number]


def _served(
    entry: PromptEntry, version: PromptVersion, label: str | None, canary: bool, pins: Mapping[str, str]
) -> Resolution:
    if version.mark == "retired":
        raise GoneError(
            f"version {version.number} of prompt {entry.name!r} is retired; move to a newer version, or "
            f"pin this one by its content hash ({entry.name}@sha256:{version.content_hash}) to keep it"
        )
    return _resolution(entry, version, label, canary, pins)


def _resolution(
    entry: PromptEntry, version: PromptVersion, label: str | None, canary: bool, pins: Mapping[str, str]
) -> Resolution:
    return Resolution(
        name=entry.name,
        asset_id=entry.asset_id,
        version=version.number,
        content_hash=version.content_hash,
        spec=version.spec,
        label=label,
        canary=canary,
        mark=version.mark,
        sunset=version.sunset,
        pins=pins,
    )


def _latest(entry: PromptEntry) -> int | None:
    return max(entry.versions) if entry.versions else None
