"""Governance and policy: packs, decisions, PII, guardrails, tool authorization, kill switches,
retention."""

from aifactory.policy.decision import ContentRule, Decision, Obligations, Reason, RequestContext, merge

__all__ = ["ContentRule", "Decision", "Obligations", "Reason", "RequestContext", "merge"]
