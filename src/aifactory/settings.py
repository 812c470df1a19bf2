"""Settings: the one typed configuration object, read from `AIFACTORY_*` environment variables.

Every field carries a description; `docs/settings.md` is checked against them by a test.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one aifactory process (server, CLI or library use)."""

    model_config = SettingsConfigDict(env_prefix="AIFACTORY_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path(".aifactory"),
        description="Directory for the embedded database, the ledger signing key and caches.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database. Unset: SQLite file `aifactory.db` in the data dir. "
        "PostgreSQL: `postgresql+psycopg://user@host:5432/db`.",
    )
    url: str | None = Field(
        default=None,
        description="Base URL of a running aifactory server for the CLI; unset, the CLI works on the "
        "local data dir.",
    )
    api_key: str | None = Field(
        default=None,
        description="API key the CLI and SDK send as a Bearer token to the server at `url`.",
    )
    host: str = Field(default="127.0.0.1", description="Address `aifactory serve` binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `aifactory serve` listens on.")
    ledger_origin: str = Field(
        default="aifactory.local/ledger",
        description="Origin line of ledger checkpoints (C2SP tlog-checkpoint) and the signer's key name.",
    )
    ledger_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs checkpoints. Unset: `ledger.key` in the data "
        "dir, created by `aifactory init` with mode 0600.",
    )
    ledger_checkpoint_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between signed checkpoints while entries arrive (at most one per interval).",
    )
    ledger_batch_size: int = Field(
        default=5000,
        ge=1,
        description="Most entries one group commit or one sequencing step takes at once.",
    )
    sqlite_synchronous: str = Field(
        default="FULL",
        pattern="^(FULL|NORMAL|EXTRA)$",
        description="SQLite `synchronous` pragma. FULL makes an acknowledged write survive power loss.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body the server accepts; larger bodies get 413.",
    )
    change_poll_interval: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between checks for changes made by other replicas (key revocation, "
        "policy edits).",
    )
    cedar_policy_dir: Path | None = Field(
        default=None,
        description="Directory of extra `*.cedar` files added to the built-in permission policies.",
    )
    tool_policy_dir: Path | None = Field(
        default=None,
        description="Directory of extra `*.cedar` tool-call policies, added to the built-in ones "
        "(`@approval` on a forbid policy holds a call for approval instead of denying it).",
    )
    review_days: int = Field(
        default=180,
        ge=1,
        description="Days after registration (or last review) before a catalog asset is due for review.",
    )
    label_gates: dict[str, tuple[str, ...]] = Field(
        default={
            "production": ("approval", "no-open-incident"),
            "prompt:production": ("approval", "eval-record", "no-open-incident"),
        },
        description="The gate policy of label moves: `label` or `kind:label` -> the gates a move to it "
        "must pass (`kind:label` wins over `label`; a label not named needs none). JSON object in the "
        "environment.",
    )
    retire_quiet_days: int = Field(
        default=30,
        ge=0,
        description="A version used by any consumer within this many days cannot retire unless forced "
        "with a reason.",
    )
    prompt_label: str = Field(
        default="production",
        pattern=r"^[a-z][a-z0-9_-]{0,63}$",
        description="The label a prompt resolves to when a request names no label, version or hash.",
    )
    prompt_usage_interval: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between writes of prompt consumer counts (lineage) to the database.",
    )
    gateway_label: str = Field(
        default="production",
        pattern=r"^[a-z][a-z0-9_-]{0,63}$",
        description="The catalog label whose deployment and route versions the gateway serves.",
    )
    policy_label: str = Field(
        default="production",
        pattern=r"^[a-z][a-z0-9_-]{0,63}$",
        description="The catalog label whose policy pack versions are active (decide every request).",
    )
    policy_date_tracks: dict[str, str] = Field(
        default_factory=dict,
        description='Date track per pack family, e.g. `{"eu-ai-act": "omnibus"}` (JSON in the '
        "environment); a family not named uses its pack's `default_track`.",
    )
    policy_default_jurisdiction: str | None = Field(
        default=None,
        pattern=r"^(EU|EEA|[A-Z]{2}(-[A-Z0-9]{1,3})?)$",
        description="The jurisdiction of a gateway call that names none (`EU`, `DE`, `US-CO`). Unset: "
        "such calls are outside every jurisdiction-scoped pack (only packs without a jurisdiction "
        "scope apply).",
    )
    policy_as_of: date | None = Field(
        default=None,
        description="Decide every call as if today were this date (`2027-01-01`): a staging instance "
        "rehearsing obligations that start later. Decisions record the time they used. Unset: now.",
    )
    gateway_durable_runs: bool = Field(
        default=True,
        description="Answer a model call only after its run record and ledger entry are committed. "
        "False answers first and commits within milliseconds (a crash can lose the last records).",
    )
    gateway_unknown_price: str = Field(
        default="fail_closed",
        pattern="^(fail_closed|flag)$",
        description="A call whose price is unknown: `fail_closed` refuses it before it is sent; `flag` "
        "allows it, records its cost as unknown (never as $0) and counts it in a metric.",
    )
    gateway_key_rpm: int | None = Field(
        default=None, ge=1, description="Requests per minute allowed to each API key (unset: no limit)."
    )
    gateway_key_tpm: int | None = Field(
        default=None, ge=1, description="Tokens per minute allowed to each API key (unset: no limit)."
    )
    gateway_team_rpm: int | None = Field(
        default=None, ge=1, description="Requests per minute allowed to each team (unset: no limit)."
    )
    gateway_team_tpm: int | None = Field(
        default=None, ge=1, description="Tokens per minute allowed to each team (unset: no limit)."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for counters shared by several replicas (budgets, rate limits), e.g. "
        "`redis://127.0.0.1:6379/0`. Unset: counters live in the process (one server).",
    )
    redis_timeout: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds to wait for Redis to connect or to answer (one retry) before a call that "
        "needs the counters is refused with 503.",
    )
    store_payloads: bool = Field(
        default=True,
        description="Keep what each gateway call sent upstream and got back, encrypted per data subject "
        "(`docs/retention.md`). False keeps run records and ledger entries only.",
    )
    payload_key_file: Path | None = Field(
        default=None,
        description="Master key (32 bytes, base64) that wraps the payload data keys and keys subject "
        "pseudonyms. Unset: `payload.key` in the data dir, created by `aifactory init` with mode 0600. "
        "Replicas share it.",
    )
    retention_default_days: int = Field(
        default=30,
        ge=0,
        description="Days a run's payload is kept when its policy decision sets no retention; a "
        "decision's `retention_min_days` and `retention_max_days` clamp it.",
    )
    retention_purge_interval: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds between purges of payloads past retention by the server; 0 turns the "
        "background purge off (`aifactory data purge` still works).",
    )
    retention_purge_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Most payloads one purge transaction (and its `data.purged` ledger entry) covers.",
    )
    guard_holdback_chars: int = Field(
        default=64,
        ge=8,
        le=4096,
        description="Characters of streamed output held back until the output guard has checked them: "
        "the longest span a content rule or PII type is guaranteed to be caught in.",
    )
    log_level: str = Field(default="INFO", description="Log level of the server and CLI.")
    pii_restore_roles: tuple[str, ...] = Field(
        default=("admin", "platform", "app", "author"),
        description="Roles whose callers get the originals back in a model's output where a policy "
        "pseudonymized PII in their prompt (the caller sent those values; the provider saw only "
        "surrogates). Others see the surrogates. JSON list in the environment.",
    )
    pii_detector: str = Field(
        default="builtin",
        description="The PII detector to use, by its registered name: `builtin`, or `presidio` when "
        "presidio-analyzer is installed, or one a plugin registers.",
    )
    pii_min_score: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="PII findings scoring below this are not reported (weak shapes need a context word).",
    )
    pii_allow_list: tuple[str, ...] = Field(
        default=(),
        description="Values never reported as PII, e.g. a support address (JSON list in the environment).",
    )
    pii_key_file: Path | None = Field(
        default=None,
        description="Secret the `hash` and `pseudonymize` redaction keys derive from (per team, HKDF). "
        "Unset: `pii.key` in the data dir, created with mode 0600 on first use. Share it between replicas.",
    )
    pii_spacy_model: str | None = Field(
        default=None,
        description="spaCy model (installed package name) for the `presidio` detector's NER; unset, it "
        "runs Presidio's pattern recognizers only.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aifactory.db').resolve()}"

    @property
    def resolved_ledger_key_file(self) -> Path:
        """Where the checkpoint signing key lives."""
        return self.ledger_key_file or self.data_dir / "ledger.key"

    @property
    def resolved_payload_key_file(self) -> Path:
        """Where the payload master key lives."""
        return self.payload_key_file or self.data_dir / "payload.key"
