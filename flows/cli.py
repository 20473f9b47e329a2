"""``cfl deploy`` and ``cfl worker``: registered under the ``cfl.cli`` entry-point group."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from cfl.errors import CFLError, SpecError
from cfl.spec import load_spec

__all__ = ["deploy_command", "worker_command"]


def deploy_command(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="Campaign spec (YAML).")],
    station: Annotated[
        list[str] | None,
        typer.Option("--station", help="A lab station (repeatable); default: the lab file's site."),
    ] = None,
    cron: Annotated[
        str | None, typer.Option(help="Schedule the campaign, e.g. '0 6 * * 1'.")
    ] = None,
    nightly: Annotated[
        bool, typer.Option("--nightly", help="Run the benchmark every night at 02:00.")
    ] = False,
    benchmark: Annotated[
        bool, typer.Option("--benchmark/--no-benchmark", help="Deploy the benchmark flow.")
    ] = True,
) -> None:
    """Create a process work pool per station, device limits, and the spec's deployments."""
    from flows.deploy import NIGHTLY, deploy, pool_name

    try:
        spec = load_spec(spec_path)
        done = deploy(
            spec,
            spec_path,
            stations=station or None,
            cron=cron,
            benchmark=benchmark,
            benchmark_cron=NIGHTLY if nightly else None,
        )
    except CFLError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2 if isinstance(exc, SpecError) else 1) from exc
    for pool in done.pools:
        typer.echo(f"work pool {pool} (process) created")
    for limit in done.limits:
        typer.echo(f"concurrency limit {limit} (1 slot) created")
    for name in done.deployments:
        typer.echo(f"deployment {name}")
    for name in done.automations:
        typer.echo(f"automation {name!r} created")
    stations = station or [spec.lab.site or spec.lab.name]
    typer.echo(
        "start a worker on each station: "
        + "; ".join(f"cfl worker {s}  (pool {pool_name(s)})" for s in stations)
    )


def worker_command(
    station: Annotated[str, typer.Argument(metavar="STATION", help="The lab station.")],
    limit: Annotated[int | None, typer.Option(help="Flow runs this worker runs at once.")] = None,
    run_once: Annotated[
        bool, typer.Option("--run-once", help="Run what is due, then stop.")
    ] = False,
) -> None:
    """Start a process worker for the station's pool (replaces this process)."""
    from flows.deploy import pool_name

    args = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool_name(station)]
    args += ["--type", "process"]
    if limit is not None:
        args += ["--limit", str(limit)]
    if run_once:
        args.append("--run-once")
    sys.stdout.flush()
    os.execv(sys.executable, args)
