from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.scheduling import report, run


@pytest.mark.parametrize(("lab", "steps_per_experiment"), [("assay", 5), ("snar", 8)])
def test_benchmark_runs_and_measures_what_it_says(
    tmp_path: Path, lab: str, steps_per_experiment: int
) -> None:
    result = run(lab, 20, tmp_path)
    assert result.experiments == 20
    assert result.steps == 20 * steps_per_experiment  # no faults: one attempt per command
    assert len(result.instruments) == 16 and len(result.robots) == 2
    assert all(0 < u <= 1 for u in [*result.instruments.values(), *result.robots.values()])
    assert result.overhead_ms == pytest.approx(1000 * result.wall_s / result.steps)
    assert f"| {lab} | 20 | {result.steps} |" in report([result])


def test_a_long_assay_campaign_keeps_stations_busier_than_a_short_one(tmp_path: Path) -> None:
    """Start-up and drain weigh less as the campaign grows: the scheduler keeps up."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    short, long = run("assay", 16, tmp_path / "a"), run("assay", 96, tmp_path / "b")
    mean = lambda r: sum(r.instruments.values()) / len(r.instruments)  # noqa: E731
    assert mean(long) > mean(short)
    assert mean(long) > 0.75
