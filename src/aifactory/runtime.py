"""The runtime: every service of one process, wired from one `Settings`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from aifactory.catalog import Catalog
from aifactory.evals import EvalRecords
from aifactory.gateway.enforcement import Enforcement
from aifactory.gateway.service import Gateway
from aifactory.gateway.spending import Spending
from aifactory.gateway.telemetry import GatewayTelemetry
from aifactory.identity import actions
from aifactory.identity.directory import TOPIC as IDENTITY_TOPIC
from aifactory.identity.directory import Directory
from aifactory.identity.permissions import Authorizer, Decision, Resource, Subject
from aifactory.ledger import Event, Ledger
from aifactory.monitoring import Incidents
from aifactory.periodic import Periodic
from aifactory.plugins import collect, plugin_manager
from aifactory.policy.active import Policy
from aifactory.policy.pii.redactor import Redactor
from aifactory.policy.switches import TOPIC as SWITCHES_TOPIC
from aifactory.policy.switches import KillSwitches
from aifactory.policy.tool_guard import ToolGuard
from aifactory.policy.tool_policies import ToolPolicies
from aifactory.policy.tool_specs import ToolCatalog
from aifactory.prompts.registry import Prompts
from aifactory.retention.purger import Purger
from aifactory.settings import Settings
from aifactory.store import Database
from aifactory.store.changes import versions
from aifactory.store.migrate import upgrade
from aifactory.store.notify import Listener

__all__ = ["ChangeWatcher", "Runtime"]


class ChangeWatcher:
    """Polls the change feed and calls a topic's listeners when another process changed it."""

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._seen: dict[str, int] = {}
        self._loop = Periodic("change-watcher", interval, self.poll)

    def on(self, topic: str, listener: Callable[[], None]) -> None:
        """Call `listener` whenever `topic` changes."""
        self._listeners.setdefault(topic, []).append(listener)

    def poll(self) -> None:
        """Check once and notify the listeners of every topic that moved."""
        with self.db.read() as conn:
            current = versions(conn)
        for topic, version in current.items():
            if self._seen.get(topic) != version:
                self._seen[topic] = version
                for listener in self._listeners.get(topic, []):
                    listener()

    def start(self) -> None:
        """Poll in a background thread."""
        self.poll()
        self._loop.start()

    def stop(self) -> None:
        """Stop polling."""
        self._loop.stop()


class Runtime:
    """Settings, database, ledger, directory, catalog (with eval records and incidents), authorizer,
    gateway, kill switches and tool guard of one process."""

    def __init__(self, settings: Settings, db: Database, ledger: Ledger) -> None:
        self.settings = settings
        self.db = db
        self.ledger = ledger
        self.plugins = plugin_manager()
        self.directory = Directory(db, ledger)
        self.catalog = Catalog(
            db,
            ledger,
            collect(self.plugins, "aifactory_register_gates"),
            review_days=settings.review_days,
            label_gates=settings.label_gates,
            kinds=dict(collect(self.plugins, "aifactory_register_asset_kinds")),
            pinners=dict(collect(self.plugins, "aifactory_register_asset_pinners")),
            production_label=settings.gateway_label,
            retire_quiet_days=settings.retire_quiet_days,
        )
        self.evals = EvalRecords(db, ledger)
        self.incidents = Incidents(db, ledger)
        extra = collect(self.plugins, "aifactory_register_permission_policies")
        self.authorizer = Authorizer.load(settings.cedar_policy_dir, extra_sources=extra)
        self.metrics = CollectorRegistry()
        self.policy = Policy(self.catalog, label=settings.policy_label, tracks=settings.policy_date_tracks)
        self.policy.refresh()
        self.kill_switches = KillSwitches(db, ledger)
        self.tools = ToolCatalog(self.catalog, settings.gateway_label)
        self.tool_guard = ToolGuard(
            ToolPolicies.load(
                settings.tool_policy_dir,
                extra_sources=collect(self.plugins, "aifactory_register_tool_policies"),
            ),
            self.tools,
            ledger,
            self.kill_switches,
        )
        detectors = dict(collect(self.plugins, "aifactory_register_pii_detectors"))
        self.pii = Redactor.from_settings(settings, detectors)
        self.gateway = Gateway(
            settings,
            db,
            self.catalog,
            dict(collect(self.plugins, "aifactory_register_providers")),
            GatewayTelemetry(self.metrics),
            Spending(settings, db, ledger, limits=self.directory, registry=self.metrics),
            Enforcement(
                self.policy,
                self.kill_switches,
                self.tools,
                self.tool_guard,
                self.pii,
                holdback=settings.guard_holdback_chars,
                restore_roles=frozenset(settings.pii_restore_roles),
            ),
        )
        self.gateway.refresh()
        self.purger = Purger(
            self.gateway.payloads,
            interval=settings.retention_purge_interval,
            batch=settings.retention_purge_batch,
        )
        self.prompts = Prompts(
            self.catalog,
            db,
            default_label=settings.prompt_label,
            usage_interval=settings.prompt_usage_interval,
        )
        self.prompts.refresh()
        self.catalog.on_change(self.prompts.refresh_asset)  # this process reads its own writes at once
        self.catalog.lifecycle.before_retirement.append(self.prompts.usage.flush)
        self.watcher = ChangeWatcher(db, settings.change_poll_interval)
        self.watcher.on("catalog", self.tools.refresh)  # first: a served route finds its tools served
        self.watcher.on("catalog", self.gateway.refresh)
        self.watcher.on("catalog", self.policy.refresh)
        self.watcher.on("catalog", self.prompts.refresh)
        self.watcher.on("budgets", self.gateway.spending.budgets.reload)
        self.watcher.on(IDENTITY_TOPIC, self.directory.reload)
        self.watcher.on(IDENTITY_TOPIC, self.authorizer.invalidate)
        self.watcher.on(SWITCHES_TOPIC, self.kill_switches.reload)
        self.listener = Listener(db) if db.is_postgres else None
        if self.listener is not None:  # PostgreSQL: a flip reaches this replica in milliseconds
            self.listener.on(SWITCHES_TOPIC, self.kill_switches.reload)
            self.listener.on("catalog", self.prompts.refresh)  # label moves reach watching clients fast

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        """Open the data dir's database (migrating it) and its ledger."""
        db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        if migrate:
            upgrade(db)
        return cls(settings, db, Ledger.from_settings(settings, db))

    def start(self) -> None:
        """Start the background work of a server process (ledger writer and sequencer, watcher)."""
        self.ledger.start()
        self.gateway.start()
        self.watcher.start()
        if self.listener is not None:
            self.listener.start()
        self.purger.start()
        self.prompts.usage.start()

    def close(self) -> None:
        """Stop background work, flush the ledger and close the database."""
        self.watcher.stop()
        if self.listener is not None:
            self.listener.stop()
        self.purger.stop()
        self.prompts.usage.stop()
        self.gateway.runs.stop()
        self.ledger.stop()
        self.db.dispose()

    def authorize(
        self, subject: Subject, action: str, resource: Resource, context: Mapping[str, Any] | None = None
    ) -> Decision:
        """Decide with Cedar; a denied write is recorded in the ledger and raised as 403."""
        decision = self.authorizer.decide(subject, action, resource, context)
        if decision.allowed:
            return decision
        if actions.group_of(action) == actions.WRITE:
            self.ledger.append(
                Event(
                    "permission.denied",
                    f"{resource.type.lower()}:{resource.id}",
                    subject.id,
                    {"action": action, "policies": list(decision.policies)},
                )
            )
        return self.authorizer.require(subject, action, resource, context)  # raises, naming the policy
