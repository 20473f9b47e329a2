from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import harness, report
from cfl.errors import SpecError


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_traces_have_the_right_counts_and_regret_never_rises(tmp_path: Path) -> None:
    skipped = harness.run(
        ["branin", "constrained_hartmann6"],
        ["random", "optuna-tpe", "baybe"],
        [0, 1],
        budget=5,
        batch=2,
        out=tmp_path,
        latency_repetitions=0,
        progress=lambda _: None,
    )
    assert set(skipped) <= {"baybe"}
    for problem in ("branin", "constrained_hartmann6"):
        for strategy in ("random", "optuna-tpe"):
            for seed in (0, 1):
                lines = _lines(harness.trace_path(tmp_path, problem, strategy, seed))
                evals = [line for line in lines if line["kind"] == "eval"]
                assert [e["n"] for e in evals] == [1, 2, 3, 4, 5]
                assert [e["observed"] for e in evals] == [0, 0, 2, 2, 4]
                regrets = [float(e["regret"]) for e in evals]  # type: ignore[arg-type]
                assert all(r >= 0 for r in regrets)
                assert regrets == sorted(regrets, reverse=True)
                assert lines[-1]["kind"] == "done"
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["seeds"] == [0, 1] and "numpy" in meta["versions"]


def test_finished_traces_are_not_rerun_and_a_changed_budget_is_refused(tmp_path: Path) -> None:
    said: list[str] = []
    harness.run(
        ["branin"], ["random"], [0], 3, 1, tmp_path, latency_repetitions=0, progress=said.append
    )
    harness.run(
        ["branin"], ["random"], [0], 3, 1, tmp_path, latency_repetitions=0, progress=said.append
    )
    assert "0 tasks to run (1 process)" in said
    with pytest.raises(SpecError, match="budget 3"):
        harness.run(["branin"], ["random"], [0], 4, 1, tmp_path, latency_repetitions=0)


def test_noisy_problem_scores_the_reported_point_on_the_truth(tmp_path: Path) -> None:
    harness.run(["noisy_hartmann6"], ["random"], [0], 4, 1, tmp_path, latency_repetitions=0)
    evals = [
        e
        for e in _lines(harness.trace_path(tmp_path, "noisy_hartmann6", "random", 0))
        if e["kind"] == "eval"
    ]
    best = min(evals, key=lambda e: e["measured"]["f"])  # type: ignore[index]
    assert evals[-1]["incumbent"] == best["params"]
    assert evals[-1]["regret"] == pytest.approx(best["true"]["f"] + 3.322368)  # type: ignore[index]


def test_latency_probe_times_both_batch_sizes(tmp_path: Path) -> None:
    harness.run(["branin"], ["random"], [0], 2, 1, tmp_path, latency_repetitions=2)
    found = json.loads(harness.latency_path(tmp_path, "branin", "random").read_text())
    assert len(found["batch1_ms"]) == len(found["batch4_ms"]) == 2
    assert found["observations"] == 50


def test_median_and_iqr_match_hand_computation() -> None:
    runs = [[5.0, 4.0], [3.0, 2.0], [9.0, 1.0], [7.0, 0.0]]
    at_one = report.summarise(runs, 1)
    assert at_one is not None
    # values 5, 3, 9, 7 -> sorted 3, 5, 7, 9: median 6, q1 = 3 + 0.75*2 = 4.5, q3 = 7 + 0.25*2 = 7.5
    assert (at_one.median, at_one.q1, at_one.q3, at_one.seeds) == (6.0, 4.5, 7.5, 4)
    assert report.summarise(runs, 3) is None


def test_efficiency_verdict_counts_wins_and_the_2x_rule() -> None:
    problems8 = [f"p{i}" for i in range(8)]
    medians = {}
    for i, p in enumerate(problems8):
        medians[(p, "skopt-gp")] = 1.0 if i < 5 else 1.5
        medians[(p, "optuna-tpe")] = 1.0
    verdict, rows = report.efficiency_verdict(medians, "skopt-gp", problems8)
    assert verdict.startswith("**met**") and len(rows) == 8
    medians[("p7", "skopt-gp")] = 2.5
    assert report.efficiency_verdict(medians, "skopt-gp", problems8)[0].startswith("**missed**")
