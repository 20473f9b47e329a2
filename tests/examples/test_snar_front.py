"""The trade-off example (`examples/snar_front`): a campaign that maps the yield/E-factor front.

Run as a user would run it; its report must list exactly the Pareto-optimal experiments of its
own experiment table and the hypervolume of that front as the campaign went.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from cfl.pareto import pareto_mask
from tests.conftest import REPO
from tests.examples import run_cfl

SPEC = REPO / "examples" / "snar_front" / "campaign.yaml"


def test_the_front_example_maps_and_reports_the_pareto_front(tmp_path: Path) -> None:
    run = run_cfl(SPEC, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "all 24 experiments designed and finished" in run.stdout
    report = tmp_path / "reports" / "snar-front-1"
    with (report / "experiments.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["status"] == "done"]
    assert len(rows) == 24
    gains = [[float(r["yield"]), -float(r["e_factor"])] for r in rows]
    expected = sorted(r["id"] for r, on in zip(rows, pareto_mask(gains), strict=True) if on)
    summary = (report / "summary.md").read_text()
    assert "The planner mapped this front (plan_for: front)" in summary
    listed = re.findall(r"^\| (E\d{4}) \| [\d.]+ \| [\d.]+ \|", summary, flags=re.MULTILINE)
    assert sorted(listed) == expected and len(expected) >= 2
    progress = re.search(r"its range\): (.*) experiments\.", summary)
    assert progress is not None
    counts = [int(c) for c in re.findall(r"after (\d+)", progress.group(1))]
    assert counts == [6, 12, 18, 24]
