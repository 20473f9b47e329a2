"""``cfl sim serve`` and a whole campaign over SiLA 2, as a lab engineer would run them.

The end-to-end test runs the files of ``examples/snar_sila`` (on free ports): ``cfl sim serve``
serves the demo's simulators, and ``cfl run`` drives a four-experiment campaign whose every device
is on the wire (instruments ``driver: sila``, the robot ``driver: kapex`` with ``transport:
sila``); then ``cfl ledger verify`` checks the record (in-process: one start fewer). Every process
started here is stopped by its PID at teardown.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cfl.cli import app as cfl_app
from cfl.journal import Journal
from cfl.settings import Settings
from cfl.store import Store
from instruments.sila.cli import app
from robots.dataset.store import EpisodeStore
from tests.instruments.sila.conftest import free_port

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "snar_sila"
SPEED = "600"  # lab seconds per wall second: the campaign's ~40 lab minutes take a few seconds


def _copy_on_free_ports(folder: Path) -> Path:
    """The example's files in ``folder``, every ``127.0.0.1:PORT`` moved to a free port."""
    ports: dict[str, str] = {}

    def move(match: re.Match[str]) -> str:
        return f"127.0.0.1:{ports.setdefault(match.group(1), str(free_port()))}"

    for name in ("served_lab.yaml", "lab.yaml", "campaign.yaml"):
        text = re.sub(r"127\.0\.0\.1:(\d+)", move, (EXAMPLE / name).read_text())
        (folder / name).write_text(text)
    assert len(ports) == 4
    return folder


class Serving:
    """A ``cfl sim serve`` process and what it printed."""

    def __init__(self, lab: Path, folder: Path, *args: str) -> None:
        self.out = folder / "serve.out"
        self.err = folder / "serve.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cfl", "sim", "serve", str(lab), *args],
                cwd=folder,
                stdout=out,
                stderr=err,
                text=True,
            )

    def wait_for(self, pattern: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.out.read_text()
            if re.search(pattern, text):
                return text
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} from cfl sim serve:\n{text}\n{self.err.read_text()}")

    def stop(self) -> int:
        """SIGTERM by PID; killed if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


@pytest.fixture
def serve() -> Iterator[Callable[..., Serving]]:
    started: list[Serving] = []

    def start(lab: Path, folder: Path, *args: str) -> Serving:
        started.append(Serving(lab, folder, *args))
        return started[-1]

    yield start
    for serving in started:
        if serving.process.poll() is None:
            serving.process.kill()
            serving.process.wait()


def _cfl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cfl", *args],
        cwd=cwd,
        env=dict(os.environ),  # CFL_HOME: the test's own (tests/conftest.py)
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_campaign_runs_over_sila_against_cfl_sim_serve(
    tmp_path: Path, serve: Callable[..., Serving]
) -> None:
    folder = _copy_on_free_ports(tmp_path)
    serving = serve(folder / "served_lab.yaml", folder, "--speed", SPEED, "--seed", "7")
    printed = serving.wait_for(r"lab snar-sila-bench: 4 SiLA 2 servers")
    assert re.search(r"serving hplc-1 \(SimHPLC: Measures\) on 127\.0\.0\.1:\d+", printed)
    robot = r"serving kapex-1 \(KapexDriver: RobotLease, RobotEStop, RobotGoals\) on 127\.0\.0\.1"
    assert re.search(robot, printed)

    run = _cfl("run", str(folder / "campaign.yaml"), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Started campaign snar-sila-1" in run.stdout and "wall" in run.stdout
    assert "Finished: all 4 experiments designed and finished" in run.stdout

    store = Store.open(Settings().store_url)
    try:
        campaign = Journal.open(store, "snar-sila-1").campaign
        assert len(campaign.observations) == 4
        assert all(o.device == "hplc-1" for o in campaign.observations.values())
        assert all(0 < o.values["yield"] < 100 for o in campaign.observations.values())
    finally:
        store.close()

    verify = CliRunner().invoke(cfl_app, ["ledger", "verify", "snar-sila-1"])  # same store
    assert verify.exit_code == 0, verify.output
    assert "ledger OK: 1 campaign(s)" in verify.output

    episodes = EpisodeStore(Settings().home / "data" / "episodes")  # recorded by the client
    assert len(episodes) == 24
    assert {(e.robot_serial, e.robot_type, e.outcome) for e in episodes} == {
        ("KPX-SIM-0001", "kapex_sim", "succeeded")  # the served robot, as it reported itself
    }

    assert serving.stop() == 0
    printed = serving.out.read_text()
    # Every transfer went over the wire: 4 experiments x 3 moves (rack to reactor, reactor to
    # HPLC, HPLC to archive) x 2 goals (pick, place) = 24 goals, each accepted and ended once.
    assert "kapex-1: 24 goals over SiLA 2 (succeeded 24)" in printed
    assert printed.rstrip().endswith("stopped")


def test_a_lab_without_addresses_is_refused_with_the_fix() -> None:
    result = CliRunner().invoke(app, ["serve", str(REPO / "examples" / "snar" / "lab.yaml")])
    assert result.exit_code == 2
    assert "nothing to serve" in result.output and "address: 127.0.0.1:PORT" in result.output


def test_a_port_in_use_is_refused_naming_the_device_and_the_fix(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        lab = tmp_path / "lab.yaml"
        lab.write_text(
            "name: busy\nlocations: {rack: {supply: true}}\ndevices:\n"
            f"  hplc-1: {{driver: sim-hplc, role: hplc, address: '127.0.0.1:{port}'}}\n"
        )
        result = CliRunner().invoke(app, ["serve", str(lab)])
    assert result.exit_code == 2
    assert f"cannot serve hplc-1 on 127.0.0.1:{port}" in result.output
    assert "another address in the lab file" in result.output
