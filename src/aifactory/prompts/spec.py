"""The content of one prompt version: a chat or text template, its variables' schema, a model binding
and what the search needs (`tags`). Every template is compiled when the spec is validated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from aifactory.prompts.sandbox import check_template
from aifactory.prompts.variables import check_schema
from aifactory.records import InputModel

__all__ = [
    "FunctionSpec",
    "JsonSchema",
    "JsonSchemaFormat",
    "Message",
    "ModelBinding",
    "ModelParameters",
    "PromptSpec",
    "ResponseFormat",
    "Tags",
    "Template",
    "Tool",
    "describe",
    "parse_spec",
]

_TEMPLATE_ERROR = "prompt_template"
_OPENAI_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class _Strict(InputModel):
    """Unknown fields and NUL characters refused; strings kept exactly (templates are whitespace-exact)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, frozen=True)


def _template(source: str) -> str:
    try:
        check_template(source)
    except ValueError as exc:
        raise PydanticCustomError(_TEMPLATE_ERROR, str(exc)) from None
    return source


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    check_schema(schema)
    return schema


Template = Annotated[str, AfterValidator(_template)]
"""A Jinja2 template, compiled (and its include refs checked) when validated."""

JsonSchema = Annotated[dict[str, Any], AfterValidator(_schema)]
"""A JSON Schema (draft 2020-12) with local `$ref`s only."""


class Message(_Strict):
    """One chat message; `content` is a Jinja2 template."""

    role: Literal["system", "user", "assistant"]
    content: Template


class ModelParameters(_Strict):
    """The OpenAI chat parameters a prompt may fix; any other name is refused."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in cls.model_fields)
            if unknown:
                allowed = ", ".join(sorted(cls.model_fields))
                noun = "parameter" if len(unknown) == 1 else "parameters"
                raise ValueError(f"unknown {noun} {', '.join(map(repr, unknown))} (allowed: {allowed})")
        return data

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError("at most 4 stop sequences")
        return stop


class ModelBinding(_Strict):
    """Which route serves the prompt (None: the caller chooses) and with which parameters."""

    route: str | None = Field(default=None, min_length=1, max_length=200)
    parameters: ModelParameters = Field(default_factory=ModelParameters)


class JsonSchemaFormat(_Strict):
    """OpenAI's `json_schema` response format body."""

    name: str = Field(pattern=_OPENAI_NAME)
    description: str | None = None
    schema_: JsonSchema = Field(alias="schema")
    strict: bool | None = None


class ResponseFormat(_Strict):
    """OpenAI's `response_format`: `text`, `json_object`, or `json_schema` with its schema."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_iff_json_schema(self) -> ResponseFormat:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError('"json_schema" is required with type json_schema, and only with it')
        return self


class FunctionSpec(_Strict):
    """A function the model may call (OpenAI shape); `parameters` is a JSON Schema."""

    name: str = Field(pattern=_OPENAI_NAME)
    description: str | None = None
    parameters: JsonSchema | None = None
    strict: bool | None = None


class Tool(_Strict):
    """One entry of OpenAI's `tools` list."""

    type: Literal["function"]
    function: FunctionSpec


class Tags(_Strict):
    """What the prompt is for, for search; all optional."""

    function: str | None = None
    risk: Literal["low", "medium", "high", "critical"] | None = None
    model_family: str | None = None
    labels: list[str] = Field(default_factory=list)


class PromptSpec(_Strict):
    """One prompt version: exactly one of `messages` (a chat prompt) or `text` (a text prompt, which
    other prompts include as a partial)."""

    messages: list[Message] | None = Field(default=None, min_length=1)
    text: Template | None = None
    variables: JsonSchema = Field(default_factory=lambda: {"type": "object"})
    model: ModelBinding | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tags: Tags | None = None

    @field_validator("variables")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object":
            raise ValueError('must be the schema of an object ("type": "object")')
        return schema

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, tools: list[Tool] | None) -> list[Tool] | None:
        names = [tool.function.name for tool in tools or ()]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"tool names must be unique; repeated: {', '.join(repeated)}")
        return tools

    @model_validator(mode="after")
    def _messages_or_text(self) -> PromptSpec:
        if (self.messages is None) == (self.text is None):
            raise ValueError('a prompt has exactly one of "messages" (chat) or "text"')
        return self

    @property
    def is_chat(self) -> bool:
        """True for a chat prompt (`messages`), false for a text prompt."""
        return self.messages is not None

    def templates(self) -> dict[str, str]:
        """Every template by where it is: `messages[0].content`, ... or `text`."""
        if self.messages is not None:
            return {f"messages[{i}].content": m.content for i, m in enumerate(self.messages)}
        return {"text": self.text or ""}

    def content(self) -> dict[str, Any]:
        """The JSON content as given (fields left at their default omitted): what the catalog stores
        and hashes, so `content_hash(spec.content())` is the hash of the version it came from."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def describe(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """Each problem of a failed validation as (location, message), the message naming the field as
    `messages[1].content` (`messages[1].content line 3: unexpected '}'` for a template)."""
    return [(tuple(error["loc"]), _problem(error)) for error in exc.errors()]


def _problem(error: ErrorDetails) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    if not where:
        return message
    return f"{where}{' ' if error['type'] == _TEMPLATE_ERROR else ': '}{message}"


def parse_spec(content: Mapping[str, Any]) -> PromptSpec:
    """Validate a version's content; a ValueError lists every problem (the asset kind's validator)."""
    try:
        return PromptSpec.model_validate(content)
    except ValidationError as exc:
        problems = [message for _, message in describe(exc)]
        raise ValueError("; ".join(problems[:10])) from None
    except RecursionError:
        raise ValueError("the content nests too deeply") from None
