"""Evaluation: signed eval records of exact asset versions, their signers, and the `eval-record` gate."""

from aifactory.evals.gate import EvalRecordGate
from aifactory.evals.registry import EvalRecords

__all__ = ["EvalRecordGate", "EvalRecords"]
