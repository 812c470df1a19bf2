"""`aifactory init`: create the data dir, the database, the signing key and the first admin."""

from __future__ import annotations

from dataclasses import dataclass

from aifactory.identity.records import KeyIn, PrincipalIn, TeamIn
from aifactory.ledger.note import load_or_create_signing_key
from aifactory.runtime import Runtime
from aifactory.settings import Settings

__all__ = ["InitResult", "initialize"]

ADMIN_NAME = "admin"
SYSTEM_NAME = "aifactory"
PLATFORM_TEAM = "platform"


@dataclass(frozen=True)
class InitResult:
    """What `initialize` did. `admin_key` is None when the data dir was already set up."""

    data_dir: str
    database_url: str
    verifier_key: str
    admin_key: str | None


def initialize(settings: Settings) -> InitResult:
    """Set up a data dir and database (idempotent); the first run returns a bootstrap admin key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    load_or_create_signing_key(settings.resolved_ledger_key_file)
    runtime = Runtime.open(settings)
    try:
        admin_key = None
        if not runtime.directory.principals():
            admin_key = _bootstrap_admin(runtime)
        runtime.ledger.sync()
        return InitResult(
            str(settings.data_dir.resolve()),
            _safe_url(settings.resolved_database_url),
            runtime.ledger.verifier_key(),
            admin_key,
        )
    finally:
        runtime.close()


def _bootstrap_admin(runtime: Runtime) -> str:
    team = runtime.directory.create_team(TeamIn(name=PLATFORM_TEAM), actor=None)
    admin = runtime.directory.create_principal(
        PrincipalIn(name=ADMIN_NAME, kind="person", roles=["admin"], team=team.id), actor=None
    )
    key = runtime.directory.create_key(KeyIn(name="bootstrap admin key"), admin.id, actor=None)
    return key.key


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
