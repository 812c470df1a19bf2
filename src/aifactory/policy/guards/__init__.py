"""Input and output guardrails: PII redaction, content rules (regex, word lists, CEL), the JSON a
request asks for, and a streaming output guard that holds text back until it is safe.

How the gateway uses them, per call, once the policy decision is made (`CallGuards` applies the
scope of redaction; the parts are usable alone too):

    guards = CallGuards(decision.obligations, detector, request=request, pseudonymizer=p,
                        restore=may_see_originals, holdback=settings.guard_holdback_chars)
    request = guards.request(request)                  # input rules; PII too under scope `all`
    model = guards.deployment(model, spec.provider)    # Redacting for external deployments
    response = guards.output.response(response)       # or: events = guards.output.stream(events)
    run_findings = guards.findings()                   # counts, never values
"""

from aifactory.policy.guards.call import LOCAL_PROVIDER, CallGuards
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
    "LOCAL_PROVIDER",
    "CallGuards",
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
