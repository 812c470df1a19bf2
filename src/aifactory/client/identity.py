"""`client.keys`, `client.principals` and `client.teams`: who may do what."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from aifactory.client._http import Channel, present, segment
from aifactory.identity.records import ApiKey, NewApiKey, Principal, Team

__all__ = ["KeysApi", "PrincipalsApi", "TeamsApi", "limits_body"]


def limits_body(rpm_limit: int | None, tpm_limit: int | None, *, reset: bool) -> dict[str, Any]:
    """The body of a limits change: the limits given, and null for the others when resetting."""
    given = present({"rpm_limit": rpm_limit, "tpm_limit": tpm_limit})
    return ({"rpm_limit": None, "tpm_limit": None} if reset else {}) | given


class KeysApi:
    """API keys: create (the secret is returned once), list, revoke."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def create(
        self,
        name: str,
        *,
        principal: str | None = None,
        expires_in_days: int | None = None,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
    ) -> NewApiKey:
        """A new key for you or, with permission, for `principal` (id or name); limits of its own
        (requests and tokens per minute) need the `keys.update` permission."""
        body = {
            "name": name,
            "principal": principal,
            "expires_in_days": expires_in_days,
            "rpm_limit": rpm_limit,
            "tpm_limit": tpm_limit,
        }
        return await self._channel.one(NewApiKey, "POST", "/v1/keys", json=present(body))

    async def set_limits(
        self, ref: str, *, rpm_limit: int | None = None, tpm_limit: int | None = None, reset: bool = False
    ) -> ApiKey:
        """Set a key's own requests and tokens per minute; `reset` first puts both back to the server's
        defaults (a limit given is then set)."""
        body = limits_body(rpm_limit, tpm_limit, reset=reset)
        return await self._channel.one(ApiKey, "PATCH", f"/v1/keys/{segment(ref)}", json=body)

    async def list(self, principal: str | None = None) -> builtins.list[ApiKey]:
        """Every key's metadata, or one principal's (`me` for your own)."""
        return await self._channel.many(ApiKey, "GET", "/v1/keys", params={"principal": principal})

    async def revoke(self, ref: str) -> ApiKey:
        """Revoke a key by id or prefix."""
        return await self._channel.one(ApiKey, "POST", f"/v1/keys/{segment(ref)}/revoke")


class PrincipalsApi:
    """People and apps."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def create(
        self, name: str, *, kind: str, roles: Sequence[str], team: str | None = None
    ) -> Principal:
        """A new person or app (`kind`) with its roles; granting `admin` needs an admin."""
        body = {"name": name, "kind": kind, "roles": builtins.list(roles), "team": team}
        return await self._channel.one(Principal, "POST", "/v1/principals", json=present(body))

    async def list(self) -> builtins.list[Principal]:
        """Every principal."""
        return await self._channel.many(Principal, "GET", "/v1/principals")

    async def get(self, ref: str) -> Principal:
        """A principal by id or name (`me` for yourself)."""
        return await self._channel.one(Principal, "GET", f"/v1/principals/{segment(ref)}")


class TeamsApi:
    """Teams that own and steward assets."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def create(self, name: str, *, rpm_limit: int | None = None, tpm_limit: int | None = None) -> Team:
        """A new team, with its own requests and tokens per minute if given."""
        body = {"name": name, "rpm_limit": rpm_limit, "tpm_limit": tpm_limit}
        return await self._channel.one(Team, "POST", "/v1/teams", json=present(body))

    async def set_limits(
        self, ref: str, *, rpm_limit: int | None = None, tpm_limit: int | None = None, reset: bool = False
    ) -> Team:
        """Set a team's own requests and tokens per minute (see `KeysApi.set_limits`)."""
        body = limits_body(rpm_limit, tpm_limit, reset=reset)
        return await self._channel.one(Team, "PATCH", f"/v1/teams/{segment(ref)}", json=body)

    async def list(self) -> builtins.list[Team]:
        """Every team."""
        return await self._channel.many(Team, "GET", "/v1/teams")
