"""The command line around failing devices: a paused run, status, and a person's release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cfl.store import Store
from tests.conftest import demo_spec_data, write_spec


def _cfl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CFL_HOME": str(home / ".cfl"), "COLUMNS": "200"}
    env.pop("CFL_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "cfl", *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _spec(home: Path) -> Path:
    data: dict[str, Any] = demo_spec_data()
    data["lab"]["devices"]["hplc-1"]["faults"] = [
        {"kind": "timeout", "command": "measure", "times": 3}
    ]
    data.update(
        name="broken-hplc",
        budget={"experiments": 2},
        batch_size=2,
        initial_design=2,
        stop={},
        coscientist=None,
    )
    return write_spec(home, data)


def test_a_run_that_loses_every_hplc_pauses_and_a_person_releases_it(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    run = _cfl(tmp_path, "run", str(spec))
    assert run.returncode == 5, run.stdout + run.stderr
    assert "Paused: every device of role 'hplc' is quarantined" in run.stdout

    status = _cfl(tmp_path, "status", "broken-hplc-1")
    assert status.returncode == 0
    assert "paused:" in status.stdout
    row = next(line for line in status.stdout.splitlines() if "sim-hplc" in line)
    assert "quarantined" in row and "3 failed attempts in a row" in row

    wrong = _cfl(tmp_path, "devices", "release", "broken-hplc-1", "hplc-9", "--by", "ada")
    assert wrong.returncode == 2 and "no device 'hplc-9'" in wrong.stderr
    idle = _cfl(tmp_path, "devices", "release", "broken-hplc-1", "kapex-1", "--by", "ada")
    assert idle.returncode == 2 and "'kapex-1' is not quarantined" in idle.stderr

    release = _cfl(
        tmp_path,
        "devices",
        "release",
        "broken-hplc-1",
        "hplc-1",
        "--by",
        "ada",
        "--note",
        "air bubble purged",
    )
    assert release.returncode == 0, release.stderr
    assert "hplc-1 is back in service" in release.stdout
    store = Store.open(f"sqlite:///{tmp_path / '.cfl' / 'cfl.db'}")
    [record] = [r for r in store.records("broken-hplc-1") if r.type == "device.released"]
    assert record.actor == "human:ada"
    assert record.payload["note"] == "air bubble purged"

    again = _cfl(tmp_path, "run", str(spec))  # resumes; the fault plan restarts with the run
    assert "Resuming campaign broken-hplc-1" in again.stdout
    verify = _cfl(tmp_path, "ledger", "verify")
    assert verify.returncode == 0, verify.stderr
