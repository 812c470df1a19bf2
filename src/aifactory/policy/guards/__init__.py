"""Input and output guardrails: PII redaction, content rules (regex, word lists, CEL), the JSON a
request asks for, and a streaming output guard that holds text back until it is safe.

How the gateway uses them, per call (the obligations come from the policy decision):

    inputs = InputGuard(obligations, detector, pseudonymizer=p)    # or Redacting(model, inputs)
    request = inputs.chat(request)
    outputs = OutputGuard(obligations, detector, holdback=settings.guard_holdback_chars,
                          expect=expected_json(request), pseudonymizer=p, restore=may_see_originals)
    response = outputs.response(response)          # or: events = outputs.stream(events)
    record: inputs.findings.as_json(), outputs.findings.as_json()
"""

from aifactory.policy.guards.findings import Findings
from aifactory.policy.guards.holdback import Holdback
from aifactory.policy.guards.inputs import InputGuard, guard_input
from aifactory.policy.guards.outputs import DEFAULT_HOLDBACK, OutputGuard
from aifactory.policy.guards.redacting import Redacting
from aifactory.policy.guards.rules import CEL_VARIABLES, Hit, RuleSet, compile_rules
from aifactory.policy.guards.structured import JSON_RULE, JsonExpectation, expected_json
from aifactory.policy.guards.text import TextGuard, marker

__all__ = [
    "CEL_VARIABLES",
    "DEFAULT_HOLDBACK",
    "JSON_RULE",
    "Findings",
    "Hit",
    "Holdback",
    "InputGuard",
    "JsonExpectation",
    "OutputGuard",
    "Redacting",
    "RuleSet",
    "TextGuard",
    "compile_rules",
    "expected_json",
    "guard_input",
    "marker",
]
