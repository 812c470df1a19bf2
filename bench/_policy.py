"""The policy scenario of the gateway benchmark (`--policy`): aifactory with no active pack against
aifactory with every built-in pack active, both called with governance headers and a prompt that
holds an e-mail address and a phone number.

With the packs, a call from `DE` on `chat` with `personal_data` is decided `restrict`: `baseline`
pseudonymizes the e-mail and the phone number sent to the (external) deployment, `gdpr-residency`
admits only EU regions (the deployment declares `eu-central-1`), `eu-ai-act` adds its Art. 50(1)
disclosure. Without packs the same call is decided `allow` with no obligations.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
from _gateways import Target, start_aifactory, start_all
from _processes import Process

from aifactory.policy.builtin import BUILTIN_PACKS, PACK_DIR
from aifactory.policy.pack_files import load_pack_file

__all__ = ["HEADERS", "PROMPT", "start_policy_gateways", "with_prompt"]

REGION = "eu-central-1"
HEADERS = {
    "X-Aifactory-Jurisdiction": "DE",
    "X-Aifactory-Surface": "chat",
    "X-Aifactory-Data-Categories": "personal_data",
}
PROMPT = "Please write to jane.doe@example.com or call +49 30 901820 about order 4711, thanks."
"""The built-in detector finds one EMAIL_ADDRESS and one PHONE_NUMBER here (order 4711 is no PII)."""


def builtin_packs() -> dict[str, Any]:
    """Every built-in pack's content, by name (as `aifactory policy install` pushes them)."""
    return {name: load_pack_file(PACK_DIR / f"{name}.yaml")[1] for name in BUILTIN_PACKS}


def with_prompt(target: Target, governed: bool) -> Target:
    """The target sending the PII prompt, with the governance headers when `governed`."""
    return dataclasses.replace(target, prompt=PROMPT, extra_headers=dict(HEADERS) if governed else {})


def _check_restricted(target: Target) -> None:
    """One call through the packs: it must succeed under a restricting decision (a disclosure)."""
    body = {"model": target.model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16}
    answer = httpx.post(f"{target.base_url}/chat/completions", json=body, headers=target.headers, timeout=10)
    if answer.status_code != 200 or "x-aifactory-disclosure" not in answer.headers:
        raise RuntimeError(f"{target.name}: the packs did not restrict the call: {answer.text[:500]}")


def start_policy_gateways(
    work: Path, upstream: str, env: dict[str, str], started: list[Process]
) -> list[tuple[Target, Process]]:
    """aifactory without packs and aifactory with the built-in packs, started at once, the route's
    deployment in an EU region on both; whatever started is in `started`."""
    packs = builtin_packs()
    jobs = [
        lambda: start_aifactory("aifactory", work, upstream, durable=True, extra_env=env, region=REGION),
        lambda: start_aifactory(
            "aifactory-policy", work, upstream, durable=True, extra_env=env, region=REGION, packs=packs
        ),
    ]
    targets = [(with_prompt(target, governed=True), proc) for target, proc in start_all(jobs, started)]
    _check_restricted(targets[1][0])
    return targets
