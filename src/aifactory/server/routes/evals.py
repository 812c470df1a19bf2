"""Eval records and their signers over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from aifactory.evals.records import SHA256_PATTERN, SignedEvalRecord, Signer, SignerIn, StoredEvalRecord
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(tags=["evals"])

RecordId = Annotated[str, Path(pattern=r"^evr_[0-9a-f]{1,64}$")]
KeyId = Annotated[str, Path(pattern=r"^k_[0-9a-f]{16}$")]
AssetRef = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,240}$", description="Id or `kind:name`.")
]
ContentHash = Annotated[str | None, Query(pattern=SHA256_PATTERN)]


@router.post(
    "/v1/eval-records",
    status_code=201,
    openapi_extra=governed("evalrecords.create"),
    summary="Submit a signed eval record",
)
async def submit_record(
    request: Request, body: SignedEvalRecord, caller: Caller = permit("evalrecords.create", "EvalRecord")
) -> StoredEvalRecord:
    """Verify the signature with a registered signer and the content hash against the asset's versions;
    store the record exactly as submitted."""
    raw: dict[str, Any] = await request.json()  # the signature covers the JSON as sent, not as parsed
    return await run_in_threadpool(runtime_of(request).evals.submit, raw, caller.id)


@router.get("/v1/eval-records", openapi_extra=governed("evalrecords.list"), summary="List eval records")
def list_records(
    request: Request,
    asset: AssetRef = None,
    content_hash: ContentHash = None,
    _c: Caller = permit("evalrecords.list", "EvalRecord"),
) -> list[StoredEvalRecord]:
    """The newest records (at most 100), of one asset and content hash when given."""
    return runtime_of(request).evals.records(asset, content_hash)


@router.get("/v1/eval-records/{record_id}", openapi_extra=governed("evalrecords.read"), summary="One record")
def get_record(
    request: Request, record_id: RecordId, _c: Caller = permit("evalrecords.read", "EvalRecord")
) -> StoredEvalRecord:
    """One record, with the exact JSON that was signed."""
    return runtime_of(request).evals.get(record_id)


@router.post(
    "/v1/eval-signers",
    status_code=201,
    openapi_extra=governed("evalsigners.create"),
    summary="Register a signer",
)
def add_signer(
    request: Request, body: SignerIn, caller: Caller = permit("evalsigners.create", "EvalSigner")
) -> Signer:
    """Register an Ed25519 public key whose signatures on eval records are accepted."""
    return runtime_of(request).evals.add_signer(body, caller.id)


@router.get("/v1/eval-signers", openapi_extra=governed("evalsigners.list"), summary="List signers")
def list_signers(request: Request, _c: Caller = permit("evalsigners.list", "EvalSigner")) -> list[Signer]:
    """Every signer, revoked ones included."""
    return runtime_of(request).evals.signers()


@router.delete(
    "/v1/eval-signers/{key_id}", openapi_extra=governed("evalsigners.revoke"), summary="Revoke a signer"
)
def revoke_signer(
    request: Request, key_id: KeyId, caller: Caller = permit("evalsigners.revoke", "EvalSigner")
) -> Signer:
    """Revoke a signer: its records no longer verify, at submission or at any gate."""
    return runtime_of(request).evals.revoke_signer(key_id, caller.id)
