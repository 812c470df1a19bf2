"""The authorizer: may this principal do this action on this resource? Decided by Cedar policies.

The policies are the packaged `default.cedar` plus any `*.cedar` files in an extra directory. Every
policy must carry an `@id("...")` annotation; it becomes the policy's Cedar id, so a decision names
the policies that made it. Decisions are pure functions of their inputs and the (immutable) policy
set, so they are cached in a bounded LRU; a new policy set means a new `Authorizer`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import cedarpy

from aifactory.errors import ConfigurationError, InvalidInputError, PermissionDeniedError
from aifactory.identity.actions import ACTIONS, GROUPS, group_of

__all__ = ["NAMESPACE", "AttrValue", "Authorizer", "Decision", "Resource", "Subject"]

NAMESPACE = "Aifactory"
AttrValue = str | bool | int
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subject:
    """The authenticated principal: its id, kind (person or app), roles and team."""

    id: str
    kind: str
    roles: tuple[str, ...]
    team: str | None


@dataclass(frozen=True, init=False)
class Resource:
    """What an action is on: a Cedar entity type (`Asset`, `Key`...), an id and plain attributes.

    An attribute naming a principal (`owner`, `author`) holds the principal's id.
    """

    type: str
    id: str
    attrs: tuple[tuple[str, AttrValue], ...]
    # Python says True == 1, Cedar does not: the kinds keep such resources apart in the cache.
    _kinds: tuple[bool, ...] = field(repr=False)

    def __init__(self, type: str, id: str, attrs: Mapping[str, AttrValue] | None = None) -> None:
        pairs = tuple(sorted((attrs or {}).items()))
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "attrs", pairs)
        object.__setattr__(self, "_kinds", tuple(isinstance(value, bool) for _, value in pairs))


@dataclass(frozen=True)
class Decision:
    """The outcome of one request: allowed or not, the deciding policy ids, and why in words."""

    allowed: bool
    policies: tuple[str, ...]
    reason: str


class Authorizer:
    """Decides requests against one parsed Cedar policy set, with a bounded decision cache."""

    def __init__(self, sources: Iterable[tuple[str, str]], *, cache_size: int = 65536) -> None:
        """Parse `(file name, Cedar text)` sources into one policy set; refuse bad policies clearly."""
        policies = _collect(sources)
        self.policy_ids = tuple(policies)
        document = {"staticPolicies": policies, "templates": {}, "templateLinks": []}
        self._policy_set = cedarpy.PolicySet.from_json_str(json.dumps(document))
        self._cache_size = cache_size
        self._cache: OrderedDict[Hashable, Decision] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        extra_dir: Path | None = None,
        *,
        extra_sources: Iterable[tuple[str, str]] = (),
        cache_size: int = 65536,
    ) -> Authorizer:
        """The packaged default policies, then `extra_sources` (from plugins), then every `*.cedar`
        file in `extra_dir`, in name order."""
        default = resources.files("aifactory.identity").joinpath("default.cedar")
        sources = [("default.cedar", default.read_text(encoding="utf-8")), *extra_sources]
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise ConfigurationError(f"policy directory {extra_dir} does not exist")
            files = sorted(extra_dir.glob("*.cedar"))
            sources += [(str(path), path.read_text(encoding="utf-8")) for path in files]
        return cls(sources, cache_size=cache_size)

    def decide(
        self, subject: Subject, action: str, resource: Resource, context: Mapping[str, Any] | None = None
    ) -> Decision:
        """Whether `subject` may do `action` on `resource`, from the cache when possible."""
        key = (subject, action, resource, _freeze(context or {}))
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        decision = self._evaluate(subject, action, resource, context or {})
        if self._cache_size > 0:
            with self._lock:
                self._cache[key] = decision
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return decision

    def require(
        self, subject: Subject, action: str, resource: Resource, context: Mapping[str, Any] | None = None
    ) -> Decision:
        """Like `decide`, but a denial raises `PermissionDeniedError` naming the deciding policies."""
        decision = self.decide(subject, action, resource, context)
        if not decision.allowed:
            roles = ", ".join(subject.roles) or "none"
            detail = (
                f'principal "{subject.id}" (roles: {roles}) may not {action} '
                f'on {resource.type} "{resource.id}": {decision.reason}'
            )
            raise PermissionDeniedError(detail, action=action, policies=list(decision.policies))
        return decision

    def invalidate(self) -> None:
        """Forget every cached decision."""
        with self._lock:
            self._cache.clear()

    def _evaluate(
        self, subject: Subject, action: str, resource: Resource, context: Mapping[str, Any]
    ) -> Decision:
        request = {
            "principal": _uid("Principal", subject.id),
            "action": _uid("Action", action),
            "resource": _uid(resource.type, resource.id),
            "context": dict(context),
        }
        result = cedarpy.is_authorized(request, self._policy_set, _entities(subject, action, resource))
        if result.diagnostics.errors:
            _log.warning("policy errors deciding %s: %s", action, "; ".join(result.diagnostics.errors))
        return _decision(result.allowed, tuple(sorted(result.diagnostics.reasons)))


def _decision(allowed: bool, policies: tuple[str, ...]) -> Decision:
    names = ", ".join(f'"{policy}"' for policy in policies)
    noun = "policy" if len(policies) == 1 else "policies"
    if allowed:
        return Decision(True, policies, f"permitted by {noun} {names}")
    if policies:
        return Decision(False, policies, f"denied by {noun} {names}")
    return Decision(False, (), "no policy permits it (default deny)")


# --- entities -----------------------------------------------------------------------------------


def _uid(entity_type: str, entity_id: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{entity_type}", "id": entity_id}


def _entities(subject: Subject, action: str, resource: Resource) -> list[dict[str, Any]]:
    """The principal (in its roles and team), the action (in its group) and the resource."""
    parents = [_uid("Role", role) for role in subject.roles]
    if subject.team is not None:
        parents.append(_uid("Team", subject.team))
    attrs: dict[str, AttrValue] = {"id": subject.id, "kind": subject.kind}
    verb = {"uid": _uid("Action", action), "attrs": {}, "parents": [_uid("Action", group_of(action))]}
    others = [verb]
    if (resource.type, resource.id) == ("Principal", subject.id):
        attrs = {**dict(resource.attrs), **attrs}  # a principal acting on itself is one entity
    else:
        others.append({"uid": _uid(resource.type, resource.id), "attrs": dict(resource.attrs), "parents": []})
    return [{"uid": _uid("Principal", subject.id), "attrs": attrs, "parents": parents}, *others]


def _freeze(value: Any) -> Hashable:
    """A hashable, order-insensitive cache key for a context value (Cedar sets are unordered)."""
    if isinstance(value, Mapping):
        return (Mapping, frozenset((key, _freeze(item)) for key, item in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return (frozenset, frozenset(_freeze(item) for item in value))
    if isinstance(value, bool):
        return (bool, value)
    return value  # type: ignore[no-any-return]


# --- policy files -------------------------------------------------------------------------------


def _collect(sources: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Every policy of every source, by its `@id`; an id used twice is refused."""
    policies: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, text in sources:
        for policy in _parse(name, text):
            policy_id = _policy_id(name, policy)
            if policy_id in policies:
                raise InvalidInputError(
                    f'{name}: policy id "{policy_id}" is already used in {origin[policy_id]}', file=name
                )
            _check_actions(name, policy_id, policy)
            policies[policy_id] = policy
            origin[policy_id] = name
    return policies


def _parse(name: str, text: str) -> list[Any]:
    """The policies of one Cedar file as Cedar JSON, in file order."""
    try:
        document = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as error:
        line = _error_line(text)
        raise InvalidInputError(f"{name}: invalid Cedar near line {line}: {error}", file=name) from error
    if document["templates"]:
        raise InvalidInputError(f"{name}: policy templates (?principal, ?resource) are not supported")
    static = document["staticPolicies"]
    return [static[key] for key in sorted(static, key=lambda key: int(key.removeprefix("policy")))]


def _error_line(text: str) -> int:
    """The line where the first policy that fails to parse starts (Cedar's errors carry no position)."""
    good = 0
    for match in re.finditer(";", text):
        try:
            cedarpy.policies_to_json_str(text[: match.end()])
        except ValueError:
            continue  # a `;` inside a string or a broken policy: keep looking for a later boundary
        good = match.end()
    skipped = re.match(r"(?:\s|//[^\n]*)*", text[good:])
    start = good + (skipped.end() if skipped else 0)
    return text.count("\n", 0, start) + 1


def _policy_id(name: str, policy: Mapping[str, Any]) -> str:
    policy_id = policy.get("annotations", {}).get("id")
    if not policy_id:
        document = {"staticPolicies": {"p": policy}, "templates": {}, "templateLinks": []}
        shown = " ".join(cedarpy.policies_from_json_str(json.dumps(document)).split())
        raise InvalidInputError(
            f'{name}: every policy needs a non-empty @id("...") annotation; this one has none: {shown[:160]}',
            file=name,
        )
    return str(policy_id)


def _check_actions(name: str, policy_id: str, policy: Mapping[str, Any]) -> None:
    """Refuse a policy scoped to an action that does not exist: a typo would silently grant nothing."""
    scope = policy["action"]
    for entity in scope.get("entities", [scope["entity"]] if "entity" in scope else []):
        known = entity["type"] == f"{NAMESPACE}::Action" and (
            entity["id"] in ACTIONS or entity["id"] in GROUPS
        )
        if not known:
            raise InvalidInputError(
                f'{name}: policy "{policy_id}" names unknown action {entity["type"]}::"{entity["id"]}"',
                file=name,
            )
