"""The ledger: an append-only, tamper-evident audit log (RFC 9162 tree, C2SP signed checkpoints)."""

from aifactory.ledger.events import Event
from aifactory.ledger.log import Ledger

__all__ = ["Event", "Ledger"]
