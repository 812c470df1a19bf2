"""What the payload routes take and return (shared by the server, the SDK and the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Erasure", "ErasureIn", "Purge", "PurgeIn", "RunPayload"]


class ErasureIn(BaseModel):
    """A request to erase every stored payload of one data subject."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        min_length=1,
        max_length=1000,
        description="The data subject id, as callers sent it in `X-Aifactory-Subject`.",
    )
    reason: str = Field(default="", max_length=1000, description="Why (for example a ticket number).")


class Erasure(BaseModel):
    """What an erasure did. `payloads` 0 is a valid answer: nothing was stored for that subject."""

    subject_hash: str
    payloads: int = Field(description="Payloads whose ciphertext was deleted.")
    keys: int = Field(description="Data keys destroyed.")
    reason: str
    erased_at: datetime


class PurgeIn(BaseModel):
    """A request to purge payloads past their retention, in one batch."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=500, ge=1, le=10_000, description="Most payloads this batch purges.")


class Purge(BaseModel):
    """What one purge batch did, and how many payloads are still due."""

    purged: int
    remaining: int
    run_ids: list[str]
    purged_at: datetime


class RunPayload(BaseModel):
    """A run's decrypted payload, with what recomputes its ledger commitment:
    SHA-256(base64-decoded `salt` || RFC 8785 JSON of `payload`) == `commitment`."""

    run_id: str
    payload: dict[str, Any]
    salt: str = Field(description="Base64 of the 32-byte salt.")
    commitment: str = Field(description="Hex SHA-256, as in the run's ledger entry `payload_commitment`.")
    created_at: datetime
    retention_until: datetime
