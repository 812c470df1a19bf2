"""`aifactory ledger`: checkpoint, verifier key, entries, proofs, verification of the ledger and of
the policy decisions it records.

On the local data dir these need no API key: whoever holds the files may audit them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any

import typer

from aifactory.cli._audit import Verified, audit, check_local, progress_bar, signed_checkpoint
from aifactory.cli._decisions import print_report, replay_ledger
from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import LedgerReader, LocalLedger, current
from aifactory.client.ledger import PAGE_SIZE
from aifactory.errors import LedgerIntegrityError
from aifactory.ledger.merkle import ProofError, verify_consistency, verify_inclusion

__all__ = ["app"]

app = typer.Typer(
    help="The tamper-evident ledger: checkpoints, entries, proofs, verify.", no_args_is_help=True
)
proof_app = typer.Typer(help="RFC 9162 inclusion and consistency proofs.", no_args_is_help=True)
app.add_typer(proof_app, name="proof")

VerifierKey = Annotated[
    str | None, typer.Option(help="Pin the verifier key (C2SP) instead of trusting the one served.")
]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@app.command("checkpoint")
def checkpoint(json_: JsonFlag = False) -> None:
    """Print the newest signed checkpoint (a C2SP signed note)."""

    async def fetch(reader: LedgerReader) -> tuple[str, str]:
        return await reader.checkpoint(), await reader.verifier_key()

    note, key = current().read_ledger(fetch)
    if not json_:
        typer.echo(note, nl=False)
        return
    signed = signed_checkpoint(note, key)
    emit_json({"note": note, "origin": signed.origin, "size": signed.size, "root": _b64(signed.root)})


@app.command("verifier-key")
def verifier_key(json_: JsonFlag = False) -> None:
    """Print the key that verifies checkpoints."""
    key = current().read_ledger(lambda reader: reader.verifier_key())
    if json_:
        emit_json({"verifier_key": key})
        return
    typer.echo(key)


@app.command("entries")
def entries(
    start: Annotated[int, typer.Option(min=0, help="First index.")] = 0,
    end: Annotated[
        int | None, typer.Option(min=0, help=f"Stop before (default: start + {PAGE_SIZE}).")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """List ledger entries [start, end), one page at most."""
    page = current().read_ledger(lambda reader: reader.entries(start, end))
    if json_:
        emit_json([{"index": e.index, "leaf": _b64(e.leaf), "event": e.event} for e in page])
        return
    columns = ["index", "time", "type", "subject", "actor"]
    rows = [[e.index, *(e.event.get(k) for k in ("time", "type", "subject", "actor"))] for e in page]
    print_table("Ledger entries", columns, rows)


def _print_proof(kind: str, result: dict[str, Any], json_: bool) -> None:
    if json_:
        emit_json(result)
        return
    for hash_ in result["hashes"]:
        typer.echo(hash_)
    if result["verified"]:
        say(f"verified: the {kind} proof checks out against the root {result['root']} of the stored tree")
    else:
        say(f"not verified here: run on the local data dir (without AIFACTORY_URL) to check the {kind} proof")


def _checked(check: Callable[..., None], *args: Any) -> None:
    try:
        check(*args)
    except ProofError as exc:
        raise LedgerIntegrityError(f"the proof does not verify: {exc}") from exc


@proof_app.command("inclusion")
def inclusion(
    index: Annotated[int, typer.Option(min=0, help="Entry index.")],
    tree_size: Annotated[int, typer.Option(min=1, help="Size of the tree the proof is in.")],
    json_: JsonFlag = False,
) -> None:
    """Print the inclusion proof of one entry (and verify it on the local data dir)."""

    async def prove(reader: LedgerReader) -> dict[str, Any]:
        hashes = await reader.inclusion_proof(index, tree_size)
        root = None
        if isinstance(reader, LocalLedger):
            root = reader.root(tree_size)
            leaf = (await reader.entry(index)).leaf_hash
            _checked(verify_inclusion, leaf, index, tree_size, hashes, root)
        return _proof_result(hashes, root, index=index, tree_size=tree_size)

    _print_proof("inclusion", current().read_ledger(prove), json_)


@proof_app.command("consistency")
def consistency(
    first: Annotated[int, typer.Option(min=1, help="Size of the older tree.")],
    second: Annotated[int, typer.Option(min=1, help="Size of the newer tree.")],
    json_: JsonFlag = False,
) -> None:
    """Print the consistency proof between two tree sizes (and verify it on the local data dir)."""

    async def prove(reader: LedgerReader) -> dict[str, Any]:
        hashes = await reader.consistency_proof(first, second)
        root = None
        if isinstance(reader, LocalLedger):
            old, root = reader.root(first), reader.root(second)
            _checked(verify_consistency, first, second, old, root, hashes)
        return _proof_result(hashes, root, first=first, second=second)

    _print_proof("consistency", current().read_ledger(prove), json_)


def _proof_result(hashes: list[bytes], root: bytes | None, **sizes: int) -> dict[str, Any]:
    return {
        **sizes,
        "hashes": [_b64(h) for h in hashes],
        "root": None if root is None else _b64(root),
        "verified": root is not None,
    }


@app.command("verify")
def verify(verifier_key: VerifierKey = None, json_: JsonFlag = False) -> None:
    """Recompute the ledger and check its signed checkpoints; exit 1 naming the first problem."""
    session = current()
    if session.is_remote:
        with progress_bar("verifying ledger", enabled=not json_) as progress:
            result = session.read_ledger(lambda reader: audit(reader, progress, verifier_key))
    else:
        with session.runtime() as rt, progress_bar("verifying ledger", enabled=not json_) as progress:
            result = check_local(rt.ledger, progress, verifier_key)
    _print_verified(result, "remote" if session.is_remote else "local", json_)


def _print_verified(result: Verified, mode: str, json_: bool) -> None:
    if json_:
        summary = {"entries": result.entries, "checkpoints": result.checkpoints, "root": _b64(result.root)}
        emit_json({"ok": True, "mode": mode, **summary})
        return
    say(
        f"ledger verified ({mode}): {result.entries} entries, {result.checkpoints} signed checkpoint(s), "
        f"root {_b64(result.root)}",
        "green",
    )


@app.command("verify-decisions")
def verify_decisions(json_: JsonFlag = False) -> None:
    """Replay every recorded policy decision over the pack versions it names; exit 1 unless all verify."""
    session = current()
    with progress_bar("replaying decisions", enabled=not json_) as progress:
        report = replay_ledger(session, progress)
    print_report(report, "remote" if session.is_remote else "local", json_)
    if not report.is_verified:
        raise typer.Exit(1)
