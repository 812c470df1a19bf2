"""`CallGuards`: every guard of one call, built from its decision's obligations, with the scope of
redaction applied: under `redact_scope: all` the request is redacted before routing; under
`external` only deployments outside the platform (provider other than `local`) get it redacted,
through a `Redacting` wrapper. Input content rules apply to every request either way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aifactory.gateway.provider import Model
from aifactory.gateway.types import ChatRequest, EmbeddingRequest
from aifactory.policy.decision import Obligations
from aifactory.policy.guards.inputs import InputGuard
from aifactory.policy.guards.outputs import DEFAULT_HOLDBACK, OutputGuard
from aifactory.policy.guards.redacting import Redacting
from aifactory.policy.guards.structured import expected_json
from aifactory.policy.pii import Detector, Pseudonymizer

__all__ = ["LOCAL_PROVIDER", "CallGuards"]

LOCAL_PROVIDER = "local"
"""The provider whose deployments run inside the platform (not `external` for redaction)."""


class CallGuards:
    """The input and output guards of one call. Build it after the decision, before routing:

    guards = CallGuards(obligations, detector, request=request, pseudonymizer=p, restore=...)
    request = guards.request(request)                     # rules; PII too under scope `all`
    model = guards.deployment(model, spec.provider)       # per candidate deployment
    response = guards.output.response(response)          # or guards.output.stream(events)
    run.guard_findings = guards.findings()
    """

    def __init__(
        self,
        obligations: Obligations,
        detector: Detector | None,
        *,
        request: ChatRequest | None = None,
        pseudonymizer: Pseudonymizer | None = None,
        restore: bool = False,
        holdback: int = DEFAULT_HOLDBACK,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        everywhere = obligations.redact_scope == "all"
        self.inputs = InputGuard(
            obligations, detector, pseudonymizer=pseudonymizer, variables=variables, pii=everywhere
        )
        self.external = (
            None
            if everywhere or not obligations.redact
            else InputGuard(obligations, detector, pseudonymizer=pseudonymizer, rules=False)
        )
        self.output = OutputGuard(
            obligations,
            detector,
            holdback=holdback,
            expect=None if request is None else expected_json(request),
            pseudonymizer=pseudonymizer,
            restore=restore,
            variables=variables,
        )

    def request(self, request: ChatRequest) -> ChatRequest:
        """The request every deployment gets (GuardrailViolationError when a rule blocks it)."""
        return self.inputs.chat(request)

    def embedding(self, request: EmbeddingRequest) -> EmbeddingRequest:
        """The embeddings request every deployment gets."""
        return self.inputs.embedding(request)

    def deployment(self, model: Model, provider: str) -> Model:
        """The deployment's model, redacting what it is sent when it is outside the platform and
        redaction is scoped to such deployments."""
        if self.external is None or provider == LOCAL_PROVIDER:
            return model
        return Redacting(model, self.external)

    def findings(self) -> dict[str, Any]:
        """What the guards found, for the run record and its ledger entry (counts, never values)."""
        inputs = self.inputs.findings
        if self.external is not None:
            inputs = inputs.merged(self.external.findings)
        return {"input": inputs.as_json(), "output": self.output.findings.as_json()}
