"""`aifactory data`: retention of run payloads: purge what is past retention, erase a data subject.

Both go through the server's routes (or the local data dir in process) and leave a ledger entry."""

from __future__ import annotations

from typing import Annotated

import typer

from aifactory.cli._audit import ProgressFn, progress_bar
from aifactory.cli._output import JsonFlag, emit_json, say
from aifactory.cli._session import current
from aifactory.client import AsyncClient
from aifactory.errors import InvalidInputError

__all__ = ["app", "erase", "purge"]

app = typer.Typer(help="Run payloads: purge past retention, erase a data subject.", no_args_is_help=True)


async def _purge_all(client: AsyncClient, batch: int, progress: ProgressFn) -> dict[str, int]:
    """Purge batch after batch until nothing is due; report the total."""
    done = 0
    batches = 0
    while True:
        report = await client.data.purge(limit=batch)
        done += report.purged
        batches += 1 if report.purged else 0
        progress(done, done + report.remaining)
        if report.purged == 0 or report.remaining == 0:
            return {"purged": done, "batches": batches, "remaining": report.remaining}


@app.command("purge")
def purge(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Payloads per batch (one ledger entry each).")
    ] = 500,
    json_: JsonFlag = False,
) -> None:
    """Purge every run payload past its retention now, in batches, showing progress."""
    with progress_bar("purging payloads", enabled=not json_) as progress:
        result = current().call(lambda client: _purge_all(client, batch, progress))
    if json_:
        emit_json(result)
        return
    say(f"purged {result['purged']} payload(s) past retention in {result['batches']} batch(es)", "green")


@app.command("erase")
def erase(
    subject: Annotated[str, typer.Option(help="The data subject id, as sent in X-Aifactory-Subject.")],
    reason: Annotated[str, typer.Option(help="Why (a ticket number); kept in the ledger.")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Erase a data subject's run payloads for good: destroy its key, delete its ciphertexts."""
    if not subject.strip():
        raise InvalidInputError("--subject must not be empty")
    if not yes and not typer.confirm(f"Erase every stored payload of {subject!r}? This cannot be undone"):
        raise typer.Exit(1)
    report = current().call(lambda client: client.data.erase(subject, reason=reason))
    if json_:
        emit_json(report)
        return
    say(
        f"erased {report.payloads} payload(s) of subject {report.subject_hash[:16]}… "
        f"({report.keys} key(s) destroyed); recorded in the ledger",
        "green",
    )
