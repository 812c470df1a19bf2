"""Checks the detector runs on each candidate a pattern found: each returns the span (within the
candidate) that is the entity and its score, or None to drop the candidate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable

import phonenumbers

from aifactory.policy.pii.dates import parse_date

__all__ = ["DEFAULT_REGIONS", "Check", "birth_date", "email", "ipv4", "ipv6", "phone", "url", "whole"]

Check = Callable[[str, str | None, float], tuple[int, int, float] | None]
"""(candidate text, language, the pattern's score) -> (start, end, score) within it, or None."""

DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "PL")
"""Regions a national phone number is tried in when the language names none."""

_REGION_OF_LANGUAGE = {
    "en": "US",
    "de": "DE",
    "fr": "FR",
    "it": "IT",
    "es": "ES",
    "nl": "NL",
    "pl": "PL",
    "pt": "PT",
    "sv": "SE",
    "da": "DK",
    "fi": "FI",
    "cs": "CZ",
    "el": "GR",
}
_DATE_OR_IP = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}|\d{1,3}(?:\.\d{1,3}){3}")
_GROUP = re.compile(r"\+?\(?\d+\)?")
_MAX_TRIES = 8
_NATIONAL_SHAPES = {
    "US": ("23456789", 10, 10),
    "GB": ("0", 10, 11),
    "DE": ("0", 6, 13),
    "FR": ("0", 10, 10),
    "NL": ("0", 10, 10),
    "IT": ("03", 6, 11),
    "ES": ("6789", 9, 9),
    "PL": ("123456789", 9, 9),
}
"""Leading digits and digit counts of national numbers (trunk prefix included) per region."""


def whole(predicate: Callable[[str], bool]) -> Check:
    """A check that accepts the whole candidate when `predicate` does."""

    def check(text: str, _language: str | None, score: float) -> tuple[int, int, float] | None:
        return (0, len(text), score) if predicate(text) else None

    return check


def email(text: str, _language: str | None, score: float) -> tuple[int, int, float] | None:
    """An email address: no leading or doubled dots in the local part."""
    start = len(text) - len(text.lstrip(".-+%"))
    local, _, domain = text[start:].partition("@")
    if not 0 < len(local) <= 64 or local.endswith(".") or ".." in local:
        return None
    if any(not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-" for label in domain.split(".")):
        return None
    return start, len(text), score


def url(text: str, _language: str | None, score: float) -> tuple[int, int, float] | None:
    """A URL, without the punctuation that ends the sentence around it."""
    end = len(text.rstrip(".,;:!?'\")]}>*"))
    if text[:end].count("(") > text[:end].count(")") and end < len(text) and text[end] == ")":
        end += 1
    host = text[:end].split("://", 1)[-1]
    return (0, end, score) if len(host) >= 4 and "." in host else None


def ipv4(text: str, _language: str | None, score: float) -> tuple[int, int, float] | None:
    """A dotted-quad IPv4 address (no zero-padded octets, which are versions or serials)."""
    if any(len(part) > 1 and part[0] == "0" for part in text.split(".")):
        return None
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return None
    return 0, len(text), score


def ipv6(text: str, _language: str | None, score: float) -> tuple[int, int, float] | None:
    """An IPv6 address (times and MAC addresses fail the parse)."""
    if text.count(":") < 2 or text.isdigit():
        return None
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return 0, len(text), score


def birth_date(text: str, _language: str | None, score: float) -> tuple[int, int, float] | None:
    """A calendar date that could be someone's birth date (1900 to today)."""
    day = parse_date(text)
    if day is None or not dt.date(1900, 1, 1) <= day <= dt.date.today():
        return None
    return 0, len(text), score


def _regions(language: str | None) -> tuple[str, ...]:
    if not language:
        return DEFAULT_REGIONS
    lang, _, country = language.replace("_", "-").partition("-")
    region = country.upper() if len(country) == 2 else _REGION_OF_LANGUAGE.get(lang.lower())
    return (region,) if region else DEFAULT_REGIONS


def _could_be_national(digits: str, region: str) -> bool:
    """A cheap look at the leading digit and length before asking `phonenumbers` (slow)."""
    shape = _NATIONAL_SHAPES.get(region)
    if shape is None:
        return True
    leading, low, high = shape
    return digits[:1] in leading and low <= len(digits) <= high


def _is_phone(text: str, regions: tuple[str, ...]) -> bool:
    if not text.startswith("+"):
        digits = "".join(c for c in text if c.isdigit())
        regions = tuple(r for r in regions if _could_be_national(digits, r))
    for region in (None,) if text.startswith("+") else regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def _phone_spans(text: str) -> list[tuple[int, int]]:
    """Runs of the candidate's digit groups that could be a number (7 to 15 digits; 9 without `+`),
    longest first."""
    groups = [
        (m.start(), m.end(), len(m.group()) - m.group().count("(") - m.group().count(")"))
        for m in _GROUP.finditer(text)
    ]
    spans = []
    for i, (start, _, _) in enumerate(groups):
        digits = 0
        for j in range(i, len(groups)):
            digits += groups[j][2] - (text[groups[j][0]] == "+")
            if digits > 15:
                break
            if digits >= (7 if text[start] == "+" else 9):
                spans.append((start, groups[j][1]))
    return sorted(spans, key=lambda s: s[0] - s[1])[:_MAX_TRIES]


def phone(text: str, language: str | None, score: float) -> tuple[int, int, float] | None:
    """A phone number valid in the language's region (or internationally with `+`): the longest run
    of the candidate's digit groups that `phonenumbers` accepts. Bare digit runs score low (they need
    a context word); international numbers score higher."""
    if len(text) < 7 or _DATE_OR_IP.fullmatch(text):
        return None
    regions = _regions(language)
    for start, end in _phone_spans(text):
        span = text[start:end]
        if _is_phone(span, regions):
            if span.startswith("+"):
                return start, end, score + 0.15
            plain = span.isdigit() and not span.startswith("0")
            return start, end, score - 0.25 if plain else score
    return None
