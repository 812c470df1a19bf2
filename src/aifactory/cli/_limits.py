"""What `aifactory keys` and `aifactory teams` share: rate limits of their own, per minute.

`--rpm` and `--tpm` on `create`, and a `limits` command that sets them later (or shows them).
"""

# No `from __future__ import annotations`: the command's annotations name the noun, a closure
# variable that typer could not resolve from postponed (string) annotations.

from collections.abc import Callable
from typing import Annotated

import typer

from aifactory.cli._output import JsonFlag, emit_json, say
from aifactory.cli._session import current
from aifactory.client import AsyncClient
from aifactory.client.identity import KeysApi, TeamsApi
from aifactory.identity.records import MAX_RATE, ApiKey, Team

__all__ = ["Rpm", "Tpm", "add_limits_command", "describe_limits"]

Rpm = Annotated[
    int | None,
    typer.Option("--rpm", min=1, max=MAX_RATE, help="Requests per minute (overrides the server's default)."),
]
Tpm = Annotated[
    int | None,
    typer.Option("--tpm", min=1, max=MAX_RATE, help="Tokens per minute (overrides the server's default)."),
]


def describe_limits(holder: ApiKey | Team) -> str:
    """`rpm 60, tpm server default`: the limits of a key or team, per minute."""
    rpm = "server default" if holder.rpm_limit is None else holder.rpm_limit
    tpm = "server default" if holder.tpm_limit is None else holder.tpm_limit
    return f"rpm {rpm}, tpm {tpm}"


def add_limits_command(
    app: typer.Typer,
    noun: str,
    ref_help: str,
    namespace: Callable[[AsyncClient], KeysApi | TeamsApi],
) -> None:
    """Register `limits` on `app`: set (or show) the rate limits of one key or team."""

    @app.command(
        "limits", help=f"Set a {noun}'s own requests and tokens per minute (without options: show them)."
    )
    def limits(
        ref: Annotated[str, typer.Argument(metavar=noun.upper(), help=ref_help)],
        rpm: Rpm = None,
        tpm: Tpm = None,
        reset: Annotated[
            bool,
            typer.Option("--reset", help="Back to the server's defaults first (then apply --rpm/--tpm)."),
        ] = False,
        json_: JsonFlag = False,
    ) -> None:
        async def change(client: AsyncClient) -> ApiKey | Team:
            return await namespace(client).set_limits(ref, rpm_limit=rpm, tpm_limit=tpm, reset=reset)

        updated = current().call(change)
        if json_:
            emit_json(updated)
            return
        say(f"{_name(updated)}: {describe_limits(updated)}")


def _name(holder: ApiKey | Team) -> str:
    if isinstance(holder, ApiKey):
        return f"key {holder.id} ({holder.prefix})"
    return f"team {holder.name} ({holder.id})"
