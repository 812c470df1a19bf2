"""`aifactory deployments`: one model at one upstream, as versioned catalog assets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aifactory.cli._output import JsonFlag, emit_json
from aifactory.cli._session import current
from aifactory.cli._specs import add_shared_commands, print_pushed
from aifactory.client._http import present

__all__ = ["app", "spec_of"]

app = typer.Typer(
    help="Deployments: provider, upstream model, region, tags, prices (catalog assets).", no_args_is_help=True
)


def spec_of(
    provider: str,
    upstream_model: str,
    *,
    base_url: str | None = None,
    region: str | None = None,
    tags: list[str] | None = None,
    context_window: int | None = None,
    input_price: str | None = None,
    output_price: str | None = None,
    credentials_env: str | None = None,
    timeout: float | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """The deployment spec the options describe; what they leave out takes the server's defaults."""
    prices = present({"input_per_mtok": input_price, "output_per_mtok": output_price}) or None
    spec = {
        "provider": provider,
        "upstream_model": upstream_model,
        "base_url": base_url,
        "operation": operation,
        "region": region,
        "tags": tags or None,
        "context_window": context_window,
        "prices": prices,
        "credentials_env": credentials_env,
        "timeout_seconds": timeout,
    }
    return present(spec)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The deployment's name (what routes list as candidates).")],
    provider: Annotated[str, typer.Option(help="Provider plugin: openai, anthropic, local, ...")],
    upstream_model: Annotated[str, typer.Option(help="The model id the upstream knows.")],
    base_url: Annotated[str | None, typer.Option(help="Upstream base URL, e.g. https://host/v1.")] = None,
    region: Annotated[str | None, typer.Option(help="Where the upstream processes data.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag, e.g. eu-resident (repeat).")] = None,
    context_window: Annotated[int | None, typer.Option(help="Context window in tokens.")] = None,
    input_price: Annotated[str | None, typer.Option(help="USD per million input tokens.")] = None,
    output_price: Annotated[str | None, typer.Option(help="USD per million output tokens.")] = None,
    credentials_env: Annotated[
        str | None, typer.Option(help="Name of the env var holding the upstream API key.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Per-attempt deadline in seconds.")] = None,
    operation: Annotated[str | None, typer.Option(help="chat (default) or embeddings.")] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="What changed.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Push a deployment spec as a new version (registering the deployment if needed)."""
    spec = spec_of(
        provider,
        upstream_model,
        base_url=base_url,
        region=region,
        tags=tag,
        context_window=context_window,
        input_price=input_price,
        output_price=output_price,
        credentials_env=credentials_env,
        timeout=timeout,
        operation=operation,
    )
    version = current().call(lambda c: c.deployments.create(name, spec, message=message))
    if json_:
        emit_json(version)
        return
    print_pushed(version, f"deployment:{name}")


add_shared_commands(app, "deployment")
