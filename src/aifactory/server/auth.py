"""Authentication and authorization of HTTP routes: every governed route is one Cedar action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aifactory.errors import AuthenticationError
from aifactory.identity.permissions import Resource, Subject
from aifactory.runtime import Runtime

__all__ = ["ACTION_KEY", "Caller", "ResourceOf", "authenticated", "bearer_caller", "permit", "runtime_of"]

ACTION_KEY = "x-aifactory-action"
"""OpenAPI extension naming the Cedar action of a route."""

_bearer = HTTPBearer(auto_error=False, description="An aifactory API key: `aif_<prefix>_<secret>`.")

ResourceOf = Callable[[Request, Runtime], Resource]


def runtime_of(request: Request) -> Runtime:
    """The runtime serving this app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of a request."""

    subject: Subject
    key_id: str | None = None

    @property
    def id(self) -> str:
        """The principal id, as recorded in the ledger."""
        return self.subject.id


async def authenticated(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Caller:
    """The caller behind the Bearer API key; 401 without a valid key.

    Async because keys are looked up in memory (the directory caches them all): a sync dependency
    would cost every request a round trip through the thread pool."""
    bearer = credentials is not None and credentials.scheme.lower() == "bearer"
    return _identify(request, credentials.credentials if credentials is not None and bearer else None)


def bearer_caller(request: Request) -> Caller:
    """`authenticated`, for a request served outside FastAPI's dependencies (`server.edge`)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return _identify(request, token.strip() if scheme.lower() == "bearer" else None)


def _identify(request: Request, token: str | None) -> Caller:
    if not token:
        raise AuthenticationError("send an API key as `Authorization: Bearer aif_...`")
    subject, key_id = runtime_of(request).directory.identify(token)
    return Caller(subject, key_id)


def _collection(resource_type: str) -> ResourceOf:
    return lambda _request, _runtime: Resource(resource_type, "*")


def permit(action: str, resource: ResourceOf | str) -> Any:
    """A dependency that authorizes `action` on the resource for the caller (403 with the reason)."""
    resource_of = _collection(resource) if isinstance(resource, str) else resource

    def check(request: Request, caller: Caller = Depends(authenticated)) -> Caller:
        runtime = runtime_of(request)
        runtime.authorize(caller.subject, action, resource_of(request, runtime))
        return caller

    return Depends(check)


def governed(action: str) -> dict[str, Any]:
    """The `openapi_extra` that documents a route's Cedar action."""
    return {ACTION_KEY: action}
