"""The prompt registry of one process: push from files, resolve and render from the in-memory
snapshot, count consumers, search, and tell watchers when a label moves.

Label moves, canaries, rollbacks and lifecycle marks are not here: they are the catalog's choke
point (`aifactory.catalog.releases`), the same for prompts as for every asset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aifactory.catalog import Catalog
from aifactory.catalog.records import AssetIn, AssetVersion
from aifactory.errors import ConflictError, InvalidInputError, NotFoundError
from aifactory.prompts.files import PromptFile
from aifactory.prompts.refs import parse_ref
from aifactory.prompts.resolution import Resolution, Selector, resolve
from aifactory.prompts.snapshot import KIND, PromptEntry, PromptSnapshot, load_snapshot
from aifactory.prompts.spec import PromptSpec
from aifactory.prompts.templates import RenderedPrompt, find_cycle, includes, render
from aifactory.prompts.usage import Consumer, UsageRecorder
from aifactory.store import consumer_rows
from aifactory.store.db import Database

__all__ = ["LabelChange", "Prompts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelChange:
    """A label of a prompt now serves something else (what a watching client must refetch)."""

    name: str
    label: str
    version: int | None
    canary_version: int | None
    canary_percent: float | None


class _Watchers:
    """Async queues of SSE subscribers, fed from whichever thread refreshed the snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[LabelChange]]] = []

    def subscribe(self) -> asyncio.Queue[LabelChange]:
        queue: asyncio.Queue[LabelChange] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._queues.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LabelChange]) -> None:
        with self._lock:
            self._queues = [(loop, q) for loop, q in self._queues if q is not queue]

    def publish(self, changes: list[LabelChange]) -> None:
        with self._lock:
            queues = list(self._queues)
        for loop, queue in queues:
            for change in changes:
                with contextlib.suppress(RuntimeError):  # that subscriber's loop has closed
                    loop.call_soon_threadsafe(_offer, queue, change)


def _offer(queue: asyncio.Queue[LabelChange], change: LabelChange) -> None:
    if not queue.full():  # a subscriber that stopped reading loses notices, not the server's memory
        queue.put_nowait(change)


class Prompts:
    """Prompts served from memory; every change goes through the catalog."""

    def __init__(
        self,
        catalog: Catalog,
        db: Database,
        *,
        default_label: str,
        usage_interval: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.catalog = catalog
        self.db = db
        self.default_label = default_label
        self.now = now
        self.usage = UsageRecorder(db, interval=usage_interval)
        self.watchers = _Watchers()
        self._specs: dict[str, PromptSpec] = {}
        self._snapshot = PromptSnapshot()
        self._refresh_lock = threading.Lock()

    @property
    def snapshot(self) -> PromptSnapshot:
        """What is served now."""
        return self._snapshot

    def refresh(self) -> None:
        """Reload the snapshot from the catalog and tell watchers which labels changed."""
        self._reload(None)

    def refresh_asset(self, asset_id: str) -> None:
        """Reload one asset, if it is a prompt (after this process changed it: cheap, at once)."""
        self._reload(asset_id)

    def _reload(self, asset_id: str | None) -> None:
        with self._refresh_lock:
            with self.db.read() as conn:
                fresh = load_snapshot(conn, self._specs, asset_id)
            if asset_id is not None:
                fresh = self._snapshot.replacing(asset_id, fresh)
            before, after = self._snapshot.label_states(), fresh.label_states()
            self._snapshot = fresh
        changes = [
            LabelChange(name, label, *(after.get((name, label)) or (None, None, None)))
            for name, label in sorted(before.keys() | after.keys())
            if before.get((name, label)) != after.get((name, label))
        ]
        if changes:
            self.watchers.publish(changes)

    # --- serving ----------------------------------------------------------------------------------

    def resolve(
        self, name: str, select: Selector, consumer: Consumer, subject: str | None = None
    ) -> Resolution:
        """The version to serve `consumer` (sticky by `subject`, else by the consumer), counted."""
        found = resolve(
            self._snapshot,
            name,
            select,
            subject=subject or consumer.id,
            default_label=self.default_label,
            now=self.now(),
        )
        self.usage.record(found.asset_id, found.version, consumer)
        return found

    def render(self, resolution: Resolution, variables: Mapping[str, Any]) -> RenderedPrompt:
        """Render a resolved version: includes come from its pins, else from the snapshot now."""
        return render(resolution.spec, variables, lambda ref: self._included(ref, resolution.pins))

    def _included(self, ref: str, pins: Mapping[str, str]) -> PromptSpec:
        parsed = parse_ref(ref)
        digest = pins.get(ref)
        select = Selector(digest=digest) if digest else Selector(parsed.label, parsed.version, parsed.digest)
        return resolve(
            self._snapshot, parsed.name, select, subject="", default_label=self.default_label, now=self.now()
        ).spec

    # --- authoring --------------------------------------------------------------------------------

    def push(self, prompt: PromptFile, actor: str, message: str = "") -> AssetVersion:
        """Register the prompt if it is new, then add the version (identical content: the existing
        one). Includes must name prompts that exist and must not form a cycle."""
        self._check_includes(prompt.name, prompt.spec)
        ref = f"{KIND}:{prompt.name}"
        try:
            self.catalog.get(ref)
        except NotFoundError:
            spec = AssetIn(
                kind=KIND, name=prompt.name, description=prompt.description, critical=prompt.critical
            )
            with contextlib.suppress(ConflictError):  # pushed at the same moment: add to theirs
                self.catalog.create(spec, actor)
        return self.catalog.push(ref, prompt.spec.content(), actor, message)

    def _check_includes(self, name: str, spec: PromptSpec) -> None:
        snapshot = self._snapshot
        for ref in sorted(includes(spec)):
            included = parse_ref(ref).name
            if included != name and included not in snapshot.prompts:
                raise InvalidInputError(f"include {ref}: there is no prompt {included!r}; push it first")

        def children(ref: str) -> set[str]:
            if ref == "":
                return includes(spec)
            parsed = parse_ref(ref)
            if parsed.name == name:
                return includes(spec)
            try:
                return includes(self._included(ref, {}))
            except NotFoundError:
                return set()  # not resolvable yet (a label not set): checked again when released

        cycle = find_cycle("", children)
        if cycle is not None:
            path = " -> ".join(ref or f"{name} (this version)" for ref in cycle)
            raise InvalidInputError(f"include cycle: {path}")

    # --- lineage and search -----------------------------------------------------------------------

    def consumers(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """Who used the prompt (or one version), most recent first, counted up to now."""
        entry = self.entry(name)
        if version is not None and version not in entry.versions:
            raise NotFoundError(f"prompt {name!r} has no version {version}")
        self.usage.flush()
        with self.db.read() as conn:
            return [dict(r) for r in consumer_rows.consumers_of(conn, entry.asset_id, version)]

    def use_cases(self, entries: list[PromptEntry]) -> dict[str, list[str]]:
        """The use cases that resolved each prompt (name -> sorted use cases)."""
        with self.db.read() as conn:
            found = consumer_rows.use_cases_of(conn, [e.asset_id for e in entries])
        return {e.name: found.get(e.asset_id, []) for e in entries}

    def entry(self, name: str) -> PromptEntry:
        """One prompt from the snapshot, or a 404."""
        found = self._snapshot.prompts.get(name)
        if found is None:
            raise NotFoundError(f"no prompt {name!r}; `aifactory prompts list` shows the prompts there are")
        return found

    def search(
        self,
        query: str | None = None,
        *,
        tag: str | None = None,
        function: str | None = None,
        risk: str | None = None,
        model_family: str | None = None,
    ) -> list[PromptEntry]:
        """Prompts whose name, description or tags match, by name. Tags come from the version the
        default label serves, else the newest."""
        found = []
        for entry in sorted(self._snapshot.prompts.values(), key=lambda e: e.name):
            tags = entry.tags(self.default_label)
            if query and query.lower() not in f"{entry.name} {entry.description}".lower():
                continue
            if tag and tag not in tags.get("labels", []):
                continue
            if any(want and tags.get(key) != want for key, want in _facets(function, risk, model_family)):
                continue
            found.append(entry)
        return found


def _facets(function: str | None, risk: str | None, model_family: str | None) -> list[tuple[str, str | None]]:
    return [("function", function), ("risk", risk), ("model_family", model_family)]
