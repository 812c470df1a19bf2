"""Database: one engine per process, with SQLite set up for durable, serialised writes."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError

from aifactory.errors import ConflictError

__all__ = ["Database"]


class Database:
    """A SQLAlchemy engine plus the two ways in: `read()` and `write()` transactions."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        self.engine: Engine = _make_engine(url, sqlite_synchronous)
        # SQLite has one writer at a time. Queue this process's writers on a lock: SQLite's own busy
        # handler sleeps up to 100 ms between retries, which ruins throughput under contention.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reading (SQLite: deferred, never blocks writers in WAL mode)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self, *, conflict: str | None = None, durable: bool = True) -> Iterator[Connection]:
        """A transaction that will write; committed on exit, rolled back on error.

        On SQLite it starts with BEGIN IMMEDIATE so that concurrent writers queue on the busy
        timeout instead of failing when a read lock cannot be upgraded. With `conflict`, a
        uniqueness violation becomes a `ConflictError` with that message.

        `durable=False` skips the flush to disk at commit. Only for work that can be redone from
        durable data: both databases write their log in order, so the next durable commit flushes
        this one too, and a crash loses at most a suffix of such transactions.
        """
        try:
            with self._write_lock, self.engine.connect() as conn:
                conn = conn.execution_options(aifactory_immediate=True, aifactory_durable=durable)
                with conn.begin():
                    yield conn
        except IntegrityError:
            if conflict is None:
                raise
            raise ConflictError(conflict) from None

    def lock(self, conn: Connection, name: str) -> None:
        """Hold a named lock until `conn`'s transaction ends (PostgreSQL advisory lock).

        On SQLite a write transaction is already exclusive, so there is nothing to take.
        """
        if self.is_postgres:
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def try_lock(self, conn: Connection, name: str) -> bool:
        """Take the named lock if free; False when another process holds it."""
        if not self.is_postgres:
            return True
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _make_engine(url: str, synchronous: str) -> Engine:
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        _configure_postgres(engine)
        return engine
    # A small pool: opening a SQLite connection (and setting its pragmas) costs more than a query.
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8, max_overflow=32
    )
    _configure_sqlite(engine, synchronous)
    return engine


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get("aifactory_durable", True):
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        level = synchronous if options.get("aifactory_durable", True) else "NORMAL"
        conn.exec_driver_sql(f"PRAGMA synchronous={level}")  # per transaction: pooled connections
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("aifactory_immediate") else "BEGIN")
