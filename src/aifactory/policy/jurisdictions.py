"""Jurisdiction codes and their hierarchy: which request jurisdictions a pack's scope covers.

Codes are ISO 3166-1 alpha-2 countries (`DE`), ISO 3166-2 subdivisions (`US-CO`), and two unions:
`EU` (the 27 member states) and `EEA` (the EU plus Iceland, Liechtenstein and Norway). A scope code
covers itself, its subdivisions (`US` covers `US-CO`), and for a union its members and their
subdivisions (`EU` covers `DE` and `DE-BY`). The EEA is its own code, not part of `EU`: the GDPR
applies in the whole EEA through the EEA Agreement, but the AI Act is not (yet) incorporated there,
so a pack says which one it means.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["EEA_MEMBERS", "EU_MEMBERS", "JURISDICTION_PATTERN", "covering", "covers", "is_known"]

EU_MEMBERS = frozenset(
    {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT"}
    | {"LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
)
"""The 27 EU member states (Greece as ISO `GR`, not the EU's own abbreviation `EL`)."""

EEA_MEMBERS = EU_MEMBERS | {"IS", "LI", "NO"}
"""The European Economic Area: the EU and Iceland, Liechtenstein, Norway."""

_UNIONS = {"EU": EU_MEMBERS, "EEA": EEA_MEMBERS}

JURISDICTION_PATTERN = r"^(EU|EEA|[A-Z]{2}(-[A-Z0-9]{1,3})?)$"
"""`DE`, `US-CO`, `EU` or `EEA`."""

_CODE = re.compile(JURISDICTION_PATTERN)


def is_known(code: str) -> bool:
    """Whether `code` is well formed (a union, a country, or a country's subdivision)."""
    return bool(_CODE.match(code))


def covers(scope: str, jurisdiction: str) -> bool:
    """Whether a pack scoped to `scope` applies to a request from `jurisdiction`."""
    if scope == jurisdiction:
        return True
    country = jurisdiction.split("-", 1)[0]
    members = _UNIONS.get(scope)
    if members is not None:
        return country in members
    return country == scope


@lru_cache(maxsize=4096)
def covering(code: str) -> tuple[str, ...]:
    """Every code whose scope covers `code`, most specific first: itself, its country (for a
    subdivision such as `US-CA`), and the unions its country belongs to."""
    code = code.strip().upper()
    found = [code]
    country = code.split("-", 1)[0]
    if country != code:
        found.append(country)
    found += [union for union, members in _UNIONS.items() if country in members]
    return tuple(found)
