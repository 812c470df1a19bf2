"""Prompts as governed assets: the spec of a version, sandboxed Jinja2 rendering with composition,
prompt files (YAML and Markdown) and diffs. Pure domain code: no database access."""

from aifactory.prompts.diff import diff, to_yaml
from aifactory.prompts.files import PromptFile, dump, load, loads
from aifactory.prompts.refs import PromptRef, parse_ref
from aifactory.prompts.spec import Message, ModelBinding, PromptSpec, parse_spec
from aifactory.prompts.templates import RenderedPrompt, find_cycle, includes, render, spec_hash

__all__ = [
    "Message",
    "ModelBinding",
    "PromptFile",
    "PromptRef",
    "PromptSpec",
    "RenderedPrompt",
    "diff",
    "dump",
    "find_cycle",
    "includes",
    "load",
    "loads",
    "parse_ref",
    "parse_spec",
    "render",
    "spec_hash",
    "to_yaml",
]
