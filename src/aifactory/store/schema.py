"""The database schema (SQLAlchemy Core). Alembic migrations in `migrations/` must match it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- ledger -------------------------------------------------------------------------------------

ledger_queue = Table(
    "ledger_queue",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event", Text, nullable=False),
    Column("enqueued_at", UTCDateTime, nullable=False),
)
"""Durably accepted events that the sequencer has not yet given an index."""

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),
)
"""Sequenced leaves: `leaf` is exactly the RFC 8785 bytes that were hashed into the tree."""

ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)
"""Hashes of complete subtrees: level 0 are leaf hashes; (level, idx) covers leaves
[idx * 2**level, (idx + 1) * 2**level)."""

ledger_state = Table(
    "ledger_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
)
"""One row (id = 1): the current tree size and root."""

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
"""Every signed checkpoint, as the C2SP signed note text."""

# --- change feed ---------------------------------------------------------------------------------

changes = Table(
    "changes",
    metadata,
    Column("topic", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
)
"""A counter per topic (`keys`, `principals`, `policies`...) that replicas poll to refresh caches."""

# --- identity -----------------------------------------------------------------------------------

teams = Table(
    "teams",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rpm_limit", Integer, nullable=True),
    Column("tpm_limit", Integer, nullable=True),
)
"""Teams. `rpm_limit` and `tpm_limit` override the gateway's per-team defaults (NULL: the default)."""

principals = Table(
    "principals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("team_id", String(40), ForeignKey("teams.id"), nullable=True),
    Column("roles", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)
"""People and apps. `roles` is a JSON list of role names."""

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("key_hash", LargeBinary(32), nullable=False),
    Column("principal_id", String(40), ForeignKey("principals.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_by", String(40), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("rpm_limit", Integer, nullable=True),
    Column("tpm_limit", Integer, nullable=True),
)
"""API keys: only the SHA-256 of the secret is stored; `prefix` finds the row. `rpm_limit` and
`tpm_limit` override the gateway's per-key defaults (NULL: the default)."""

# --- catalog ------------------------------------------------------------------------------------

assets = Table(
    "assets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("owner_id", String(40), ForeignKey("principals.id"), nullable=False),
    Column("steward_team_id", String(40), ForeignKey("teams.id"), nullable=True),
    Column("review_by", Date, nullable=False),
    Column("retirement_condition", Text, nullable=False, default=""),
    Column("critical", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),
    Column("created_by", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "name", name="uq_assets_kind_name"),
)
"""Every governed asset: prompts, policy packs, routes, deployments, datasets, use cases."""

asset_versions = Table(
    "asset_versions",
    metadata,
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("author_id", String(40), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("asset_id", "number"),
    UniqueConstraint("asset_id", "content_hash", name="uq_asset_versions_asset_hash"),
)
"""Immutable, content-addressed versions (`content` is canonical JSON, `content_hash` its SHA-256)."""

asset_labels = Table(
    "asset_labels",
    metadata,
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("label", String(64), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("moved_by", String(40), nullable=False),
    Column("moved_at", UTCDateTime, nullable=False),
    Column("pins", Text, nullable=True),
    PrimaryKeyConstraint("asset_id", "label"),
)
"""Where each label points now; `pins` (JSON) fixes what the version includes (`ref` -> content hash),
resolved when the label moved."""

label_canaries = Table(
    "label_canaries",
    metadata,
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("label", String(64), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("percent", Float, nullable=False),
    Column("ramp", Text, nullable=False),
    Column("pins", Text, nullable=True),
    Column("started_by", String(40), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("asset_id", "label"),
)
"""A label's canary: another version served to `percent` of subjects (sticky), ramped by `ramp` (JSON
steps `{"after_minutes", "percent"}` from `started_at`)."""

version_states = Table(
    "version_states",
    metadata,
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("sunset", Date, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("actor_id", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("asset_id", "version_number"),
)
"""Lifecycle marks set by people (candidate, deprecated with a sunset, retired); the other stages
(draft, approved, canary, production) follow from approvals and labels."""

asset_consumers = Table(
    "asset_consumers",
    metadata,
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("consumer", String(80), nullable=False),
    Column("environment", String(64), nullable=False),
    Column("use_case", String(200), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("uses", BigInteger, nullable=False),
    PrimaryKeyConstraint("asset_id", "version_number", "consumer", "environment", "use_case"),
)
"""Who resolved which version (a key or app, per environment and use case), when first and last, and
how often: lineage, and the check before a version retires."""

label_moves = Table(
    "label_moves",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("label", String(64), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("actor_id", String(40), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False, server_default="move"),
    Column("percent", Float, nullable=True),
    Column("pins", Text, nullable=True),
)
"""History of every label move; `to_version` NULL means the label was removed. `kind`: move, remove,
canary (`to_version` the canary at `percent`), canary_end, rollback."""

approvals = Table(
    "approvals",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("approver_id", String(40), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("asset_id", "version_number", "approver_id", name="uq_approvals_once"),
)
"""Approvals of one asset version by one principal."""


# --- gateway ------------------------------------------------------------------------------------

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("principal_id", String(40), nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("team_id", String(40), nullable=True),
    Column("use_case", String(200), nullable=True),
    Column("jurisdiction", String(16), nullable=True),
    Column("surface", String(32), nullable=True),
    Column("subject_hash", String(64), nullable=True),
    Column("operation", String(16), nullable=False),
    Column("route", String(200), nullable=False),
    Column("deployment", String(200), nullable=True),
    Column("upstream_model", String(200), nullable=True),
    Column("status", String(16), nullable=False),
    Column("error_type", String(64), nullable=True),
    Column("stream", Boolean, nullable=False),
    Column("attempts", JSON, nullable=False),
    Column("latency_ms", Numeric(12, 3), nullable=True),
    Column("ttft_ms", Numeric(12, 3), nullable=True),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_usd", Numeric(20, 10), nullable=True),
    Column("price_known", Boolean, nullable=False),
    Column("decision_id", String(40), nullable=True, index=True),
    Column("decision_outcome", String(16), nullable=True),
    Column("risk_class", String(32), nullable=True),
    Column("prompt", String(200), nullable=True),
    Column("prompt_version", Integer, nullable=True),
)
"""One record per model call through the gateway: who, what, which deployment, how long, how much.
`cost_usd` is NULL only when the price is unknown (`price_known` false): never recorded as 0."""

budgets = Table(
    "budgets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("limit_usd", Numeric(20, 10), nullable=False),
    Column("window", String(8), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_by", String(40), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)
"""Hard spending limits per API key, team or use case over a calendar window in a time zone."""

Index(
    "uq_budgets_enabled_scope_subject_window",
    budgets.c.scope,
    budgets.c.subject,
    budgets.c.window,
    unique=True,
    sqlite_where=budgets.c.disabled_at.is_(None),
    postgresql_where=budgets.c.disabled_at.is_(None),
)
"""At most one enabled budget per subject and kind of window; disabled ones may repeat."""

# --- policy -------------------------------------------------------------------------------------

kill_switches = Table(
    "kill_switches",
    metadata,
    Column("scope", String(16), nullable=False),
    Column("value", String(200), nullable=False),
    Column("level", String(16), nullable=False),
    Column("canned_text", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("actor_id", String(40), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "value"),
)
"""The kill switches set now, one per scope and value (`*` for the global one); a cleared switch has
no row (its history is in the ledger)."""

# --- run payloads (retention and erasure) ---------------------------------------------------------

payload_keys = Table(
    "payload_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject_hash", String(64), nullable=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("destroyed_at", UTCDateTime, nullable=True),
)
"""Data keys that encrypt run payloads, each wrapped by the instance's master key: one per data subject
(`subject_hash`, keyed), or one per run without a subject (NULL). Destroying a key overwrites
`wrapped_key` with NULL and sets `destroyed_at`: what it encrypted is unreadable from then on."""

Index(
    "uq_payload_keys_live_subject",
    payload_keys.c.subject_hash,
    unique=True,
    sqlite_where=payload_keys.c.destroyed_at.is_(None),
    postgresql_where=payload_keys.c.destroyed_at.is_(None),
)
"""At most one live key per subject; after an erasure the subject's next run gets a new key."""

Index("ix_payload_keys_subject_hash", payload_keys.c.subject_hash)
"""A subject's keys, destroyed ones included (when was it last erased?)."""

run_payloads = Table(
    "run_payloads",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("key_id", String(40), ForeignKey("payload_keys.id"), nullable=False, index=True),
    Column("nonce", LargeBinary, nullable=True),
    Column("ciphertext", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retention_until", UTCDateTime, nullable=False),
    Column("purged_at", UTCDateTime, nullable=True),
    Column("purge_reason", String(16), nullable=True),
)
"""What a run sent and got back, AES-256-GCM encrypted (the commitment's salt inside). Purging or
erasing sets `nonce` and `ciphertext` to NULL and records when and why (`retention`, `erasure`)."""

Index(
    "ix_run_payloads_due",
    run_payloads.c.retention_until,
    sqlite_where=run_payloads.c.purged_at.is_(None),
    postgresql_where=run_payloads.c.purged_at.is_(None),
)
"""The purge job's scan: live payloads by when they are due."""

# --- evaluation and monitoring ---------------------------------------------------------------------

eval_signers = Table(
    "eval_signers",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("added_by", String(40), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    Column("revoked_by", String(40), nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)
"""Public keys whose signatures on eval records the server accepts (`public_key`: base64 of the raw
32-byte Ed25519 key; `key_id`: `k_` and the first 16 hex digits of its SHA-256). A revoked signer's
records no longer verify."""

eval_records = Table(
    "eval_records",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("signer", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("record", Text, nullable=False),
    Column("submitted_by", String(40), nullable=False),
    Column("submitted_at", UTCDateTime, nullable=False),
)
"""Signed eval records as submitted (`record`: the canonical JSON, signature included; `digest`: its
SHA-256). The other columns are for queries only: the gate reads and verifies `record` itself."""

Index("ix_eval_records_asset_hash", eval_records.c.asset_id, eval_records.c.content_hash)
"""The records of one version of an asset (what the gate looks up)."""

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("asset_id", String(40), ForeignKey("assets.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_by", String(40), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("resolved_by", String(40), nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolution", Text, nullable=True),
)
"""Incidents on an asset (`status` open or resolved); an open one blocks the `no-open-incident` gate."""

Index("ix_incidents_asset_status", incidents.c.asset_id, incidents.c.status)
"""An asset's open incidents (what the gate looks up)."""
