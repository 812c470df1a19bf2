"""The catalog: governed assets, their immutable versions, approvals, reviews, and the one choke
point through which every label moves."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from aifactory.catalog import _load
from aifactory.catalog.gates import Gate
from aifactory.catalog.lifecycle import Lifecycle
from aifactory.catalog.records import (
    LABEL_PATTERN,
    Approval,
    Asset,
    AssetIn,
    AssetVersion,
    LabelMove,
)
from aifactory.catalog.releases import Pinner, Releases
from aifactory.errors import (
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)
from aifactory.ids import new_id
from aifactory.ledger import Event, Ledger
from aifactory.ledger.events import canonical_json
from aifactory.store import catalog_rows as rows
from aifactory.store import identity_rows
from aifactory.store.changes import bump
from aifactory.store.db import Database

__all__ = ["Catalog", "ContentValidator", "content_hash"]

ContentValidator = Callable[[dict[str, Any]], object]
"""Checks an asset kind's version content; raises pydantic's ValidationError or ValueError."""

_LABEL = re.compile(LABEL_PATTERN)


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 (hex) of the RFC 8785 canonical form of an asset version's content."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


class Catalog:
    """Registers assets and versions and moves labels, writing every change to the ledger."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        gates: Sequence[Gate],
        *,
        review_days: int,
        label_gates: Mapping[str, Sequence[str]],
        kinds: Mapping[str, ContentValidator] | None = None,
        pinners: Mapping[str, Pinner] | None = None,
        production_label: str = "production",
        retire_quiet_days: int = 30,
        today: Callable[[], date] = lambda: date.today(),
    ) -> None:
        self.db = db
        self.kinds = dict(kinds or {})
        self.ledger = ledger
        self.review_days = review_days
        self.today = today
        self.releases = Releases(db, ledger, gates, label_gates, pinners)
        self.lifecycle = Lifecycle(
            db,
            ledger,
            production_label=production_label,
            quiet_days=retire_quiet_days,
            changed=self.releases.changed,
            today=today,
        )

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call `listener(asset_id)` after every label move, canary, rollback, lifecycle mark and new
        version this process commits (other processes' changes arrive through the change feed)."""
        self.releases.changed.append(listener)

    # --- assets -----------------------------------------------------------------------------------

    def create(self, spec: AssetIn, actor: str) -> Asset:
        """Register a new asset owned by `spec.owner` (default: the actor)."""
        now = datetime.now(UTC)
        with self.db.write(conflict=f"asset {spec.kind}:{spec.name} already exists") as conn:
            owner = _principal_id(conn, spec.owner or actor)
            team = _team_id(conn, spec.steward_team) if spec.steward_team else None
            if rows.asset(conn, f"{spec.kind}:{spec.name}") is not None:
                raise ConflictError(f"asset {spec.kind}:{spec.name} already exists")
            values = spec.model_dump(exclude={"owner", "steward_team"}) | {
                "id": new_id("ast"),
                "owner_id": owner,
                "steward_team_id": team,
                "status": "active",
                "review_by": spec.review_by or self.today() + timedelta(days=self.review_days),
                "created_by": actor,
                "created_at": now,
            }
            rows.insert_asset(conn, values)
            asset = _load.asset(conn, rows.asset(conn, values["id"]))
            self.ledger.enqueue(
                conn,
                Event(
                    "asset.created",
                    f"asset:{asset.id}",
                    actor,
                    {"kind": asset.kind, "name": asset.name, "owner": owner, "critical": asset.critical},
                ),
            )
            bump(conn, "catalog")
        return asset

    def get(self, ref: str) -> Asset:
        """An asset by id or `kind:name`."""
        with self.db.read() as conn:
            return _load.asset(conn, _load.asset_row(conn, ref))

    def assets(self, kind: str | None = None) -> list[Asset]:
        """Every asset, optionally of one kind."""
        with self.db.read() as conn:
            return [_load.asset(conn, row) for row in rows.assets_list(conn, kind)]

    def due(self, today: date | None = None) -> list[Asset]:
        """Assets past their review date."""
        with self.db.read() as conn:
            return [_load.asset(conn, row) for row in rows.assets_due(conn, today or self.today())]

    def review(self, ref: str, actor: str, next_review_by: date | None = None, comment: str = "") -> Asset:
        """Record a review and move the next review date (default: review_days from today)."""
        next_date = next_review_by or self.today() + timedelta(days=self.review_days)
        if next_date <= self.today():
            raise InvalidInputError(f"next_review_by must be after today ({self.today()}), got {next_date}")
        with self.db.write() as conn:
            row = _load.asset_row(conn, ref)
            rows.set_review_by(conn, row["id"], next_date)
            self.ledger.enqueue(
                conn,
                Event(
                    "asset.reviewed",
                    f"asset:{row['id']}",
                    actor,
                    {"next_review_by": next_date.isoformat(), "comment": comment},
                ),
            )
            return _load.asset(conn, rows.asset(conn, row["id"]))

    # --- versions and approvals -------------------------------------------------------------------

    def push(self, ref: str, content: dict[str, Any], actor: str, message: str = "") -> AssetVersion:
        """Add an immutable version; identical content returns the existing version unchanged.

        Content of a kind with a registered validator (deployments, routes, ...) must pass it.
        """
        version = self._push(ref, content, actor, message)
        if version.created:
            for listener in self.releases.changed:
                listener(version.asset_id)
        return version

    def _push(self, ref: str, content: dict[str, Any], actor: str, message: str) -> AssetVersion:
        digest = content_hash(content)
        with self.db.write(conflict=f"{ref} changed concurrently; push again") as conn:
            row = _load.asset_row(conn, ref)
            asset_id = row["id"]
            self._validate(row["kind"], content)
            existing = rows.version_by_hash(conn, asset_id, digest)
            if existing is not None:
                return _load.version(existing)
            number = rows.max_version(conn, asset_id) + 1
            rows.insert_version(
                conn,
                {
                    "asset_id": asset_id,
                    "number": number,
                    "content_hash": digest,
                    "content": canonical_json(content).decode(),
                    "author_id": actor,
                    "message": message,
                    "created_at": datetime.now(UTC),
                },
            )
            self.ledger.enqueue(
                conn,
                Event(
                    "asset.version_created",
                    f"asset:{asset_id}",
                    actor,
                    {"version": number, "content_hash": digest},
                ),
            )
            bump(conn, "catalog")
            return _load.version(rows.version(conn, asset_id, number), created=True)

    def _validate(self, kind: str, content: dict[str, Any]) -> None:
        validator = self.kinds.get(kind)
        if validator is None:
            return
        try:
            validator(content)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'content'}: {e['msg']}" for e in exc.errors()[:10]
            )
            raise InvalidInputError(f"invalid {kind} content: {problems}") from None
        except ValueError as exc:
            raise InvalidInputError(f"invalid {kind} content: {exc}") from None

    def version(self, ref: str, number: int) -> AssetVersion:
        """One version of an asset, with its lifecycle stage."""
        with self.db.read() as conn:
            asset = _load.asset(conn, _load.asset_row(conn, ref))
            found = _load.version(_load.version_row(conn, asset.id, number))
            return self.lifecycle.staged(conn, asset, [found])[0]

    def versions(self, ref: str) -> list[AssetVersion]:
        """Every version of an asset, with its lifecycle stage."""
        with self.db.read() as conn:
            asset = _load.asset(conn, _load.asset_row(conn, ref))
            found = [_load.version(r) for r in rows.versions_of(conn, asset.id)]
            return self.lifecycle.staged(conn, asset, found)

    def approve(self, ref: str, number: int, actor: str, comment: str = "") -> Approval:
        """Approve one version; the author of that version cannot approve it."""
        with self.db.write() as conn:
            asset_id = _load.asset_row(conn, ref)["id"]
            version = _load.version_row(conn, asset_id, number)
            if version["author_id"] == actor:
                raise PermissionDeniedError(
                    f"you authored version {number} of {ref}; approval must come from someone else",
                    policies=["catalog:no-self-approval"],
                )
            values = {
                "asset_id": asset_id,
                "version_number": number,
                "approver_id": actor,
                "comment": comment,
                "at": datetime.now(UTC),
            }
            try:
                with conn.begin_nested():
                    rows.insert_approval(conn, values)
            except IntegrityError:
                raise ConflictError(f"you already approved version {number} of {ref}") from None
            self.ledger.enqueue(
                conn,
                Event(
                    "asset.approved",
                    f"asset:{asset_id}",
                    actor,
                    {"version": number, "content_hash": version["content_hash"]},
                ),
            )
        return Approval(**values)

    # --- labels: the choke point (see releases.py) ------------------------------------------------

    def move_label(self, ref: str, label: str, number: int | None, actor: str, reason: str = "") -> LabelMove:
        """Point `label` at version `number`, or remove it (`number` None), if every gate passes."""
        return self.releases.move(ref, label, number, actor, reason)

    def history(self, ref: str) -> list[LabelMove]:
        """Every label move of an asset, oldest first."""
        return self.releases.history(ref)

    def gates_for(self, kind: str, label: str) -> tuple[str, ...]:
        """The gates a move of `label` on an asset of `kind` must pass."""
        return self.releases.gates_for(kind, label)


def _principal_id(conn: Connection, ref: str) -> str:
    row = identity_rows.principal(conn, ref)
    if row is None:
        raise InvalidInputError(f"no principal {ref!r}: name an existing person or app")
    return str(row["id"])


def _team_id(conn: Connection, ref: str) -> str:
    row = identity_rows.team(conn, ref)
    if row is None:
        raise InvalidInputError(f"no team {ref!r}: create it first with `aifactory teams create`")
    return str(row["id"])
