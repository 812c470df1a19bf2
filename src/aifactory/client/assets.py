"""`client.assets`: the catalog, its versions, approvals, reviews and the label choke point."""

from __future__ import annotations

import builtins
from datetime import date
from typing import Any

from aifactory.catalog.records import Approval, Asset, AssetVersion, LabelMove
from aifactory.client._http import Channel, present, segment

__all__ = ["AssetsApi"]


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


class AssetsApi:
    """Governed assets; `ref` is an asset id or `kind:name`."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def create(
        self,
        kind: str,
        name: str,
        *,
        description: str = "",
        owner: str | None = None,
        steward_team: str | None = None,
        review_by: date | None = None,
        retirement_condition: str = "",
        critical: bool = False,
    ) -> Asset:
        """Register an asset with its owner (default: you), steward team and review date."""
        body = {
            "kind": kind,
            "name": name,
            "description": description,
            "owner": owner,
            "steward_team": steward_team,
            "review_by": _iso(review_by),
            "retirement_condition": retirement_condition,
            "critical": critical,
        }
        return await self._channel.one(Asset, "POST", "/v1/assets", json=present(body))

    async def list(self, *, kind: str | None = None, due: bool = False) -> builtins.list[Asset]:
        """Every asset, those of one kind, or (`due=True`) those past their review date."""
        params = {"kind": kind, "due": due or None}
        return await self._channel.many(Asset, "GET", "/v1/assets", params=params)

    async def get(self, ref: str) -> Asset:
        """One asset, with its labels."""
        return await self._channel.one(Asset, "GET", _path(ref))

    async def versions(self, ref: str) -> builtins.list[AssetVersion]:
        """Every version, oldest first."""
        return await self._channel.many(AssetVersion, "GET", _path(ref, "versions"))

    async def push(self, ref: str, content: dict[str, Any], message: str = "") -> AssetVersion:
        """Add a version; identical content returns the existing one (`created` False)."""
        body = {"content": content, "message": message}
        return await self._channel.one(AssetVersion, "POST", _path(ref, "versions"), json=body)

    async def version(self, ref: str, number: int) -> AssetVersion:
        """One version."""
        return await self._channel.one(AssetVersion, "GET", _path(ref, "versions", number))

    async def approve(self, ref: str, number: int, comment: str = "") -> Approval:
        """Approve a version someone else wrote."""
        path = _path(ref, "versions", number, "approvals")
        return await self._channel.one(Approval, "POST", path, json={"comment": comment})

    async def move_label(self, ref: str, label: str, version: int, reason: str = "") -> LabelMove:
        """Move `label` to `version` through the gates; GateRefusedError lists what is unmet."""
        body = {"version": version, "reason": reason}
        return await self._channel.one(LabelMove, "PUT", _path(ref, "labels", label), json=body)

    async def remove_label(self, ref: str, label: str, reason: str = "") -> LabelMove:
        """Take `label` off the asset (recorded like any move)."""
        params = {"reason": reason}
        return await self._channel.one(LabelMove, "DELETE", _path(ref, "labels", label), params=params)

    async def canary(
        self,
        ref: str,
        label: str,
        version: int,
        percent: float,
        *,
        ramp: builtins.list[dict[str, float]] | None = None,
        reason: str = "",
    ) -> LabelMove:
        """Serve `version` to `percent` of the label's subjects (sticky), through the label's gates;
        `ramp`: steps `{"after_minutes", "percent"}`."""
        body = {"version": version, "percent": percent, "ramp": ramp or [], "reason": reason}
        return await self._channel.one(LabelMove, "PUT", _path(ref, "labels", label, "canary"), json=body)

    async def end_canary(self, ref: str, label: str, reason: str = "") -> LabelMove:
        """Stop the label's canary: its stable version serves everyone again."""
        path = _path(ref, "labels", label, "canary")
        return await self._channel.one(LabelMove, "DELETE", path, params={"reason": reason})

    async def rollback(self, ref: str, label: str, reason: str = "") -> LabelMove:
        """One call: end the label's canary, or else return it to the version it pointed at before."""
        path = _path(ref, "labels", label, "rollback")
        return await self._channel.one(LabelMove, "POST", path, json={"reason": reason})

    async def mark(
        self,
        ref: str,
        number: int,
        state: str,
        *,
        sunset: date | None = None,
        reason: str = "",
        force: bool = False,
    ) -> AssetVersion:
        """Mark a version `candidate`, `deprecated` (with `sunset`) or `retired` (`force` with a
        reason retires it although consumers used it recently)."""
        body = present({"state": state, "sunset": _iso(sunset), "reason": reason, "force": force or None})
        return await self._channel.one(
            AssetVersion, "POST", _path(ref, "versions", number, "lifecycle"), json=body
        )

    async def history(self, ref: str) -> builtins.list[LabelMove]:
        """Every label move, oldest first."""
        return await self._channel.many(LabelMove, "GET", _path(ref, "history"))

    async def review(self, ref: str, next_review_by: date | None = None, comment: str = "") -> Asset:
        """Record a review and set the next review date (default: in the server's review_days)."""
        body = present({"next_review_by": _iso(next_review_by), "comment": comment})
        return await self._channel.one(Asset, "POST", _path(ref, "review"), json=body)


def _path(ref: str, *parts: str | int) -> str:
    return "/".join(["/v1/assets", segment(ref), *(segment(part) for part in parts)])
