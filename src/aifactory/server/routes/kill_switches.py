"""Kill switches over HTTP: set a scope's level of service, clear it, list what is set."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from aifactory.errors import InvalidInputError
from aifactory.policy.switch_records import Switch, SwitchIn
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/kill-switches", tags=["kill switches"])

SwitchId = Annotated[str, Path(min_length=1, max_length=220, description="`global` or `<scope>:<value>`.")]
Reason = Annotated[str, Query(min_length=1, max_length=1000, description="Why the switch is cleared.")]


@router.get("", openapi_extra=governed("killswitches.list"), summary="List kill switches")
def list_switches(request: Request, _c: Caller = permit("killswitches.list", "KillSwitch")) -> list[Switch]:
    """Every kill switch set now (a cleared one is gone; its history is in the ledger)."""
    return runtime_of(request).kill_switches.list()


@router.post("", openapi_extra=governed("killswitches.flip"), summary="Flip a kill switch")
def flip_switch(
    request: Request, body: SwitchIn, caller: Caller = permit("killswitches.flip", "KillSwitch")
) -> Switch:
    """Set a scope to a level (`full` clears it); in force on every replica within a second."""
    return runtime_of(request).kill_switches.flip(body, caller.id)


@router.delete("/{switch_id}", openapi_extra=governed("killswitches.flip"), summary="Clear a kill switch")
def clear_switch(
    request: Request,
    switch_id: SwitchId,
    reason: Reason,
    caller: Caller = permit("killswitches.flip", "KillSwitch"),
) -> Switch:
    """Return a scope to full service (404 when no switch is set there)."""
    scope, value = _parse(switch_id)
    return runtime_of(request).kill_switches.clear(scope, value, reason, caller.id)


def _parse(switch_id: str) -> tuple[str, str | None]:
    if switch_id == "global":
        return "global", None
    scope, sep, value = switch_id.partition(":")
    if not sep:
        raise InvalidInputError(f"switch id {switch_id!r} is neither `global` nor `<scope>:<value>`")
    return scope, value
