"""One pass over the text for every pattern at once: a Hyperscan database (start of match
leftmost), or Python's `re` where Hyperscan is not installed."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["Scanner"]

try:
    import hyperscan
except ImportError:  # pragma: no cover - hyperscan has wheels for the platforms we test on
    hyperscan = None  # type: ignore[assignment]


@functools.lru_cache(maxsize=16)
def _compiled(regexes: tuple[tuple[str, bool], ...]) -> Any:
    """The Hyperscan database of a pattern set, compiled once per process (about 0.1 s each time
    otherwise, for every runtime a process opens). A database is read-only once compiled; each
    scanner clones its own scratch space per thread."""
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    flags = [
        hyperscan.HS_FLAG_SOM_LEFTMOST | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
        for _, caseless in regexes
    ]
    db.compile(
        expressions=[regex.encode("ascii") for regex, _ in regexes],
        ids=list(range(len(regexes))),
        elements=len(regexes),
        flags=flags,
    )
    return db


class Scanner:
    """Finds every (pattern index, start, end) of a set of ASCII regexes in folded bytes.

    With Hyperscan every end offset of a pattern is reported with its leftmost start, so one
    candidate may come with several ends; the fallback reports `re.finditer`'s matches only."""

    def __init__(self, regexes: Sequence[tuple[str, bool]]) -> None:
        self._local = threading.local()
        self.engine = "hyperscan" if hyperscan is not None else "re"
        if hyperscan is not None:
            self._db = _compiled(tuple(regexes))
        else:
            self._res = [re.compile(r.encode("ascii"), re.IGNORECASE if c else 0) for r, c in regexes]

    def scan(self, data: bytes) -> list[tuple[int, int, int]]:
        """Every match in `data` as (pattern index, start, end)."""
        hits: list[tuple[int, int, int]] = []
        if hyperscan is None:
            for index, regex in enumerate(self._res):
                hits += [(index, m.start(), m.end()) for m in regex.finditer(data)]
            return hits

        def on_match(index: int, start: int, end: int, _flags: int, _context: Any) -> None:
            hits.append((index, start, end))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return hits

    def _scratch(self) -> Any:
        # A scratch space serves one scan at a time: one per thread.
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._db.scratch.clone()
        return scratch
