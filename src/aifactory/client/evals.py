"""`client.evals` and `client.incidents`: signed eval records, their signers, and incidents.

key = aifactory.evals.signing.load_private_key(Path("runner.key"))
stored = await client.evals.submit(record, key)  # signed here; the private key never leaves
await client.incidents.open("prompt:greet", "answers in the wrong language", severity="high")
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aifactory.client._http import Channel, segment
from aifactory.evals import signing
from aifactory.evals.records import EvalRecordIn, Signer, StoredEvalRecord
from aifactory.monitoring.records import Incident

__all__ = ["EvalsApi", "IncidentsApi"]


class EvalsApi:
    """Eval records (submit signed, list, get) and the signers the server accepts."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def add_signer(self, name: str, public_key: str) -> Signer:
        """Register a public key (base64 of its 32 bytes, or PEM); admins and platform only."""
        body = {"name": name, "public_key": public_key}
        return await self._channel.one(Signer, "POST", "/v1/eval-signers", json=body)

    async def signers(self) -> builtins.list[Signer]:
        """Every signer, revoked ones included."""
        return await self._channel.many(Signer, "GET", "/v1/eval-signers")

    async def revoke_signer(self, key_id: str) -> Signer:
        """Revoke a signer: its records no longer verify."""
        return await self._channel.one(Signer, "DELETE", f"/v1/eval-signers/{segment(key_id)}")

    async def submit(
        self, record: EvalRecordIn | Mapping[str, Any], private_key: Ed25519PrivateKey | Path
    ) -> StoredEvalRecord:
        """Sign `record` here with `private_key` (a key or a PEM key file) and submit it."""
        key = signing.load_private_key(private_key) if isinstance(private_key, Path) else private_key
        body = record.model_dump(mode="json") if isinstance(record, EvalRecordIn) else dict(record)
        signed = signing.sign(body, key)
        return await self._channel.one(StoredEvalRecord, "POST", "/v1/eval-records", json=signed)

    async def records(
        self, asset: str | None = None, content_hash: str | None = None
    ) -> builtins.list[StoredEvalRecord]:
        """The newest records, of one asset (id or `kind:name`) and content hash when given."""
        params = {"asset": asset, "content_hash": content_hash}
        return await self._channel.many(StoredEvalRecord, "GET", "/v1/eval-records", params=params)

    async def get(self, record_id: str) -> StoredEvalRecord:
        """One record, with the exact JSON that was signed."""
        return await self._channel.one(StoredEvalRecord, "GET", f"/v1/eval-records/{segment(record_id)}")


class IncidentsApi:
    """Incidents on assets: open, list, get, resolve."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def open(self, asset: str, title: str, *, severity: str) -> Incident:
        """Open an incident (`severity`: low, medium, high, critical) on an asset."""
        body = {"asset": asset, "title": title, "severity": severity}
        return await self._channel.one(Incident, "POST", "/v1/incidents", json=body)

    async def list(self, asset: str | None = None, status: str | None = None) -> builtins.list[Incident]:
        """The newest incidents, of one asset and in one status (`open`, `resolved`) when given."""
        params = {"asset": asset, "status": status}
        return await self._channel.many(Incident, "GET", "/v1/incidents", params=params)

    async def get(self, incident_id: str) -> Incident:
        """One incident."""
        return await self._channel.one(Incident, "GET", f"/v1/incidents/{segment(incident_id)}")

    async def resolve(self, incident_id: str, resolution: str) -> Incident:
        """Resolve an open incident, saying how."""
        path = f"/v1/incidents/{segment(incident_id)}/resolve"
        return await self._channel.one(Incident, "POST", path, json={"resolution": resolution})
