"""The PII detector, redaction and pseudonymization, in process: validators, the false-positive
traps, offsets in any script, odd and huge input, every mode, keys and the detector plugins."""

from __future__ import annotations

import itertools
import os
import random
import stat
from pathlib import Path

import pytest

from aifactory.errors import ConfigurationError, InvalidInputError
from aifactory.plugins import collect, plugin_manager
from aifactory.policy.pii import (
    BuiltinDetector,
    Entity,
    PiiKeyring,
    Redactor,
    StreamRedactor,
    StreamRestorer,
    default_detector,
    redact,
    redact_text,
    resolve_overlaps,
)
from aifactory.policy.pii import validators as v
from aifactory.policy.pii.folding import fold_bytes
from aifactory.settings import Settings

VALID = {
    "EMAIL_ADDRESS": "jane.doe+news@mail.example.co.uk",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN_CODE": "DE89 3704 0044 0532 0130 00",
    "US_SSN": "078-05-1121",
    "US_ITIN": "912-70-1234",
    "IP_ADDRESS": "192.168.10.20",
    "IT_FISCAL_CODE": "RSSMRA85T10A562S",
    "ES_NIF": "12345678Z",
    "ES_NIE": "X1234567L",
    "UK_NINO": "AB123456C",
    "FR_NIR": "1 85 05 78 006 084 91",
    "URL": "https://shop.example.com/orders?id=7",
}


def found(text: str, **kwargs: object) -> list[tuple[str, str]]:
    """(type, text) of what the default detector reports."""
    return [(e.type, e.text) for e in default_detector().analyze(text, **kwargs)]  # type: ignore[arg-type]


# --- validators -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (v.is_credit_card, "4111111111111111", "4111111111111112"),
        (v.is_credit_card, "378282246310005", "1234567812345670"),  # Amex; Luhn-valid but no issuer
        (v.is_iban, "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 33"),
        (v.is_iban, "FR1420041010050500013M02606", "FR142004101005050001"),  # wrong length
        (v.is_us_ssn, "078-05-1121", "666-12-3456"),
        (v.is_us_ssn, "123-45-6788", "900-12-3456"),
        (v.is_us_ssn, "001-01-0001", "123-00-4567"),
        (v.is_us_itin, "912-70-1234", "912-69-1234"),
        (v.is_de_tax_id, "86095742719", "86095742718"),
        (v.is_fr_nir, "185057800608491", "185057800608490"),
        (v.is_it_fiscal_code, "RSSMRA85T10A562S", "RSSMRA85T10A562T"),
        (v.is_es_nif, "12345678Z", "12345678A"),
        (v.is_es_nie, "X1234567L", "X1234567A"),
        (v.is_nl_bsn, "111222333", "111222334"),
        (v.is_pl_pesel, "44051401359", "44051401358"),
        (v.is_pl_pesel, "02270803624", "44151401359"),  # 2002; month 15 does not exist
        (v.is_uk_nino, "AB123456C", "GB123456C"),
    ],
)
def test_validators_accept_the_real_and_refuse_the_near_miss(check: object, good: str, bad: str) -> None:
    assert check(good)  # type: ignore[operator]
    assert not check(bad)  # type: ignore[operator]


def test_ssn_refuses_all_same_digits_and_the_woolworth_sample() -> None:
    assert not v.is_us_ssn("111-11-1111")
    assert not v.is_us_ssn("078-05-1120")


# --- detection --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("entity", "value"), sorted(VALID.items()))
def test_each_entity_type_is_found_in_a_sentence(entity: str, value: str) -> None:
    text = f"Please note: {value}. Thanks"
    assert (entity, value) in found(text)


def test_phone_numbers_are_checked_by_phonenumbers_in_the_language_region() -> None:
    assert found("Ruf mich an: 030 1234567", language="de") == [("PHONE_NUMBER", "030 1234567")]
    assert found("call +1 415-555-2671 today") == [("PHONE_NUMBER", "+1 415-555-2671")]
    assert found("call +1 111-555-2671 today") == []  # not a valid number
    assert found("the year 2023 had 365 days") == []


def test_weak_shapes_need_a_context_word() -> None:
    assert found("ticket 111222333 closed") == []
    assert found("mijn BSN is 111222333") == [("NL_BSN", "111222333")]
    assert found("met on 12.03.1985 in Rome") == []
    assert found("born on 12.03.1985 in Rome") == [("DATE_OF_BIRTH", "12.03.1985")]
    assert found("geboren am 12. März 1985") == [("DATE_OF_BIRTH", "12. März 1985")]
    assert found("née le 3 juillet 1990 à Lyon") == [("DATE_OF_BIRTH", "3 juillet 1990")]
    assert found("DOB: March 12, 1985") == [("DATE_OF_BIRTH", "March 12, 1985")]


def test_context_raises_the_score() -> None:
    plain = default_detector().analyze("078-05-1121")[0].score
    context = default_detector().analyze("SSN 078-05-1121")[0].score
    assert context > plain


@pytest.mark.parametrize(
    "text",
    [
        "request id 123e4567-e89b-12d3-a456-426614174000 failed",
        "upgrade to version 1.2.3.4 now",
        "Chrome 10.0.0.1 and build 4.2.1.0",
        "release 1.2.3.4.5 is out",
        "Order #4111 1111 1111 1111 shipped",
        "invoice no. 078-05-1121",
        "We write JavaScript and Node.js, see file.py and README.md",
        "meeting at 12:30:45, MAC 00:1a:2b:3c:4d:5e",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "part ABC-078-05-1121-X",
        "version v1.2.3.4 and 01.02.03.04",
        "2 + 2 = 4, 3.14159, 1,000,000 items, 50%",
    ],
)
def test_false_positive_traps_are_not_reported(text: str) -> None:
    assert found(text) == []


def test_offsets_are_str_indices_in_any_script() -> None:
    prefix = "Grüße 👋🏽 от Иван 张伟 — "
    text = f"{prefix}mail jürgen@example.com, IBAN DE89370400440532013000 ✓"
    entities = default_detector().analyze(text)
    assert [(e.type, text[e.start : e.end]) for e in entities] == [
        ("EMAIL_ADDRESS", "jürgen@example.com"),
        ("IBAN_CODE", "DE89370400440532013000"),
    ]
    assert all(e.text == text[e.start : e.end] for e in entities)


def test_text_next_to_cjk_without_spaces_is_found() -> None:
    assert found("我的邮箱是wang@example.cn谢谢") == [("EMAIL_ADDRESS", "wang@example.cn")]


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x00",
        "\ud800 lone surrogate",
        "ÿ" * 1000,
        "9" * 5000,
        "1 " * 3000,
        "@" * 2000,
        "\u200b" * 50,
    ],
)
def test_odd_input_never_crashes(text: str) -> None:
    assert isinstance(default_detector().analyze(text), list)


def test_folding_keeps_one_byte_per_character() -> None:
    text = "é😀\ud800a"
    assert len(fold_bytes(text)) == len(text)


def test_a_megabyte_of_text_is_analyzed() -> None:
    chunk = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 16
    text = (chunk + "mail jane@example.com ") * (1_000_000 // (len(chunk) + 22))
    entities = default_detector().analyze(text)
    assert len(entities) == text.count("jane@example.com")
    assert all(text[e.start : e.end] == "jane@example.com" for e in entities)


def test_entities_filter_and_unknown_types() -> None:
    text = f"{VALID['EMAIL_ADDRESS']} {VALID['CREDIT_CARD']}"
    assert [t for t, _ in found(text, entities=["CREDIT_CARD"])] == ["CREDIT_CARD"]
    with pytest.raises(InvalidInputError, match="EMAIL_ADDRESS") as error:
        default_detector().analyze(text, entities=["PERSON"])
    assert "PERSON" in error.value.detail


def test_allow_list_values_are_never_reported() -> None:
    detector = BuiltinDetector(allow=["Support@Example.com"])
    assert detector.analyze("write to support@example.com or jane@example.com")[0].text == "jane@example.com"


def test_overlaps_keep_the_higher_score_then_the_longer() -> None:
    a, b = Entity("A", 0, 10, 0.5, ""), Entity("B", 5, 12, 0.9, "")
    c, d = Entity("C", 20, 30, 0.6, ""), Entity("D", 20, 25, 0.6, "")
    assert resolve_overlaps([a, b, c, d]) == [b, c]


# --- redaction --------------------------------------------------------------------------------------

TEXT = "Mail jane@example.com or jane@example.com, card 4111 1111 1111 1111."


def test_mask_remove_and_a_mode_per_type() -> None:
    entities = default_detector().analyze(TEXT)
    masked = redact(TEXT, entities, "mask")
    assert masked.text == "Mail <EMAIL_ADDRESS> or <EMAIL_ADDRESS>, card <CREDIT_CARD>."
    assert [masked.text[e.start : e.end] for e in masked.entities] == [e.text for e in masked.entities]
    assert redact(TEXT, entities, "remove").text == "Mail  or , card ."
    partial = redact(TEXT, entities, {"CREDIT_CARD": "mask"})
    assert partial.text == "Mail jane@example.com or jane@example.com, card <CREDIT_CARD>."


def test_hash_is_keyed_stable_per_team_and_hides_the_value() -> None:
    keys = PiiKeyring.ephemeral()
    first = redact_text(default_detector(), TEXT, {"EMAIL_ADDRESS": "hash"}, keys.pseudonymizer("t1"))
    again = redact_text(default_detector(), TEXT, {"EMAIL_ADDRESS": "hash"}, keys.pseudonymizer("t1"))
    other = redact_text(default_detector(), TEXT, {"EMAIL_ADDRESS": "hash"}, keys.pseudonymizer("t2"))
    assert first.text == again.text != other.text
    assert "jane" not in first.text
    assert "<EMAIL_ADDRESS#" in first.text
    unkeyed = redact_text(default_detector(), TEXT, {"EMAIL_ADDRESS": "hash"})
    assert unkeyed.text != first.text  # a random key of its own


def test_pseudonyms_hold_within_a_run_differ_across_runs_and_restore() -> None:
    keys = PiiKeyring.ephemeral()
    run = keys.pseudonymizer("t1")
    one = redact_text(default_detector(), TEXT, {"EMAIL_ADDRESS": "pseudonymize"}, run)
    surrogates = [e.text for e in one.entities]
    assert len(set(surrogates)) == 1
    assert surrogates[0].startswith("<EMAIL_ADDRESS_")
    two = redact_text(default_detector(), TEXT, {"EMAIL_ADDRESS": "pseudonymize"}, keys.pseudonymizer("t1"))
    assert two.text != one.text
    answer = f"I wrote to {surrogates[0]} and to <EMAIL_ADDRESS_00000000>."
    assert run.restore(answer) == "I wrote to jane@example.com and to <EMAIL_ADDRESS_00000000>."
    assert run.restore(one.text) == TEXT


def test_named_runs_give_reproducible_surrogates() -> None:
    keys = PiiKeyring.ephemeral()
    a = keys.pseudonymizer("t", run="run_1").surrogate("EMAIL_ADDRESS", "x@y.zz")
    assert a == keys.pseudonymizer("t", run="run_1").surrogate("EMAIL_ADDRESS", "x@y.zz")
    assert a != keys.pseudonymizer("t", run="run_2").surrogate("EMAIL_ADDRESS", "x@y.zz")


def test_unknown_modes_and_types_are_400_naming_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError, match="pseudonymize"):
        redact(TEXT, [], "blur")
    with pytest.raises(InvalidInputError, match="EMAIL_ADDRESS"):
        redact_text(default_detector(), TEXT, {"PERSON": "mask"})
    with pytest.raises(InvalidInputError, match="outside"):
        redact("short", [Entity("X", 2, 99, 1.0, "")], "mask")


# --- keys and plugins -------------------------------------------------------------------------------


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "pii.key"
    first = PiiKeyring.open(path).pseudonymizer("t").hash("EMAIL_ADDRESS", "a@b.cd")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PiiKeyring.open(path).pseudonymizer("t").hash("EMAIL_ADDRESS", "a@b.cd") == first
    (tmp_path / "bad.key").write_text("not hex")
    with pytest.raises(ConfigurationError):
        PiiKeyring.open(tmp_path / "bad.key")


def test_the_setting_picks_a_registered_detector(tmp_path: Path) -> None:
    factories = dict(collect(plugin_manager(entry_points=False), "aifactory_register_pii_detectors"))
    assert "builtin" in factories
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        assert "presidio" not in factories  # registered only where it is installed
    redactor = Redactor.from_settings(Settings(data_dir=tmp_path), factories)
    assert redactor.detector is default_detector()
    result = redactor.redact(TEXT, "pseudonymize", entities=["EMAIL_ADDRESS"], team="t1")
    assert (tmp_path / "pii.key").exists()
    assert "<EMAIL_ADDRESS_" in result.text
    allowing = Redactor.from_settings(
        Settings(data_dir=tmp_path, pii_allow_list=("jane@example.com",)), factories
    )
    assert allowing.analyze(TEXT, entities=["EMAIL_ADDRESS"]) == []
    with pytest.raises(ConfigurationError, match="builtin"):
        Redactor.from_settings(Settings(data_dir=tmp_path, pii_detector="nope"), factories)


def test_random_text_in_any_script_gives_consistent_spans() -> None:
    rng = random.Random(7)
    alphabet = "0123456789 +-.()/@:#aeXZ\néüßøł€😀张Ж\u0301\u200b\ud800"
    detector = default_detector()
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        entities = detector.analyze(text, language=rng.choice([None, "de", "en-GB", "xx"]))
        assert all(e.text == text[e.start : e.end] for e in entities)
        assert all(a.end <= b.start for a, b in itertools.pairwise(entities))


def test_past_the_check_budget_phone_shaped_runs_are_kept_unchecked() -> None:
    text = "call +1 415-555-2671 now. " * 2000  # more candidates than one text may check
    entities = default_detector().analyze(text)
    assert len(entities) == 2000
    assert {e.text for e in entities} == {"+1 415-555-2671"}


STREAM = (
    "Dear Jane, your new card 4111 1111 1111 1111 is on its way. Questions? Write to help@example.com "
    "or call +44 20 7946 0958. " * 3
) + "Your IBAN DE89 3704 0044 0532 0130 00 stays the same; SSN 078-05-1121."


@pytest.mark.parametrize("size", [1, 3, 17, 64, 500])
def test_a_stream_redacted_in_chunks_equals_the_whole(size: int) -> None:
    whole = redact(STREAM, default_detector().analyze(STREAM), "mask").text
    stream = StreamRedactor(default_detector(), "mask")
    pieces = [stream.feed(STREAM[i : i + size]) for i in range(0, len(STREAM), size)]
    assert "".join(pieces) + stream.flush() == whole


@pytest.mark.parametrize("size", [1, 5, 30])
def test_surrogates_split_across_chunks_are_restored(size: int) -> None:
    run = PiiKeyring.ephemeral().pseudonymizer("t")
    redacted = redact_text(default_detector(), STREAM, {"EMAIL_ADDRESS": "pseudonymize"}, run).text
    answer = f"I will write to {redacted} <not a surrogate> and a < b"
    restorer = StreamRestorer(run)
    pieces = [restorer.feed(answer[i : i + size]) for i in range(0, len(answer), size)]
    assert "".join(pieces) + restorer.flush() == f"I will write to {STREAM} <not a surrogate> and a < b"
