"""Calendar windows of budgets: a day, an ISO week (Monday first) or a month, in an IANA time zone.

A window runs from local midnight to local midnight, so a day is 23 or 25 hours long when the
clocks change, and a day that starts in a DST gap (clocks jump from 00:00 to 01:00) starts at its
first real instant. Its key names it in the zone's calendar: `2025-03-30`, `2025-W13` (ISO week
year and number, so 2024-12-30 is in `2025-W01`), `2025-03`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aifactory.errors import InvalidInputError

__all__ = ["WINDOW_KINDS", "Window", "WindowKind", "window_at", "zone"]

WindowKind = Literal["day", "week", "month"]
WINDOW_KINDS: tuple[str, ...] = get_args(WindowKind)


@dataclass(frozen=True)
class Window:
    """One calendar window: its key, and its bounds in UTC (`start` inclusive, `end` exclusive)."""

    kind: WindowKind
    key: str
    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        """Whether an instant falls in this window."""
        return self.start <= at < self.end


@cache
def zone(name: str) -> ZoneInfo:
    """The time zone of an IANA name (`Europe/Berlin`); InvalidInputError naming `timezone` if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"timezone: {name!r} is not an IANA time zone name (e.g. UTC, Europe/Berlin)", field="timezone"
        ) from None


def window_at(kind: WindowKind, timezone: str, at: datetime) -> Window:
    """The window of this kind, in this zone, that contains the instant `at` (timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("window_at needs a timezone-aware instant")
    tz = zone(timezone)
    day = at.astimezone(tz).date()
    if kind == "day":
        first, following, key = day, day + timedelta(days=1), day.isoformat()
    elif kind == "week":
        first = day - timedelta(days=day.weekday())
        year, week, _ = day.isocalendar()
        following, key = first + timedelta(days=7), f"{year}-W{week:02d}"
    elif kind == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        key = f"{day.year:04d}-{day.month:02d}"
    else:
        raise InvalidInputError(f"window: {kind!r} is not one of day, week, month", field="window")
    return Window(kind, key, _midnight(first, tz), _midnight(following, tz))


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # fold=0 maps a midnight that falls in a DST gap to the instant the day really begins, and an
    # ambiguous midnight (clocks going back over it) to its first occurrence.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
