"""Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from aifactory.errors import ConflictError
from aifactory.store import Database
from aifactory.store.migrate import alembic_config, replay, upgrade
from aifactory.store.schema import api_keys, budgets, metadata, payload_keys, run_payloads, teams


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    db = Database(database_url)
    try:
        replay(db)  # every migration, one by one, from an empty database
        upgrade(db)  # idempotent: a second start changes nothing
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        db.dispose()


def test_an_empty_database_gets_the_declared_schema_stamped_at_the_newest_revision(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
            assert MigrationContext.configure(conn).get_current_revision() == head
        upgrade(db)  # a second start finds it current
    finally:
        db.dispose()


def _migrate(db: Database, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_0003_keeps_budgets_and_lets_a_disabled_one_be_replaced(database_url: str) -> None:
    db = Database(database_url)
    try:
        _migrate(db, "0002")
        row = {
            "scope": "team",
            "subject": "team_1",
            "limit_usd": Decimal(5),
            "window": "day",
            "timezone": "UTC",
            "created_at": datetime.now(UTC),
        }
        with db.write() as conn:
            conn.execute(insert(budgets), [row | {"id": "bud_old", "disabled_at": datetime.now(UTC)}])
            conn.execute(insert(budgets), [row | {"id": "bud_week", "window": "week"}])
        _migrate(db, "head")
        with db.write() as conn:
            conn.execute(insert(budgets), [row | {"id": "bud_new"}])  # replaces the disabled one
        with pytest.raises(ConflictError), db.write(conflict="duplicate") as conn:
            conn.execute(insert(budgets), [row | {"id": "bud_twin"}])
        with db.read() as conn:
            ids = conn.execute(select(budgets.c.id).order_by(budgets.c.id)).scalars().all()
            assert ids == ["bud_new", "bud_old", "bud_week"]
            assert conn.execute(select(api_keys.c.rpm_limit, api_keys.c.tpm_limit)).all() == []
            assert conn.execute(select(teams.c.rpm_limit, teams.c.tpm_limit)).all() == []
        # Down again is refused while a disabled budget has a successor, and fine once it has none.
        with pytest.raises(IntegrityError):
            _migrate(db, "0002", down=True)
        with db.write() as conn:
            conn.execute(delete(budgets).where(budgets.c.id == "bud_old"))
        _migrate(db, "0002", down=True)
        _migrate(db, "head")
    finally:
        db.dispose()


def test_0005_adds_and_drops_the_payload_tables(database_url: str) -> None:
    db = Database(database_url)
    try:
        _migrate(db, "head")
        now = datetime.now(UTC)
        with db.write() as conn:
            conn.execute(
                insert(payload_keys),
                [{"id": "pkey_1", "subject_hash": "h", "wrapped_key": b"k", "created_at": now}],
            )
            conn.execute(
                insert(run_payloads),
                [
                    {
                        "run_id": "run_1",
                        "key_id": "pkey_1",
                        "nonce": b"n",
                        "ciphertext": b"c",
                        "created_at": now,
                        "retention_until": now,
                    }
                ],
            )
        with pytest.raises(ConflictError), db.write(conflict="two live keys") as conn:
            conn.execute(insert(payload_keys), [{"id": "pkey_2", "subject_hash": "h", "created_at": now}])
        with db.write() as conn:  # once destroyed, the subject may get a new key
            conn.execute(payload_keys.update().values(wrapped_key=None, destroyed_at=now))
            conn.execute(insert(payload_keys), [{"id": "pkey_2", "subject_hash": "h", "created_at": now}])
        _migrate(db, "0004", down=True)
        tables = set(inspect(db.engine).get_table_names())
        assert not {"payload_keys", "run_payloads"} & tables
        assert "runs" in tables
        _migrate(db, "head")
    finally:
        db.dispose()
