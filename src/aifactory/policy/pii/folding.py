"""One-to-one folding of text to ASCII for the scanner: accented Latin letters become their base
letter, every other non-ASCII character one `?`, so offsets in the folded bytes are the offsets of
the original string (no UTF-8 byte-to-character mapping needed)."""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "fold_bytes"]


def _table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x00C0, 0x0250):
        base = unicodedata.normalize("NFKD", chr(code))[:1]
        if base.isascii() and base.isalpha():
            table[code] = base
    table[ord("ß")] = "s"
    table[ord("ł")], table[ord("Ł")] = "l", "L"
    table[ord("ø")], table[ord("Ø")] = "o", "O"
    return table


_TABLE = _table()


def fold(text: str) -> str:
    """`text` with accented Latin letters replaced by their base letter (same length)."""
    return text if text.isascii() else text.translate(_TABLE)


def fold_bytes(text: str) -> bytes:
    """`text` as ASCII bytes, one byte per character: folded letters, `?` for anything else
    (lone surrogates included), so it never fails."""
    if text.isascii():
        return text.encode("ascii")
    return text.translate(_TABLE).encode("ascii", "replace")
