"""The built-in roles. What each may do is decided by the Cedar policies in `default.cedar`."""

from __future__ import annotations

from collections.abc import Iterable

from aifactory.errors import InvalidInputError

__all__ = ["ROLES", "validate_roles"]

ROLES: dict[str, str] = {
    "admin": "everything, including granting the admin role",
    "app": "a calling application: reads assets it is allowed to use",
    "auditor": "reads everything, the ledger included; changes nothing",
    "author": "creates and versions assets, moves their labels, manages own API keys",
    "overseer": "reads everything and moves labels (for example, rolls back a release)",
    "platform": "runs the platform: everything except granting the admin role",
    "reviewer": "reads everything, approves other people's asset versions, moves labels",
}
"""Every built-in role, by name, with what it is for."""


def validate_roles(names: Iterable[str]) -> tuple[str, ...]:
    """The role names, deduplicated in order; an unknown name is an `InvalidInputError`."""
    roles = tuple(dict.fromkeys(names))
    unknown = [name for name in roles if name not in ROLES]
    if unknown:
        listed = ", ".join(f'"{name}"' for name in unknown)
        noun = "role" if len(unknown) == 1 else "roles"
        raise InvalidInputError(
            f"unknown {noun} {listed}; valid roles: {', '.join(sorted(ROLES))}", roles=unknown
        )
    return roles
