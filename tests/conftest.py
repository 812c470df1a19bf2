"""Shared fixtures: a real database (SQLite file and PostgreSQL), an initialised data dir, and a
real server on loopback."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from aifactory.bootstrap import initialize
from aifactory.runtime import Runtime
from aifactory.server import create_app
from aifactory.settings import Settings

POSTGRES_URL = os.environ.get(
    "AIFACTORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> bool:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


_PG = _postgres_available()
if not _PG and os.environ.get("CI"):
    raise RuntimeError(f"PostgreSQL is required in CI and is not reachable at {POSTGRES_URL}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aifactory.db'}"
        return
    if not _PG:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        sep = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a data dir in tmp_path, on the parametrised database."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        ledger_checkpoint_interval=0.2,
        change_poll_interval=0.1,
    )


@pytest.fixture
def admin_key(settings: Settings) -> str:
    """Initialise the data dir; the bootstrap admin key."""
    key = initialize(settings).admin_key
    assert key is not None
    return key


@pytest.fixture
def runtime(settings: Settings, admin_key: str) -> Iterator[Runtime]:
    """An opened runtime on an initialised data dir (background threads not started)."""
    rt = Runtime.open(settings)
    try:
        yield rt
    finally:
        rt.close()


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real aifactory server on loopback, with an admin client."""

    url: str
    admin_key: str
    settings: Settings
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None = None) -> httpx.Client:
        """An HTTP client for the server, sending `key` (default: the admin key); closed at teardown."""
        token = self.admin_key if key is None else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def close(self) -> None:
        """Close every client handed out."""
        for client in self.clients:
            client.close()


def run_server(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Start uvicorn with create_app(settings) in a thread; wait until it answers."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,  # an open event stream must not hold the test up
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def serving(settings: Settings, admin_key: str) -> Iterator[LiveServer]:
    """A running server on an initialised data dir, stopped (its clients closed) on exit."""
    server, thread, url = run_server(settings)
    live = LiveServer(url, admin_key, settings)
    try:
        yield live
    finally:
        live.close()
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def live_server(settings: Settings, admin_key: str) -> Iterator[LiveServer]:
    """A running server on an initialised data dir."""
    with serving(settings, admin_key) as live:
        yield live
