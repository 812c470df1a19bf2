"""Reading catalog rows into records, inside a caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Connection, RowMapping

from aifactory.catalog.records import Asset, AssetVersion, Canary
from aifactory.errors import NotFoundError
from aifactory.store import catalog_rows as rows

__all__ = ["Lookup", "asset", "asset_row", "canary", "lookup", "version", "version_row"]

Lookup = Callable[[str, str], AssetVersion]
"""`lookup("kind:name", selector)`: the version a label (its stable version), `v<number>` or
`sha256:<hash>` names; raises NotFoundError."""


def asset_row(conn: Connection, ref: str) -> RowMapping:
    """An asset's row by id or `kind:name`, or a 404 naming the reference."""
    row = rows.asset(conn, ref)
    if row is None:
        raise NotFoundError(f"no asset {ref!r} (use its id or kind:name)")
    return row


def asset(conn: Connection, row: RowMapping | None) -> Asset:
    """The asset of a row, with its labels and canaries."""
    assert row is not None
    canaries = {str(c["label"]): canary(c) for c in rows.canaries_of(conn, row["id"])}
    return Asset(**row, labels=rows.labels_of(conn, row["id"]), canaries=canaries)


def canary(row: RowMapping) -> Canary:
    """The canary of a `label_canaries` row."""
    return Canary(
        version=row["version_number"],
        percent=row["percent"],
        ramp=json.loads(row["ramp"]),
        started_by=row["started_by"],
        started_at=row["started_at"],
    )


def version_row(conn: Connection, asset_id: str, number: int) -> RowMapping:
    """One version's row, or a 404."""
    row = rows.version(conn, asset_id, number)
    if row is None:
        raise NotFoundError(f"asset {asset_id} has no version {number}")
    return row


def version(row: RowMapping | None, *, created: bool = False) -> AssetVersion:
    """The version of a row, its content parsed."""
    assert row is not None
    return AssetVersion(**(dict(row) | {"content": json.loads(row["content"])}), created=created)


def lookup(conn: Connection) -> Lookup:
    """Resolve `kind:name` + selector to a version, reading through `conn`."""

    def find(ref: str, selector: str) -> AssetVersion:
        row = asset_row(conn, ref)
        if selector.startswith("sha256:"):
            found = rows.version_by_hash(conn, row["id"], selector.removeprefix("sha256:"))
            if found is None:
                raise NotFoundError(f"{ref} has no version with content hash {selector}")
            return version(found)
        if selector[:1] == "v" and selector[1:].isdigit():
            return version(version_row(conn, row["id"], int(selector[1:])))
        number = rows.labels_of(conn, row["id"]).get(selector)
        if number is None:
            raise NotFoundError(f"{ref} has no label '{selector}'")
        return version(version_row(conn, row["id"], number))

    return find
