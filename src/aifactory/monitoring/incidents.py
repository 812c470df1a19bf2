"""Incidents: something is wrong with an asset in service. While one is open, the
`no-open-incident` gate keeps the asset's protected labels where they are.

People open and resolve them today; monitoring will open them automatically. Opening and resolving
are ledger entries (`incident.opened`, `incident.resolved`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aifactory.errors import ConflictError, InvalidInputError, NotFoundError
from aifactory.ids import new_id
from aifactory.ledger import Event, Ledger
from aifactory.monitoring.records import STATUSES, Incident, IncidentIn
from aifactory.store import catalog_rows
from aifactory.store import incident_rows as rows
from aifactory.store.db import Database

__all__ = ["Incidents"]


class Incidents:
    """Opens, resolves and lists incidents on assets."""

    def __init__(self, db: Database, ledger: Ledger) -> None:
        self.db = db
        self.ledger = ledger

    def open(self, spec: IncidentIn, actor: str) -> Incident:
        """Open an incident on an asset."""
        with self.db.write() as conn:
            asset = catalog_rows.asset(conn, spec.asset)
            if asset is None:
                raise InvalidInputError(f"no asset {spec.asset!r} (use its id or kind:name)", field="asset")
            incident = Incident(
                id=new_id("inc"),
                asset_id=asset["id"],
                title=spec.title,
                severity=spec.severity,
                status="open",
                opened_by=actor,
                opened_at=datetime.now(UTC),
            )
            rows.insert_incident(conn, incident.model_dump())
            data = {"asset": asset["id"], "title": spec.title, "severity": spec.severity}
            self.ledger.enqueue(conn, Event("incident.opened", f"incident:{incident.id}", actor, data))
        return incident

    def resolve(self, incident_id: str, resolution: str, actor: str) -> Incident:
        """Resolve an open incident (409 when it is already resolved)."""
        with self.db.write() as conn:
            if rows.incident(conn, incident_id) is None:
                raise NotFoundError(f"no incident {incident_id}")
            if not rows.resolve_incident(conn, incident_id, actor, datetime.now(UTC), resolution):
                raise ConflictError(f"incident {incident_id} is already resolved")
            data = {"resolution": resolution}
            self.ledger.enqueue(conn, Event("incident.resolved", f"incident:{incident_id}", actor, data))
            resolved = rows.incident(conn, incident_id)
            assert resolved is not None
            return Incident(**resolved)

    def get(self, incident_id: str) -> Incident:
        """One incident."""
        with self.db.read() as conn:
            row = rows.incident(conn, incident_id)
        if row is None:
            raise NotFoundError(f"no incident {incident_id}")
        return Incident(**row)

    def list(self, asset: str | None = None, status: str | None = None) -> list[Incident]:
        """The newest incidents (at most 100), optionally of one asset and in one status."""
        if status is not None and status not in STATUSES:
            raise InvalidInputError(f"status: {status!r} is not one of {', '.join(STATUSES)}", field="status")
        with self.db.read() as conn:
            asset_id = None
            if asset:
                row = catalog_rows.asset(conn, asset)
                if row is None:
                    raise NotFoundError(f"no asset {asset!r} (use its id or kind:name)")
                asset_id = row["id"]
            return [Incident(**row) for row in rows.incidents_list(conn, asset_id, status)]
