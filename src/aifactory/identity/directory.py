"""The directory: teams, principals and API keys, and authentication from an in-memory cache.

Authentication reads no database: active keys are cached and the cache is reloaded when the
`identity` change counter moves (this process's own changes, or another replica's, seen by the
change watcher within `change_poll_interval`). The per-minute limits set on keys and teams live in
the same cache, so the gateway finds a caller's limits without a database read either.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aifactory.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from aifactory.identity.keys import generate_key, keys_match, parse_key
from aifactory.identity.permissions import Subject
from aifactory.identity.records import (
    ApiKey,
    KeyIn,
    LimitsIn,
    NewApiKey,
    Principal,
    PrincipalIn,
    Team,
    TeamIn,
)
from aifactory.identity.roles import validate_roles
from aifactory.ids import new_id
from aifactory.ledger import Event, Ledger
from aifactory.store import identity_rows as rows
from aifactory.store.changes import bump
from aifactory.store.db import Database

__all__ = ["TOPIC", "Directory", "RateLimits"]

TOPIC = "identity"

RateLimits = tuple[int | None, int | None]
"""(requests, tokens) per minute set on a key or team; None where the server's default applies."""
_DEFAULTS: RateLimits = (None, None)


@dataclass(frozen=True)
class _CachedKey:
    key_id: str
    key_hash: bytes
    expires_at: datetime | None
    subject: Subject


class Directory:
    """Creates teams, principals and keys (each change in the ledger) and authenticates keys."""

    def __init__(self, db: Database, ledger: Ledger) -> None:
        self.db = db
        self.ledger = ledger
        self._keys: dict[str, _CachedKey] = {}
        self._limits: dict[tuple[str, str], RateLimits] = {}
        self._lock = threading.Lock()
        self.reload()

    # --- authentication ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Reload the active keys and the limits of keys and teams into memory."""
        with self.db.read() as conn:
            active = rows.active_keys(conn)
            teams = rows.team_limits(conn)
        fresh = {
            r["prefix"]: _CachedKey(
                r["id"],
                bytes(r["key_hash"]),
                r["expires_at"],
                Subject(r["principal_id"], r["kind"], tuple(r["roles"]), r["team_id"]),
            )
            for r in active
        }
        limits = {("team", r["id"]): (r["rpm_limit"], r["tpm_limit"]) for r in teams}
        for r in active:
            if r["rpm_limit"] is not None or r["tpm_limit"] is not None:
                limits["key", r["id"]] = (r["rpm_limit"], r["tpm_limit"])
        with self._lock:
            self._keys, self._limits = fresh, limits

    def rate_limits(self, scope: str, subject: str) -> RateLimits:
        """The per-minute limits set on a key or team (`scope` "key" or "team", `subject` its id),
        from memory; None where the server's default applies."""
        return self._limits.get((scope, subject), _DEFAULTS)

    def authenticate(self, presented: str) -> Subject:
        """The principal behind a presented API key; 401 for unknown, expired or revoked keys."""
        return self.identify(presented)[0]

    def identify(self, presented: str) -> tuple[Subject, str]:
        """The principal behind a presented API key and the key's id (for per-key budgets)."""
        prefix, digest = parse_key(presented)
        cached = self._keys.get(prefix)
        if cached is None or not keys_match(cached.key_hash, digest):
            raise AuthenticationError(f"API key aif_{prefix}_*** is unknown or revoked")
        if cached.expires_at is not None and cached.expires_at <= datetime.now(UTC):
            raise AuthenticationError(f"API key aif_{prefix}_*** expired at {cached.expires_at.isoformat()}")
        return cached.subject, cached.key_id

    # --- teams and principals ---------------------------------------------------------------------

    def create_team(self, spec: TeamIn, actor: str | None) -> Team:
        """Add a team."""
        team = Team(id=new_id("team"), created_at=datetime.now(UTC), **spec.model_dump())
        limits = _limits_of(spec)
        with self.db.write(conflict=f"team {spec.name!r} already exists") as conn:
            rows.insert_team(conn, team.model_dump())
            self.ledger.enqueue(
                conn, Event("team.created", f"team:{team.id}", actor, {"name": team.name} | limits)
            )
            if limits:
                bump(conn, TOPIC)
        if limits:
            self.reload()
        return team

    def team(self, ref: str) -> Team:
        """A team by id or name."""
        with self.db.read() as conn:
            row = rows.team(conn, ref)
        if row is None:
            raise NotFoundError(f"no team {ref!r}")
        return Team(**row)

    def set_team_limits(self, ref: str, spec: LimitsIn, actor: str | None) -> Team:
        """Set a team's own per-minute limits (see `set_key_limits`)."""
        team = self.team(ref)
        self._set_limits("team", team.id, spec, actor)
        return self.team(team.id)

    def teams(self) -> list[Team]:
        """Every team."""
        with self.db.read() as conn:
            return [Team(**r) for r in rows.teams_list(conn)]

    def create_principal(self, spec: PrincipalIn, actor: str | None) -> Principal:
        """Add a person or app with roles."""
        roles = list(validate_roles(spec.roles))
        with self.db.write(conflict=f"principal {spec.name!r} already exists") as conn:
            team_id = None
            if spec.team is not None:
                team = rows.team(conn, spec.team)
                if team is None:
                    raise InvalidInputError(f"no team {spec.team!r}: create it first")
                team_id = team["id"]
            principal = Principal(
                id=new_id("prn"),
                name=spec.name,
                kind=spec.kind,
                roles=roles,
                team_id=team_id,
                created_at=datetime.now(UTC),
            )
            rows.insert_principal(conn, principal.model_dump())
            self.ledger.enqueue(
                conn,
                Event(
                    "principal.created",
                    f"principal:{principal.id}",
                    actor,
                    {"kind": spec.kind, "roles": roles, "team": team_id},
                ),
            )
            bump(conn, TOPIC)
        return principal

    def principal(self, ref: str) -> Principal:
        """A principal by id or name."""
        with self.db.read() as conn:
            row = rows.principal(conn, ref)
        if row is None:
            raise NotFoundError(f"no principal {ref!r}")
        return Principal(**row)

    def principals(self) -> list[Principal]:
        """Every principal."""
        with self.db.read() as conn:
            return [Principal(**r) for r in rows.principals_list(conn)]

    # --- keys -------------------------------------------------------------------------------------

    def create_key(self, spec: KeyIn, owner_id: str, actor: str | None) -> NewApiKey:
        """Create an API key for `owner_id`; the secret is in the result and nowhere else."""
        material = generate_key()
        now = datetime.now(UTC)
        expires = now + timedelta(days=spec.expires_in_days) if spec.expires_in_days else None
        record = ApiKey(
            id=new_id("key"),
            prefix=material.prefix,
            principal_id=owner_id,
            name=spec.name,
            created_by=actor,
            created_at=now,
            expires_at=expires,
            revoked_at=None,
            rpm_limit=spec.rpm_limit,
            tpm_limit=spec.tpm_limit,
        )
        with self.db.write(conflict="key prefix collision; try again") as conn:
            rows.insert_key(conn, record.model_dump() | {"key_hash": material.key_hash})
            self.ledger.enqueue(
                conn,
                Event(
                    "key.created",
                    f"key:{record.id}",
                    actor,
                    {
                        "prefix": record.prefix,
                        "principal": owner_id,
                        "name": spec.name,
                        "expires_at": expires.isoformat() if expires else None,
                    }
                    | _limits_of(spec),
                ),
            )
            bump(conn, TOPIC)
        self.reload()
        return NewApiKey(**record.model_dump(), key=material.full_key)

    def key(self, ref: str) -> ApiKey:
        """A key's metadata by id or prefix."""
        with self.db.read() as conn:
            row = rows.key(conn, ref)
        if row is None:
            raise NotFoundError(f"no API key {ref!r}")
        return ApiKey(**row)

    def keys(self, principal_id: str | None = None) -> list[ApiKey]:
        """Key metadata, all or one principal's."""
        with self.db.read() as conn:
            return [ApiKey(**r) for r in rows.keys(conn, principal_id)]

    def set_key_limits(self, ref: str, spec: LimitsIn, actor: str | None) -> ApiKey:
        """Set a key's own per-minute limits: fields left out stay, None goes back to the server's
        default. Every replica applies them within the change poll interval."""
        key = self.key(ref)
        if key.revoked_at is not None:
            raise ConflictError(f"API key {key.id} is revoked: its limits no longer matter")
        self._set_limits("key", key.id, spec, actor)
        return self.key(key.id)

    def _set_limits(self, kind: str, row_id: str, spec: LimitsIn, actor: str | None) -> None:
        values = spec.model_dump(include=spec.model_fields_set)
        if not values:
            return
        with self.db.write() as conn:
            rows.set_limits(conn, kind, row_id, values)
            self.ledger.enqueue(conn, Event(f"{kind}.limits_set", f"{kind}:{row_id}", actor, values))
            bump(conn, TOPIC)
        self.reload()

    def revoke_key(self, ref: str, actor: str | None) -> ApiKey:
        """Revoke a key; every replica refuses it within the change poll interval."""
        key = self.key(ref)
        with self.db.write() as conn:
            if not rows.revoke_key(conn, key.id, datetime.now(UTC)):
                raise ConflictError(f"API key {key.id} is already revoked")
            self.ledger.enqueue(
                conn,
                Event(
                    "key.revoked",
                    f"key:{key.id}",
                    actor,
                    {"prefix": key.prefix, "principal": key.principal_id},
                ),
            )
            bump(conn, TOPIC)
        self.reload()
        return self.key(key.id)


def _limits_of(spec: KeyIn | TeamIn) -> dict[str, int]:
    """The limits a new key or team sets, for its ledger event (none: nothing to record)."""
    return {name: value for name in ("rpm_limit", "tpm_limit") if (value := getattr(spec, name)) is not None}
