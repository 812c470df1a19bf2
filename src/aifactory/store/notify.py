"""Instant change notices between replicas on PostgreSQL: NOTIFY in the writing transaction, LISTEN
on a dedicated connection in every server process.

The change feed (`changes.py`, polled every `change_poll_interval`) stays the backstop and the only
path on SQLite; a notice only makes a replica look sooner. PostgreSQL delivers a NOTIFY when its
transaction commits, and never when it rolls back, so a listener cannot see a change before it can
read it. A notice lost while the connection was down is made up for by calling every listener once
a new connection is listening.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Connection, text

from aifactory.store.db import Database

__all__ = ["CHANNEL", "Listener", "notify"]

CHANNEL = "aifactory_changes"
"""The PostgreSQL channel; a notice's payload is the topic that changed."""

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0


def notify(conn: Connection, topic: str) -> None:
    """Tell listening replicas that `topic` changed, when the caller's transaction commits
    (PostgreSQL; nothing on SQLite, where the change feed's poll is the only path)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, :topic)"), {"channel": CHANNEL, "topic": topic})


class Listener:
    """A thread that LISTENs on `CHANNEL` and calls the listeners of each topic it hears of."""

    def __init__(self, db: Database, *, timeout: float = 0.5) -> None:
        url = db.engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._timeout = timeout
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()
        """Set while a connection is listening (tests and benchmarks wait for it)."""

    def on(self, topic: str, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a notice for `topic` arrives."""
        self._listeners.setdefault(topic, []).append(listener)

    def start(self) -> None:
        """Listen in a background thread."""
        self._thread = threading.Thread(target=self._run, name="change-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (within the notice wait timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:
                log.exception("change listener lost its connection; reconnecting")
            finally:
                self.listening.clear()
            self._stop.wait(_RETRY_SECONDS)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            for topic in self._listeners:  # whatever changed while nobody listened
                self._dispatch(topic)
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=self._timeout):
                    self._dispatch(notice.payload)

    def _dispatch(self, topic: str) -> None:
        for listener in self._listeners.get(topic, ()):
            try:
                listener()
            except Exception:
                log.exception("listener of %s failed", topic)
