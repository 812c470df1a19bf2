"""Alembic migrations, applied by `aifactory init` and at server start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from aifactory.store.db import Database
from aifactory.store.schema import metadata

__all__ = ["alembic_config", "replay", "upgrade"]

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database) -> None:
    """Bring the database schema to the newest migration (idempotent).

    An empty database gets the declared schema in one step and is stamped with the newest revision:
    the same tables (tests/test_migrations.py proves the migrations build exactly this schema), in a
    fraction of the time of replaying every migration. No migration carries data.
    """
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if inspect(conn).get_table_names():
            command.upgrade(cfg, "head")
            return
        metadata.create_all(conn, checkfirst=False)
        command.stamp(cfg, "head")


def replay(db: Database, revision: str = "head") -> None:
    """Apply the migrations one by one up to `revision` (what an existing database goes through)."""
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
