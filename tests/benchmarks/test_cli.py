from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from benchmarks.cli import app


def test_run_then_report_writes_traces_markdown_and_plots(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "bench"
    result = runner.invoke(
        app,
        [
            "run",
            "--problems",
            "branin",
            "--strategies",
            "random,skopt-gp",
            "--seeds",
            "2",
            "--budget",
            "6",
            "--batch",
            "1",
            "--out",
            str(out),
            "--latency-repetitions",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list((out / "traces" / "branin").glob("*/seed*.jsonl"))) == 4
    target = tmp_path / "RESULTS.md"
    result = runner.invoke(app, ["report", str(out), "--write", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert "Median regret [IQR] at 10 evaluations" not in text  # budget 6 never reaches 10
    assert "| branin |" in text and "Issue 6 figures" in text
    assert (tmp_path / "RESULTS_plots" / "branin.png").stat().st_size > 1000


def test_bad_names_exit_2_naming_the_known_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--problems", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown problem 'nope'; known problems: branin" in result.output


def test_list_shows_problems_and_strategy_availability() -> None:
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0
    assert "snar_cost" in result.output and "optuna-tpe: available" in result.output
