"""`client.prompts`: push, resolve (cached, last-known-good), render, watch, and release prompts.

    prompt = await client.prompts.get("support-reply", label="production")
    await client.prompts.watch()       # label moves reach the cache within a second (SSE)

`get` keeps each resolution with its ETag. A cached resolution younger than `revalidate_after`
seconds is served as is; an older one is revalidated with `If-None-Match` (a `304` costs the server
no body). While `watch()` runs, a label move drops the prompt from the cache the moment the server
announces it, so the next `get` fetches the new version. When the server cannot be reached or
fails (5xx), `get` serves the last version it saw and logs a warning; with nothing cached it raises.

Releases go through the catalog's one choke point (`/v1/assets/prompt:{name}/...`), as every other
path does: the same gates, the same refusals.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aifactory.catalog.records import AssetVersion, LabelMove
from aifactory.client._http import Channel, present, segment
from aifactory.client.assets import AssetsApi
from aifactory.errors import AifactoryError, status_for
from aifactory.prompts.files import PromptFile, load
from aifactory.prompts.records import PromptConsumer, PromptRendered, PromptResolved, PromptSummary
from aifactory.prompts.spec import parse_spec

__all__ = ["PromptsApi"]

log = logging.getLogger(__name__)

_Key = tuple[str, str | None, int | None, str | None, str | None]
_RECONNECT_SECONDS = 1.0


@dataclass
class _Cached:
    value: PromptResolved
    etag: str
    checked: float


def _is_outage(error: AifactoryError) -> bool:
    """The server could not answer (unreachable, or a 5xx): the case for the last known good."""
    return "url" in error.extra or status_for(error) >= 500


class PromptsApi:
    """Prompts: files in, resolutions out, releases through the catalog's gates."""

    def __init__(self, channel: Channel, assets: AssetsApi, *, revalidate_after: float = 1.0) -> None:
        self._channel = channel
        self._assets = assets
        self.revalidate_after = revalidate_after
        """Seconds a cached resolution is served without asking the server (while not watching)."""
        self._cache: dict[_Key, _Cached] = {}
        self._watch: asyncio.Task[None] | None = None
        self._watching = asyncio.Event()

    # --- authoring --------------------------------------------------------------------------------

    async def push(self, prompt: PromptFile | Path | str, message: str = "") -> AssetVersion:
        """Push a prompt file (a path, or a loaded `PromptFile`); identical content returns the
        existing version with `created` False."""
        found = prompt if isinstance(prompt, PromptFile) else load(prompt)
        body = {
            "name": found.name,
            "description": found.description,
            "critical": found.critical,
            "spec": found.spec.content(),
            "message": message,
        }
        return await self._channel.one(AssetVersion, "POST", "/v1/prompts", json=body)

    async def pull(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptFile:
        """A version (by label or number; default: the default label) as a prompt file."""
        params = {"label": label, "version": version}
        found = await self._channel.one(PromptResolved, "GET", f"/v1/prompts/{segment(name)}", params=params)
        asset = await self._assets.get(f"prompt:{name}")
        spec = parse_spec(found.spec)
        return PromptFile(name=name, description=asset.description, critical=asset.critical, spec=spec)

    async def list(
        self,
        query: str | None = None,
        *,
        tag: str | None = None,
        function: str | None = None,
        risk: str | None = None,
        model_family: str | None = None,
    ) -> builtins.list[PromptSummary]:
        """Prompts matching text (name, description), tag, business function, risk, model family."""
        params = {"q": query, "tag": tag, "function": function, "risk": risk, "model_family": model_family}
        return await self._channel.many(PromptSummary, "GET", "/v1/prompts", params=params)

    async def versions(self, name: str) -> builtins.list[AssetVersion]:
        """Every version with its lifecycle stage, oldest first."""
        return await self._assets.versions(f"prompt:{name}")

    async def version(self, name: str, number: int) -> AssetVersion:
        """One version with its lifecycle stage."""
        return await self._assets.version(f"prompt:{name}", number)

    # --- serving ----------------------------------------------------------------------------------

    async def get(
        self,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
        hash: str | None = None,
        subject: str | None = None,
    ) -> PromptResolved:
        """The version to use now (cached; the last known good when the server is down)."""
        key: _Key = (name, label, version, hash, subject)
        cached = self._cache.get(key)
        if cached is not None and self._fresh(cached):
            return cached.value
        try:
            return await self._revalidate(key, cached)
        except AifactoryError as error:
            if cached is None or not _is_outage(error):
                raise
            log.warning(
                "serving the last known version %s of prompt %s: %s", cached.value.version, name, error
            )
            return cached.value

    def _fresh(self, cached: _Cached) -> bool:
        age = time.monotonic() - cached.checked
        return age < (30.0 if self._watching.is_set() else self.revalidate_after)

    async def _revalidate(self, key: _Key, cached: _Cached | None) -> PromptResolved:
        name, label, version, digest, subject = key
        headers = {"If-None-Match": cached.etag} if cached is not None else None
        params = {"label": label, "version": version, "hash": digest, "subject": subject}
        response = await self._channel.request(
            "GET", f"/v1/prompts/{segment(name)}", params=params, headers=headers
        )
        if response.status_code == 304 and cached is not None:
            cached.checked = time.monotonic()
            return cached.value
        value = PromptResolved.model_validate(response.json())
        self._cache[key] = _Cached(value, response.headers.get("etag", ""), time.monotonic())
        return value

    async def render(
        self,
        name: str,
        variables: dict[str, Any] | None = None,
        *,
        label: str | None = None,
        version: int | None = None,
        hash: str | None = None,
        subject: str | None = None,
    ) -> PromptRendered:
        """Resolve and render on the server (variables checked against the prompt's schema)."""
        body = present(
            {
                "label": label,
                "version": version,
                "hash": hash,
                "subject": subject,
                "variables": variables or {},
            }
        )
        return await self._channel.one(
            PromptRendered, "POST", f"/v1/prompts/{segment(name)}/render", json=body
        )

    async def consumers(self, name: str, *, version: int | None = None) -> builtins.list[PromptConsumer]:
        """Who resolved the prompt (or one version): key, environment, use case, when, how often."""
        path = f"/v1/prompts/{segment(name)}/consumers"
        return await self._channel.many(PromptConsumer, "GET", path, params={"version": version})

    # --- watching ---------------------------------------------------------------------------------

    async def watch(self, names: builtins.list[str] | None = None) -> None:
        """Follow label moves (SSE) in the background, reconnecting when the stream drops; returns
        once the first connection is listening (or failed once: the cache then revalidates)."""
        if self._watch is not None and not self._watch.done():
            return
        connected = asyncio.Event()
        self._watch = asyncio.get_running_loop().create_task(self._follow(names or [], connected))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connected.wait(), timeout=5)

    async def unwatch(self) -> None:
        """Stop following label moves."""
        task, self._watch = self._watch, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watching.clear()

    async def _follow(self, names: builtins.list[str], connected: asyncio.Event) -> None:
        params = "&".join(f"name={segment(n)}" for n in names)
        path = "/v1/prompts/events" + (f"?{params}" if params else "")
        while True:
            try:
                await self._listen(path, connected)
            except Exception as error:  # whatever broke the stream, the watch must go on
                log.debug("prompt watch dropped (%s); reconnecting", error)
            self._watching.clear()
            connected.set()  # a failed first attempt must not hold watch() up
            await asyncio.sleep(_RECONNECT_SECONDS)

    async def _listen(self, path: str, connected: asyncio.Event) -> None:
        async with self._channel.stream("GET", path) as response:  # keepalives come every 15 s
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "ready":
                    self._cache.clear()  # whatever moved while not listening is refetched
                    self._watching.set()
                    connected.set()
                elif line.startswith("data:") and event == "label":
                    self._drop(json.loads(line[5:])["name"])

    def _drop(self, name: str) -> None:
        for key in [k for k in self._cache if k[0] == name]:
            del self._cache[key]

    # --- releases (the catalog's choke point) -----------------------------------------------------

    async def approve(self, name: str, version: int, comment: str = "") -> Any:
        """Approve a version (never your own)."""
        return await self._assets.approve(f"prompt:{name}", version, comment)

    async def promote(
        self, name: str, version: int, *, label: str = "production", reason: str = ""
    ) -> LabelMove:
        """Move `label` to `version` through its gates (`GateRefusedError` lists every unmet one)."""
        return await self._assets.move_label(f"prompt:{name}", label, version, reason)

    async def canary(
        self,
        name: str,
        version: int,
        percent: float,
        *,
        label: str = "production",
        ramp: builtins.list[dict[str, float]] | None = None,
        reason: str = "",
    ) -> LabelMove:
        """Serve `version` to `percent` of the label's subjects (sticky), through the label's gates."""
        return await self._assets.canary(f"prompt:{name}", label, version, percent, ramp=ramp, reason=reason)

    async def rollback(self, name: str, *, label: str = "production", reason: str = "") -> LabelMove:
        """End the label's canary, or else return the label to its previous version: one call."""
        return await self._assets.rollback(f"prompt:{name}", label, reason)

    async def mark(
        self,
        name: str,
        version: int,
        state: str,
        *,
        sunset: date | None = None,
        reason: str = "",
        force: bool = False,
    ) -> AssetVersion:
        """Mark a version `candidate`, `deprecated` (with `sunset`) or `retired`."""
        return await self._assets.mark(
            f"prompt:{name}", version, state, sunset=sunset, reason=reason, force=force
        )

    async def history(self, name: str) -> builtins.list[LabelMove]:
        """Every label move, canary and rollback, oldest first."""
        return await self._assets.history(f"prompt:{name}")
