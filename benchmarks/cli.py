"""``cfl bench``: run the planner benchmark, report it, list what it can run.

Registered under the ``cfl.cli`` entry-point group as ``bench``, so the core CLI picks it up
without importing the benchmarks.

- ``cfl bench run --problems branin,hartmann6 --strategies skopt-gp,optuna-tpe --seeds 10
  --budget 40 --batch 1 --out DIR [--jobs N]`` runs every strategy on every problem and seed
  (and the latency probe), writing traces to DIR; traces already there are kept (resume).
- ``cfl bench report DIR [--write benchmarks/RESULTS.md]`` writes the markdown report and its
  convergence plots (default ``DIR/RESULTS.md``) and prints it.
- ``cfl bench list`` prints the problems and the strategies, with why any cannot run here.

Exit codes: 0 done; 2 bad input (nothing run), with what and the fix.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from benchmarks import harness, problems, report, strategies
from cfl.errors import SpecError

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Planner benchmark: problems with known optima, CFL's planners against peers.",
)

EXIT_BAD_INPUT = 2


@app.callback()
def main() -> None:
    """Planner benchmark: problems with known optima, CFL's planners against peers."""
    # A callback keeps the commands sub-commands even when this app is run on its own.


def _bad_input(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command("run")
def run_command(
    out: Annotated[Path, typer.Option(help="Directory for traces (resumed if it has some).")],
    problem_names: Annotated[
        str, typer.Option("--problems", help="Comma-separated problem names, or 'all'.")
    ] = "all",
    strategy_names: Annotated[
        str, typer.Option("--strategies", help="Comma-separated strategy names, or 'all'.")
    ] = "all",
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1, the same for every strategy.")] = 10,
    budget: Annotated[int, typer.Option(help="Evaluations per run.")] = 40,
    batch: Annotated[int, typer.Option(help="Points asked for per round.")] = 1,
    jobs: Annotated[int, typer.Option(help="Worker processes (one BLAS thread each).")] = 1,
    latency_repetitions: Annotated[
        int, typer.Option(help="Repetitions of the latency probe (0 skips it).")
    ] = 3,
) -> None:
    """Run strategies side by side on the same seeds and write raw traces."""
    if seeds < 1:
        _bad_input(f"--seeds must be at least 1, got {seeds}")
    try:
        chosen_problems = problems.parse(problem_names)
        chosen_strategies = strategies.parse(strategy_names)
        harness.run(
            chosen_problems,
            chosen_strategies,
            list(range(seeds)),
            budget,
            batch,
            out,
            jobs=jobs,
            latency_repetitions=latency_repetitions,
            command=shlex.join(["cfl", *sys.argv[1:]]),
            progress=typer.echo,
        )
    except SpecError as exc:
        _bad_input(str(exc))
    typer.echo(f"traces in {out}; report with: cfl bench report {out}")


@app.command("report")
def report_command(
    out: Annotated[Path, typer.Argument(help="Directory a 'cfl bench run' wrote.")],
    write: Annotated[
        Path | None, typer.Option(help="Markdown file to write (default OUT/RESULTS.md).")
    ] = None,
    cfl: Annotated[
        str | None,
        typer.Option(
            help="CFL strategy the issue's figures judge (default: cfl-gp, else skopt-gp)."
        ),
    ] = None,
) -> None:
    """Median/IQR regret tables, ms per suggestion, convergence plots and verdicts."""
    if not (out / "traces").is_dir() and not (out / "latency").is_dir():
        _bad_input(f"{out} holds no traces; run 'cfl bench run --out {out}' first")
    target = report.write(out, write, cfl)
    typer.echo(target.read_text())
    typer.echo(f"written to {target}")


@app.command("list")
def list_command() -> None:
    """Problems and strategies, and why any strategy cannot run here."""
    typer.echo("problems:")
    for name in problems.NAMES:
        problem = problems.get(name)
        objectives = ", ".join(f"{o.direction} {o.name}" for o in problem.objectives)
        typer.echo(f"  {name}: {len(problem.space.parameters)}-D, {objectives}")
    typer.echo("strategies:")
    for name in strategies.names():
        reason = strategies.unavailable(name)
        typer.echo(f"  {name}: {'available' if reason is None else 'unavailable, ' + reason}")
