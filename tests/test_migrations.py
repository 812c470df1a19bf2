"""Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from aifactory.store import Database
from aifactory.store.migrate import upgrade
from aifactory.store.schema import metadata


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db)
        upgrade(db)  # idempotent: a second start changes nothing
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        db.dispose()
