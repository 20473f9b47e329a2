"""Orchestration overhead of the Prefect campaign flow against the in-process loop (``cfl run``).

Runs the same simulated campaign (the demo spec, cut to ``--experiments``, fixed seed) twice on a
fresh store: in process (:func:`cfl.runner.run_campaign`) and as the ``campaign`` flow against a
local Prefect server started here, on PostgreSQL (``--postgres``: a throwaway cluster, as the
tests start it) or SQLite. The overhead per experiment and per step task is the difference in
wall time divided by the experiments and the device steps of the Prefect run.

    python -m flows.overhead --experiments 12 --postgres --out benchmarks/results/prefect.md

Lives in ``flows`` because ``benchmarks`` may not import it (DESIGN.md's layering).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

__all__ = ["main", "measure"]

DEMO = Path(__file__).resolve().parent.parent / "examples" / "snar"


def _spec(folder: Path, experiments: int, batch: int) -> Path:
    data = yaml.safe_load((DEMO / "campaign.yaml").read_text())
    data["lab"] = yaml.safe_load((DEMO / "lab.yaml").read_text())
    data.update(
        name="overhead",
        budget={"experiments": experiments},
        batch_size=batch,
        initial_design=min(experiments, 8),
        stop={},
        coscientist=None,
        testing_share=0,
    )
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _steps(store_url: str, campaign_id: str) -> int:
    from cfl.store import Store

    store = Store.open(store_url)
    try:
        return sum(1 for r in store.records(campaign_id) if r.type == "step.completed")
    finally:
        store.close()


def measure(folder: Path, experiments: int, batch: int) -> dict[str, Any]:
    """Both runs against the Prefect server in the environment; timings and counts."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from cfl.runner import open_or_create, run_campaign
    from cfl.spec import load_spec
    from cfl.store import Store
    from flows.campaign import campaign

    spec_path = _spec(folder, experiments, batch)
    spec = load_spec(spec_path)
    url = f"sqlite:///{folder / 'inprocess.db'}"
    store = Store.open(url)
    started = time.perf_counter()
    final = run_campaign(open_or_create(store, spec).journal)
    inprocess_s = time.perf_counter() - started
    store.close()
    inprocess_steps = _steps(url, final.id)

    url = f"sqlite:///{folder / 'prefect.db'}"
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        campaign(spec_path=str(spec_path), store_url=url)  # warm-up: imports, flow registration
        started = time.perf_counter()
        summary = campaign(spec_path=str(spec_path), store_url=url, new=True)
        prefect_s = time.perf_counter() - started
    steps = _steps(url, summary["campaign"])
    done = summary["experiments"]
    return {
        "experiments": done,
        "steps": steps,
        "inprocess_steps": inprocess_steps,
        "inprocess_s": inprocess_s,
        "prefect_s": prefect_s,
        "per_experiment_ms": 1000 * (prefect_s - inprocess_s) / done,
        "per_step_ms": 1000 * (prefect_s - inprocess_s) / steps,
    }


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--postgres", action="store_true", help="Prefect on PostgreSQL")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/prefect.md"))
    args = parser.parse_args()

    from flows.localserver import start_local_server

    folder = Path(tempfile.mkdtemp(prefix="cfl-overhead-"))
    postgres: Any = None
    database_url = None
    if args.postgres:
        from sqlalchemy.engine import make_url

        from tests.postgres import start_server  # a throwaway cluster, stopped by PID below

        postgres = start_server()
        url = make_url(postgres.create_database("prefect"))
        database_url = url.set(drivername="postgresql+asyncpg").render_as_string(False)
    os.environ["CFL_HOME"] = str(folder / "cfl-home")
    server = start_local_server(folder / "prefect-home", database_url=database_url)
    try:
        os.environ.update(server.env)
        result = measure(folder, args.experiments, args.batch)
    finally:
        server.stop()
        if postgres is not None:
            postgres.stop()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    flags = f"--experiments {args.experiments} --batch {args.batch}"
    flags += " --postgres" if args.postgres else ""
    text = f"""# Prefect orchestration overhead

The demo campaign (simulated lab, virtual clock, planner only), {result["experiments"]}
experiments in batches of {args.batch}, run in process (`cfl run`'s loop) and as the `campaign`
flow (one `experiment` subflow per experiment, one `step` task per device step, each device's
`device:<name>` slot held per device reservation) against a local Prefect server on {backend}
with `flows.localserver.SERVER_SETTINGS`; flow heartbeat off, second flow run timed (the first
warms imports).

| | wall time (s) | device steps |
|---|---|---|
| in process | {result["inprocess_s"]:.2f} | {result["inprocess_steps"]} |
| Prefect flow | {result["prefect_s"]:.2f} | {result["steps"]} |

Overhead: **{result["per_experiment_ms"]:.0f} ms per experiment**,
**{result["per_step_ms"]:.0f} ms per step task** (target: at most 100 ms per step task on
PostgreSQL). Experiments run in parallel on the lab's devices, so this is wall time added to the
campaign, not the latency of one task.

Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; other
jobs shared the cores. Command:

    .venv/bin/python -m flows.overhead {flags}
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
