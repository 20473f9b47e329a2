"""Read a benchmark output directory and summarise it: regret tables, latency, plots, verdicts.

Numbers: at each checkpoint (10, 20, 30, 40 evaluations, those within the budget), the median
and interquartile range (25th and 75th percentiles, linear interpolation) over seeds of the
incumbent's true regret; ms per suggestion is the median over the latency probe's repetitions.

Verdicts on issue 6's figures, for one CFL strategy against its peers (every other strategy in
the run that is not a CFL planner, plus random search):

* sample efficiency: median regret at 30 evaluations ``<=`` the best peer's on at least 5 of the 8
  problems, and never more than 2x the best peer's on the rest;
* latency: median ms per ``suggest(1)`` ``<= 150`` and per ``suggest(4)`` ``<= 500`` at 50
  observations, on every problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import problems
from cfl.registry import available_plugins

__all__ = [
    "CHECKPOINTS",
    "Summary",
    "efficiency_verdict",
    "latency_table",
    "load_traces",
    "markdown",
    "plot",
    "summarise",
    "write",
]

CHECKPOINTS = (10, 20, 30, 40)
GOAL_AT = 30
WINS_NEEDED, TOTAL_PROBLEMS, WORST_RATIO = 5, 8, 2.0
LATENCY_GOALS_MS = {1: 150.0, 4: 500.0}


@dataclass(frozen=True)
class Summary:
    """Median and interquartile range of regret over seeds at one checkpoint."""

    median: float
    q1: float
    q3: float
    seeds: int


def load_traces(out: Path) -> dict[tuple[str, str], list[list[float]]]:
    """Regret after each evaluation, per (problem, strategy), one list per finished seed."""
    found: dict[tuple[str, str], list[list[float]]] = {}
    for path in sorted((out / "traces").glob("*/*/seed*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        if not lines or lines[-1].get("kind") != "done":
            continue  # unfinished: the next run redoes it
        header = lines[0]
        regrets = [float(line["regret"]) for line in lines if line["kind"] == "eval"]
        found.setdefault((header["problem"], header["strategy"]), []).append(regrets)
    return found


def summarise(runs: Sequence[Sequence[float]], at: int) -> Summary | None:
    """Median and IQR of regret after ``at`` evaluations (``None`` if no run got that far)."""
    values = [run[at - 1] for run in runs if len(run) >= at]
    if not values:
        return None
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return Summary(float(median), float(q1), float(q3), len(values))


def latency_table(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Latency probe results per (problem, strategy)."""
    return {
        (path.parent.name, path.stem): json.loads(path.read_text())
        for path in sorted((out / "latency").glob("*/*.json"))
    }


def _peers(strategies: Sequence[str], chosen: str) -> list[str]:
    """Every other strategy run, CFL's older planners included: skopt-gp is skopt's GP-EI."""
    return [s for s in strategies if s != chosen]


def default_cfl(strategies: Sequence[str]) -> str | None:
    """The CFL strategy the verdicts are about: ``cfl-gp`` if run, else another CFL planner."""
    cfl = [s for s in strategies if s in set(available_plugins("cfl.planners")) - {"random"}]
    for preferred in ("cfl-gp", "skopt-gp"):
        if preferred in cfl:
            return preferred
    return cfl[0] if cfl else None


def efficiency_verdict(
    medians: dict[tuple[str, str], float], chosen: str, problem_names: Sequence[str]
) -> tuple[str, list[str]]:
    """Issue 6's sample-efficiency figure: (verdict line, one line per problem).

    ``medians`` maps (problem, strategy) to median regret at 30 evaluations.
    """
    rows, wins, worst_ok, judged = [], 0, True, 0
    for problem in problem_names:
        peers = {s: v for (p, s), v in medians.items() if p == problem and s != chosen}
        peers = {s: v for s, v in peers.items() if s in _peers([*peers, chosen], chosen)}
        mine = medians.get((problem, chosen))
        if mine is None or not peers:
            rows.append(f"| {problem} | – | – | – | not run |")
            continue
        judged += 1
        best_name = min(peers, key=lambda s: peers[s])
        best = peers[best_name]
        ratio = mine / best if best > 0 else (1.0 if mine == 0 else math.inf)
        if mine <= best:
            wins += 1
            outcome = "win"
        elif ratio <= WORST_RATIO:
            outcome = f"within 2x ({ratio:.2g}x)"
        else:
            worst_ok = False
            outcome = f"**worse than 2x** ({ratio:.3g}x)"
        rows.append(f"| {problem} | {_num(mine)} | {best_name} | {_num(best)} | {outcome} |")
    if judged < TOTAL_PROBLEMS:
        verdict = f"not evaluable: {judged} of {TOTAL_PROBLEMS} problems have {chosen} and a peer"
    else:
        met = wins >= WINS_NEEDED and worst_ok
        verdict = (
            f"{'**met**' if met else '**missed**'}: {chosen} at or below the best peer on "
            f"{wins} of {judged} problems (needs {WINS_NEEDED}), "
            f"{'never' if worst_ok else 'sometimes'} worse than 2x on the rest"
        )
    return verdict, rows


def _seed_counts(traces: dict[tuple[str, str], list[list[float]]], strategy: str) -> str:
    """``"ax 10"``, or ``"ax 5-10"`` when problems differ in finished seeds."""
    counts = [len(runs) for (_, s), runs in traces.items() if s == strategy]
    low, high = min(counts), max(counts)
    return f"{strategy} {low}" if low == high else f"{strategy} {low}-{high}"


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2g}" if abs(value) < 0.01 else f"{value:.3g}"


def plot(runs: dict[str, list[list[float]]], problem: str, path: Path) -> None:
    """Median regret with its IQR band against evaluations, log y, one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    floor = 1e-6
    for strategy, seeds in sorted(runs.items()):
        length = min(len(run) for run in seeds)
        data = np.maximum(np.array([run[:length] for run in seeds]), floor)
        x = np.arange(1, length + 1)
        q1, median, q3 = np.percentile(data, [25, 50, 75], axis=0)
        axes.plot(x, median, label=strategy)
        axes.fill_between(x, q1, q3, alpha=0.2)
    axes.set_yscale("log")
    axes.set_xlabel("evaluations")
    axes.set_ylabel(f"regret (true value; floor {floor:g})")
    axes.set_title(f"{problem}: median and IQR over seeds")
    axes.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def markdown(out: Path, plots: dict[str, str], chosen: str | None = None) -> str:
    """The report as markdown; ``plots`` maps problem to the PNG's path relative to the report."""
    meta = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    traces = load_traces(out)
    latency = latency_table(out)
    ran = list(dict.fromkeys(p for p, _ in [*traces, *latency]))
    problem_names = [p for p in problems.NAMES if p in ran]
    strategies = list(dict.fromkeys(s for _, s in [*traces, *latency]))
    chosen = chosen or default_cfl(strategies)
    lines = [
        "# Planner benchmark",
        "",
        f"- command: `{meta.get('command', '?')}`",
        f"- date: {meta.get('date', '?')}, commit `{meta.get('commit', '?')}`, "
        f"machine: {meta.get('machine', '?')}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in meta.get('versions', {}).items())}",
        f"- seeds: {meta.get('seeds', '?')} in the last run; finished seeds per strategy: "
        + ", ".join(_seed_counts(traces, s) for s in dict.fromkeys(t for _, t in traces))
        + f"; budget {meta.get('budget', '?')} evaluations; batch {meta.get('batch', '?')}",
        "- regret is computed on the true (noiseless) value; see `benchmarks/scoring.py`",
    ]
    for reason in meta.get("skipped", {}).values():
        lines.append(f"- skipped {reason}")
    for at in CHECKPOINTS:
        if not any(summarise(runs, at) for runs in traces.values()):
            continue
        lines += ["", f"## Median regret [IQR] at {at} evaluations", ""]
        lines += [f"| problem | {' | '.join(strategies)} |", "|---" * (len(strategies) + 1) + "|"]
        for p in problem_names:
            cells = []
            for s in strategies:
                summary = summarise(traces.get((p, s), []), at)
                cells.append(
                    "–"
                    if summary is None
                    else f"{_num(summary.median)} [{_num(summary.q1)}, {_num(summary.q3)}]"
                )
            lines.append(f"| {p} | {' | '.join(cells)} |")
    if latency:
        lines += ["", "## Median ms per suggestion at 50 observations (batch 1 / batch 4)", ""]
        lines += [f"| problem | {' | '.join(strategies)} |", "|---" * (len(strategies) + 1) + "|"]
        for p in problem_names:
            cells = []
            for s in strategies:
                found = latency.get((p, s))
                cells.append(
                    "–"
                    if found is None
                    else f"{found['batch1_median_ms']:.0f} / {found['batch4_median_ms']:.0f}"
                )
            lines.append(f"| {p} | {' | '.join(cells)} |")
    lines += ["", "## Issue 6 figures", ""]
    if chosen is None:
        lines.append("No CFL planner (other than random) was run: nothing to judge.")
    else:
        medians = {
            key: summary.median
            for key, runs in traces.items()
            if (summary := summarise(runs, GOAL_AT)) is not None
        }
        verdict, rows = efficiency_verdict(medians, chosen, problem_names)
        lines += [f"Sample efficiency at {GOAL_AT} evaluations, {chosen}: {verdict}.", ""]
        lines += ["| problem | " + chosen + " | best peer | its regret | outcome |"]
        lines += ["|---|---|---|---|---|", *rows, ""]
        mine = [latency[(p, chosen)] for p in problem_names if (p, chosen) in latency]
        for batch, goal in LATENCY_GOALS_MS.items():
            if not mine:
                lines.append(f"- latency, batch {batch}: not measured")
                continue
            worst = max(found[f"batch{batch}_median_ms"] for found in mine)
            status = (
                "**met**" if worst <= goal and len(mine) == len(problem_names) else "**missed**"
            )
            lines.append(
                f"- latency, batch {batch} at 50 observations: slowest problem {worst:.0f} ms "
                f"(goal <= {goal:.0f} ms): {status}"
            )
    if plots:
        lines += ["", "## Convergence", ""]
        lines += [f"![{p}]({path})" for p, path in plots.items()]
    return "\n".join(lines) + "\n"


def write(out: Path, target: Path | None = None, chosen: str | None = None) -> Path:
    """Draw the plots and write the markdown report (default ``out/RESULTS.md``)."""
    target = target or out / "RESULTS.md"
    folder = target.parent / f"{target.stem}_plots"
    traces = load_traces(out)
    plots: dict[str, str] = {}
    for problem in problems.NAMES:
        runs = {s: seeds for (p, s), seeds in traces.items() if p == problem}
        if runs:
            plot(runs, problem, folder / f"{problem}.png")
            plots[problem] = f"{folder.name}/{problem}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(markdown(out, plots, chosen))
    return target
