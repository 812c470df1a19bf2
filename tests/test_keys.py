"""API key material: format, parsing, hashing, comparison and redaction."""

from __future__ import annotations

import hashlib
import re

import pytest

from aifactory.errors import AuthenticationError
from aifactory.identity.keys import generate_key, hash_key, keys_match, parse_key, redact_key

KEY_SHAPE = re.compile(r"aif_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_generated_key_has_the_documented_shape() -> None:
    new = generate_key()
    assert KEY_SHAPE.fullmatch(new.full_key)
    assert new.full_key.startswith(f"aif_{new.prefix}_")
    assert new.key_hash == hashlib.sha256(new.full_key.encode()).digest()


def test_generated_keys_differ() -> None:
    keys = {generate_key().full_key for _ in range(200)}
    prefixes = {key[4:16] for key in keys}
    assert len(keys) == len(prefixes) == 200


def test_new_key_repr_hides_the_secret() -> None:
    new = generate_key()
    assert new.full_key not in repr(new)
    assert new.prefix in repr(new)


def test_parse_returns_prefix_and_hash() -> None:
    new = generate_key()
    assert parse_key(new.full_key) == (new.prefix, new.key_hash)
    assert parse_key(f"  {new.full_key}\n") == (new.prefix, new.key_hash)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "aif_",
        "not a key",
        "aif_0123456789ab_short",
        "aif_0123456789AB_" + "a" * 43,  # upper-case prefix
        "aif_0123456789a_" + "a" * 44,  # prefix one short
        "aif_0123456789ab_" + "a" * 44,  # secret one long
        "aif_0123456789ab_" + "a" * 42 + "!",
        "sk_0123456789ab_" + "a" * 43,
        "Bearer aif_0123456789ab_" + "a" * 43,
        "aif_0123456789ab_" + "a" * 42 + "é",
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        parse_key(text)
    assert caught.value.detail == "malformed API key: expected aif_<12 hex characters>_<43 characters>"


def test_hash_is_sha256_of_the_whole_key() -> None:
    assert hash_key("aif_x_y") == hashlib.sha256(b"aif_x_y").digest()


def test_keys_match_compares_hashes() -> None:
    new = generate_key()
    assert keys_match(new.key_hash, hash_key(new.full_key))
    assert not keys_match(new.key_hash, generate_key().key_hash)


def test_redact_replaces_every_key_and_keeps_the_prefix() -> None:
    first, second = generate_key(), generate_key()
    line = f"Authorization: Bearer {first.full_key}; retry with key={second.full_key}."
    redacted = redact_key(line)
    assert first.full_key not in redacted
    assert second.full_key not in redacted
    assert (
        redacted == f"Authorization: Bearer aif_{first.prefix}_***; retry with key=aif_{second.prefix}_***."
    )


def test_redact_hides_a_truncated_key_too() -> None:
    new = generate_key()
    assert redact_key(f'"{new.full_key[:30]}"') == f'"aif_{new.prefix}_***"'


@pytest.mark.parametrize("text", ["", "nothing to see", "aif_ is our prefix", "aif_notaprefix_secret"])
def test_redact_leaves_other_text_alone(text: str) -> None:
    assert redact_key(text) == text
