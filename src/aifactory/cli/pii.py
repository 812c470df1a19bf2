"""`aifactory pii`: find personal data in a text, or redact it (the text as an argument, `-` for
stdin, or `--file`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from aifactory.cli._output import JsonFlag, emit_json, print_table
from aifactory.cli._session import current
from aifactory.errors import InvalidInputError

__all__ = ["app"]

app = typer.Typer(help="PII: find personal data in a text (analyze) or redact it.", no_args_is_help=True)

TextArg = Annotated[
    str | None, typer.Argument(help="The text; `-` reads it from stdin (or use --file).", show_default=False)
]
FileOpt = Annotated[Path | None, typer.Option("--file", help="Read the text from this file (UTF-8).")]
LanguageOpt = Annotated[str | None, typer.Option(help="Language of the text (BCP 47), e.g. de or en-GB.")]
EntitiesOpt = Annotated[
    str | None, typer.Option(help="Comma-separated entity types, e.g. EMAIL_ADDRESS,PHONE_NUMBER.")
]


def read_text(text: str | None, file: Path | None) -> str:
    """The text to work on: the argument, stdin for `-`, or the file (undecodable bytes replaced)."""
    if (text is None) == (file is None):
        raise InvalidInputError("give either a TEXT argument (`-` for stdin) or --file, not both")
    if file is not None:
        try:
            return file.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise InvalidInputError(f"cannot read {file}: {exc.strerror or exc}") from exc
    if text == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    return str(text)


def _entities(value: str | None) -> list[str] | None:
    return None if value is None else [name.strip() for name in value.split(",") if name.strip()]


def parse_mode(value: str) -> str | dict[str, str]:
    """`mask`, or a map written `EMAIL_ADDRESS=hash,PHONE_NUMBER=mask`."""
    if "=" not in value:
        return value.strip()
    modes = {}
    for item in value.split(","):
        entity, _, mode = item.partition("=")
        if not entity.strip() or not mode.strip():
            raise InvalidInputError(f"--mode {value!r}: write TYPE=MODE pairs separated by commas")
        modes[entity.strip()] = mode.strip()
    return modes


@app.command("analyze")
def analyze(
    text: TextArg = None,
    file: FileOpt = None,
    language: LanguageOpt = None,
    entities: EntitiesOpt = None,
    show_text: Annotated[bool, typer.Option("--show-text", help="Show each finding's text.")] = False,
    json_: JsonFlag = False,
) -> None:
    """List the PII entities in a text: type, span (character offsets) and score."""
    body = read_text(text, file)
    found = current().call(
        lambda c: c.pii.analyze(body, language=language, entities=_entities(entities), return_text=show_text)
    )
    if json_:
        emit_json(found.model_dump(mode="json", exclude_none=True))
        return
    columns = ["type", "start", "end", "score"] + (["text"] if show_text else [])
    rows = [
        [e.type, e.start, e.end, f"{e.score:.2f}"] + ([e.text] if show_text else []) for e in found.entities
    ]
    print_table(f"PII: {len(rows)} found", columns, rows)


@app.command("redact")
def redact(
    text: TextArg = None,
    mode: Annotated[
        str, typer.Option(help="mask, remove, hash or pseudonymize; or TYPE=MODE,TYPE=MODE.")
    ] = "mask",
    file: FileOpt = None,
    language: LanguageOpt = None,
    entities: EntitiesOpt = None,
    json_: JsonFlag = False,
) -> None:
    """Print the text with PII redacted (`--json`: the text and each replacement's span)."""
    body = read_text(text, file)
    modes = parse_mode(mode)
    result = current().call(
        lambda c: c.pii.redact(body, modes, entities=_entities(entities), language=language)
    )
    if json_:
        emit_json(result)
        return
    typer.echo(result.text)
