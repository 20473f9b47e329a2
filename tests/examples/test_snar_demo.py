"""The demo campaign, run exactly as `make demo` runs it, must reach its figure.

Figure: the true (noiseless) yield at the conditions CFL reports as best is at least 90 % of the
best yield attainable in the box, within the 40-experiment budget.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_SPEC
from tests.examples import cfl_env, run_cfl


def test_demo_campaign_reaches_ninety_percent_of_the_attainable_yield(tmp_path: Path) -> None:
    run = run_cfl(DEMO_SPEC, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Started campaign snar-yield-1" in run.stdout
    assert (tmp_path / "reports" / "snar-yield-1" / "summary.md").is_file()
    check = subprocess.run(
        [sys.executable, "-m", "benchmarks.demo_check"],
        cwd=tmp_path,
        env=cfl_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    match = re.search(
        r"after (\d+) experiments; true yield at those conditions ([\d.]+)% = "
        r"([\d.]+)% of the best attainable ([\d.]+)%",
        check.stdout,
    )
    assert match, check.stdout
    experiments, true_yield, ratio, attainable = (float(g) for g in match.groups())
    assert experiments <= 40
    assert abs(attainable - 91.72) < 0.05
    assert ratio >= 90.0
    assert abs(true_yield / attainable * 100 - ratio) < 0.1
