"""Verifying a ledger: the local files with `Ledger.verify`, or a server over HTTP as an outside
auditor would (signature of the newest checkpoint, then its root recomputed from every entry)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aifactory.cli._output import console
from aifactory.cli._session import LedgerReader
from aifactory.client.ledger import PAGE_SIZE, LedgerEntry
from aifactory.errors import LedgerIntegrityError
from aifactory.ledger import Ledger
from aifactory.ledger.merkle import Frontier
from aifactory.ledger.note import Checkpoint, NoteError, NoteVerifier

__all__ = ["ProgressFn", "Verified", "audit", "check_local", "progress_bar", "signed_checkpoint"]

ProgressFn = Callable[[int, int], None]
"""Reports (entries done, entries in total)."""


@dataclass(frozen=True)
class Verified:
    """What a verification covered."""

    entries: int
    checkpoints: int
    root: bytes


@contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr (nothing when disabled, as with `--json`)."""
    if not enabled:
        yield lambda _done, _total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console(stderr=True)) as progress:
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def check_local(ledger: Ledger, progress: ProgressFn, verifier_key: str | None = None) -> Verified:
    """Recompute the stored tree and check every signed checkpoint; raise naming the first problem."""
    if verifier_key is not None and verifier_key != ledger.verifier_key():
        raise LedgerIntegrityError(f"the data dir's signing key is not {verifier_key}")
    total = ledger.size()
    progress(0, total)
    report = ledger.verify(lambda done: progress(done, total))
    if report.problem is not None:
        raise LedgerIntegrityError(report.problem.message, index=report.problem.index)
    return Verified(report.entries, report.checkpoints, report.root)


def signed_checkpoint(note: str, verifier_key: str) -> Checkpoint:
    """The checkpoint in `note`, once its signature by `verifier_key` checks out."""
    try:
        verifier = NoteVerifier.from_verifier_key(verifier_key)
        checkpoint = Checkpoint.parse(verifier.verify(note))
    except NoteError as exc:
        raise LedgerIntegrityError(f"the checkpoint does not verify: {exc}") from exc
    if checkpoint.origin != verifier.name:
        raise LedgerIntegrityError(f"the checkpoint names origin {checkpoint.origin}, not {verifier.name}")
    return checkpoint


async def audit(reader: LedgerReader, progress: ProgressFn, verifier_key: str | None = None) -> Verified:
    """Check the newest checkpoint's signature, then recompute its root from every entry."""
    checkpoint = signed_checkpoint(await reader.checkpoint(), verifier_key or await reader.verifier_key())
    frontier = Frontier()
    progress(0, checkpoint.size)
    for start in range(0, checkpoint.size, PAGE_SIZE):
        end = min(start + PAGE_SIZE, checkpoint.size)
        _append(frontier, await reader.entries(start, end), end)
        progress(frontier.size, checkpoint.size)
    if frontier.root() != checkpoint.root:
        raise LedgerIntegrityError(
            f"the entries do not match the signed checkpoint at size {checkpoint.size}: an entry was "
            "modified, deleted, reordered or inserted"
        )
    return Verified(frontier.size, 1, checkpoint.root)


def _append(frontier: Frontier, page: list[LedgerEntry], end: int) -> None:
    for entry in page:
        expected = frontier.size
        if entry.index != expected or entry.event.get("index") != expected:
            raise LedgerIntegrityError(
                f"index {expected} is missing or out of order (got the entry claiming "
                f"{entry.event.get('index')} at {entry.index})",
                index=expected,
            )
        frontier.append(entry.leaf_hash)
    if frontier.size != end:
        raise LedgerIntegrityError(
            f"index {frontier.size} is missing: the signed checkpoint covers it", index=frontier.size
        )
