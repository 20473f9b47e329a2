"""``cfl chat``: talk to the copilot about the campaigns in the store, and steer them.

Registered under the ``cfl.cli`` entry-point group as ``chat``, so the core CLI picks it up
without importing the agents.

- ``cfl chat`` reads messages from standard input, one a line, until end of input or ``exit``
  (a terminal is not needed: ``echo "best result" | cfl chat`` works);
- ``cfl chat --message TEXT`` answers one message and exits;
- ``--as NAME`` says who you are (recorded as ``human:NAME`` on every request filed); without it
  the session is read-only.

With ``CFL_LLM_BASE_URL`` and ``CFL_LLM_MODEL`` set, a language model reads the messages and calls
the tools, each call recorded on a signed chain in ``$CFL_HOME/copilot.db``
(:mod:`agents.copilot.calllog`; ``cfl chat --verify-log`` checks it); otherwise simple commands
are understood (``help`` lists them).

Exit codes: 0 done; 1 the model or the store failed; 2 bad input (``--as``, ``CFL_LLM_*``);
3 the model-call log does not verify.
"""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from agents.copilot.agent import DEFAULT_MAX_STEPS, Copilot, build_copilot
from agents.copilot.calllog import CHAIN, call_log_url, ledger_sink
from agents.copilot.offline import OfflineCopilot
from agents.copilot.tools import Toolbox
from cfl.errors import CFLError, LedgerTampered, NotFound, SpecError
from cfl.settings import Settings
from cfl.sidechains import SignedChains
from cfl.store import Store

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,
    subcommand_metavar="",  # no sub-commands: `cfl chat [OPTIONS]`
    help="Talk to the copilot: ask about campaigns, steer them (--as NAME to act).",
)

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TAMPERED = 1, 2, 3
_QUIT = frozenset({"exit", "quit", "bye", ":q"})


def _fail(exc: CFLError) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT if isinstance(exc, SpecError) else EXIT_FAILED)


def _verify_log() -> None:
    chains = SignedChains(Store.open(call_log_url()))
    try:
        report = chains.verify(CHAIN)
    except NotFound:
        typer.echo("copilot model calls: none logged yet")
        return
    except LedgerTampered as exc:
        typer.echo(f"copilot model calls: TAMPERED: {exc}", err=True)
        raise typer.Exit(EXIT_TAMPERED) from exc
    finally:
        chains.store.close()
    typer.echo(f"copilot model calls: {report.records} records verified")


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
    verify_log: Annotated[
        bool,
        typer.Option("--verify-log", help="Verify the signed log of the copilot's model calls."),
    ] = False,
) -> None:
    """Talk to the copilot about the campaigns in the store (stdin, or --message)."""
    if verify_log:
        _verify_log()
        return
    try:
        settings = Settings()
        person = _identity(as_name)
        toolbox = Toolbox(Store.open(settings.store_url), actor=person)
        copilot: Copilot = (
            OfflineCopilot(toolbox)
            if offline
            else build_copilot(
                toolbox,
                sink=ledger_sink(SignedChains(Store.open(call_log_url())), on_behalf_of=person),
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
