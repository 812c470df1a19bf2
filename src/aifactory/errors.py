"""The one error tree of aifactory. Classify once at the boundary; match by type elsewhere.

    AifactoryError
    ├── InvalidInputError          400  the request or file is malformed; says what to fix
    │   └── PayloadTooLargeError   413
    ├── AuthenticationError        401  no key, unknown key, expired or revoked key
    ├── PermissionDeniedError      403  a Cedar decision denied; names the policy
    ├── NotFoundError              404  an id, name or index that does not exist
    ├── ConflictError              409  the state does not allow this change (duplicate, wrong status)
    │   └── GateRefusedError       409  a promotion's gates are unmet; lists every unmet condition
    ├── LedgerIntegrityError       500  stored entries disagree with the tree or a signed checkpoint
    └── ConfigurationError         500  missing key file, uninitialised data dir, bad settings

The HTTP mapping lives in one table, `STATUS_BY_ERROR` below; the server turns any of these into
RFC 9457 problem+json.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "STATUS_BY_ERROR",
    "AifactoryError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "GateRefusedError",
    "InvalidInputError",
    "LedgerIntegrityError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "status_for",
]


class AifactoryError(Exception):
    """Root of every error aifactory raises on purpose."""

    title = "aifactory error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInputError(AifactoryError):
    """The input is malformed or out of range; the message says what to fix."""

    title = "Invalid input"


class PayloadTooLargeError(InvalidInputError):
    """The request body is larger than the server accepts."""

    title = "Payload too large"


class AuthenticationError(AifactoryError):
    """No credentials, or credentials that are unknown, expired or revoked."""

    title = "Authentication required"


class PermissionDeniedError(AifactoryError):
    """A permission decision denied the action; the message names the deciding policy."""

    title = "Forbidden"


class NotFoundError(AifactoryError):
    """The named thing does not exist."""

    title = "Not found"


class ConflictError(AifactoryError):
    """The current state does not allow the change."""

    title = "Conflict"


class GateRefusedError(ConflictError):
    """A label move was refused; `extra["unmet"]` lists every unmet gate condition."""

    title = "Promotion refused"


class LedgerIntegrityError(AifactoryError):
    """Stored ledger data disagrees with the tree or with a signed checkpoint."""

    title = "Ledger integrity failure"


class ConfigurationError(AifactoryError):
    """aifactory is not set up right (no data dir, no key, bad settings)."""

    title = "Configuration error"


STATUS_BY_ERROR: dict[type[AifactoryError], int] = {
    PayloadTooLargeError: 413,
    InvalidInputError: 400,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    GateRefusedError: 409,
    ConflictError: 409,
    LedgerIntegrityError: 500,
    ConfigurationError: 500,
}


def status_for(error: AifactoryError) -> int:
    """The HTTP status of an error: its own class or the nearest ancestor in the table."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500
