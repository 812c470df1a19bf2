"""The ledger over HTTP: checkpoint, verifier key, entries, inclusion and consistency proofs."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from aifactory.ledger.log import MAX_PAGE
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])

_MAX_INDEX = 2**62
_read = permit("ledger.read", "Ledger")
_extra = governed("ledger.read")


class Entry(BaseModel):
    """One ledger entry: `leaf` is base64 of the exact leaf bytes; `event` is the decoded JSON
    (null when the stored leaf is not JSON: a tampered entry is still served, for the audit)."""

    index: int
    leaf: str
    event: dict[str, Any] | None


class Entries(BaseModel):
    """A page of entries and the tree size when it was read."""

    tree_size: int
    entries: list[Entry]


class Proof(BaseModel):
    """An RFC 9162 proof: `hashes` are base64 SHA-256 node hashes in RFC order."""

    tree_size: int
    hashes: list[str]


def _entry(index: int, leaf: bytes) -> Entry:
    try:
        event = json.loads(leaf)
    except ValueError:
        event = None
    return Entry(
        index=index, leaf=base64.b64encode(leaf).decode(), event=event if isinstance(event, dict) else None
    )


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    openapi_extra=_extra,
    summary="The newest signed checkpoint (C2SP tlog-checkpoint in a signed note)",
)
def checkpoint(request: Request, _c: Caller = _read) -> PlainTextResponse:
    """The signed note, as text."""
    return PlainTextResponse(runtime_of(request).ledger.checkpoint_note())


@router.get(
    "/verifier-key",
    response_class=PlainTextResponse,
    openapi_extra=_extra,
    summary="The checkpoint verifier key (C2SP `name+hash+base64`)",
)
def verifier_key(request: Request, _c: Caller = _read) -> PlainTextResponse:
    """The verifier key, as one line of text."""
    return PlainTextResponse(runtime_of(request).ledger.verifier_key() + "\n")


@router.get("/entries", openapi_extra=_extra, summary=f"Entries [start, end), at most {MAX_PAGE}")
def entries(
    request: Request,
    start: Annotated[int, Query(ge=0, le=_MAX_INDEX)] = 0,
    end: Annotated[int, Query(ge=0, le=_MAX_INDEX)] = MAX_PAGE,
    _c: Caller = _read,
) -> Entries:
    """A page of entries; an empty page past the end."""
    ledger = runtime_of(request).ledger
    size = ledger.size()
    return Entries(tree_size=size, entries=[_entry(i, leaf) for i, leaf in ledger.entries(start, end)])


@router.get("/entries/{index}", openapi_extra=_extra, summary="One entry")
def entry(request: Request, index: Annotated[int, Path(ge=0, le=_MAX_INDEX)], _c: Caller = _read) -> Entry:
    """The entry at `index`."""
    return _entry(index, runtime_of(request).ledger.entry(index))


@router.get("/proofs/inclusion", openapi_extra=_extra, summary="RFC 9162 inclusion proof")
def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0, le=_MAX_INDEX)],
    tree_size: Annotated[int, Query(ge=1, le=_MAX_INDEX)],
    _c: Caller = _read,
) -> Proof:
    """The audit path of leaf `index` in the tree of `tree_size` leaves."""
    return Proof(tree_size=tree_size, hashes=_b64(runtime_of(request).ledger.inclusion(index, tree_size)))


@router.get("/proofs/consistency", openapi_extra=_extra, summary="RFC 9162 consistency proof")
def consistency(
    request: Request,
    first: Annotated[int, Query(ge=1, le=_MAX_INDEX)],
    second: Annotated[int, Query(ge=1, le=_MAX_INDEX)],
    _c: Caller = _read,
) -> Proof:
    """The proof that the tree of `first` leaves is a prefix of the tree of `second` leaves."""
    return Proof(tree_size=second, hashes=_b64(runtime_of(request).ledger.consistency(first, second)))
