"""Generate the labelled PII corpus: `python bench/pii_corpus.py` writes bench/data/pii_corpus.jsonl.

Deterministic (a fixed seed): the same script always writes the same file. Each line is a record
`{"id", "language", "text", "entities": [{"type", "start", "end"}]}` with spans as Python `str`
indices. Records are sentences in English, German, French, Italian, Spanish, Dutch and Polish, and
in Russian, Greek, Arabic, Chinese and Japanese (international phone numbers, emails, IPs, cards,
IBANs in non-Latin text), plus trap records whose look-alikes are not PII: GUIDs, version and build
numbers, order and invoice numbers, ISBNs, hashes, dates that are not birth dates, prices, times,
`JavaScript`, `Node.js`.

Values are generated valid by construction (check digits computed here, phone numbers confirmed by
`phonenumbers`), so a label never depends on the detector under test.
"""

from __future__ import annotations

import ipaddress
import json
import random
import string
import sys
from collections.abc import Callable
from pathlib import Path

import phonenumbers

OUT = Path(__file__).parent / "data" / "pii_corpus.jsonl"
SEED = 20261125
RECORDS = 3000

Gen = Callable[[random.Random, str], str]

FIRST = ["anna", "jan", "maria", "luca", "sofia", "pierre", "zofia", "tom", "emma", "noah", "li", "yuki"]
LAST = ["schmidt", "rossi", "garcia", "dubois", "nowak", "jansen", "smith", "muller", "bianchi", "kowalski"]
DOMAINS = [
    "example.com",
    "mail.example.org",
    "beispiel.de",
    "exemple.fr",
    "esempio.it",
    "ejemplo.es",
    "voorbeeld.nl",
    "przyklad.pl",
    "corp.example.co.uk",
    "uni-example.edu",
]


def luhn_digit(body: str) -> str:
    """The Luhn check digit that completes `body`."""
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def email(rng: random.Random, _lang: str) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first}{rng.randint(1, 99)}",
            f"{first[0]}{last}",
            f"{first}+news",
            f"{last}_{first}",
        ]
    )
    return f"{local}@{rng.choice(DOMAINS)}"


def credit_card(rng: random.Random, _lang: str) -> str:
    kind = rng.choice(["visa", "visa", "mc", "amex", "mc2"])
    prefix = {
        "visa": "4",
        "mc": str(rng.randint(51, 55)),
        "amex": rng.choice(["34", "37"]),
        "mc2": str(rng.randint(2221, 2720)),
    }[kind]
    length = 15 if kind == "amex" else 16
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = body + luhn_digit(body)
    style = rng.choice(["space", "dash", "none"])
    if kind == "amex":
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    return {"space": " ", "dash": "-", "none": ""}[style].join(groups)


IBAN_SPEC = {
    "DE": "18n",
    "FR": "10n,11c,2n",
    "IT": "1a,10n,12c",
    "ES": "20n",
    "NL": "4a,10n",
    "PL": "24n",
    "GB": "4a,14n",
    "BE": "12n",
    "AT": "16n",
    "CH": "5n,12c",
}


def iban(rng: random.Random, lang: str) -> str:
    country = {"de": "DE", "fr": "FR", "it": "IT", "es": "ES", "nl": "NL", "pl": "PL"}.get(lang)
    country = country or rng.choice(sorted(IBAN_SPEC))
    bban = ""
    for part in IBAN_SPEC[country].split(","):
        n, kind = int(part[:-1]), part[-1]
        chars = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
        bban += "".join(rng.choice(chars[kind]) for _ in range(n))
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    code = f"{country}{98 - number % 97:02d}{bban}"
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4)) if rng.random() < 0.7 else code


def ssn(rng: random.Random, _lang: str) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    sep = rng.choice(["-", "-", "-", " "])
    return f"{area:03d}{sep}{rng.randint(1, 99):02d}{sep}{rng.randint(1, 9999):04d}"


def itin(rng: random.Random, _lang: str) -> str:
    group = rng.choice([*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100)])
    return f"9{rng.randint(0, 99):02d}-{group}-{rng.randint(0, 9999):04d}"


def ip(rng: random.Random, _lang: str) -> str:
    if rng.random() < 0.75:
        return str(ipaddress.IPv4Address(rng.randint(0x0B000000, 0xDF000000)))
    return ipaddress.IPv6Address(rng.getrandbits(128) & ~((1 << 48) - 1) | rng.getrandbits(16)).compressed


def url(rng: random.Random, _lang: str) -> str:
    host = rng.choice(["www.example.com", "shop.example.de", "portal.exemple.fr", "docs.example.org"])
    path = rng.choice(["", "/", "/kontakt", "/orders/view?id=42", "/user/profile", "/de/impressum.html"])
    if host.startswith("www.") and rng.random() < 0.3:
        return host + path
    return f"{rng.choice(['https', 'http'])}://{host}{path}"


PHONE_FORMATS = {
    "en": ["({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}"],
    "de": ["030 {d7}", "+49 30 {d7}", "0171 {d7}", "+49 171 {d7}", "089 {d3} {d4}"],
    "fr": ["01 {p2} {p2} {p2} {p2}", "+33 1 {p2} {p2} {p2} {p2}", "06 {p2} {p2} {p2} {p2}"],
    "it": ["06 {d4} {d4}", "+39 06 {d4} {d4}", "333 {d3} {d4}", "+39 347 {d3} {d4}"],
    "es": ["6{d2} {d3} {d3}", "+34 6{d2} {d3} {d3}", "91 {d3} {p2} {p2}"],
    "nl": ["020 {d3} {d4}", "+31 20 {d3} {d4}", "06 {d4}{d4}", "+31 6 {d4} {d4}"],
    "pl": ["12 {d3} {p2} {p2}", "+48 12 {d3} {p2} {p2}", "5{d2} {d3} {d3}", "+48 6{d2} {d3} {d3}"],
    "intl": [
        "+7 495 {d3}-{p2}-{p2}",
        "+86 138 {d4} {d4}",
        "+81 3-{d4}-{d4}",
        "+30 21 {d4} {d4}",
        "+44 20 7946 {d4}",
        "+971 4 {d3} {d4}",
        "+33 6 {p2} {p2} {p2} {p2}",
    ],
}
REGION = {"en": "US", "de": "DE", "fr": "FR", "it": "IT", "es": "ES", "nl": "NL", "pl": "PL"}


def _fill(rng: random.Random, template: str) -> str:
    n = rng.randint
    values = {
        "a": str(n(201, 989)),
        "b": str(n(200, 999)),
        "c": f"{n(0, 9999):04d}",
        "d2": f"{n(0, 99):02d}",
        "d3": f"{n(0, 999):03d}",
        "d4": f"{n(0, 9999):04d}",
        "d7": str(n(1000000, 9999999)),
    }
    out = template
    while "{p2}" in out:
        out = out.replace("{p2}", f"{rng.randint(0, 99):02d}", 1)
    return out.format(**values)


def phone(rng: random.Random, lang: str) -> str:
    formats = PHONE_FORMATS.get(lang, PHONE_FORMATS["intl"])
    for _ in range(1000):
        text = _fill(rng, rng.choice(formats))
        number = phonenumbers.parse(text, REGION.get(lang, "US"))
        if phonenumbers.is_valid_number(number):
            return text
    raise RuntimeError(f"no valid phone number for {lang}")


MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "it": [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    "nl": [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    "pl": [
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "września",
        "października",
        "listopada",
        "grudnia",
    ],
}


def date(rng: random.Random, lang: str, *, year: int | None = None) -> str:
    y, m, d = year or rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28)
    if lang == "en":
        return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{MONTHS['en'][m - 1]} {d}, {y}", f"{y}-{m:02d}-{d:02d}"])
    names = MONTHS.get(lang, MONTHS["en"])
    sep = {"de": ".", "pl": ".", "nl": "-"}.get(lang, "/")
    return rng.choice([f"{d:02d}{sep}{m:02d}{sep}{y}", f"{d} {names[m - 1]} {y}", f"{y}-{m:02d}-{d:02d}"])


def dob(rng: random.Random, lang: str) -> str:
    return date(rng, lang)


IT_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21] * 2 + [2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23],
        strict=True,
    )
)


def it_fiscal_code(rng: random.Random, _lang: str) -> str:
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(6))
    day = rng.randint(1, 28) + rng.choice([0, 40])
    body = (
        f"{letters}{rng.randint(0, 99):02d}{rng.choice('ABCDEHLMPRST')}{day:02d}"
        f"{rng.choice('ABCDEFGHILM')}{rng.randint(0, 999):03d}"
    )
    even = [int(c) if c.isdigit() else ord(c) - 65 for c in body[1::2]]
    total = sum(IT_ODD[c] for c in body[::2]) + sum(even)
    return body + chr(65 + total % 26)


ES_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_nif(rng: random.Random, _lang: str) -> str:
    n = rng.randint(10000000, 99999999)
    return f"{n}{'-' if rng.random() < 0.2 else ''}{ES_LETTERS[n % 23]}"


def es_nie(rng: random.Random, _lang: str) -> str:
    first, n = rng.randint(0, 2), rng.randint(0, 9999999)
    return f"{'XYZ'[first]}{n:07d}{ES_LETTERS[int(f'{first}{n:07d}') % 23]}"


def nl_bsn(rng: random.Random, _lang: str) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10 and digits[0] != 0:
            text = "".join(map(str, digits)) + str(last)
            return f"{text[:4]}.{text[4:6]}.{text[6:]}" if rng.random() < 0.3 else text


def pl_pesel(rng: random.Random, _lang: str) -> str:
    year, month, day = rng.randint(1940, 2012), rng.randint(1, 12), rng.randint(1, 28)
    mm = month + (20 if year >= 2000 else 0)
    body = f"{year % 100:02d}{mm:02d}{day:02d}{rng.randint(0, 9999):04d}"
    total = sum(int(c) * w for c, w in zip(body, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3), strict=True))
    return body + str((10 - total % 10) % 10)


def de_tax_id(rng: random.Random, _lang: str) -> str:
    while True:
        digits = rng.sample(range(10), 9)
        if digits[0] == 0:
            continue
        digits.insert(rng.randint(1, 9), rng.choice(digits[1:]))  # one digit twice
        if any(digits[i] == digits[i + 1] == digits[i + 2] for i in range(8)):
            continue
        product = 10
        for d in digits:
            total = (d + product) % 10 or 10
            product = total * 2 % 11
        text = "".join(map(str, digits)) + str((11 - product) % 10)
        return f"{text[:2]} {text[2:5]} {text[5:8]} {text[8:]}" if rng.random() < 0.3 else text


def fr_nir(rng: random.Random, _lang: str) -> str:
    dept = rng.choice([f"{rng.randint(1, 95):02d}", "2A", "2B", "75", "69"])
    body = f"{rng.randint(1, 2)}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{dept}"
    body += f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    key = 97 - int(body.replace("2A", "19").replace("2B", "18")) % 97
    if rng.random() < 0.5:
        return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {key:02d}"
    return f"{body}{key:02d}"


def uk_nino(rng: random.Random, _lang: str) -> str:
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    while first + second in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
        second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    digits = f"{rng.randint(0, 999999):06d}"
    suffix = rng.choice("ABCD")
    if rng.random() < 0.4:
        return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{first}{second}{digits}{suffix}"


GENERATORS: dict[str, Gen] = {
    "EMAIL_ADDRESS": email,
    "PHONE_NUMBER": phone,
    "CREDIT_CARD": credit_card,
    "IBAN_CODE": iban,
    "US_SSN": ssn,
    "US_ITIN": itin,
    "IP_ADDRESS": ip,
    "URL": url,
    "DATE_OF_BIRTH": dob,
    "IT_FISCAL_CODE": it_fiscal_code,
    "ES_NIF": es_nif,
    "ES_NIE": es_nie,
    "NL_BSN": nl_bsn,
    "PL_PESEL": pl_pesel,
    "DE_TAX_ID": de_tax_id,
    "FR_NIR": fr_nir,
    "UK_NINO": uk_nino,
}

# Templates: {TYPE} is an entity to label. Each language has its own phrasing and context words.
TEMPLATES: dict[str, list[str]] = {
    "en": [
        "Hi, please reach me at {EMAIL_ADDRESS} or call {PHONE_NUMBER} after 5pm.",
        "My credit card number is {CREDIT_CARD}, expiry next year.",
        "Customer SSN: {US_SSN}. Date of birth: {DATE_OF_BIRTH}.",
        "Wire the refund to IBAN {IBAN_CODE}, reference your ticket.",
        "The login came from {IP_ADDRESS}, which is not our office.",
        "She was born on {DATE_OF_BIRTH} and her email is {EMAIL_ADDRESS}.",
        "Taxpayer ITIN {US_ITIN} was filed with the return.",
        "See {URL} for the form, or phone us on {PHONE_NUMBER}.",
        "His National Insurance number is {UK_NINO} and he lives in Leeds.",
        "Send the card {CREDIT_CARD} details to {EMAIL_ADDRESS}, not the chat.",
        "DOB {DATE_OF_BIRTH}, social security number {US_SSN}, phone {PHONE_NUMBER}.",
        "Server {IP_ADDRESS} rejected the connection from client {IP_ADDRESS}.",
    ],
    "de": [
        "Bitte schreiben Sie an {EMAIL_ADDRESS} oder rufen Sie {PHONE_NUMBER} an.",
        "Meine IBAN lautet {IBAN_CODE}, Kontoinhaberin ist meine Mutter.",
        "Herr Müller, geboren am {DATE_OF_BIRTH}, Steuer-ID {DE_TAX_ID}.",
        "Die Kreditkarte {CREDIT_CARD} wurde gestern gesperrt.",
        "Zugriff von {IP_ADDRESS} auf das Kundenportal {URL} blockiert.",
        "Ihre steuerliche Identifikationsnummer {DE_TAX_ID} finden Sie im Bescheid.",
        "Telefon: {PHONE_NUMBER}, E-Mail: {EMAIL_ADDRESS}, Geburtsdatum {DATE_OF_BIRTH}.",
        "Überweisen Sie den Betrag bitte auf {IBAN_CODE} bis Freitag.",
    ],
    "fr": [
        "Écrivez-moi à {EMAIL_ADDRESS} ou appelez le {PHONE_NUMBER}.",
        "Mon numéro de sécurité sociale est {FR_NIR}, né le {DATE_OF_BIRTH}.",
        "Le virement doit partir vers l'IBAN {IBAN_CODE} demain.",
        "Paiement refusé pour la carte {CREDIT_CARD}, merci de vérifier.",
        "Connexion suspecte depuis l'adresse {IP_ADDRESS} ce matin.",
        "Madame Dubois, née le {DATE_OF_BIRTH}, téléphone {PHONE_NUMBER}.",
        "Numéro INSEE {FR_NIR} enregistré dans le dossier.",
    ],
    "it": [
        "Scrivimi a {EMAIL_ADDRESS} oppure chiama il {PHONE_NUMBER}.",
        "Il mio codice fiscale è {IT_FISCAL_CODE}, nato il {DATE_OF_BIRTH}.",
        "Bonifico sull'IBAN {IBAN_CODE} entro venerdì.",
        "La carta {CREDIT_CARD} è scaduta, usa l'altra.",
        "Codice fiscale del paziente: {IT_FISCAL_CODE}; telefono {PHONE_NUMBER}.",
        "Accesso dall'indirizzo IP {IP_ADDRESS} alle tre di notte.",
    ],
    "es": [
        "Escríbeme a {EMAIL_ADDRESS} o llama al {PHONE_NUMBER}.",
        "Mi DNI es {ES_NIF} y nací el {DATE_OF_BIRTH}.",
        "El NIE del trabajador es {ES_NIE}, con permiso vigente.",
        "Transfiere el importe al IBAN {IBAN_CODE}, por favor.",
        "La tarjeta {CREDIT_CARD} fue rechazada en la tienda.",
        "Documento {ES_NIF}, teléfono {PHONE_NUMBER}, correo {EMAIL_ADDRESS}.",
    ],
    "nl": [
        "Mail me op {EMAIL_ADDRESS} of bel {PHONE_NUMBER}.",
        "Mijn BSN is {NL_BSN} en mijn geboortedatum is {DATE_OF_BIRTH}.",
        "Maak het bedrag over naar {IBAN_CODE} voor vrijdag.",
        "Burgerservicenummer {NL_BSN} staat op het paspoort.",
        "De creditcard {CREDIT_CARD} is geblokkeerd.",
    ],
    "pl": [
        "Napisz do mnie na {EMAIL_ADDRESS} albo zadzwoń pod {PHONE_NUMBER}.",
        "Mój PESEL to {PL_PESEL}, urodzony {DATE_OF_BIRTH}.",
        "Przelew na rachunek {IBAN_CODE} do piątku.",
        "Numer PESEL pacjenta: {PL_PESEL}; telefon {PHONE_NUMBER}.",
        "Karta {CREDIT_CARD} została zablokowana.",
    ],
    "ru": [
        "Напишите мне на {EMAIL_ADDRESS} или позвоните {PHONE_NUMBER}.",
        "Оплата картой {CREDIT_CARD} не прошла, попробуйте снова.",
        "Вход с адреса {IP_ADDRESS} заблокирован системой.",  # noqa: RUF001
    ],
    "el": [
        "Στείλτε μου email στο {EMAIL_ADDRESS} ή καλέστε {PHONE_NUMBER}.",
        "Η πληρωμή στο IBAN {IBAN_CODE} ολοκληρώθηκε.",  # noqa: RUF001
    ],
    "ar": [
        "راسلني على {EMAIL_ADDRESS} أو اتصل على {PHONE_NUMBER} من فضلك.",
        "تم رفض البطاقة {CREDIT_CARD} اليوم.",
    ],
    "zh": [
        "请发邮件到{EMAIL_ADDRESS}或者打电话{PHONE_NUMBER}联系我。",
        "信用卡{CREDIT_CARD}已经被冻结了。",
        "服务器{IP_ADDRESS}无法连接。",
    ],
    "ja": [
        "メールは {EMAIL_ADDRESS} まで、電話は {PHONE_NUMBER} へどうぞ。",
        "カード番号 {CREDIT_CARD} の支払いが失敗しました。",
    ],
}

FILLERS = {
    "en": ["Thanks for your patience.", "Let me know if anything is unclear.", "Best regards, the team."],
    "de": ["Vielen Dank im Voraus.", "Mit freundlichen Grüßen.", "Bei Fragen melden Sie sich gern."],
    "fr": ["Merci d'avance.", "Bien cordialement.", "N'hésitez pas à revenir vers moi."],
    "it": ["Grazie mille.", "Cordiali saluti.", "Fammi sapere."],
    "es": ["Gracias de antemano.", "Un saludo.", "Quedo atento."],
    "nl": ["Alvast bedankt.", "Met vriendelijke groet.", "Laat het me weten."],
    "pl": ["Z góry dziękuję.", "Pozdrawiam serdecznie.", "Daj znać."],
    "ru": ["Спасибо заранее.", "С уважением."],  # noqa: RUF001
    "el": ["Ευχαριστώ πολύ."],
    "ar": ["شكرا لك."],
    "zh": ["谢谢！"],  # noqa: RUF001
    "ja": ["よろしくお願いします。"],
}


def _guid(r: random.Random) -> str:
    parts = [r.getrandbits(b) for b in (32, 16, 16, 16, 48)]
    return "-".join(f"{p:0{w}x}" for p, w in zip(parts, (8, 4, 4, 4, 12), strict=True))


def _hms(r: random.Random) -> str:
    return f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"


def _dotted(r: random.Random, *ranges: tuple[int, int]) -> str:
    return ".".join(str(r.randint(low, high)) for low, high in ranges)


TRAPS: list[Callable[[random.Random], str]] = [
    lambda r: f"Request id {_guid(r)} failed.",
    lambda r: f"Please upgrade to version {_dotted(r, (1, 12), (0, 9), (0, 20), (0, 99))}.",
    lambda r: f"Running Chrome/{_dotted(r, (90, 130), (0, 0), (1000, 6999), (10, 199))} on Windows.",
    lambda r: f"Build {_dotted(r, (10, 11), (0, 0), (10000, 22999), (100, 3999))} is rolling out.",
    lambda r: f"Order #{r.randint(10**7, 10**8 - 1)} ships on Monday.",
    lambda r: f"Invoice INV-{r.randint(2019, 2026)}-{r.randint(0, 999999):06d} is overdue.",
    lambda r: (
        f"Bestellnummer {r.randint(1000, 9999)}-{r.randint(1000, 9999)}-{r.randint(1000, 9999)} storniert."
    ),
    lambda r: (
        f"ISBN 978-3-{r.randint(10, 99)}-{r.randint(100000, 999999)}-{r.randint(0, 9)} is out of print."
    ),
    lambda r: f"Commit {''.join(r.choice('0123456789abcdef') for _ in range(40))} fixed it.",
    lambda r: f"The meeting moved to {date(r, 'en', year=r.randint(2020, 2026))} at {r.randint(8, 18)}:30.",
    lambda r: f"Rechnungsdatum {date(r, 'de', year=r.randint(2018, 2026))}, fällig in 30 Tagen.",
    lambda r: f"Total: €{r.randint(1, 999)}.{r.randint(100, 999)},{r.randint(10, 99)} incl. 19% VAT.",
    lambda r: "We rewrote the frontend from JavaScript to TypeScript and the backend in Node.js.",
    lambda r: "Open README.md and config.yaml, then run main.py with Python 3.12.",
    lambda r: f"Population: {r.randint(1, 99)},{r.randint(100, 999)},{r.randint(100, 999)} people.",
    lambda r: f"Tracking number 1Z{r.randint(100, 999)}AA{r.randint(10**9, 10**10 - 1)} in transit.",
    lambda r: f"Ticket {r.randint(10**8, 10**9 - 1)} was closed by support.",
    lambda r: f"Error code 0x{r.getrandbits(32):08X} at {_hms(r)}.",
    lambda r: f"The firmware v{_dotted(r, (1, 9), (0, 9), (0, 9), (0, 9))} fixes the bug.",
    lambda r: f"Score {r.randint(1, 9)}.{r.randint(10, 99)} out of 10; {r.randint(100, 999)} reviews.",
]


def record(rng: random.Random, index: int) -> dict[str, object]:
    """One labelled record: a template in some language (or a trap) with fillers around it."""
    if rng.random() < 0.25:
        text = " ".join(trap(rng) for trap in rng.sample(TRAPS, rng.randint(1, 3)))
        return {"id": f"r{index:05d}", "language": "en", "text": text, "entities": []}
    lang = rng.choices(list(TEMPLATES), weights=[6, 5, 4, 4, 4, 3, 3, 2, 1, 1, 2, 1])[0]
    template = rng.choice(TEMPLATES[lang])
    text, entities = "", []
    if rng.random() < 0.4:
        text = rng.choice(FILLERS[lang]) + " "
    pieces = template.replace("{", "\0{").replace("}", "}\0").split("\0")
    for piece in pieces:
        if piece.startswith("{") and piece.endswith("}"):
            kind = piece[1:-1]
            phone_lang = lang if lang in REGION else "intl"
            value = GENERATORS[kind](rng, phone_lang if kind == "PHONE_NUMBER" else lang)
            entities.append({"type": kind, "start": len(text), "end": len(text) + len(value)})
            text += value
        else:
            text += piece
    if rng.random() < 0.4:
        text += " " + rng.choice(FILLERS[lang])
    if rng.random() < 0.15:
        text += " " + rng.choice(TRAPS)(rng)
    return {"id": f"r{index:05d}", "language": lang, "text": text, "entities": entities}


def main() -> None:
    """Write the corpus."""
    rng = random.Random(SEED)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        for index in range(RECORDS):
            out.write(json.dumps(record(rng, index), ensure_ascii=False) + "\n")
    sys.stdout.write(f"wrote {RECORDS} records to {OUT}\n")


if __name__ == "__main__":
    main()
