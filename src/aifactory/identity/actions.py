"""The catalogue of Cedar actions: one per HTTP route, each in exactly one group (`read` or `write`).

In Cedar every action here is `Aifactory::Action::"<name>"`, a member of `Aifactory::Action::"<group>"`,
so a policy can grant a whole group (`action in Aifactory::Action::"read"`). Adding an action is one
line in `ACTIONS`.
"""

from __future__ import annotations

from typing import NamedTuple

from aifactory.errors import InvalidInputError

__all__ = ["ACTIONS", "GROUPS", "READ", "WRITE", "Action", "group_of"]

READ = "read"
WRITE = "write"
GROUPS = (READ, WRITE)


class Action(NamedTuple):
    """One permission: the group it belongs to and what it allows, in one line."""

    group: str
    description: str


ACTIONS: dict[str, Action] = {
    "assets.approve": Action(WRITE, "approve an asset version (never one's own)"),
    "assets.create": Action(WRITE, "register a new asset in the catalog"),
    "assets.lifecycle": Action(WRITE, "mark an asset version candidate, deprecated or retired"),
    "assets.list": Action(READ, "list assets in the catalog"),
    "assets.promote": Action(WRITE, "move or remove a label on an asset version"),
    "assets.read": Action(READ, "read one asset, its versions and labels"),
    "assets.review": Action(WRITE, "mark an asset reviewed (resets its review date)"),
    "assets.version": Action(WRITE, "push a new version of an asset"),
    "budgets.create": Action(WRITE, "create a budget (a hard spending limit per key, team or use case)"),
    "budgets.disable": Action(WRITE, "disable a budget"),
    "budgets.list": Action(READ, "list budgets"),
    "budgets.read": Action(READ, "read a budget and its current window's spend"),
    "data.erase": Action(WRITE, "erase a data subject's run payloads (destroy its key)"),
    "data.purge": Action(WRITE, "purge run payloads past their retention now"),
    "evalrecords.create": Action(WRITE, "submit a signed eval record of an asset version"),
    "evalrecords.list": Action(READ, "list eval records"),
    "evalrecords.read": Action(READ, "read one eval record, exactly as signed"),
    "evalsigners.create": Action(WRITE, "register a public key whose eval record signatures are accepted"),
    "evalsigners.list": Action(READ, "list eval record signers (revoked ones included)"),
    "evalsigners.revoke": Action(WRITE, "revoke an eval record signer (its records no longer verify)"),
    "gateway.chat": Action(WRITE, "call a route for chat completions (resource: the Route alias)"),
    "gateway.embed": Action(WRITE, "call a route for embeddings (resource: the Route alias)"),
    "gateway.models": Action(READ, "list the routes the gateway serves"),
    "incidents.list": Action(READ, "list incidents"),
    "incidents.open": Action(WRITE, "open an incident on an asset (blocks the no-open-incident gate)"),
    "incidents.read": Action(READ, "read one incident"),
    "incidents.resolve": Action(WRITE, "resolve an open incident"),
    "keys.create": Action(WRITE, "create an API key"),
    "keys.list": Action(READ, "list API keys (metadata only, never the secret)"),
    "keys.revoke": Action(WRITE, "revoke an API key"),
    "keys.update": Action(WRITE, "set an API key's own rate limits (requests and tokens per minute)"),
    "killswitches.flip": Action(WRITE, "set or clear a kill switch (a scope's level of service)"),
    "killswitches.list": Action(READ, "list the kill switches set now"),
    "ledger.read": Action(READ, "read the ledger: checkpoint, entries, proofs, verifier key"),
    "metrics.read": Action(READ, "read operational metrics"),
    "pii.analyze": Action(READ, "find PII in a text (nothing is stored)"),
    "pii.redact": Action(READ, "redact PII in a text (nothing is stored)"),
    "policy.decide": Action(READ, "dry-run a policy decision for a request context (records nothing)"),
    "policy.read": Action(READ, "list the active policy packs"),
    "principals.create": Action(WRITE, "create a person or app principal"),
    "principals.list": Action(READ, "list principals"),
    "principals.read": Action(READ, "read one principal"),
    "prompts.resolve": Action(READ, "resolve or render a prompt for use (records the consumer)"),
    "runs.payload": Action(READ, "read a run's decrypted payload (what was sent and returned)"),
    "runs.read": Action(READ, "read a run record"),
    "teams.create": Action(WRITE, "create a team"),
    "teams.list": Action(READ, "list teams"),
    "teams.update": Action(WRITE, "set a team's own rate limits (requests and tokens per minute)"),
    "tools.list": Action(READ, "list the registered tools the gateway serves"),
}
"""Every action, by `<area>.<verb>` name."""


def group_of(action: str) -> str:
    """The group of an action; an unknown action is a programming error, reported clearly."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise InvalidInputError(f'unknown action "{action}"; known actions: {", ".join(sorted(ACTIONS))}')
    return spec.group
