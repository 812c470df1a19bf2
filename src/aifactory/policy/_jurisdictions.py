"""Which jurisdictions a code falls under: itself, its country (for an ISO 3166-2 subdivision such as
`US-CA`) and the unions its country belongs to (`EU`)."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["UNIONS", "covering"]

UNIONS: dict[str, frozenset[str]] = {
    "EU": frozenset(
        {
            "AT",
            "BE",
            "BG",
            "CY",
            "CZ",
            "DE",
            "DK",
            "EE",
            "ES",
            "FI",
            "FR",
            "GR",
            "HR",
            "HU",
            "IE",
            "IT",
            "LT",
            "LU",
            "LV",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SE",
            "SI",
            "SK",
        }
    ),
}
"""Unions of countries by code: a switch on a union covers each member (ISO 3166-1 alpha-2)."""


@lru_cache(maxsize=4096)
def covering(code: str) -> tuple[str, ...]:
    """Every jurisdiction a switch may name to cover `code`, most specific first."""
    code = code.strip().upper()
    found = [code]
    country = code.split("-", 1)[0]
    if country != code:
        found.append(country)
    found += [union for union, members in UNIONS.items() if country in members]
    return tuple(found)
