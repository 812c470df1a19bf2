"""Testing aids shipped with aifactory: a fault-injecting fake of an OpenAI-compatible model server,
which speaks Anthropic's Messages API too (`POST /v1/messages`).

`FakeProvider` runs it in a background thread (`with FakeProvider() as fake: fake.url`);
`FakeServer` runs it on your own event loop; `python -m aifactory.testing.fake_provider` runs it alone.
Faults are chosen per request, by the `X-Fake-Fault` header or by a plan per model name; their syntax
is in `aifactory.testing.faults`, the deterministic answers and token rule in `aifactory.testing.replies`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aifactory.testing.calls import Call
from aifactory.testing.faults import Faults, parse_faults
from aifactory.testing.server import FakeServer, FakeSettings

if TYPE_CHECKING:
    from aifactory.testing.fake_provider import FakeProvider

__all__ = ["Call", "FakeProvider", "FakeServer", "FakeSettings", "Faults", "parse_faults"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m aifactory.testing.fake_provider` does not find its module already imported.
    if name == "FakeProvider":
        from aifactory.testing.fake_provider import FakeProvider

        return FakeProvider
    raise AttributeError(name)
