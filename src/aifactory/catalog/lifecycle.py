"""The lifecycle of a version: draft, candidate, approved, canary, production, deprecated, retired.

People mark a version a candidate, deprecate it with a sunset date, or retire it; the other stages
follow from approvals and labels. Content is never deleted: a retired version stays readable by its
content hash (a pin), and every mark is a ledger entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection

from aifactory.catalog import _load
from aifactory.catalog.records import Asset, AssetVersion, LifecycleIn
from aifactory.errors import ConflictError, InvalidInputError
from aifactory.ledger import Event, Ledger
from aifactory.store import catalog_rows as rows
from aifactory.store import consumer_rows
from aifactory.store.changes import bump
from aifactory.store.db import Database
from aifactory.store.notify import notify

__all__ = ["Lifecycle"]


class Lifecycle:
    """Derives each version's stage and records the marks people set."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        *,
        production_label: str,
        quiet_days: int,
        changed: list[Callable[[str], None]],
        today: Callable[[], date] = lambda: date.today(),
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.production_label = production_label
        self.quiet_days = quiet_days
        self.changed = changed
        self.today = today
        self.before_retirement: list[Callable[[], object]] = []
        """Called before a retirement is checked: writers of consumer counts flush them here."""

    def staged(self, conn: Connection, asset: Asset, versions: list[AssetVersion]) -> list[AssetVersion]:
        """The versions with their stage and sunset filled in."""
        marks = rows.states_of(conn, asset.id)
        canaries = {c.version for c in asset.canaries.values()}
        needed = 2 if asset.critical else 1
        staged = []
        for v in versions:
            mark = marks.get(v.number)
            if mark is not None and mark["state"] in ("deprecated", "retired"):
                stage = str(mark["state"])
            elif asset.labels.get(self.production_label) == v.number:
                stage = "production"
            elif v.number in canaries:
                stage = "canary"
            elif _approvers(conn, asset.id, v) >= needed:
                stage = "approved"
            else:
                stage = "candidate" if mark is not None else "draft"
            staged.append(v.model_copy(update={"stage": stage, "sunset": mark["sunset"] if mark else None}))
        return staged

    def mark(self, ref: str, number: int, spec: LifecycleIn, actor: str) -> AssetVersion:
        """Mark a version candidate, deprecated (sunset required) or retired (refused while a label,
        a canary or a recent consumer still uses it, unless forced with a reason)."""
        self._check_spec(spec)
        if spec.state == "retired":
            for flush in self.before_retirement:
                flush()
        marked = self._mark(ref, number, spec, actor)
        for listener in self.changed:
            listener(marked.asset_id)
        return marked

    def _mark(self, ref: str, number: int, spec: LifecycleIn, actor: str) -> AssetVersion:
        with self.db.write() as conn:
            asset = _load.asset(conn, _load.asset_row(conn, ref))
            version = _load.version(_load.version_row(conn, asset.id, number))
            current = rows.states_of(conn, asset.id).get(number)
            if current is not None and current["state"] == "retired":
                raise ConflictError(f"version {number} of {asset.kind}:{asset.name} is retired for good")
            consumers = self._check_retirement(conn, asset, number, spec) if spec.state == "retired" else []
            now = datetime.now(UTC)
            values = {
                "asset_id": asset.id,
                "version_number": number,
                "state": spec.state,
                "sunset": spec.sunset,
                "reason": spec.reason,
                "actor_id": actor,
                "at": now,
            }
            rows.set_state(conn, values)
            data = {
                "version": number,
                "content_hash": version.content_hash,
                "state": spec.state,
                "sunset": spec.sunset.isoformat() if spec.sunset else None,
                "reason": spec.reason,
            } | ({"forced": True, "recent_consumers": consumers} if consumers else {})
            self.ledger.enqueue(conn, Event("asset.lifecycle_changed", f"asset:{asset.id}", actor, data))
            bump(conn, "catalog")
            notify(conn, "catalog")
            return self.staged(conn, asset, [version])[0]

    def _check_spec(self, spec: LifecycleIn) -> None:
        if spec.state == "deprecated" and spec.sunset is None:
            raise InvalidInputError("sunset: deprecating a version needs a sunset date (when it retires)")
        if spec.sunset is not None and spec.sunset < self.today():
            raise InvalidInputError(f"sunset: {spec.sunset} is in the past (today is {self.today()})")
        if spec.force and not spec.reason.strip():
            raise InvalidInputError("reason: forcing a retirement needs a reason")

    def _check_retirement(self, conn: Connection, asset: Asset, number: int, spec: LifecycleIn) -> list[str]:
        labelled = sorted(label for label, v in asset.labels.items() if v == number)
        labelled += sorted(f"{label} (canary)" for label, c in asset.canaries.items() if c.version == number)
        if labelled:
            raise ConflictError(
                f"version {number} of {asset.kind}:{asset.name} still serves label(s) "
                f"{', '.join(labelled)}: move them to another version before retiring it"
            )
        since = datetime.now(UTC) - timedelta(days=self.quiet_days)
        recent = [
            f"{r['consumer']} ({r['environment']}, last {r['last_seen']:%Y-%m-%d})"
            for r in consumer_rows.recent_consumers(conn, asset.id, number, since)
        ]
        if recent and not spec.force:
            raise ConflictError(
                f"version {number} of {asset.kind}:{asset.name} was used in the last {self.quiet_days} "
                f"days by {', '.join(recent)}; retire it when they have moved on, or force it with a reason"
            )
        return recent


def _approvers(conn: Connection, asset_id: str, version: AssetVersion) -> int:
    found = rows.approvals_of(conn, asset_id, version.number)
    return len({a["approver_id"] for a in found if a["approver_id"] != version.author_id})
