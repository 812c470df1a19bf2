"""The server's background purge: every `retention_purge_interval` seconds, purge payloads past
retention in batches until none is due. Replicas may all run it: on PostgreSQL each batch skips rows
another replica holds; on SQLite there is one server."""

from __future__ import annotations

import logging

from aifactory.periodic import Periodic
from aifactory.retention.vault import PayloadVault

__all__ = ["Purger"]

log = logging.getLogger(__name__)


class Purger:
    """Purges due payloads on a thread, one batch (one transaction, one ledger entry) at a time."""

    def __init__(self, vault: PayloadVault, *, interval: float, batch: int) -> None:
        self.vault = vault
        self.interval = interval
        self.batch = batch
        self._loop = Periodic("payload-purger", interval, self.run_once, immediately=True)

    def run_once(self) -> int:
        """Purge everything due now; how many payloads were purged."""
        total = 0
        while not self._loop.stopping:
            report = self.vault.purge(limit=self.batch)
            total += report.purged
            if report.purged == 0 or report.remaining == 0:
                break
        if total:
            log.info("purged %d run payloads past their retention", total)
        return total

    def start(self) -> None:
        """Start purging in the background (not when the interval is 0)."""
        self._loop.start()

    def stop(self) -> None:
        """Stop, finishing the batch in progress."""
        self._loop.stop()
