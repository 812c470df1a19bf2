"""The authorizer against the packaged default policies, extra policy files, and the catalogues."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aifactory.errors import ConfigurationError, InvalidInputError, PermissionDeniedError
from aifactory.identity.actions import ACTIONS, GROUPS, group_of
from aifactory.identity.permissions import Authorizer, Decision, Resource, Subject
from aifactory.identity.roles import ROLES, validate_roles

ME = "me"
OTHER = "someone-else"

# Resources by nickname; `owner`/`author` hold a principal id ("me" is the subject under test).
RESOURCES = {
    "ledger": Resource("Ledger", "main"),
    "metrics": Resource("Metrics", "all"),
    "asset": Resource("Asset", "a1", {"author": OTHER, "owner": OTHER}),
    "own-key": Resource("Key", "k1", {"owner": ME}),
    "other-key": Resource("Key", "k2", {"owner": OTHER}),
    "principal": Resource("Principal", OTHER),
    "team": Resource("Team", "t-new"),
    "route": Resource("Route", "chat-default"),
    "budget": Resource("Budget", "*"),
    "policy": Resource("Policy", "*"),
    "data": Resource("Data", "*"),
    "pii": Resource("Pii", "*"),
    "switch": Resource("KillSwitch", "*"),
    "tool": Resource("Tool", "*"),
    "evalrecord": Resource("EvalRecord", "*"),
    "evalsigner": Resource("EvalSigner", "*"),
    "incident": Resource("Incident", "*"),
    "own-run": Resource("Run", "run_1", {"principal": ME}),
    "other-run": Resource("Run", "run_2", {"principal": OTHER}),
}

# Y = allowed, - = denied. Every action in the catalogue has at least one row (see the test below):
# a new action needs a deliberate answer here.
GOLDEN = """
action             resource   admin platform author reviewer overseer auditor app none
ledger.read        ledger     Y     Y        Y      Y        Y        Y       -   -
metrics.read       metrics    Y     Y        Y      Y        Y        Y       -   -
assets.read        asset      Y     Y        Y      Y        Y        Y       Y   -
assets.list        asset      Y     Y        Y      Y        Y        Y       Y   -
assets.create      asset      Y     Y        Y      -        -        -       -   -
assets.version     asset      Y     Y        Y      -        -        -       -   -
assets.approve     asset      Y     Y        -      Y        -        -       -   -
assets.promote     asset      Y     Y        Y      Y        Y        -       -   -
assets.lifecycle   asset      Y     Y        Y      Y        -        -       -   -
assets.review      asset      Y     Y        -      -        -        -       -   -
budgets.create     budget     Y     Y        -      -        -       -       -   -
budgets.disable    budget     Y     Y        -      -        -       -       -   -
budgets.list       budget     Y     Y        Y      Y        Y       Y       -   -
budgets.read       budget     Y     Y        Y      Y        Y       Y       -   -
data.erase         data       Y     Y        -      -        -        -       -   -
data.purge         data       Y     Y        -      -        -        -       -   -
evalrecords.create evalrecord Y     Y        Y      -        -        -       Y   -
evalrecords.list   evalrecord Y     Y        Y      Y        Y        Y       -   -
evalrecords.read   evalrecord Y     Y        Y      Y        Y        Y       -   -
evalsigners.create evalsigner Y     Y        -      -        -        -       -   -
evalsigners.list   evalsigner Y     Y        Y      Y        Y        Y       -   -
evalsigners.revoke evalsigner Y     Y        -      -        -        -       -   -
gateway.chat       route      Y     Y        Y      -        -        -       Y   -
gateway.embed      route      Y     Y        Y      -        -        -       Y   -
gateway.models     route      Y     Y        Y      Y        Y        Y       Y   -
incidents.list     incident   Y     Y        Y      Y        Y        Y       -   -
incidents.open     incident   Y     Y        -      Y        Y        -       -   -
incidents.read     incident   Y     Y        Y      Y        Y        Y       -   -
incidents.resolve  incident   Y     Y        -      Y        Y        -       -   -
keys.create        own-key    Y     Y        Y      -        -        -       -   -
keys.create        other-key  Y     Y        -      -        -        -       -   -
keys.list          own-key    Y     Y        Y      Y        Y        Y       Y   Y
keys.list          other-key  Y     Y        Y      Y        Y        Y       -   -
keys.revoke        own-key    Y     Y        Y      Y        Y        Y       Y   Y
keys.revoke        other-key  Y     Y        -      -        -        -       -   -
keys.update        own-key    Y     Y        -      -        -        -       -   -
keys.update        other-key  Y     Y        -      -        -        -       -   -
killswitches.flip  switch     Y     Y        -      -        Y        -       -   -
killswitches.list  switch     Y     Y        Y      Y        Y        Y       -   -
policy.decide      policy     Y     Y        Y      Y        Y        Y       -   -
policy.read        policy     Y     Y        Y      Y        Y        Y       -   -
prompts.resolve    asset      Y     Y        Y      Y        Y        Y       Y   -
pii.analyze        pii        Y     Y        Y      Y        Y        Y       Y   -
pii.redact         pii        Y     Y        Y      Y        Y        Y       Y   -
principals.create  principal  Y     Y        -      -        -        -       -   -
principals.list    principal  Y     Y        Y      Y        Y        Y       -   -
principals.read    principal  Y     Y        Y      Y        Y        Y       -   -
runs.payload       own-run    Y     Y        -      -        Y        -       -   -
runs.payload       other-run  Y     Y        -      -        Y        -       -   -
runs.read          own-run    Y     Y        Y      Y        Y        Y       Y   Y
runs.read          other-run  Y     Y        Y      Y        Y        Y       -   -
teams.create       team       Y     Y        -      -        -        -       -   -
teams.list         team       Y     Y        Y      Y        Y        Y       -   -
teams.update       team       Y     Y        -      -        -        -       -   -
tools.list         tool       Y     Y        Y      Y        Y        Y       -   -
"""


def golden_rows() -> list[tuple[str, str, str, bool]]:
    """(role, action, resource nickname, allowed) for every cell of the table."""
    header, *lines = GOLDEN.strip().splitlines()
    roles = header.split()[2:]
    cells = []
    for line in lines:
        action, resource, *marks = line.split()
        cells += [(role, action, resource, mark == "Y") for role, mark in zip(roles, marks, strict=True)]
    return cells


def subject(role: str, name: str = ME) -> Subject:
    return Subject(name, "app" if role == "app" else "person", () if role == "none" else (role,), "t1")


@pytest.fixture(scope="module")
def authorizer() -> Authorizer:
    return Authorizer.load()


@pytest.mark.parametrize(("role", "action", "resource", "allowed"), golden_rows())
def test_golden_table(authorizer: Authorizer, role: str, action: str, resource: str, allowed: bool) -> None:
    decision = authorizer.decide(subject(role), action, RESOURCES[resource])
    assert decision.allowed is allowed, decision.reason


def test_golden_table_covers_every_role_and_action() -> None:
    header, *lines = GOLDEN.strip().splitlines()
    assert set(header.split()[2:]) == {*ROLES, "none"}
    assert {line.split()[0] for line in lines} == set(ACTIONS)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_nobody_approves_their_own_asset(authorizer: Authorizer, role: str) -> None:
    mine = Resource("Asset", "a1", {"author": ME})
    decision = authorizer.decide(subject(role), "assets.approve", mine)
    assert decision == Decision(False, ("no-self-approval",), 'denied by policy "no-self-approval"')


def test_denial_names_the_forbidding_policy(authorizer: Authorizer) -> None:
    mine = Resource("Asset", "a1", {"author": "alice"})
    with pytest.raises(PermissionDeniedError) as caught:
        authorizer.require(Subject("alice", "person", ("admin", "reviewer"), None), "assets.approve", mine)
    assert caught.value.detail == (
        'principal "alice" (roles: admin, reviewer) may not assets.approve on Asset "a1": '
        'denied by policy "no-self-approval"'
    )
    assert caught.value.extra == {"action": "assets.approve", "policies": ["no-self-approval"]}


def test_default_deny_says_so(authorizer: Authorizer) -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        authorizer.require(Subject("bob", "app", (), None), "keys.revoke", Resource("Key", "k1"))
    assert caught.value.detail == (
        'principal "bob" (roles: none) may not keys.revoke on Key "k1": no policy permits it (default deny)'
    )
    assert caught.value.extra == {"action": "keys.revoke", "policies": []}


def test_require_returns_the_permitting_decision(authorizer: Authorizer) -> None:
    decision = authorizer.require(subject("app"), "assets.read", RESOURCES["asset"])
    assert decision == Decision(True, ("app-assets",), 'permitted by policy "app-assets"')


@pytest.mark.parametrize(
    ("role", "action", "resource", "granted", "allowed"),
    [
        ("platform", "principals.create", "principal", ["author", "admin"], False),
        ("platform", "principals.create", "principal", ["author", "reviewer"], True),
        ("admin", "principals.create", "principal", ["admin"], True),
        # a key carries its owner's roles: minting one for an admin grants admin
        ("platform", "keys.create", "other-key", ["admin"], False),
        ("platform", "keys.create", "other-key", ["author"], True),
        ("admin", "keys.create", "other-key", ["admin"], True),
    ],
)
def test_only_admins_grant_admin(
    authorizer: Authorizer, role: str, action: str, resource: str, granted: list[str], allowed: bool
) -> None:
    context = {"granted_roles": granted}
    decision = authorizer.decide(subject(role), action, RESOURCES[resource], context)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.policies == ("only-admin-grants-admin",)


def test_principal_acting_on_itself_is_one_entity(authorizer: Authorizer) -> None:
    myself = Resource("Principal", ME, {"kind": "ignored"})
    assert authorizer.decide(subject("auditor"), "principals.read", myself).allowed


def test_unknown_action_is_a_clear_error(authorizer: Authorizer) -> None:
    message = 'unknown action "assets.delete"; known actions: assets.approve, assets.create'
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        authorizer.decide(subject("admin"), "assets.delete", RESOURCES["asset"])


# --- caching ------------------------------------------------------------------------------------


def test_cached_decisions_are_reused_until_invalidated() -> None:
    authorizer = Authorizer.load()
    first = authorizer.decide(subject("author"), "assets.create", RESOURCES["asset"])
    assert authorizer.decide(subject("author"), "assets.create", RESOURCES["asset"]) is first
    authorizer.invalidate()
    again = authorizer.decide(subject("author"), "assets.create", RESOURCES["asset"])
    assert again == first
    assert again is not first


def test_cache_is_bounded_least_recently_used_first() -> None:
    authorizer = Authorizer.load(cache_size=2)

    def ask(n: int) -> Decision:
        return authorizer.decide(subject("author"), "assets.read", Resource("Asset", f"a{n}"))

    first, second = ask(0), ask(1)
    assert ask(0) is first  # a0 is now the most recently used
    ask(2)  # evicts a1
    assert ask(0) is first
    assert ask(1) is not second


def test_context_order_does_not_split_the_cache(authorizer: Authorizer) -> None:
    one = authorizer.decide(
        subject("platform"), "principals.create", RESOURCES["principal"], {"granted_roles": ["app", "author"]}
    )
    two = authorizer.decide(
        subject("platform"), "principals.create", RESOURCES["principal"], {"granted_roles": ["author", "app"]}
    )
    assert one is two


def test_resources_are_hashable_and_order_insensitive() -> None:
    assert Resource("Asset", "a", {"x": "1", "y": 2}) == Resource("Asset", "a", {"y": 2, "x": "1"})
    assert hash(Resource("Asset", "a", {"x": "1", "y": 2})) == hash(
        Resource("Asset", "a", {"y": 2, "x": "1"})
    )
    assert Resource("Asset", "a", {"x": "1"}).attrs == (("x", "1"),)


def test_true_and_one_are_different_attributes(tmp_path: Path) -> None:
    (tmp_path / "flag.cedar").write_text(
        '@id("flagged-metrics")\n'
        'permit (principal, action == Aifactory::Action::"metrics.read", resource)\n'
        "when { resource has flag && resource.flag == true };\n"
    )
    authorizer = Authorizer.load(tmp_path)
    assert authorizer.decide(
        subject("none"), "metrics.read", Resource("Metrics", "m", {"flag": True})
    ).allowed
    assert not authorizer.decide(
        subject("none"), "metrics.read", Resource("Metrics", "m", {"flag": 1})
    ).allowed


# --- extra policy files -------------------------------------------------------------------------

EXTRA_PERMIT = """
// Apps may read the ledger here.
@id("apps-read-ledger")
permit (principal in Aifactory::Role::"app", action == Aifactory::Action::"ledger.read", resource);
"""

EXTRA_FORBID = """
@id("no-metrics-for-platform")
forbid (principal in Aifactory::Role::"platform", action == Aifactory::Action::"metrics.read", resource);
"""


def test_extra_policies_add_a_permit_and_a_forbid(tmp_path: Path) -> None:
    (tmp_path / "10-permit.cedar").write_text(EXTRA_PERMIT)
    (tmp_path / "20-forbid.cedar").write_text(EXTRA_FORBID)
    (tmp_path / "notes.txt").write_text("not a policy file, ignored")
    authorizer = Authorizer.load(tmp_path)
    allowed = authorizer.decide(subject("app"), "ledger.read", RESOURCES["ledger"])
    assert allowed == Decision(True, ("apps-read-ledger",), 'permitted by policy "apps-read-ledger"')
    denied = authorizer.decide(subject("platform"), "metrics.read", RESOURCES["metrics"])
    assert denied.policies == ("no-metrics-for-platform",)
    assert "apps-read-ledger" in authorizer.policy_ids
    assert "no-self-approval" in authorizer.policy_ids


def write(tmp_path: Path, text: str, name: str = "extra.cedar") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_policy_without_id_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, EXTRA_PERMIT + "\npermit (principal, action, resource);\n")
    message = (
        f'{path}: every policy needs a non-empty @id("...") annotation; '
        "this one has none: permit(principal, action, resource);"
    )
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        Authorizer.load(tmp_path)


def test_policy_with_empty_id_is_refused(tmp_path: Path) -> None:
    write(tmp_path, '@id("") permit (principal, action, resource);')
    with pytest.raises(InvalidInputError, match="needs a non-empty @id"):
        Authorizer.load(tmp_path)


def test_malformed_cedar_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, EXTRA_PERMIT + '\n@id("broken")\npermit (principal, action, resource) when { 1 + };\n'
    )
    with pytest.raises(InvalidInputError, match=re.escape(f"{path}: invalid Cedar near line 6: ")) as caught:
        Authorizer.load(tmp_path)
    assert caught.value.extra == {"file": str(path)}


def test_a_duplicate_id_names_both_files(tmp_path: Path) -> None:
    path = write(tmp_path, EXTRA_FORBID.replace("no-metrics-for-platform", "no-self-approval"))
    message = f'{path}: policy id "no-self-approval" is already used in default.cedar'
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        Authorizer.load(tmp_path)


def test_a_policy_on_an_unknown_action_is_refused(tmp_path: Path) -> None:
    write(tmp_path, EXTRA_PERMIT.replace("ledger.read", "ledger.raed"))
    message = 'names unknown action Aifactory::Action::"ledger.raed"'
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        Authorizer.load(tmp_path)


def test_templates_are_refused(tmp_path: Path) -> None:
    write(tmp_path, '@id("t") permit (principal == ?principal, action, resource);')
    with pytest.raises(InvalidInputError, match="templates"):
        Authorizer.load(tmp_path)


def test_a_missing_policy_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Authorizer.load(tmp_path / "nope")


# --- catalogues ---------------------------------------------------------------------------------


def test_every_action_is_named_area_dot_verb_in_one_group() -> None:
    for name, action in ACTIONS.items():
        assert re.fullmatch(r"[a-z]+\.[a-z]+", name), name
        assert action.group in GROUPS
        assert group_of(name) == action.group
        assert action.description
        assert "\n" not in action.description


def test_validate_roles_dedupes_in_order() -> None:
    assert validate_roles(["author", "reviewer", "author"]) == ("author", "reviewer")
    assert validate_roles([]) == ()


def test_validate_roles_names_the_unknown_and_lists_the_valid() -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_roles(["author", "wizard"])
    assert caught.value.detail == (
        'unknown role "wizard"; valid roles: admin, app, auditor, author, overseer, platform, reviewer'
    )
