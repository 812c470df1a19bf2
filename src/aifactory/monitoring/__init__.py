"""Monitoring: incidents on assets in service, and the `no-open-incident` gate."""

from aifactory.monitoring.gate import NoOpenIncidentGate
from aifactory.monitoring.incidents import Incidents

__all__ = ["Incidents", "NoOpenIncidentGate"]
