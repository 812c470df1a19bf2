"""The `no-open-incident` gate: an asset with an open incident does not move to a protected label."""

from __future__ import annotations

from aifactory.catalog.gates import MoveContext
from aifactory.store import incident_rows

__all__ = ["NoOpenIncidentGate"]


class NoOpenIncidentGate:
    """Unmet while the asset has open incidents; names each one."""

    name = "no-open-incident"

    def unmet(self, ctx: MoveContext) -> list[str]:
        """One sentence per open incident of the asset."""
        ref = f"{ctx.asset.kind}:{ctx.asset.name}"
        return [
            f'no-open-incident: {row["id"]} "{row["title"]}" ({row["severity"]}) is open on {ref}; '
            "resolve it first"
            for row in incident_rows.open_incidents(ctx.conn, ctx.asset.id)
        ]
