"""`aifactory init` and `aifactory serve`: set up a data dir, and run the server on it."""

from __future__ import annotations

from typing import Annotated

import typer

from aifactory.bootstrap import initialize
from aifactory.cli._output import JsonFlag, emit_json, say
from aifactory.cli._session import Session, load_settings, opening

__all__ = ["init", "serve"]


def init(json_: JsonFlag = False) -> None:
    """Create the data dir, database, signing key and payload key; the first run prints an admin key, once."""
    settings = load_settings()
    with opening(settings):
        result = initialize(settings)
    if json_:
        emit_json(
            {
                "admin_key": result.admin_key,
                "data_dir": result.data_dir,
                "database_url": result.database_url,
                "verifier_key": result.verifier_key,
            }
        )
        return
    say(f"data dir:      {result.data_dir}")
    say(f"database:      {result.database_url}")
    say(f"verifier key:  {result.verifier_key}")
    if result.admin_key is None:
        say("already initialised: no new admin key (create keys with `aifactory keys create`)")
        return
    say(f"admin key:     {result.admin_key}", "bold")
    say("This admin key is shown once and never again: store it now.", "bold yellow")
    say(f"export AIFACTORY_API_KEY={result.admin_key}")


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default AIFACTORY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default AIFACTORY_PORT).", min=0, max=65535)] = None,
) -> None:
    """Run the HTTP server on the data dir (or AIFACTORY_DATABASE_URL)."""
    import uvicorn

    from aifactory.logs import configure_logging
    from aifactory.server import create_app

    settings = load_settings()
    Session(settings).check_initialised()
    configure_logging(settings.log_level)
    bind = host or settings.host
    uvicorn.run(
        create_app(settings, freeze_gc=True),
        host=bind,
        port=settings.port if port is None else port,
        log_config=None,
        access_log=False,  # the server's own access log has the request id and redacts keys
        timeout_graceful_shutdown=5,  # open event streams (prompt watchers) reconnect elsewhere
    )
