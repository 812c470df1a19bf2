"""`aifactory chat`: a quick try of a route, printing the answer and what the call cost."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aifactory.cli._output import JsonFlag, console, emit_json
from aifactory.cli._session import current
from aifactory.cli.runs import fetch_run, summary
from aifactory.client import AsyncClient
from aifactory.client._http import present
from aifactory.client.gateway import delta_text
from aifactory.errors import AifactoryError

__all__ = ["chat"]


def _messages(message: str, system: str | None) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": message}]


async def _whole(client: AsyncClient, route: str, messages: Any, options: dict[str, Any]) -> dict[str, Any]:
    result = await client.gateway.chat(route, messages, **options)
    run = await fetch_run(client, result.run_id)
    return {"run_id": result.run_id, "completion": result.completion, "run": run}


async def _streamed(
    client: AsyncClient, route: str, messages: Any, options: dict[str, Any]
) -> dict[str, Any]:
    stream = client.gateway.chat_stream(route, messages, **options)
    try:
        async with stream:
            async for chunk in stream:
                typer.echo(delta_text(chunk), nl=False)
    finally:
        typer.echo()  # end the answer's line, also before an error
    if stream.run_id is None:
        raise AifactoryError("the server sent no run id (X-Aifactory-Run-Id)")
    return await fetch_run(client, stream.run_id)


def chat(
    message: Annotated[str, typer.Argument(help="What to ask.")],
    route: Annotated[str, typer.Option(help="The route alias to call.")] = "chat-default",
    system: Annotated[str | None, typer.Option(help="A system message before yours.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Most tokens to generate.")] = None,
    temperature: Annotated[float | None, typer.Option(min=0, max=2, help="Sampling temperature.")] = None,
    stream: Annotated[bool, typer.Option(help="Print tokens as they come (not with --json).")] = True,
    use_case: Annotated[str | None, typer.Option(help="Governance context: the use case.")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="Governance context: the jurisdiction.")] = None,
    surface: Annotated[str | None, typer.Option(help="Governance context: where it is shown.")] = None,
    subject: Annotated[
        str | None, typer.Option(help="Governance context: the data subject (stored only as a hash).")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Ask a route once: the answer, then its run id, deployment, tokens, latency and cost."""
    messages = _messages(message, system)
    options = present(
        {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "use_case": use_case,
            "jurisdiction": jurisdiction,
            "surface": surface,
            "subject": subject,
        }
    )
    session = current()
    if json_ or not stream:
        answer = session.call(lambda c: _whole(c, route, messages, options))
        if json_:
            emit_json(answer)
            return
        choices = answer["completion"].get("choices") or [{}]
        typer.echo((choices[0].get("message") or {}).get("content") or "")
        run = answer["run"]
    else:
        run = session.call(lambda c: _streamed(c, route, messages, options))
    console(stderr=True).print(summary(run), style="dim", markup=False)
