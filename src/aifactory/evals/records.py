"""Eval records: what an evaluation run found about one exact version of an asset, signed by its runner.

No database here: the API, the CLI and the SDK exchange these shapes. The signed bytes are defined in
`aifactory.evals.signing` (and docs/evals.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from aifactory.records import InputModel

__all__ = [
    "SHA256_PATTERN",
    "VERDICTS",
    "EvalRecordIn",
    "Judge",
    "Metric",
    "Scorer",
    "Segment",
    "SignedEvalRecord",
    "Signer",
    "SignerIn",
    "StoredEvalRecord",
    "Verdict",
]

SHA256_PATTERN = r"^[0-9a-f]{64}$"
"""A SHA-256 digest in lowercase hex."""

Verdict = Literal["pass", "fail", "investigate"]
VERDICTS: tuple[str, ...] = ("pass", "fail", "investigate")

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$"


class Scorer(InputModel):
    """A scorer the run used, at its exact version."""

    id: str = Field(pattern=_ID)
    version: str = Field(min_length=1, max_length=100)


class Judge(InputModel):
    """The model that judged, when a scorer asked one: its route, parameters and seed."""

    route: str = Field(pattern=_ID)
    parameters: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None


class Metric(InputModel):
    """One measured value with its confidence interval (`low`, `high`), when the run computed one."""

    value: float
    low: float | None = None
    high: float | None = None


class Segment(InputModel):
    """The metrics of one slice of the dataset (a language, a customer tier, ...)."""

    name: str = Field(min_length=1, max_length=200)
    n: int = Field(ge=0)
    metrics: dict[str, Metric]


class EvalRecordIn(InputModel):
    """An eval record before it is signed."""

    asset: str = Field(min_length=1, max_length=241, description="The asset's `kind:name` or id.")
    content_hash: str = Field(
        pattern=SHA256_PATTERN, description="SHA-256 of the evaluated version's canonical content."
    )
    dataset_hash: str = Field(pattern=SHA256_PATTERN, description="SHA-256 of the dataset evaluated on.")
    scorers: list[Scorer] = Field(max_length=100)
    judge: Judge | None
    n: int = Field(ge=0, description="How many cases were evaluated.")
    metrics: dict[str, Metric]
    segments: list[Segment] = Field(max_length=1000)
    gate_hash: str = Field(pattern=SHA256_PATTERN, description="SHA-256 of the eval gate that decided.")
    verdict: Verdict
    started_at: AwareDatetime
    finished_at: AwareDatetime
    runner: str = Field(min_length=1, max_length=200, description="What ran it (CI job, host, version).")

    @model_validator(mode="after")
    def _finished_after_start(self) -> EvalRecordIn:
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self


class SignedEvalRecord(EvalRecordIn):
    """An eval record with its signer's key id and Ed25519 signature (base64)."""

    signer: str = Field(pattern=r"^k_[0-9a-f]{16}$", description="The signer's key id.")
    signature: str = Field(min_length=1, max_length=200, description="Base64 Ed25519 signature.")


class StoredEvalRecord(BaseModel):
    """A submitted record as the server keeps it: `record` is exactly what was signed and submitted."""

    id: str
    asset_id: str
    content_hash: str
    verdict: str
    signer: str
    digest: str = Field(description="SHA-256 of the canonical JSON of `record` (signature included).")
    submitted_by: str
    submitted_at: datetime
    record: dict[str, Any]


class SignerIn(InputModel):
    """A public key whose signatures on eval records the server will accept."""

    name: str = Field(min_length=1, max_length=200, description="Who or what holds the private key.")
    public_key: str = Field(
        min_length=1, max_length=2000, description="Ed25519 public key: base64 of its 32 bytes, or PEM."
    )


class Signer(BaseModel):
    """A registered signer; `key_id` is `k_` and the first 16 hex digits of the key's SHA-256."""

    key_id: str
    name: str
    public_key: str
    added_by: str
    added_at: datetime
    revoked_by: str | None = None
    revoked_at: datetime | None = None
