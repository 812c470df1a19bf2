"""The ledger: the tamper-evident audit log (writer, sequencer, reads and proofs in one place)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from aifactory.errors import ConfigurationError, InvalidInputError, NotFoundError
from aifactory.ledger.events import Event
from aifactory.ledger.merkle import consistency_proof, inclusion_proof
from aifactory.ledger.merkle import root as merkle_root
from aifactory.ledger.note import NoteSigner, NoteVerifier, load_signing_key
from aifactory.ledger.sequencer import Sequencer
from aifactory.ledger.verify import VerifyReport, verify
from aifactory.settings import Settings
from aifactory.store import ledger_rows as rows
from aifactory.store.db import Database
from aifactory.store.group_commit import GroupCommitWriter

__all__ = ["MAX_PAGE", "Ledger"]

log = logging.getLogger(__name__)

MAX_PAGE = 1000
"""Most entries one read returns."""

_BATCH_PAUSE = 0.1
"""Most seconds the sequencer lets the queue fill between batches under load (a tenth of the
checkpoint interval when that is shorter): fewer, larger transactions leave the write lock to the
writers and the CPU to the requests. Nothing waits on it: appends are durable once queued, and
proofs are served against checkpoints, which come at most once an interval."""


class Ledger:
    """Append events, sequence them into a Merkle tree, sign checkpoints, serve proofs."""

    def __init__(
        self, db: Database, signer: NoteSigner, origin: str, *, batch_size: int = 5000, interval: float = 1.0
    ) -> None:
        self.db = db
        self.signer = signer
        self.origin = origin
        self.verifier = NoteVerifier.from_verifier_key(signer.verifier_key())
        self.sequencer = Sequencer(db, signer, origin, batch_size=batch_size, interval=interval)
        self.writer: GroupCommitWriter[str] = GroupCommitWriter(
            db, rows.enqueue, batch_size=batch_size, name="ledger-writer", on_commit=self.wake
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> Ledger:
        """The ledger of a data dir, signing with its key (created by `aifactory init`)."""
        try:
            key = load_signing_key(settings.resolved_ledger_key_file)
        except (FileNotFoundError, ValueError) as exc:  # missing, or readable by others
            raise ConfigurationError(str(exc)) from exc
        signer = NoteSigner(settings.ledger_origin, key)
        return cls(
            db,
            signer,
            settings.ledger_origin,
            batch_size=settings.ledger_batch_size,
            interval=settings.ledger_checkpoint_interval,
        )

    # --- writing ----------------------------------------------------------------------------------

    def enqueue(self, conn: Connection, *events: Event) -> None:
        """Accept events inside the caller's transaction: they commit (or roll back) with it."""
        rows.enqueue(conn, [event.to_json() for event in events])
        self.wake()

    def append(self, event: Event) -> None:
        """Durably accept one event on its own (group-committed when the writer runs)."""
        if self.writer.is_running:
            self.writer.write(event.to_json())
            return
        with self.db.write() as conn:
            self.enqueue(conn, event)

    async def append_async(self, event: Event) -> None:
        """Durably accept one event without blocking the event loop (the writer must be running)."""
        await self.writer.write_async(event.to_json())

    def wake(self) -> None:
        """Tell the sequencer there is work."""
        self._wake.set()

    def sync(self) -> None:
        """Sequence everything queued and sign a checkpoint now if the tree grew."""
        self.sequencer.integrate_all()
        self.sequencer.checkpoint(force=True)

    # --- background work --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the group-commit writer and the sequencer thread."""
        self.writer.start()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ledger-sequencer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Drain the writer, sequence what is queued, sign a last checkpoint, stop the threads."""
        self.writer.stop()
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join()
            self._thread = None
        self.sync()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.05)  # poll too: other replicas enqueue without waking us
            self._wake.clear()
            try:
                # One batch, then the checkpoint check: under constant load the queue never
                # empties, and checkpoints must still come every interval.
                while self.sequencer.integrate() and not self._stop.is_set():
                    self.sequencer.checkpoint()
                    self._stop.wait(min(_BATCH_PAUSE, self.sequencer.interval / 10))
                self.sequencer.checkpoint()
            except Exception:
                log.exception("ledger sequencing failed; retrying")
                self._stop.wait(0.5)

    # --- reading ----------------------------------------------------------------------------------

    def size(self) -> int:
        """How many entries the tree holds."""
        with self.db.read() as conn:
            state = rows.read_state(conn)
        return state[0] if state else 0

    def checkpoint_note(self) -> str:
        """The newest signed checkpoint (C2SP signed note)."""
        with self.db.read() as conn:
            latest = rows.latest_checkpoint(conn)
        if latest is None:
            raise NotFoundError("no checkpoint has been signed yet; run `aifactory init`")
        return latest[2]

    def verifier_key(self) -> str:
        """The checkpoint verifier key in the C2SP `name+hash+base64` form."""
        return self.signer.verifier_key()

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """Leaves with start <= index < end (at most MAX_PAGE)."""
        size = self.size()
        if start < 0 or end < start:
            raise InvalidInputError(f"need 0 <= start <= end, got start={start} end={end}")
        end = min(end, size, start + MAX_PAGE)
        with self.db.read() as conn:
            return rows.entries(conn, start, end)

    def entry(self, index: int) -> bytes:
        """The leaf at `index`."""
        with self.db.read() as conn:
            leaf = rows.entry(conn, index)
        if leaf is None:
            raise NotFoundError(f"no ledger entry at index {index} (size {self.size()})")
        return leaf

    def root(self, tree_size: int) -> bytes:
        """The root hash of the stored tree of the first `tree_size` entries."""
        with self._tree(tree_size) as nodes:
            return merkle_root(nodes, tree_size)

    def inclusion(self, index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size` leaves."""
        if not 0 <= index < tree_size:
            raise InvalidInputError(
                f"index must be in [0, tree_size), got index={index} tree_size={tree_size}"
            )
        with self._tree(tree_size) as nodes:
            return inclusion_proof(nodes, index, tree_size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between the trees of `first` and `second` leaves."""
        if not 0 < first <= second:
            raise InvalidInputError(f"need 0 < first <= second, got first={first} second={second}")
        with self._tree(second) as nodes:
            return consistency_proof(nodes, first, second)

    @contextmanager
    def _tree(self, tree_size: int) -> Iterator[rows.DbNodes]:
        """The stored nodes, in one read transaction that has checked `tree_size` exists."""
        with self.db.read() as conn:
            state = rows.read_state(conn)
            size = state[0] if state else 0
            if not 1 <= tree_size <= size:
                raise InvalidInputError(
                    f"tree_size must be between 1 and the current size {size}, got {tree_size}"
                )
            yield rows.DbNodes(conn)

    def verify(self, progress: Callable[[int], None] = lambda _n: None) -> VerifyReport:
        """Recompute the whole tree from storage and check every signed checkpoint."""
        with self.db.read() as conn:
            return verify(conn, self.verifier, self.origin, progress)
