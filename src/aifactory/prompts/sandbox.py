"""The Jinja2 sandbox that every prompt template is compiled and rendered in.

Templates run in an `ImmutableSandboxedEnvironment`: no private or dunder attributes, no methods that
mutate lists, dicts or sets, ranges capped by Jinja; `StrictUndefined`, so a missing variable is an
error rather than an empty string; no autoescaping (prompts are not HTML); the trailing newline of a
template is kept, so what is written is what is sent.
"""

from __future__ import annotations

import functools
import threading
import traceback
from collections import OrderedDict
from collections.abc import Collection

from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateSyntaxError, nodes
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.sandbox import ImmutableSandboxedEnvironment

from aifactory.prompts.refs import REF_FORMS, parse_ref

__all__ = ["check_template", "environment", "error_line"]

_LOADING_NODES = (nodes.Extends, nodes.FromImport, nodes.Import, nodes.Include)


class _CompiledCache(BytecodeCache):
    """Compiled templates in memory, by template name and a checksum of the source (every prompt
    has a `messages[0].content`): a render compiles each distinct template once per process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._code: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        checksum = self.get_source_checksum(source)
        bucket = Bucket(environment, f"{self.get_cache_key(name, filename)}:{checksum}", checksum)
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            code = self._code.get(bucket.key)
            if code is not None:
                self._code.move_to_end(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._lock:
            self._code[bucket.key] = code
            while len(self._code) > self.size:
                self._code.popitem(last=False)


_COMPILED = _CompiledCache(4096)


def environment(loader: BaseLoader | None = None) -> ImmutableSandboxedEnvironment:
    """A fresh sandboxed environment, loading includes through `loader` (compiled code is shared)."""
    return ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        auto_reload=False,
        bytecode_cache=_COMPILED,
    )


_CHECKER = environment()


@functools.lru_cache(maxsize=1024)
def check_template(source: str) -> frozenset[str]:
    """Compile a template and return the prompt refs it includes.

    A syntax error, or an include whose name is not a literal prompt ref, is a ValueError
    `line <n>: <what is wrong>`.
    """
    try:
        tree = _CHECKER.parse(source)
        _CHECKER.compile(tree)
    except TemplateSyntaxError as exc:
        raise ValueError(f"line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise ValueError("line 1: the template nests too deeply to compile") from None
    return frozenset(_ref(node) for node in tree.find_all(_LOADING_NODES))


def _ref(node: nodes.Node) -> str:
    template = getattr(node, "template", None)
    if not (isinstance(template, nodes.Const) and isinstance(template.value, str)):
        raise ValueError(f"line {node.lineno}: an include takes one literal prompt ref ({REF_FORMS})")
    try:
        parse_ref(template.value)
    except ValueError as exc:
        raise ValueError(f"line {node.lineno}: include {exc}") from None
    ref: str = template.value
    return ref


def error_line(exc: BaseException, names: Collection[str]) -> tuple[str, int] | None:
    """Where in which template a rendering error happened: the innermost frame of a template named
    in `names` (Jinja rewrites tracebacks so that template frames carry the template's line)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in names and frame.lineno is not None:
            found = (frame.filename, frame.lineno)
    return found
