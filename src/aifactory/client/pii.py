"""`client.pii`: find and redact PII in a text.

found = await client.pii.analyze("mail jane@example.com", return_text=True)
clean = await client.pii.redact("mail jane@example.com", "mask")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aifactory.client._http import Channel, present
from aifactory.policy.pii.records import Analysis, Redacted

__all__ = ["PiiApi"]


class PiiApi:
    """PII: analyze and redact."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def analyze(
        self,
        text: str,
        *,
        language: str | None = None,
        entities: Sequence[str] | None = None,
        return_text: bool = False,
    ) -> Analysis:
        """The PII entities in `text` (the types in `entities`, or all)."""
        body = present(
            {
                "text": text,
                "language": language,
                "entities": None if entities is None else list(entities),
                "return_text": return_text,
            }
        )
        return await self._channel.one(Analysis, "POST", "/v1/pii/analyze", json=body)

    async def redact(
        self,
        text: str,
        mode: str | Mapping[str, str],
        *,
        entities: Sequence[str] | None = None,
        language: str | None = None,
    ) -> Redacted:
        """`text` with PII redacted: one mode (for `entities`, or all types) or type -> mode."""
        body = present(
            {
                "text": text,
                "mode": mode if isinstance(mode, str) else dict(mode),
                "entities": None if entities is None else list(entities),
                "language": language,
            }
        )
        return await self._channel.one(Redacted, "POST", "/v1/pii/redact", json=body)
