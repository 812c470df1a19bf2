"""The `aifactory` command: `aifactory <noun> <verb>`. Entry point `main`."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from aifactory.cli import (
    assets,
    budgets,
    chat,
    data,
    deployments,
    evals,
    incidents,
    instance,
    keys,
    kill_switches,
    ledger,
    pii,
    policy,
    principals,
    prompts,
    routes,
    runs,
    teams,
    tools,
)
from aifactory.cli._output import JSON_META, print_error
from aifactory.errors import AifactoryError

__all__ = ["app", "main"]


class _Group(TyperGroup):
    """The root command: an expected error prints `error: ...` (or problem JSON) and exits 1."""

    def invoke(self, ctx: Any) -> Any:  # a click Context; typer vendors click privately
        try:
            return super().invoke(ctx)
        except AifactoryError as error:
            print_error(error, as_json=bool(ctx.meta.get(JSON_META)))
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="aifactory",
    help="A self-hosted AI factory. Talks to the server at AIFACTORY_URL, or works on the local "
    "data dir (AIFACTORY_DATA_DIR) in process. Authenticate with AIFACTORY_API_KEY.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold API keys
)
app.command("init")(instance.init)
app.command("serve")(instance.serve)
app.add_typer(keys.app, name="keys")
app.add_typer(principals.app, name="principals")
app.add_typer(teams.app, name="teams")
app.add_typer(assets.app, name="assets")
app.add_typer(prompts.app, name="prompts")
app.add_typer(ledger.app, name="ledger")
app.add_typer(deployments.app, name="deployments")
app.add_typer(routes.app, name="routes")
app.add_typer(runs.app, name="runs")
app.add_typer(budgets.app, name="budgets")
app.add_typer(policy.app, name="policy")
app.add_typer(kill_switches.app, name="kill-switches")
app.add_typer(tools.app, name="tools")
app.add_typer(data.app, name="data")
app.add_typer(pii.app, name="pii")
app.add_typer(evals.app, name="evals")
app.add_typer(incidents.app, name="incidents")
app.command("chat")(chat.chat)


def main() -> None:
    """Run the command line."""
    app()
