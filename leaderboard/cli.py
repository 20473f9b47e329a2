"""``cfl web``: serve the leaderboard web app (registered under the ``cfl.cli`` entry points).

``cfl web [--host 127.0.0.1] [--port 8000] [--demo]``: serves on the given address with uvicorn
(one process; strategy submissions run one at a time in a separate worker process). ``--demo``
seals a few hidden labs first if the leaderboard has no problems. The leaderboard database is
``CFL_LEADERBOARD_URL`` (default ``$CFL_HOME/leaderboard.db``); campaigns come from the CFL store
(``CFL_DATABASE_URL``). ``cfl web close PROBLEM`` closes a problem and publishes its reveal.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cfl.errors import CFLError
from leaderboard.sealing import FAMILIES

__all__ = ["DEMO", "app"]

app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    help="Serve the leaderboard web app (boards, submissions, dashboards, copilot chat).",
)

DEMO = (("lab-a", "branin"), ("lab-b", "hartmann6"), ("lab-c", "snar"))


@app.callback()
def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seal demo hidden labs if there are no problems.")
    ] = False,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run submissions (another process does).")
    ] = False,
) -> None:
    """Serve the leaderboard on HOST:PORT."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from leaderboard.app import create_app
    from leaderboard.service import Leaderboard

    try:
        board = Leaderboard()
        if demo and not board.problems():
            for problem_id, family in DEMO:
                board.create_sealed(problem_id, family, budget=20)
    except CFLError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    app_ = create_app(board, worker=not no_worker, worker_process=True)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command("create")
def create(
    problem_id: str,
    family: Annotated[str, typer.Option(help=f"One of {', '.join(FAMILIES)}.")] = "branin",
    budget: int = 20,
    public_seeds: int = 3,
    private_seeds: int = 3,
) -> None:
    """Seal a hidden lab (commitment to the ledger), then open it."""
    from leaderboard.service import Leaderboard

    try:
        commitment = Leaderboard().create_sealed(
            problem_id,
            family,
            budget=budget,
            public_seeds=public_seeds,
            private_seeds=private_seeds,
        )
    except CFLError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{problem_id}: sealed and open; commitment {commitment}")


@app.command("close")
def close(problem_id: str) -> None:
    """Close a problem and publish its reveal (checked against the commitment)."""
    from leaderboard.service import Leaderboard

    try:
        matches = Leaderboard().close_problem(problem_id)
    except CFLError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{problem_id}: closed; reveal {'matches' if matches else 'DOES NOT MATCH'} the seal"
    )
    if not matches:
        raise typer.Exit(3)
