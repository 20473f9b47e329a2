"""``cfl dataset export`` and ``cfl dataset merge`` end to end, run as a user runs them.

Every CLI start costs seconds of imports, so the invocations of this module run once, two at a
time, in one fixture, and the tests read their results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from robots.dataset.lerobot import export
from robots.dataset.store import EpisodeStore
from robots.dataset.validate import validate
from tests.robots.dataset.factory import episode, lab_day

Result = subprocess.CompletedProcess[str]
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


@dataclass(frozen=True)
class Runs:
    work: Path
    home: Path
    results: dict[str, Result]


def _cli(args: list[str], home: Path, cwd: Path) -> Result:
    env = {k: v for k, v in os.environ.items() if k not in {"CFL_DATABASE_URL", "FORCE_COLOR"}}
    env.update(CFL_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "cfl", "dataset", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    work = tmp_path_factory.mktemp("cli")
    home = work / "cfl-home"
    store = EpisodeStore(home / "data" / "episodes")
    for e in lab_day():
        store.write(e)
    other = EpisodeStore(work / "elsewhere")
    for e in lab_day(site="site-b", serial="KPX-0002"):
        other.write(e)
    other.write(
        episode(
            "s1",
            site="site-b",
            robot_type="kapex_sim",
            is_sim=True,
            started_at="2026-03-02T08:00:00Z",
        )
    )
    export(lab_day(), work / "site-a")
    export(lab_day(site="site-b"), work / "site-b")
    export([episode("f1", fps=30.0)], work / "fast")
    jobs = {
        "export": ["export", "out/all"],
        "export-filtered": [
            "export",
            "out/b-sim",
            "--from",
            "elsewhere",
            "--site",
            "site-b",
            "--sim",
        ],
        "export-nothing": ["export", "out/none", "--team", "team-9"],
        "merge": ["merge", "out/national", "site-a", "site-b"],
        "merge-fps": ["merge", "out/mixed", "site-a", "fast"],
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_cli, args, home, work) for key, args in jobs.items()}
        results = {key: f.result() for key, f in futures.items()}
    return Runs(work, home, results)


def test_export_writes_cfl_home_episodes_as_a_valid_dataset(runs: Runs) -> None:
    result = runs.results["export"]

    assert result.returncode == 0, result.stderr
    assert "3 episode(s), 6 frame(s), 2 task(s) in 1 data file(s)" in result.stdout
    assert "1 goal(s) without frames kept in meta/kapex/frameless.parquet" in result.stdout
    out = runs.work / "out/all"
    assert validate(out) == []
    assert pq.read_table(out / EPISODES)["kapex/goal_id"].to_pylist() == ["g1", "g2", "g4"]


def test_export_filters_by_folder_site_and_simulation(runs: Runs) -> None:
    result = runs.results["export-filtered"]

    assert result.returncode == 0, result.stderr
    rows = pq.read_table(runs.work / "out/b-sim" / EPISODES).to_pylist()
    assert [(r["kapex/goal_id"], r["kapex/is_sim"], r["kapex/site"]) for r in rows] == [
        ("s1", True, "site-b")
    ]
    info = json.loads((runs.work / "out/b-sim/meta/info.json").read_text())
    assert info["robot_type"] == "kapex_sim"


def test_export_with_nothing_matching_is_bad_input(runs: Runs) -> None:
    result = runs.results["export-nothing"]

    assert result.returncode == 2
    assert "no stored episode in" in result.stderr and "team=team-9" in result.stderr
    assert not (runs.work / "out/none").exists()


def test_merge_pools_two_sites(runs: Runs) -> None:
    result = runs.results["merge"]

    assert result.returncode == 0, result.stderr
    assert "6 episode(s), 12 frame(s), 2 task(s)" in result.stdout
    sites = pq.read_table(runs.work / "out/national" / EPISODES)["kapex/site"].to_pylist()
    assert sites == ["site-a"] * 3 + ["site-b"] * 3


def test_merge_of_different_rates_is_bad_input_naming_them(runs: Runs) -> None:
    result = runs.results["merge-fps"]

    assert result.returncode == 2
    assert "fast is recorded at 30 fps" in result.stderr and "at 10 fps" in result.stderr
    assert not (runs.work / "out/mixed").exists()
