"""`aifactory evals`: signing keys, signers, and signed eval records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from aifactory.cli._content import read_content
from aifactory.cli._output import JsonFlag, emit_json, jsonable, print_table, say
from aifactory.cli._session import current
from aifactory.errors import InvalidInputError
from aifactory.evals import signing
from aifactory.evals.records import Signer, StoredEvalRecord

__all__ = ["app", "signers"]

app = typer.Typer(
    help="Eval records: signing keys, the signers the server accepts, and signed records of exact "
    "asset versions (the eval-record gate reads them).",
    no_args_is_help=True,
)
signers = typer.Typer(
    help="The public keys whose eval record signatures the server accepts.", no_args_is_help=True
)
app.add_typer(signers, name="signers")


def _record_rows(records: Sequence[StoredEvalRecord]) -> list[list[object]]:
    return [
        [
            r.id,
            r.record.get("asset"),
            r.content_hash[:16],
            r.verdict,
            r.signer,
            r.submitted_by,
            r.submitted_at,
        ]
        for r in records
    ]


def _signer_rows(found: Sequence[Signer]) -> list[list[object]]:
    return [[s.key_id, s.name, s.public_key, s.added_by, s.added_at, s.revoked_at] for s in found]


@app.command("keygen")
def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the private key (PEM, mode 0600).")],
    json_: JsonFlag = False,
) -> None:
    """Write a new Ed25519 signing key file and print its public key and key id."""
    key = signing.generate_key_file(path).public_key()
    found = {"path": str(path), "key_id": signing.key_id(key), "public_key": signing.public_key_text(key)}
    if json_:
        emit_json(found)
        return
    say(f"wrote {path} (keep it secret); key id {found['key_id']}")
    say(f"public key: {found['public_key']}")


@app.command("submit")
def submit(
    record: Annotated[str, typer.Argument(help="The unsigned record, a JSON file (`-`: stdin).")],
    key: Annotated[Path, typer.Option(help="The signer's private key file (from `evals keygen`).")],
    json_: JsonFlag = False,
) -> None:
    """Sign a record locally with --key and submit it; prints the record's id."""
    private_key = signing.load_private_key(key)
    body = jsonable(read_content(record))
    stored = current().call(lambda c: c.evals.submit(body, private_key))
    if json_:
        emit_json(stored)
        return
    say(f"{stored.id} ({stored.verdict}) recorded for {stored.record.get('asset')}, digest {stored.digest}")


@app.command("records")
def records(
    asset: Annotated[str | None, typer.Option(help="Only this asset (id or kind:name).")] = None,
    content_hash: Annotated[str | None, typer.Option(help="Only this content hash.")] = None,
    json_: JsonFlag = False,
) -> None:
    """List the newest eval records."""
    found = current().call(lambda c: c.evals.records(asset, content_hash))
    if json_:
        emit_json(found)
        return
    columns = ["id", "asset", "content", "verdict", "signer", "by", "at"]
    print_table("Eval records", columns, _record_rows(found))


@app.command("show")
def show(
    record_id: Annotated[str, typer.Argument(help="The record's id (evr_...).")], json_: JsonFlag = False
) -> None:
    """Show one eval record, exactly as signed."""
    stored = current().call(lambda c: c.evals.get(record_id))
    if json_:
        emit_json(stored)
        return
    say(f"{stored.id}: {stored.verdict} for {stored.record.get('asset')} by {stored.signer}")
    emit_json(stored.record)


@signers.command("add")
def add_signer(
    name: Annotated[str, typer.Argument(help="Who or what holds the private key.")],
    public_key: Annotated[
        str | None, typer.Argument(help="Base64 of the 32-byte Ed25519 public key, or PEM.")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="Take the public key from this private or public key file.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Register a signer's public key (admins and platform only)."""
    text = _public_key(public_key, key_file)
    signer = current().call(lambda c: c.evals.add_signer(name, text))
    if json_:
        emit_json(signer)
        return
    say(f"signer {signer.key_id} ({signer.name}) registered")


@signers.command("list")
def list_signers(json_: JsonFlag = False) -> None:
    """List the signers, revoked ones included."""
    found = current().call(lambda c: c.evals.signers())
    if json_:
        emit_json(found)
        return
    columns = ["key id", "name", "public key", "added by", "added at", "revoked at"]
    print_table("Eval signers", columns, _signer_rows(found))


@signers.command("revoke")
def revoke_signer(
    key_id: Annotated[str, typer.Argument(help="The signer's key id (k_...).")], json_: JsonFlag = False
) -> None:
    """Revoke a signer: its records no longer verify."""
    signer = current().call(lambda c: c.evals.revoke_signer(key_id))
    if json_:
        emit_json(signer)
        return
    say(f"signer {signer.key_id} ({signer.name}) revoked")


def _public_key(text: str | None, key_file: Path | None) -> str:
    if (text is None) == (key_file is None):
        raise InvalidInputError("give the public key or --key-file, not both or neither")
    if text is not None:
        return text
    assert key_file is not None
    content = _read(key_file)
    if "PRIVATE KEY" in content:
        return signing.public_key_text(signing.load_private_key(key_file).public_key())
    return content


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from None
