"""The Python SDK: `AsyncClient` (the implementation) and `Client` (its blocking facade).

    async with AsyncClient("http://127.0.0.1:8000", "aif_...") as client:
        version = await client.prompts.push("greet.md", "first draft")

    with Client() as client:  # AIFACTORY_URL and AIFACTORY_API_KEY
        client.prompts.promote("greet", version.number)  # through the gates of `production`
        prompt = client.prompts.get("greet")  # cached; the last known good if the server is down
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
