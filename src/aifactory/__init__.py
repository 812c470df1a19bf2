"""aifactory: a self-hosted AI factory with governed, measured, repeatable workflows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from aifactory.client import AsyncClient, Client
    from aifactory.settings import Settings

__all__ = ["AsyncClient", "Client", "Settings", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: `import aifactory` stays cheap and side-effect free.
    if name in ("AsyncClient", "Client"):
        from aifactory import client

        return getattr(client, name)
    if name == "Settings":
        from aifactory.settings import Settings

        return Settings
    raise AttributeError(name)
