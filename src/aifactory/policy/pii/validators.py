"""Check digits and structure rules of the identifiers the detector reports: a candidate that a
pattern found is reported only when its validator accepts it, so a random digit run is not a card.

Every function takes the candidate text as found (spaces and dashes included) and never raises.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "IBAN_LENGTHS",
    "digits_of",
    "is_credit_card",
    "is_de_tax_id",
    "is_es_nie",
    "is_es_nif",
    "is_fr_nir",
    "is_iban",
    "is_it_fiscal_code",
    "is_nl_bsn",
    "is_pl_pesel",
    "is_uk_nino",
    "is_us_itin",
    "is_us_ssn",
    "luhn_ok",
]

_IBAN_TABLE = (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 "
    "EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 "
    "IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 "
    "NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 "
    "TR26 UA29 VA22 VG24 XK20"
)
IBAN_LENGTHS = {entry[:2]: int(entry[2:]) for entry in _IBAN_TABLE.split()}
"""Length of an IBAN per country (the ISO 13616 registry)."""

_ES_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_IT_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        (1, 0, 5, 7, 9, 13, 15, 17, 19, 21) * 2 + (2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23),
        strict=True,
    )
)
_IT_OMOCODE = str.maketrans("LMNPQRSTUV", "0123456789")
_IT_MONTHS = "ABCDEHLMPRST"
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def digits_of(text: str) -> str:
    """The ASCII digits of `text`, separators dropped."""
    return "".join(c for c in text if "0" <= c <= "9")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of a digit string."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_prefix_ok(d: str) -> bool:
    n = len(d)
    two, four = int(d[:2]), int(d[:4])
    if d[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16  # Mastercard
    if two in (34, 37):
        return n == 15  # American Express
    if two in (36, 38, 39) or 300 <= int(d[:3]) <= 305:
        return 14 <= n <= 19  # Diners Club
    if d.startswith(("6011", "65")) or 644 <= int(d[:3]) <= 649 or two == 62:
        return 16 <= n <= 19  # Discover, UnionPay
    if 3528 <= four <= 3589:
        return 16 <= n <= 19  # JCB
    return two in (50, 56, 57, 58, 63, 67) and 12 <= n <= 19  # Maestro


def is_credit_card(text: str) -> bool:
    """A payment card number: a known issuer prefix and length, and the Luhn check."""
    d = digits_of(text)
    return 12 <= len(d) <= 19 and len(set(d)) > 1 and _card_prefix_ok(d) and luhn_ok(d)


def is_iban(text: str) -> bool:
    """An IBAN: its country's length and the ISO 7064 mod-97 check."""
    s = "".join(text.split()).upper()
    if IBAN_LENGTHS.get(s[:2]) != len(s) or not s.isalnum() or not s.isascii():
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def is_us_ssn(text: str) -> bool:
    """A US Social Security number: no area 000, 666 or 9xx, no group 00, no serial 0000, no
    well-known sample number."""
    d = digits_of(text)
    if len(d) != 9 or len(set(d)) == 1 or d in ("123456789", "078051120", "219099999"):
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def is_us_itin(text: str) -> bool:
    """A US Individual Taxpayer Identification Number: 9xx, then a group in the IRS's ranges."""
    d = digits_of(text)
    if len(d) != 9 or d[0] != "9":
        return False
    group = int(d[3:5])
    return 50 <= group <= 65 or 70 <= group <= 88 or 90 <= group <= 92 or 94 <= group <= 99


def is_de_tax_id(text: str) -> bool:
    """A German Steuer-ID: no leading 0, one digit repeated (2 or 3 times, never 3 in a row) in the
    first ten, and the ISO 7064 MOD 11,10 check digit."""
    d = digits_of(text)
    if len(d) != 11 or d[0] == "0":
        return False
    counts = sorted((d[:10].count(c) for c in set(d[:10])), reverse=True)
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] != 1):
        return False
    if any(d[i] == d[i + 1] == d[i + 2] for i in range(8)):
        return False
    product = 10
    for c in d[:10]:
        total = (int(c) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10 == int(d[10])


def is_fr_nir(text: str) -> bool:
    """A French NIR (numéro de sécurité sociale): sex, year, month, place, and the mod-97 key."""
    s = "".join(text.split()).upper()
    if len(s) != 15 or s[0] not in "12378":
        return False
    month = s[3:5]
    if not month.isdigit() or not (1 <= int(month) <= 12 or 20 <= int(month) <= 99):
        return False
    body = s[:13].replace("2A", "19").replace("2B", "18")
    if not body.isdigit() or not s[13:].isdigit():
        return False
    return 97 - int(body) % 97 == int(s[13:])


def is_it_fiscal_code(text: str) -> bool:
    """An Italian codice fiscale: month letter, day (plus 40 for women) and the check letter."""
    s = text.upper()
    if len(s) != 16 or not s.isascii() or not s.isalnum():
        return False
    day = s[9:11].translate(_IT_OMOCODE)
    if s[8] not in _IT_MONTHS or not day.isdigit() or not (1 <= int(day) % 40 <= 31):
        return False
    total = 0
    for i, c in enumerate(s[:15]):
        total += _IT_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65)
    return chr(65 + total % 26) == s[15]


def is_es_nif(text: str) -> bool:
    """A Spanish DNI/NIF: eight digits and the mod-23 check letter."""
    s = text.upper().replace("-", "").replace(" ", "")
    return len(s) == 9 and s[:8].isdigit() and _ES_LETTERS[int(s[:8]) % 23] == s[8]


def is_es_nie(text: str) -> bool:
    """A Spanish NIE: X, Y or Z, seven digits and the mod-23 check letter."""
    s = text.upper().replace("-", "").replace(" ", "")
    if len(s) != 9 or s[0] not in "XYZ" or not s[1:8].isdigit():
        return False
    return _ES_LETTERS[int(str("XYZ".index(s[0])) + s[1:8]) % 23] == s[8]


def is_nl_bsn(text: str) -> bool:
    """A Dutch BSN: nine digits passing the 11-test."""
    d = digits_of(text)
    if len(d) != 9 or d == "000000000":
        return False
    total = sum(int(c) * w for c, w in zip(d[:8], range(9, 1, -1), strict=True)) - int(d[8])
    return total % 11 == 0


def is_pl_pesel(text: str) -> bool:
    """A Polish PESEL of someone born 1900-2099: a real birth date and the weighted check digit."""
    d = digits_of(text)
    if len(d) != 11:
        return False
    year, month, day = int(d[:2]), int(d[2:4]), int(d[4:6])
    century = 1900 if month <= 12 else 2000
    try:
        dt.date(century + year, month % 20, day)
    except ValueError:
        return False
    if month > 32:
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    total = sum(int(c) * w for c, w in zip(d[:10], weights, strict=True))
    return (10 - total % 10) % 10 == int(d[10])


def is_uk_nino(text: str) -> bool:
    """A UK National Insurance number: an allowed two-letter prefix, six digits and A-D."""
    s = "".join(text.split()).upper()
    if len(s) != 9 or s[:2] in _NINO_BAD_PREFIXES or s[1] == "O":
        return False
    return s[0] not in "DFIQUV" and s[1] not in "DFIQUV" and s[2:8].isdigit() and s[8] in "ABCD"
