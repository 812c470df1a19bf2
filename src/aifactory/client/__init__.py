"""The Python SDK: `AsyncClient` (the implementation) and `Client` (its blocking facade).

    async with AsyncClient("http://127.0.0.1:8000", "aif_...") as client:
        version = await client.assets.push("prompt:greet", {"template": "Hello {name}"})

    with Client() as client:  # AIFACTORY_URL and AIFACTORY_API_KEY
        client.assets.move_label("prompt:greet", "production", version.number)
        answer = client.gateway.chat("chat-default", "Hello")  # ChatResult(run_id, completion)

Both return the records the server uses (`aifactory.identity.records`, `aifactory.catalog.records`)
and raise the `aifactory.errors` tree, classified once from the server's problem+json.
"""

from aifactory.client._async import AsyncClient
from aifactory.client._sync import Blocking, BlockingIterator, Client
from aifactory.client.gateway import ChatResult, ChatStream
from aifactory.client.ledger import LedgerEntry
from aifactory.client.specs import Published

__all__ = [
    "AsyncClient",
    "Blocking",
    "BlockingIterator",
    "ChatResult",
    "ChatStream",
    "Client",
    "LedgerEntry",
    "Published",
]
