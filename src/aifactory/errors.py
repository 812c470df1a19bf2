"""The one error tree of aifactory. Classify once at the boundary; match by type elsewhere.

    AifactoryError
    ├── InvalidInputError          400  the request or file is malformed; says what to fix
    │   ├── PayloadTooLargeError   413
    │   ├── PromptVariablesError   400  a prompt's variables do not match its schema; names the path
    │   └── PromptRenderError      422  a prompt cannot be rendered (undefined, unsafe, include cycle)
    ├── AuthenticationError        401  no key, unknown key, expired or revoked key
    ├── PermissionDeniedError      403  a Cedar decision denied; names the policy
│   └── PolicyDeniedError      403  a policy pack denied the request; lists the rules and their sources
    ├── NotFoundError              404  an id, name or index that does not exist
    ├── GoneError                  410  it existed and was deleted for good (a purged or erased payload)
    ├── ConflictError              409  the state does not allow this change (duplicate, wrong status)
    │   └── GateRefusedError       409  a promotion's gates are unmet; lists every unmet condition
    ├── LimitExceededError         429  our own limits: a budget or a rate limit would be exceeded
    │   ├── BudgetExceededError    429
    │   └── RateLimitExceededError 429
    ├── UpstreamError              502  a model provider failed; classified once, by its provider
    │   ├── RateLimitedError       429  the upstream said 429 (`retry_after` seconds when it told us)
    │   ├── UpstreamUnavailableError 503  5xx, refused connection, open circuit breaker
    │   ├── UpstreamTimeoutError   504  no answer (or no first token) within the deadline
    │   ├── ContextWindowExceededError 400  the prompt does not fit the model
    │   ├── UpstreamAuthError      502  our credentials for the upstream were refused
    │   ├── UpstreamBadRequestError 400  the upstream refused the request as malformed
    │   └── ContentFilteredError   400  the upstream's content filter refused it
    ├── GuardrailViolationError    422  input or output broke a content rule that blocks (names the rule)
├── StoppedError               503  a kill switch stops this scope (names the switch)
├── CounterUnavailableError    503  the shared budget and rate-limit counters (Redis) do not answer
    ├── LedgerIntegrityError       500  stored entries disagree with the tree or a signed checkpoint
    └── ConfigurationError         500  missing key file, uninitialised data dir, bad settings

Retry and fallback match on `UpstreamError.retryable` (rate limited, unavailable, timeout); the
others would fail the same way on every attempt.

The HTTP mapping lives in one table, `STATUS_BY_ERROR` below; the server turns any of these into
RFC 9457 problem+json.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "STATUS_BY_ERROR",
    "AifactoryError",
    "AuthenticationError",
    "BudgetExceededError",
    "ConfigurationError",
    "ConflictError",
    "ContentFilteredError",
    "ContextWindowExceededError",
    "CounterUnavailableError",
    "GateRefusedError",
    "GoneError",
    "GuardrailViolationError",
    "InvalidInputError",
    "LedgerIntegrityError",
    "LimitExceededError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PolicyDeniedError",
    "PromptRenderError",
    "PromptVariablesError",
    "RateLimitExceededError",
    "RateLimitedError",
    "StoppedError",
    "UpstreamAuthError",
    "UpstreamBadRequestError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "error_code",
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


class PromptVariablesError(InvalidInputError):
    """The variables given to render a prompt do not match its `variables` schema; the message names
    each offending path (`variables.customer.name: 'x' is not of type 'integer'`)."""

    title = "Invalid prompt variables"


class PromptRenderError(InvalidInputError):
    """A prompt could not be rendered with valid variables: an undefined variable, an operation the
    sandbox refuses, an include that is not a text prompt, an include cycle or nesting too deep. The
    message names the template and line (`messages[0].content line 2: 'name' is undefined`)."""

    title = "Prompt cannot be rendered"


class AuthenticationError(AifactoryError):
    """No credentials, or credentials that are unknown, expired or revoked."""

    title = "Authentication required"


class PermissionDeniedError(AifactoryError):
    """A permission decision denied the action; the message names the deciding policy."""

    title = "Forbidden"


class PolicyDeniedError(PermissionDeniedError):
    """A policy decision denied the request; `extra["decision_id"]` and `extra["reasons"]` say which
    rule of which pack version, and the article it implements."""

    title = "Denied by policy"


class NotFoundError(AifactoryError):
    """The named thing does not exist."""

    title = "Not found"


class GoneError(AifactoryError):
    """The thing existed and was deleted for good (a payload purged at the end of its retention, or
    erased with its data subject's key); `extra["reason"]` says which."""

    title = "Gone"


class ConflictError(AifactoryError):
    """The current state does not allow the change."""

    title = "Conflict"


class GateRefusedError(ConflictError):
    """A label move was refused; `extra["unmet"]` lists every unmet gate condition."""

    title = "Promotion refused"


class LimitExceededError(AifactoryError):
    """One of our own limits (budget, rate) would be exceeded; nothing was sent upstream."""

    title = "Limit exceeded"


class BudgetExceededError(LimitExceededError):
    """The worst-case cost of the call does not fit the remaining budget."""

    title = "Budget exceeded"


class RateLimitExceededError(LimitExceededError):
    """A requests- or tokens-per-minute limit is reached; `extra["retry_after"]` says when to retry."""

    title = "Rate limit exceeded"


class UpstreamError(AifactoryError):
    """A model provider failed. Subclasses say how; `retryable` says whether another try may help."""

    title = "Upstream error"
    retryable = False

    def __init__(self, detail: str, *, deployment: str | None = None, **extra: Any) -> None:
        super().__init__(detail, deployment=deployment, **extra)
        self.deployment = deployment


class RateLimitedError(UpstreamError):
    """The upstream answered 429; `retry_after` is its Retry-After in seconds, when given."""

    title = "Upstream rate limited"
    retryable = True

    def __init__(self, detail: str, *, retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class UpstreamUnavailableError(UpstreamError):
    """The upstream answered 5xx, refused the connection, or its circuit breaker is open."""

    title = "Upstream unavailable"
    retryable = True


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer (or send a first token) within the deadline."""

    title = "Upstream timeout"
    retryable = True


class ContextWindowExceededError(UpstreamError):
    """The prompt and requested output do not fit the model's context window."""

    title = "Context window exceeded"


class UpstreamAuthError(UpstreamError):
    """The upstream refused our credentials (a configuration problem on our side)."""

    title = "Upstream authentication failed"


class UpstreamBadRequestError(UpstreamError):
    """The upstream refused the request as malformed."""

    title = "Upstream refused the request"


class ContentFilteredError(UpstreamError):
    """The upstream's content filter refused the request or the output."""

    title = "Content filtered"


class GuardrailViolationError(AifactoryError):
    """Input or output broke a content rule whose action is to block; `extra["rule"]` names it.
    Nothing that broke the rule was sent (to the model, or to the caller)."""

    title = "Guardrail violation"


class StoppedError(AifactoryError):
    """A kill switch stops this scope (global, jurisdiction, use case, deployment or tool);
    `extra["switch"]` names it and its reason."""

    title = "Stopped by a kill switch"


class CounterUnavailableError(AifactoryError):
    """The store of shared budget and rate-limit counters (Redis) did not answer: calls that need
    it are refused (fail closed) until it is back."""

    title = "Counters unavailable"


class LedgerIntegrityError(AifactoryError):
    """Stored ledger data disagrees with the tree or with a signed checkpoint."""

    title = "Ledger integrity failure"


class ConfigurationError(AifactoryError):
    """aifactory is not set up right (no data dir, no key, bad settings)."""

    title = "Configuration error"


STATUS_BY_ERROR: dict[type[AifactoryError], int] = {
    PayloadTooLargeError: 413,
    PromptRenderError: 422,
    InvalidInputError: 400,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    GoneError: 410,
    GateRefusedError: 409,
    ConflictError: 409,
    LimitExceededError: 429,
    RateLimitedError: 429,
    UpstreamUnavailableError: 503,
    UpstreamTimeoutError: 504,
    ContextWindowExceededError: 400,
    UpstreamBadRequestError: 400,
    ContentFilteredError: 400,
    UpstreamError: 502,
    CounterUnavailableError: 503,
    GuardrailViolationError: 422,
    StoppedError: 503,
    LedgerIntegrityError: 500,
    ConfigurationError: 500,
}


def error_code(cls: type[AifactoryError]) -> str:
    """The snake_case code of an error class (`BudgetExceededError` -> `budget_exceeded`), as sent in
    OpenAI-shaped errors and read back by the SDK; OpenAI's own code where it has one for the same
    failure, so that clients written for OpenAI recognise it."""
    if cls is ContextWindowExceededError:
        return "context_length_exceeded"
    name = cls.__name__.removesuffix("Error")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def status_for(error: AifactoryError) -> int:
    """The HTTP status of an error: its own class or the nearest ancestor in the table."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500
