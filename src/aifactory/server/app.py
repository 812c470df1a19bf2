"""The HTTP server: `create_app(settings)` builds the FastAPI app around one Runtime."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aifactory import __version__
from aifactory.runtime import Runtime
from aifactory.server import problems
from aifactory.server.edge import GatewayEdge
from aifactory.server.metrics import Metrics
from aifactory.server.middleware import RequestMiddleware
from aifactory.server.routes import (
    assets,
    budgets,
    data,
    evals,
    health,
    identity,
    incidents,
    kill_switches,
    ledger,
    openai_compat,
    pii,
    policy,
    prompts,
    runs,
    tools,
)
from aifactory.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)

DESCRIPTION = """The aifactory control plane: identity and permissions, the catalog with its
change-control choke point, and a tamper-evident ledger (RFC 9162 Merkle tree, C2SP signed
checkpoints). Errors are RFC 9457 problem+json. Authenticate with `Authorization: Bearer aif_...`."""


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, freeze_gc: bool = False
) -> FastAPI:
    """The ASGI app. Opens (and migrates) the database at startup unless a runtime is given.

    `freeze_gc` (for a process that is only this server, as `aifactory serve`): once started, move
    every object alive to the garbage collector's permanent generation, so full collections walk
    only what requests allocate. Without it, a full collection walks the start-up heap (modules,
    the policy set, the local model's runtime) and pauses requests for 80-100 ms."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        rt = runtime or Runtime.open(settings)
        app.state.runtime = rt
        metrics.gauge("aifactory_ledger_size", "Entries in the ledger tree", lambda: rt.ledger.size())
        if own:
            rt.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await rt.gateway.aclose()
            if own:
                rt.close()

    app = FastAPI(title="aifactory", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.metrics = metrics
    app.state.settings = settings
    if runtime is not None:
        app.state.runtime = runtime  # in-process callers (the CLI's local mode) skip the lifespan
    problems.install(app)
    for router in (
        health.router,
        ledger.router,
        identity.router,
        assets.router,
        prompts.router,
        openai_compat.router,
        budgets.router,
        runs.router,
        policy.router,
        kill_switches.router,
        evals.router,
        incidents.router,
        tools.router,
        data.router,
        pii.router,
    ):
        app.include_router(router)
    app.add_middleware(GatewayEdge)  # inside RequestMiddleware: added first, wraps less
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics)
    return app
