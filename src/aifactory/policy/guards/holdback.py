"""`Holdback`: releases guarded text as it arrives, never a character that a rule or a PII detector
could still match.

Text is released only once it is older than the hold-back window (`guard_holdback_chars`), after
the window around it was scanned: any match up to that long that touches released text was wholly
in view when it was released. The window grows to the longest word or bounded regex of the rules
(up to `MAX_WINDOW`). A match that straddles the release point holds the point back to its
start; a match longer than the window (an unbounded regex) is redacted in pieces as it arrives. Each
scan reads at most the window, the text since the last release and a little context before it, so
the work per event stays bounded however long the text grows, and so does every regex's input.

Whole texts (requests, whole responses) go through the same code in bounded blocks: one behaviour,
whatever the chunking.
"""

from __future__ import annotations

from aifactory.policy.guards.findings import Findings
from aifactory.policy.guards.rules import Hit
from aifactory.policy.guards.text import TextGuard

__all__ = ["MAX_WINDOW", "Holdback"]

MAX_WINDOW = 4096
"""The widest a window grows to fit the rules' longest match."""


class Holdback:
    """Guards one text that arrives in pieces: `feed` each piece, `finish` at the end; each returns
    the text safe to release now, redacted. A blocking rule raises GuardrailViolationError before
    any of the text that broke it is released."""

    def __init__(self, guard: TextGuard, findings: Findings, size: int) -> None:
        self.guard = guard
        self.findings = findings
        self.size = max(1, size, min(guard.rules.longest, MAX_WINDOW))
        self.step = max(1, self.size // 4)
        """Scan again once this much new text waits beyond the window (fewer scans for tiny chunks)."""
        self.block = max(4 * self.size, 1024)
        """The most text one scan releases (bounds every regex's input)."""
        self._text = ""
        self._base = 0  # offset of _text[0] in the whole text
        self._done = 0  # offset up to which text was released
        self._open: str | None = None  # a redaction cut at _done, continued by the next release

    def feed(self, text: str) -> str:
        """Take the next piece; the guarded text that may be released now."""
        self._text += text
        if self.guard.judges_whole_text:
            return ""
        out = []
        while self._end() - self._done >= self.size + self.step:
            piece, moved = self._advance(final=False)
            out.append(piece)
            if not moved:
                break
        return "".join(out)

    def finish(self) -> str:
        """The rest of the guarded text, at the end of the input."""
        if self.guard.judges_whole_text:
            verdict = self.guard.judge(self._text, self.findings)
            if verdict is not None:
                self._done = self._end()
                return verdict
        out = []
        while self._done < self._end():
            out.append(self._advance(final=True)[0])
        return "".join(out)

    def _end(self) -> int:
        return self._base + len(self._text)

    def _slice(self, start: int, end: int) -> str:
        return self._text[start - self._base : end - self._base]

    def _advance(self, *, final: bool) -> tuple[str, bool]:
        """Scan the next window and release what is safe; whether anything was released."""
        done, end = self._done, self._end()
        limit = min(end, done + self.size + self.block)
        last = final and limit == end
        point = limit if last else limit - self.size
        start = max(self._base, done - self.size)  # context before `done`: word boundaries, entities
        window = self._slice(start, limit)
        hits = sorted((h.shifted(start) for h in self.guard.hits(window)), key=lambda h: h.start)
        hits = [h for h in hits if h.end > done]
        if not last:
            point = self._settle(hits, done, point)
        if point <= done:
            return "", False
        acted = [h for h in hits if h.start < point]
        for hit in acted:
            if hit.action == "block":
                raise self.guard.violation(hit.label, self.findings)
        piece = self._render(done, point, acted)
        self._done = point
        self._trim()
        return piece, True

    def _trim(self) -> None:
        """Forget released text but one window of context; seldom enough to copy each character a
        bounded number of times, however long the text."""
        drop = self._done - self.size - self._base
        if drop > 0 and drop * 2 >= len(self._text):
            self._text, self._base = self._text[drop:], self._base + drop

    def _settle(self, hits: list[Hit], done: int, point: int) -> int:
        """The release point moved back to the start of any match that straddles it and may still
        be completed by text to come (a match no longer than the window)."""
        for hit in sorted(hits, key=lambda h: h.start, reverse=True):
            if done <= hit.start < point < hit.end and hit.end - hit.start <= self.size:
                point = hit.start
        return point

    def _render(self, done: int, point: int, acted: list[Hit]) -> str:
        """The text from `done` to `point` with every acted hit replaced (overlapping ones as one)."""
        opened, self._open = self._open, None
        parts: list[str] = []
        pos = done
        for hit in acted:
            if hit.start >= done:
                self.findings.add(hit)
            start, end = max(hit.start, done), min(hit.end, point)
            if end <= pos:
                continue  # inside a span already replaced
            continued = hit.start < done and opened == hit.label  # the rest of a match cut at `done`
            if start >= pos and not continued:
                parts += [self._slice(pos, start), self.guard.replacement(hit)]
            pos = end  # a span overlapping the one before extends its replacement
            if hit.end > point:
                self._open = hit.label
        parts.append(self._slice(pos, point))
        return "".join(parts)
