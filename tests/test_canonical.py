"""The fast canonical JSON path must be byte-identical to the RFC 8785 reference implementation."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from aifactory.ledger.events import Event, canonical_json, leaf_bytes

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json: Any = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(_json)
def test_canonical_json_matches_rfc8785(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError):
        return  # not representable (out-of-range integer, lone surrogate): nothing to compare
    assert canonical_json(value) == bytes(expected)


def test_control_characters_and_unicode_are_escaped_like_rfc8785() -> None:
    value = {"a\u00e9": '\u0000\u001f\u007f\u2028"\\\n', "z": [1, -0, True, None], "B": "\U0001f600"}
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


def test_leaf_is_the_event_with_its_index() -> None:
    event = Event("asset.created", "asset:ast_1", "prn_1", {"name": "x"})
    leaf = leaf_bytes(event.to_json(), 5)
    assert leaf.startswith(b'{"actor":"prn_1","data":{"name":"x"},"index":5,')
    assert leaf == bytes(rfc8785.dumps(__import__("json").loads(leaf)))
