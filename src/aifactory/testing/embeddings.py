"""Deterministic embeddings: the same text always gets the same unit vector, any text a different one.

A vector is SHAKE-256 of the input's UTF-8 bytes (a token-id list: of its JSON), read as unsigned
16-bit integers, mapped to [-1, 1], normalised to length 1 and rounded to float32, so the `float`
and `base64` encodings carry exactly the same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from typing import Any

from aifactory.errors import InvalidInputError

__all__ = ["MAX_DIMENSIONS", "embed", "embeddings"]

MAX_DIMENSIONS = 8192


def embed(text: str, dimensions: int) -> list[float]:
    """The unit vector of `text`."""
    raw = hashlib.shake_256(text.encode()).digest(2 * dimensions)
    values = [(v - 32767.5) / 32767.5 for v in struct.unpack(f"<{dimensions}H", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def _inputs(raw: Any) -> list[tuple[str, int]]:
    """Every input as (the text hashed, its token count)."""
    if isinstance(raw, str):
        return [(raw, len(raw.split()))]
    if isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        return [(json.dumps(raw), len(raw))]
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return [(x, len(x.split())) for x in raw]
    if isinstance(raw, list) and raw and all(isinstance(x, list) for x in raw):
        return [(json.dumps(x), len(x)) for x in raw]
    raise InvalidInputError(
        "'input' must be a string, an array of strings, or an array of token arrays.", param="input"
    )


def _dimensions(body: dict[str, Any], default: int) -> int:
    size = body.get("dimensions", default)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_DIMENSIONS:
        raise InvalidInputError(
            f"'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}.", param="dimensions"
        )
    return size


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def embeddings(body: Any, *, default_dimensions: int) -> dict[str, Any]:
    """The `list` of embeddings for a request to `POST /v1/embeddings`; `InvalidInputError` if bad."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidInputError("you must provide a model parameter", param="model")
    inputs, size = _inputs(body.get("input")), _dimensions(body, default_dimensions)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InvalidInputError("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(embed(text, size), encoding)}
        for i, (text, _) in enumerate(inputs)
    ]
    tokens = sum(count for _, count in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
