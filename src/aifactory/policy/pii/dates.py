"""Dates as people write them, in several languages: the detector reports one only as a date of
birth, when a context word (born, DOB, geboren, né le...) says so."""

from __future__ import annotations

import datetime as dt
import re

from aifactory.policy.pii.folding import fold

__all__ = ["MONTH_NAMES", "MONTH_PATTERN", "parse_date"]

MONTH_NAMES: dict[str, int] = {}
"""Month names and abbreviations (lowercase, ASCII folded) in English, German, French, Italian,
Spanish, Dutch and Polish, to their number."""

_MONTHS = (
    "january jan januar janvier gennaio enero januari januar stycznia",
    "february feb februar fevrier febbraio febrero februari lutego",
    "march mar marz maerz mars marzo maart marca",
    "april apr avril aprile abril kwietnia",
    "may mai maggio mayo mei maja",
    "june jun juni juin giugno junio czerwca",
    "july jul juli juillet luglio julio lipca",
    "august aug aout agosto augustus sierpnia",
    "september sep sept septembre settembre septiembre wrzesnia",
    "october oct oktober octobre ottobre octubre oktober pazdziernika",
    "november nov novembre noviembre listopada",
    "december dec dezember decembre dicembre diciembre grudnia",
)
for _number, _names in enumerate(_MONTHS, start=1):
    for _name in _names.split():
        MONTH_NAMES[_name] = _number

MONTH_PATTERN = "|".join(sorted(MONTH_NAMES, key=len, reverse=True))
"""An alternation of every month name (ASCII, for the scanner; accented text reaches it folded)."""

_NUMERIC = re.compile(r"(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})")
_WORDS = re.compile(r"[a-z]+|\d+")


def _date(year: int, month: int, day: int) -> dt.date | None:
    if year < 100:
        year += 1900 if year > dt.date.today().year % 100 else 2000
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _numeric(a: int, b: int, c: int, first_a: int) -> dt.date | None:
    if first_a > 2:  # 1985-03-12
        return _date(a, b, c)
    return _date(c, b, a) or _date(c, a, b)  # 12.03.1985, else 03/12/1985 (US)


def parse_date(text: str) -> dt.date | None:
    """The date `text` names (`12.03.1985`, `1985-03-12`, `March 12, 1985`, `12. März 1985`), or None."""
    numeric = _NUMERIC.fullmatch(text)
    if numeric:
        a, b, c = (int(g) for g in numeric.groups())
        return _numeric(a, b, c, len(numeric.group(1)))
    words = _WORDS.findall(fold(text).lower())
    months = [MONTH_NAMES[w] for w in words if w in MONTH_NAMES]
    numbers = [int(w) for w in words if w.isdigit()]
    if len(months) != 1 or len(numbers) != 2:
        return None
    day, year = sorted(numbers)
    return _date(year, months[0], day) if year >= 100 else None
