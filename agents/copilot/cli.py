"""``cfl chat``: talk to the copilot about the campaigns in the store, and steer them.

Registered under the ``cfl.cli`` entry-point group as ``chat``, so the core CLI picks it up
without importing the agents.

- ``cfl chat`` reads messages from standard input, one a line, until end of input or ``exit``
  (a terminal is not needed: ``echo "best result" | cfl chat`` works);
- ``cfl chat --message TEXT`` answers one message and exits;
- ``--as NAME`` says who you are (recorded as ``human:NAME`` on every request filed); without it
  the session is read-only.

With ``CFL_LLM_BASE_URL`` and ``CFL_LLM_MODEL`` set, a language model reads the messages and calls
the tools (each call logged, as JSON lines, in ``$CFL_HOME/logs/model-calls.jsonl``); otherwise
simple commands are understood (``help`` lists them).

Exit codes: 0 done; 1 the model or the store failed; 2 bad input (``--as``, ``CFL_LLM_*``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from agents.copilot.agent import DEFAULT_MAX_STEPS, Copilot, build_copilot
from agents.copilot.offline import OfflineCopilot
from agents.copilot.tools import Toolbox
from agents.llm.calls import ModelCall, ModelCallSink
from cfl.errors import CFLError, SpecError
from cfl.settings import Settings
from cfl.store import Store

__all__ = ["app", "jsonl_sink"]

app = typer.Typer(
    add_completion=False,
    subcommand_metavar="",  # no sub-commands: `cfl chat [OPTIONS]`
    help="Talk to the copilot: ask about campaigns, steer them (--as NAME to act).",
)

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2
_QUIT = frozenset({"exit", "quit", "bye", ":q"})


def _fail(exc: CFLError) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT if isinstance(exc, SpecError) else EXIT_FAILED)


def jsonl_sink(path: Path) -> ModelCallSink:
    """A sink appending each :class:`~agents.llm.calls.ModelCall` to ``path`` as one JSON line."""

    def write(call: ModelCall) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(call.model_dump_json() + "\n")

    return write


def _identity(name: str | None) -> str | None:
    if name is None:
        return None
    return name if name.startswith("human:") else f"human:{name}"


@app.callback(invoke_without_command=True)
def chat(
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", help="Answer this one message and exit."),
    ] = None,
    as_name: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="NAME",
            help="Who you are, recorded as human:NAME on every request; needed to act.",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Understand simple commands only, even if a model is set."),
    ] = False,
    max_steps: Annotated[
        int, typer.Option(min=1, max=50, help="Model calls allowed per message.")
    ] = DEFAULT_MAX_STEPS,
) -> None:
    """Talk to the copilot about the campaigns in the store (stdin, or --message)."""
    try:
        settings = Settings()
        toolbox = Toolbox(Store.open(settings.store_url), actor=_identity(as_name))
        copilot: Copilot = (
            OfflineCopilot(toolbox)
            if offline
            else build_copilot(
                toolbox,
                sink=jsonl_sink(settings.home / "logs" / "model-calls.jsonl"),
                max_steps=max_steps,
            )
        )
    except CFLError as exc:
        _fail(exc)
    if message is not None:
        _turn(copilot, message, fatal=True)
        return
    interactive = sys.stdin.isatty()
    if interactive:
        who = toolbox.actor or "read-only (start with --as NAME to act)"
        typer.echo(f"CFL copilot, acting as {who}. Type 'help', or 'exit' to leave.")
    while True:
        if interactive:
            typer.echo("you> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in _QUIT:
            break
        _turn(copilot, text, fatal=False)


def _turn(copilot: Copilot, text: str, *, fatal: bool) -> None:
    try:
        answer = copilot.respond(text)
    except CFLError as exc:  # the model failed; the conversation goes on without this turn
        if fatal:
            _fail(exc)
        typer.echo(f"error: {exc}", err=True)
        return
    typer.echo(answer.text)
