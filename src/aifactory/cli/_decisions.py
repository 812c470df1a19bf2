"""`aifactory ledger verify-decisions`: the ledger's entries and the pack versions they name, read
from the local data dir or a server, fed to `aifactory.policy.verification`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aifactory.catalog import Catalog
from aifactory.catalog.records import AssetVersion
from aifactory.cli._audit import ProgressFn
from aifactory.cli._output import emit_json, print_table, say
from aifactory.cli._session import LedgerReader, LocalLedger, Session
from aifactory.client import AsyncClient
from aifactory.client.ledger import PAGE_SIZE
from aifactory.errors import NotFoundError
from aifactory.policy.active import PACK_KIND
from aifactory.policy.verification import DecisionReport, PackLookup, verify_decisions

__all__ = ["catalog_lookup", "client_lookup", "print_report", "replay", "replay_ledger"]


def catalog_lookup(catalog: Catalog) -> PackLookup:
    """Pack versions from the local catalog (the database, as stored)."""

    async def lookup(name: str, number: int) -> AssetVersion | None:
        try:
            return catalog.version(f"{PACK_KIND}:{name}", number)
        except NotFoundError:
            return None

    return lookup


def client_lookup(client: AsyncClient) -> PackLookup:
    """Pack versions from a server (`GET /v1/assets/policy-pack:NAME/versions/N`)."""

    async def lookup(name: str, number: int) -> AssetVersion | None:
        try:
            return await client.assets.version(f"{PACK_KIND}:{name}", number)
        except NotFoundError:
            return None

    return lookup


async def _size(reader: LedgerReader) -> int:
    """How many entries to read: the stored tree locally, the newest checkpoint's size remotely."""
    if isinstance(reader, LocalLedger):
        return reader.ledger.size()
    return int((await reader.checkpoint()).splitlines()[1])


async def _events(reader: LedgerReader, progress: ProgressFn) -> AsyncIterator[tuple[int, Mapping[str, Any]]]:
    total = await _size(reader)
    progress(0, total)
    for start in range(0, total, PAGE_SIZE):
        page = await reader.entries(start, min(start + PAGE_SIZE, total))
        for entry in page:
            yield entry.index, entry.event
        progress(min(start + PAGE_SIZE, total), total)


async def replay(
    reader: LedgerReader, lookup: PackLookup, progress: ProgressFn, tracks: Mapping[str, str]
) -> DecisionReport:
    """Every decision in the ledger `reader` reads, replayed over the pack versions `lookup` finds."""
    return await verify_decisions(_events(reader, progress), lookup, tracks=tracks)


def replay_ledger(session: Session, progress: ProgressFn) -> DecisionReport:
    """Replay the decisions of the server's ledger (with a key) or of the local data dir (without
    one: whoever holds the files may audit them), under the session's date tracks."""
    tracks = session.settings.policy_date_tracks
    if session.is_remote:
        return session.call(lambda client: replay(client.ledger, client_lookup(client), progress, tracks))
    with session.runtime() as rt:
        return asyncio.run(replay(LocalLedger(rt), catalog_lookup(rt.catalog), progress, tracks))


def print_report(report: DecisionReport, mode: str, json_: bool) -> None:
    """The report as JSON, or a table of the decisions that did not verify and a summary line."""
    if json_:
        emit_json({"mode": mode, **report.as_json()})
        return
    failed = [c for c in report.checks if c.status != "ok"]
    if failed:
        rows = [[c.index, c.run, c.outcome, c.status, "; ".join(c.differences) or c.why] for c in failed]
        print_table("Decisions that do not verify", ["index", "run", "outcome", "status", "what"], rows)
    s = report.summary()
    line = (
        f"{s['decisions']} decision(s) in {s['entries']} entries ({mode}): {s['ok']} ok, "
        f"{s['mismatch']} mismatch, {s['unverifiable']} unverifiable"
    )
    say(line, "green" if report.is_verified else "red")
