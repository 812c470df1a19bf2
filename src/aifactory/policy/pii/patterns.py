"""The built-in detector's patterns: what each entity looks like (ASCII regexes, scanned all at once),
the score a validated match gets, and the context words that raise or veto it.

The regexes are written in the common subset of Hyperscan and Python's `re` (no look-arounds, no
back-references) and see the text folded to ASCII (`folding.fold_bytes`). A pattern only finds
candidates; its check decides. Scores follow Presidio's scale: a check digit that passed is near
1.0; a shape alone is weak, and a context word adds `CONTEXT_BOOST`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aifactory.policy.pii import checks, validators
from aifactory.policy.pii.dates import MONTH_PATTERN

__all__ = ["CONTEXT_BOOST", "PATTERNS", "SUPPRESSORS", "Check", "Pattern"]

CONTEXT_BOOST = 0.35
"""What a context word near a match adds to its score (as Presidio's context enhancer does)."""

Check = checks.Check


@dataclass(frozen=True)
class Pattern:
    """One way an entity type is written."""

    entity: str
    regex: str
    score: float
    check: Check
    context: frozenset[str] = frozenset()
    """Words (lowercase ASCII, dots removed) that raise the score when near the match."""
    veto: frozenset[str] = frozenset()
    """Words that, right before the match, say it is something else (a version, an order number)."""
    caseless: bool = False
    glue_ok: bool = False
    """Whether the match may touch `-`, `_` or `.` joined to more letters or digits (emails, URLs)."""
    costly: bool = False
    """Whether the check is slow (`phonenumbers`): checked last, not at all inside a finding that
    already scores 0.9 or more, and at most a budget of times per text (then kept unchecked)."""
    min_digits: int = 0
    """Candidates with fewer ASCII digits are dropped before the check."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ORDER = _words(
    "order invoice ref reference tracking ticket case serial sku part item shipment parcel po "
    "bestellung bestellnummer rechnung kundennummer auftrag commande facture ordine fattura pedido "
    "factura zamowienie faktura bestelling factuur isbn"
)
_VERSION = _words(
    "version ver v release build firmware update upgrade chrome firefox safari edge python node java "
    "sdk package pkg npm pip kernel android ios windows macos api app driver patch"
)
_PHONE_CTX = _words(
    "phone tel telephone call mobile cell fax whatsapp contact ring dial telefon handy anrufen "
    "telephone portable appeler telefono cellulare chiamare movil llamar telefoon bellen "
    "komorka zadzwon numer"
)
_CARD_CTX = _words("card credit debit visa mastercard amex maestro cc kreditkarte carte carta tarjeta karta")
_SSN_CTX = _words("ssn social security ss#")
_DOB_CTX = _words(
    "born birth dob birthday birthdate geboren geb geburtsdatum geburtstag ne nee naissance nato nata "
    "nascita naci nacido nacida nacimiento nasci nascido nascida nascimento urodzony urodzona urodzenia "
    "urodzilem urodzilam geboortedatum"
)
_IP_CTX = _words("ip address addr server host client gateway dns subnet ping ssh connect router proxy")
_BSN_CTX = _words("bsn burgerservicenummer sofinummer citizen service")
_DE_CTX = _words("steuer steuerid steuer-id idnr steueridentifikationsnummer identifikationsnummer tin tax")
_PESEL_CTX = _words("pesel")
_ID_CTX = _words("id identity national nif dni nie nir insee secu codice fiscale cf nino insurance")

_NUM_DATE = r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b"


def _p(entity: str, regex: str, score: float, check: Check, **kw: object) -> Pattern:
    return Pattern(entity, regex, score, check, **kw)  # type: ignore[arg-type]


PATTERNS: tuple[Pattern, ...] = (
    _p(
        "EMAIL_ADDRESS",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b",
        0.95,
        checks.email,
        glue_ok=True,
    ),
    _p(
        "URL",
        r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+[^\s<>\"'`]*",
        0.6,
        checks.url,
        caseless=True,
        glue_ok=True,
    ),
    _p(
        "CREDIT_CARD",
        r"\b\d{4}(?:[ -]?\d{3,6}){2,4}\b",
        1.0,
        checks.whole(validators.is_credit_card),
        context=_CARD_CTX,
        veto=_ORDER,
    ),
    _p(
        "IBAN_CODE",
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
        1.0,
        checks.whole(validators.is_iban),
    ),
    _p(
        "US_SSN",
        r"\b\d{3}-\d{2}-\d{4}\b",
        0.6,
        checks.whole(validators.is_us_ssn),
        context=_SSN_CTX,
        veto=_ORDER,
    ),
    _p(
        "US_SSN",
        r"\b\d{3} \d{2} \d{4}\b",
        0.5,
        checks.whole(validators.is_us_ssn),
        context=_SSN_CTX,
        veto=_ORDER,
    ),
    _p("US_SSN", r"\b\d{9}\b", 0.15, checks.whole(validators.is_us_ssn), context=_SSN_CTX, veto=_ORDER),
    _p(
        "US_ITIN",
        r"\b9\d{2}[- ]\d{2}[- ]\d{4}\b",
        0.6,
        checks.whole(validators.is_us_itin),
        context=_words("itin taxpayer tax"),
        veto=_ORDER,
    ),
    _p(
        "US_ITIN",
        r"\b9\d{8}\b",
        0.2,
        checks.whole(validators.is_us_itin),
        context=_words("itin taxpayer"),
        veto=_ORDER,
    ),
    _p(
        "PHONE_NUMBER",
        r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,5}(?:[ .-]?\d{1,5}){1,6}\b",
        0.6,
        checks.phone,
        context=_PHONE_CTX,
        veto=_ORDER | _VERSION,
        costly=True,
        min_digits=7,
    ),
    _p(
        "IP_ADDRESS",
        r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b",
        0.6,
        checks.ipv4,
        context=_IP_CTX,
        veto=_VERSION,
    ),
    _p("IP_ADDRESS", r"\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,8}\b", 0.6, checks.ipv6, context=_IP_CTX),
    _p(
        "DE_TAX_ID",
        r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b",
        0.6,
        checks.whole(validators.is_de_tax_id),
        context=_DE_CTX,
        veto=_ORDER,
    ),
    _p("PL_PESEL", r"\b\d{11}\b", 0.5, checks.whole(validators.is_pl_pesel), context=_PESEL_CTX, veto=_ORDER),
    _p(
        "FR_NIR",
        r"\b[12378] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b",
        0.8,
        checks.whole(validators.is_fr_nir),
        context=_ID_CTX,
        veto=_ORDER,
    ),
    _p(
        "IT_FISCAL_CODE",
        r"\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b",
        0.9,
        checks.whole(validators.is_it_fiscal_code),
        context=_ID_CTX,
        caseless=True,
    ),
    _p("ES_NIF", r"\b\d{8}-?[A-Z]\b", 0.8, checks.whole(validators.is_es_nif), context=_ID_CTX, veto=_ORDER),
    _p("ES_NIE", r"\b[XYZ]-?\d{7}-?[A-Z]\b", 0.9, checks.whole(validators.is_es_nie), context=_ID_CTX),
    _p(
        "NL_BSN",
        r"\b\d{4}\.\d{2}\.\d{3}\b",
        0.5,
        checks.whole(validators.is_nl_bsn),
        context=_BSN_CTX,
        veto=_ORDER,
    ),
    _p("NL_BSN", r"\b\d{9}\b", 0.2, checks.whole(validators.is_nl_bsn), context=_BSN_CTX, veto=_ORDER),
    _p(
        "UK_NINO",
        r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        0.7,
        checks.whole(validators.is_uk_nino),
        context=_ID_CTX,
    ),
    _p("DATE_OF_BIRTH", _NUM_DATE, 0.3, checks.birth_date, context=_DOB_CTX),
    _p(
        "DATE_OF_BIRTH",
        rf"\b\d{{1,2}}\.? ?(?:{MONTH_PATTERN})\.?,? \d{{4}}\b",
        0.3,
        checks.birth_date,
        context=_DOB_CTX,
        caseless=True,
    ),
    _p(
        "DATE_OF_BIRTH",
        rf"\b(?:{MONTH_PATTERN})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b",
        0.3,
        checks.birth_date,
        context=_DOB_CTX,
        caseless=True,
    ),
)
"""Every pattern of the built-in detector."""

SUPPRESSORS: tuple[str, ...] = (
    r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b",
    r"\b[0-9A-Fa-f]{32}[0-9A-Fa-f]*\b",
    r"\b\d+\.\d+\.\d+\.\d+\.\d+(?:\.\d+)*\b",
)
"""Shapes that are not personal data (GUIDs, hex digests, dotted version numbers of 5+ parts):
any candidate inside one is dropped."""
