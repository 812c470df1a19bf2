"""`aifactory init`: create the data dir, the database, the signing key and the first admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aifactory.catalog.records import AssetIn
from aifactory.identity.records import KeyIn, PrincipalIn, TeamIn
from aifactory.ledger.note import load_or_create_signing_key
from aifactory.retention.keys import load_or_create_master_key
from aifactory.runtime import Runtime
from aifactory.settings import Settings

__all__ = ["InitResult", "initialize"]

ADMIN_NAME = "admin"
SYSTEM_NAME = "aifactory"
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
    load_or_create_master_key(settings.resolved_payload_key_file)
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
    _seed_defaults(runtime, admin.id)
    return key.key


DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "deployment": {
        "local-smollm2": {
            "provider": "local",
            "upstream_model": "smollm2-135m-instruct",
            "region": "local",
            "tags": ["local", "zero-retention"],
            "context_window": 8192,
            "timeout_seconds": 300,
            "prices": {"input_per_mtok": "0", "output_per_mtok": "0"},
        },
        "local-minilm": {
            "provider": "local",
            "upstream_model": "all-minilm-l6-v2",
            "operation": "embeddings",
            "region": "local",
            "tags": ["local", "zero-retention"],
            "timeout_seconds": 120,
            "prices": {"input_per_mtok": "0", "output_per_mtok": "0"},
        },
    },
    "route": {
        "chat-default": {
            "candidates": [{"deployment": "local-smollm2"}],
            "timeout_seconds": 600,
            "default_max_tokens": 256,
        },
        "embeddings-default": {"operation": "embeddings", "candidates": [{"deployment": "local-minilm"}]},
    },
}
"""What a new install serves: the bundled local models behind `chat-default` and
`embeddings-default`. Authored by the `aifactory` app principal, approved by the bootstrap admin,
labelled through the catalog's choke point like any other change."""


def _seed_defaults(runtime: Runtime, admin_id: str) -> None:
    author = runtime.directory.create_principal(
        PrincipalIn(name=SYSTEM_NAME, kind="app", roles=["app"]), actor=None
    )
    catalog = runtime.catalog
    for kind, assets in DEFAULTS.items():
        for name, content in assets.items():
            spec = AssetIn(kind=kind, name=name, owner=admin_id, description="bundled with aifactory")
            asset = catalog.create(spec, author.id)
            version = catalog.push(asset.id, content, author.id, "bundled default")
            catalog.approve(asset.id, version.number, admin_id, "bundled default, reviewed at init")
            catalog.move_label(
                asset.id,
                runtime.settings.gateway_label,
                version.number,
                admin_id,
                "serve the bundled default",
            )
    runtime.gateway.refresh()


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
