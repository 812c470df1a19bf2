"""`aifactory keys`: create (the secret is shown once), list, set rate limits, revoke."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from aifactory.cli._limits import Rpm, Tpm, add_limits_command
from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.identity.records import ApiKey

__all__ = ["app"]

app = typer.Typer(help="API keys: create (shown once), list, set rate limits, revoke.", no_args_is_help=True)


def _table(keys: Sequence[ApiKey]) -> None:
    print_table(
        "API keys",
        ["id", "prefix", "principal", "name", "created", "expires", "revoked", "rpm", "tpm"],
        [
            [
                k.id,
                k.prefix,
                k.principal_id,
                k.name,
                k.created_at,
                k.expires_at,
                k.revoked_at,
                k.rpm_limit,
                k.tpm_limit,
            ]
            for k in keys
        ],
    )


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    principal: Annotated[str | None, typer.Option(help="Whose key (id or name); default: yours.")] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Lifetime in days.")] = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    json_: JsonFlag = False,
) -> None:
    """Create an API key; its secret is printed this once."""
    key = current().call(
        lambda c: c.keys.create(
            name, principal=principal, expires_in_days=expires_in_days, rpm_limit=rpm, tpm_limit=tpm
        )
    )
    if json_:
        emit_json(key)
        return
    say(f"created key {key.id} for {key.principal_id}, expires {key.expires_at or 'never'}")
    say(key.key, "bold")
    say("This key is shown once and never again: store it now.", "bold yellow")


@app.command("list")
def list_(
    principal: Annotated[str | None, typer.Option(help="Only this principal's keys (`me`: yours).")] = None,
    json_: JsonFlag = False,
) -> None:
    """List API keys (metadata only; secrets are never stored)."""
    keys = current().call(lambda c: c.keys.list(principal))
    if json_:
        emit_json(keys)
        return
    _table(keys)


@app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="Key id or prefix.")],
    json_: JsonFlag = False,
) -> None:
    """Revoke an API key (every replica refuses it within the change poll interval)."""
    revoked = current().call(lambda c: c.keys.revoke(key))
    if json_:
        emit_json(revoked)
        return
    say(f"revoked key {revoked.id} ({revoked.prefix}) at {revoked.revoked_at}")


add_limits_command(app, "key", "Key id or prefix.", lambda c: c.keys)
