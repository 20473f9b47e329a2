"""Run strategies side by side on the benchmark problems, and write raw traces.

Layout of an output directory::

    run.json                                   the last invocation: arguments, date, commit,
                                               versions, skipped strategies and why
    traces/<problem>/<strategy>/seed<k>.jsonl  one run: a header, one line per evaluation,
                                               a closing line (a trace without it is redone)
    latency/<problem>/<strategy>.json          ms per suggest(1) and suggest(4) at 50 observations

Every strategy of one invocation runs on the same seeds; measurement noise for seed ``k`` comes
from one stream per (problem, seed), shared by all strategies. Each run asks for ``batch``
points, measures them, and tells them back before asking again (synchronous rounds). Traces
already on disk are skipped, so an interrupted run resumes where it stopped. Work is spread over
``jobs`` processes, each limited to one BLAS thread (the models here are small: more threads only
contend on 2 cores).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks import problems, strategies
from benchmarks.problems import Outcome, Problem
from benchmarks.scoring import regret_of_truths, regret_of_value
from cfl.errors import SpecError
from cfl.planner import Evaluation, RandomPlanner
from cfl.space import Point

__all__ = [
    "LATENCY_BATCHES",
    "LATENCY_OBSERVATIONS",
    "LatencyTask",
    "TraceTask",
    "latency_path",
    "run",
    "trace_path",
    "versions",
]

LATENCY_OBSERVATIONS = 50
LATENCY_BATCHES = (1, 4)
_LATENCY_SEED = 1000
_PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-optimize",
    "optuna",
    "torch",
    "botorch",
    "baybe",
    "ax-platform",
)


@dataclass(frozen=True)
class TraceTask:
    """One strategy on one problem with one seed."""

    problem: str
    strategy: str
    seed: int
    budget: int
    batch: int


@dataclass(frozen=True)
class LatencyTask:
    """Suggestion time of one strategy on one problem at 50 observations."""

    problem: str
    strategy: str
    repetitions: int


def trace_path(out: Path, problem: str, strategy: str, seed: int) -> Path:
    return out / "traces" / problem / strategy / f"seed{seed}.jsonl"


def latency_path(out: Path, problem: str, strategy: str) -> Path:
    return out / "latency" / problem / f"{strategy}.json"


def _noise(problem: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(problem.encode())])


def _evaluation(problem: Problem, point: Point, measured: Outcome) -> Evaluation:
    return Evaluation(
        params=point,
        score=problem.score(measured),
        objectives={o.name: o.gain(measured.values[o.name]) for o in problem.objectives},
        constraints=dict(measured.constraints),
    )


def _reported(problem: Problem, planner: object, done: list[tuple[Point, Outcome]]) -> Point | None:
    """The point a strategy would report on a noisy problem: its ``best()``, else best measured."""
    best = getattr(planner, "best", None)
    if callable(best):
        point = best()
        return None if point is None else problem.space.coerce(point)
    feasible = [(p, m) for p, m in done if m.feasible]
    if not feasible:
        return None
    return max(feasible, key=lambda pm: problem.score(pm[1]))[0]


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(path.suffix + ".part")
    scratch.write_text(text)
    scratch.replace(path)


def complete(path: Path) -> bool:
    """Whether a trace or latency file on disk is finished (a trace ends with its closing line)."""
    if not path.exists():
        return False
    if path.suffix == ".json":
        return True
    lines = path.read_text().splitlines()
    return bool(lines) and json.loads(lines[-1]).get("kind") == "done"


def run_trace(task: TraceTask) -> list[dict[str, Any]]:
    """Run one trace and return its lines (header, evaluations, closing line)."""
    problem = problems.get(task.problem)
    started = time.perf_counter()
    planner = strategies.build(task.strategy, problem, task.seed, task.batch)
    rng = _noise(task.problem, task.seed)
    lines: list[dict[str, Any]] = [
        {
            "kind": "header",
            "problem": task.problem,
            "strategy": task.strategy,
            "seed": task.seed,
            "budget": task.budget,
            "batch": task.batch,
            "optimum": problem.optimum,
            "noisy": problem.noisy,
        }
    ]
    done: list[tuple[Point, Outcome]] = []
    truths: list[Outcome] = []
    round_ = 0
    while len(done) < task.budget:
        n = min(task.batch, task.budget - len(done))
        t0 = time.perf_counter()
        suggested = planner.suggest(n, [])
        ms = (time.perf_counter() - t0) * 1000
        if len(suggested) != n:
            raise SpecError(f"{task.strategy} suggested {len(suggested)} points when asked for {n}")
        observed = len(done)
        batch: list[tuple[Point, Outcome, Outcome]] = []
        for raw in suggested:
            point = problem.space.coerce(raw)
            batch.append((point, problem.evaluate(point, rng), problem.truth(point)))
        planner.ingest([_evaluation(problem, p, m) for p, m, _ in batch])
        for i, (point, measured, true) in enumerate(batch):
            done.append((point, measured))
            truths.append(true)
            incumbent: Point | None = None
            if problem.noisy and len(problem.objectives) == 1:
                if i == len(batch) - 1:  # the planner has seen the whole round
                    incumbent = _reported(problem, planner, done)
                else:
                    incumbent = _reported(problem, _Measured(), done)
                value = (
                    None
                    if incumbent is None
                    else problem.truth(incumbent).values[problem.objectives[0].name]
                )
                regret = regret_of_value(problem, value)
            else:
                regret = regret_of_truths(problem, truths)
            lines.append(
                {
                    "kind": "eval",
                    "n": len(done),
                    "round": round_,
                    "params": point,
                    "measured": dict(measured.values),
                    "true": dict(true.values),
                    "constraints": dict(true.constraints),
                    "feasible": true.feasible,
                    "regret": float(regret),
                    "incumbent": incumbent,
                    "suggest_ms": float(ms),
                    "observed": observed,
                }
            )
        round_ += 1
    lines.append({"kind": "done", "wall_s": time.perf_counter() - started})
    return lines


class _Measured:
    """Stands in for a planner without ``best()``: the best measured point is reported."""


def run_latency(task: LatencyTask) -> dict[str, Any]:
    """Median ms per ``suggest(b)`` for each probe batch size, after ingesting 50 evaluations."""
    problem = problems.get(task.problem)
    rng = _noise(task.problem, _LATENCY_SEED)
    points = RandomPlanner(problem.space, seed=_LATENCY_SEED).suggest(LATENCY_OBSERVATIONS, [])
    evaluations = [_evaluation(problem, p, problem.evaluate(p, rng)) for p in points]
    found: dict[str, Any] = {
        "problem": task.problem,
        "strategy": task.strategy,
        "observations": LATENCY_OBSERVATIONS,
    }
    for batch in LATENCY_BATCHES:
        times = []
        for repetition in range(task.repetitions):
            planner = strategies.build(task.strategy, problem, repetition, batch)
            planner.ingest(evaluations)
            t0 = time.perf_counter()
            planner.suggest(batch, [])
            times.append((time.perf_counter() - t0) * 1000)
        found[f"batch{batch}_ms"] = times
        found[f"batch{batch}_median_ms"] = statistics.median(times)
    return found


def _execute(task: TraceTask | LatencyTask, out: Path) -> str:
    """Run one task and write its file; returns a one-line summary."""
    with threadpool_limits(limits=1):
        if isinstance(task, TraceTask):
            lines = run_trace(task)
            path = trace_path(out, task.problem, task.strategy, task.seed)
            _write_atomic(path, "".join(json.dumps(line) + "\n" for line in lines))
            return (
                f"{task.problem} {task.strategy} seed {task.seed}: regret {lines[-2]['regret']:.4g}"
            )
        found = run_latency(task)
        _write_atomic(latency_path(out, task.problem, task.strategy), json.dumps(found, indent=1))
        return (
            f"{task.problem} {task.strategy} latency: {found['batch1_median_ms']:.0f} ms / "
            f"{found['batch4_median_ms']:.0f} ms"
        )


def _one_thread() -> None:
    """Worker start-up: one BLAS/OpenMP thread, set before any library starts its pool."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"


def versions() -> dict[str, str]:
    """Python and the versions of the packages that shape the results (installed ones)."""
    found = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def _check_resumable(out: Path, task: TraceTask) -> bool:
    """Whether the task's trace is already finished; a finished one of another shape is an error."""
    path = trace_path(out, task.problem, task.strategy, task.seed)
    if not complete(path):
        return False
    header = json.loads(path.read_text().splitlines()[0])
    if (header["budget"], header["batch"]) != (task.budget, task.batch):
        raise SpecError(
            f"{path} was run with budget {header['budget']} and batch {header['batch']}, not "
            f"{task.budget} and {task.batch}; use another --out directory or delete it"
        )
    return True


def run(
    problem_names: Sequence[str],
    strategy_names: Sequence[str],
    seeds: Sequence[int],
    budget: int,
    batch: int,
    out: Path,
    *,
    jobs: int = 1,
    latency_repetitions: int = 3,
    command: str = "",
    progress: Callable[[str], None] = print,
) -> dict[str, str]:
    """Run every strategy on every problem and seed, plus the latency probe; write to ``out``.

    Returns the strategies skipped and why (a package not installed).

    Raises:
        SpecError: a name is unknown, a number is out of range, or ``out`` holds traces of
            another budget or batch size.
    """
    if budget < 1 or batch < 1 or jobs < 1 or latency_repetitions < 0:
        raise SpecError(
            f"budget, batch and jobs must be at least 1 and latency repetitions at least 0, got "
            f"budget={budget}, batch={batch}, jobs={jobs}, repetitions={latency_repetitions}"
        )
    for name in problem_names:
        problems.get(name)
    skipped = {name: reason for name in strategy_names if (reason := strategies.unavailable(name))}
    runnable = [name for name in strategy_names if name not in skipped]
    for reason in skipped.values():
        progress(f"skipping {reason}")
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "versions": versions(),
        "problems": list(problem_names),
        "strategies": list(strategy_names),
        "seeds": list(seeds),
        "budget": budget,
        "batch": batch,
        "latency_repetitions": latency_repetitions,
        "skipped": skipped,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    _write_atomic(out / "run.json", json.dumps(meta, indent=1))
    traces = [
        TraceTask(p, s, seed, budget, batch)
        for p in problem_names
        for s in runnable
        for seed in seeds
    ]
    tasks: list[TraceTask | LatencyTask] = [t for t in traces if not _check_resumable(out, t)]
    if latency_repetitions:
        tasks += [
            LatencyTask(p, s, latency_repetitions)
            for p in problem_names
            for s in runnable
            if not complete(latency_path(out, p, s))
        ]
    progress(f"{len(tasks)} tasks to run ({jobs} process{'es' if jobs > 1 else ''})")
    if jobs == 1:
        for task in tasks:
            progress(_execute(task, out))
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_one_thread) as pool:
            for line in pool.map(_execute, tasks, [out] * len(tasks)):
                progress(line)
    return skipped
