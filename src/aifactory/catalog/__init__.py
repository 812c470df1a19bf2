"""The catalog: every governed asset, its versions and labels, and the one change-control choke point."""

from aifactory.catalog.gates import ApprovalGate, Gate, MoveContext
from aifactory.catalog.registry import Catalog, content_hash

__all__ = ["ApprovalGate", "Catalog", "Gate", "MoveContext", "content_hash"]
