"""Offline verification of the stored ledger: recompute everything, trust only signatures.

The stored node hashes and the `ledger_state` row are conveniences for serving proofs; verification
recomputes them from the leaves and checks every stored checkpoint's Ed25519 signature and root.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection

from aifactory.ledger.events import canonical_json
from aifactory.ledger.merkle import EMPTY_ROOT, Frontier, MemoryNodes, leaf_hash
from aifactory.ledger.note import Checkpoint, NoteError, NoteVerifier
from aifactory.store import ledger_rows as rows

__all__ = ["Problem", "VerifyReport", "verify"]


@dataclass(frozen=True)
class Problem:
    """The first thing found wrong, with the first index it concerns (None when not about one)."""

    index: int | None
    message: str


@dataclass
class VerifyReport:
    """What `verify` checked and the first problem it found, if any."""

    entries: int = 0
    checkpoints: int = 0
    root: bytes = EMPTY_ROOT
    verified_size: int = 0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return self.problem is None


class _ProblemFoundError(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def verify(
    conn: Connection,
    verifier: NoteVerifier,
    origin: str,
    progress: Callable[[int], None] = lambda _n: None,
) -> VerifyReport:
    """Recompute the tree from the stored leaves and check it against every signed checkpoint."""
    report = VerifyReport()
    try:
        signed = _signed_checkpoints(conn, verifier, origin)
        report.checkpoints = len(signed)
        _walk(conn, signed, report, progress)
    except _ProblemFoundError as failed:
        report.problem = failed.problem
    return report


def _signed_checkpoints(conn: Connection, verifier: NoteVerifier, origin: str) -> list[Checkpoint]:
    found = []
    for size, _root, note in rows.checkpoints(conn):
        try:
            checkpoint = Checkpoint.parse(verifier.verify(note))
        except NoteError as exc:
            raise _ProblemFoundError(Problem(None, f"checkpoint at size {size}: {exc}")) from exc
        if checkpoint.origin != origin or checkpoint.size != size:
            raise _ProblemFoundError(
                Problem(None, f"checkpoint at size {size} names {checkpoint.origin} size {checkpoint.size}")
            )
        found.append(checkpoint)
    return found


def _walk(
    conn: Connection, signed: list[Checkpoint], report: VerifyReport, progress: Callable[[int], None]
) -> None:
    frontier = Frontier.from_nodes(0, MemoryNodes())
    pending = list(signed)
    stored = _StoredNodes(conn)
    while pending and pending[0].size == 0:
        _check_root(pending.pop(0), frontier, report)
    for index, leaf in _contiguous(rows.iter_entries(conn)):
        _check_leaf(index, leaf)
        for key, digest in frontier.append(leaf_hash(leaf)):
            stored.check(key, digest)
        while pending and pending[0].size == frontier.size:
            _check_root(pending.pop(0), frontier, report)
        report.entries = frontier.size
        if frontier.size % 10_000 == 0:
            progress(frontier.size)
    report.root = frontier.root()
    progress(frontier.size)
    if pending:
        raise _ProblemFoundError(
            Problem(
                frontier.size,
                f"index {frontier.size} is missing: a signed checkpoint "
                f"covers {pending[-1].size} entries but only {frontier.size} are stored",
            )
        )


class _StoredNodes:
    """Streams the stored node hashes level by level, in the order the recomputed tree emits them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.levels: dict[int, Iterator[tuple[int, bytes]]] = {}

    def check(self, key: tuple[int, int], digest: bytes) -> None:
        level, index = key
        stream = self.levels.setdefault(level, rows.iter_nodes(self.conn, level))
        if next(stream, None) == (index, digest):
            return
        first = index << level
        if level == 0:
            message = f"index {index} was modified: its leaf does not match the tree"
        else:
            message = f"stored tree node {key} (leaves from index {first}) does not match the recomputed tree"
        raise _ProblemFoundError(Problem(first, message))


def _contiguous(stored: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    for expected, (index, leaf) in enumerate(stored):
        if index != expected:
            raise _ProblemFoundError(
                Problem(expected, f"index {expected} is missing (deleted); next stored is {index}")
            )
        yield index, leaf


def _check_leaf(index: int, leaf: bytes) -> None:
    try:
        body = json.loads(leaf)
        claimed = body.get("index") if isinstance(body, dict) else None
        canonical = canonical_json(body) == leaf
    except (ValueError, UnicodeDecodeError):
        raise _ProblemFoundError(
            Problem(index, f"index {index} was modified: its leaf is not JSON")
        ) from None
    if not canonical:
        raise _ProblemFoundError(
            Problem(index, f"index {index} was modified: its leaf is not RFC 8785 canonical")
        )
    if claimed != index:
        raise _ProblemFoundError(
            Problem(index, f"index {index} holds the entry for index {claimed} (reordered or inserted)")
        )


def _check_root(checkpoint: Checkpoint, frontier: Frontier, report: VerifyReport) -> None:
    if frontier.root() != checkpoint.root:
        first, last = report.verified_size, checkpoint.size - 1
        raise _ProblemFoundError(
            Problem(
                first,
                f"the entries do not match the signed checkpoint at size "
                f"{checkpoint.size}: an entry between index {first} and {last} was "
                "modified, deleted, reordered or inserted",
            )
        )
    report.verified_size = checkpoint.size
