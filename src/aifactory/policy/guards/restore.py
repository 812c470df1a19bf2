"""`Restorer`: de-anonymization of text that arrives in pieces, for callers who may see the originals
of the pseudonyms the request was sent with. A pseudonym split across pieces is restored whole."""

from __future__ import annotations

from aifactory.policy.pii import Pseudonymizer

__all__ = ["Restorer"]


class Restorer:
    """Restores pseudonyms as text arrives, holding back the last `size` characters (a pseudonym is
    assumed no longer than that) and never cutting where a pseudonym straddles the cut."""

    def __init__(self, pseudonymizer: Pseudonymizer, size: int) -> None:
        self.pseudonymizer = pseudonymizer
        self.size = max(1, size)
        self.step = max(1, self.size // 4)
        self._text = ""

    def feed(self, text: str) -> str:
        """Take the next piece; the restored text that may be released now."""
        self._text += text
        if len(self._text) < self.size + self.step:
            return ""
        restore = self.pseudonymizer.restore
        first = len(self._text) - self.size
        for cut in range(first, max(0, first - self.size), -1):
            if self._is_clean_cut(cut):
                head, self._text = restore(self._text[:cut]), self._text[cut:]
                return head
        if len(self._text) > 8 * self.size:  # pseudonyms everywhere: release rather than grow forever
            head, self._text = restore(self._text[:first]), self._text[first:]
            return head
        return ""

    def _is_clean_cut(self, cut: int) -> bool:
        """Whether no pseudonym straddles `cut` (one would be restored whole but not in halves);
        looking one window either side is enough, as a pseudonym is no longer than that."""
        restore, text = self.pseudonymizer.restore, self._text
        low, high = max(0, cut - self.size), cut + self.size
        return restore(text[low:cut]) + restore(text[cut:high]) == restore(text[low:high])

    def finish(self) -> str:
        """The rest, restored."""
        rest, self._text = self.pseudonymizer.restore(self._text), ""
        return rest
