"""Crash safety: ``cfl run`` killed with SIGKILL at different phases, then run again.

A campaign of 16 experiments in batches of 4 is started as a subprocess; the test watches its
SQLite store read-only and kills the process (SIGKILL: no cleanup, no atexit) as soon as a kill
condition holds. Running the same spec again must resume the campaign, not start a new one, and
finish it with every experiment designed exactly once, observed exactly once, and the history
written before the kill unchanged.

The three kill points run at the same time, each with a CFL home of its own, to keep the wall time
down on a small machine.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cfl.journal import Journal
from cfl.ledger import verify_chain
from cfl.models import ExperimentStatus
from cfl.store import Store
from tests.conftest import demo_spec_data, write_spec

NAME = "snar-resume"
CAMPAIGN = f"{NAME}-1"
BUDGET = 16
POLL_S = 0.005
START_TIMEOUT_S = 180.0
RUN_TIMEOUT_S = 240.0
CLI_TIMEOUT_S = 120.0

Counts = Counter[str]


@dataclass(frozen=True)
class KillPoint:
    condition: Callable[[Counts], bool]
    description: str
    needs_running: bool
    """The kill must catch experiments mid-protocol (else the phase was missed)."""


KILL_POINTS: dict[str, KillPoint] = {
    "first-batch": KillPoint(
        lambda c: c["step.dispatched"] >= 1,
        ">= 1 step.dispatched: mid-first-batch",
        needs_running=True,
    ),
    "second-batch": KillPoint(
        lambda c: c["observation.recorded"] >= 5,
        ">= 5 observation.recorded: mid-second-batch",
        needs_running=True,
    ),
    "third-design": KillPoint(
        lambda c: c["experiment.designed"] >= 12,
        ">= 12 experiment.designed: the third batch just designed",
        needs_running=False,
    ),
}


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CFL_DATABASE_URL", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    env.update(CFL_HOME=str(home), MPLBACKEND="Agg", COLUMNS="200")
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cfl", *args]


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _counts(connection: sqlite3.Connection) -> Counts:
    rows = connection.execute("SELECT type, count(*) FROM record GROUP BY type").fetchall()
    return Counter({str(kind): int(n) for kind, n in rows})


def _read_only(db: Path) -> sqlite3.Connection | None:
    """A read-only connection once the store and its tables exist, else ``None``."""
    if not db.exists():
        return None
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        connection.execute("SELECT 1 FROM record LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        return None
    return connection


def _raw_records(db: Path) -> list[tuple[int, str, str, dict[str, Any]]]:
    """``(seq, type, hash, payload)`` of every record, in seq order."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT seq, type, hash, payload FROM record WHERE campaign_id = ? ORDER BY seq",
            (CAMPAIGN,),
        ).fetchall()
    finally:
        connection.close()
    return [(int(seq), str(kind), str(h), json.loads(p)) for seq, kind, h, p in rows]


@dataclass(frozen=True)
class Snapshot:
    """What the store held when the process was killed."""

    counts: Counts
    records: list[tuple[int, str, str, dict[str, Any]]]
    params: dict[str, dict[str, Any]]
    observed: dict[str, dict[str, float]]
    running: set[str]
    queued: set[str]


@dataclass(frozen=True)
class Outcome:
    db: Path
    before: Snapshot
    restart: subprocess.CompletedProcess[str]
    verify: subprocess.CompletedProcess[str]
    records: list[tuple[int, str, str, dict[str, Any]]]


def _start_and_kill(spec: Path, home: Path, point: KillPoint) -> None:
    """Run the spec and SIGKILL it as soon as ``point`` holds; fail if it never does."""
    db = home / "cfl.db"
    process = subprocess.Popen(
        _command("run", str(spec)),
        cwd=spec.parent,
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    connection: sqlite3.Connection | None = None
    counts: Counts = Counter()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if connection is None:
                connection = _read_only(db)
            if connection is not None:
                counts = _counts(connection)
                if point.condition(counts):
                    os.kill(process.pid, signal.SIGKILL)
                    break
            if process.poll() is not None:
                _, stderr = process.communicate()
                pytest.fail(
                    f"`cfl run` exited ({process.returncode}) before the kill point "
                    f"({point.description}) was reached; records by type: {dict(counts)}\n"
                    f"{stderr}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"kill point {point.description} not reached in {START_TIMEOUT_S} s")
            time.sleep(POLL_S)
        process.communicate(timeout=CLI_TIMEOUT_S)
        assert process.returncode == -signal.SIGKILL, (
            f"`cfl run` ended ({process.returncode}) before the SIGKILL landed"
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        if connection is not None:
            connection.close()


def _snapshot(db: Path) -> Snapshot:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        counts = _counts(connection)
    finally:
        connection.close()
    store = Store.open(f"sqlite:///{db}")
    try:
        assert [info.id for info in store.campaigns()] == [CAMPAIGN]
        campaign = Journal.open(store, CAMPAIGN).campaign
    finally:
        store.close()
    assert campaign.finished is None
    return Snapshot(
        counts=counts,
        records=_raw_records(db),
        params={eid: dict(e.params) for eid, e in campaign.experiments.items()},
        observed={eid: dict(o.values) for eid, o in campaign.observations.items()},
        running={e.id for e in campaign.with_status(ExperimentStatus.RUNNING)},
        queued={e.id for e in campaign.with_status(ExperimentStatus.QUEUED)},
    )


def _scenario(name: str, folder: Path) -> Outcome:
    data = demo_spec_data()
    data.update(
        name=NAME,
        budget={"experiments": BUDGET},
        batch_size=4,
        initial_design=4,
        stop={},
        coscientist="offline",
    )
    spec = write_spec(folder, data)
    home = folder / "home"
    _start_and_kill(spec, home, KILL_POINTS[name])
    before = _snapshot(home / "cfl.db")
    restart = subprocess.run(
        _command("run", str(spec)),
        cwd=folder,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    verify = subprocess.run(
        _command("ledger", "verify"),
        cwd=folder,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    db = home / "cfl.db"
    return Outcome(db, before, restart, verify, _raw_records(db))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Outcome]]]:
    """Every kill scenario, run side by side; each test waits for its own."""
    with ThreadPoolExecutor(max_workers=len(KILL_POINTS)) as pool:
        yield {
            name: pool.submit(_scenario, name, tmp_path_factory.mktemp(f"resume-{name}"))
            for name in KILL_POINTS
        }


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_sigkilled_run_resumes_to_the_same_campaign(
    kill_point: str, outcomes: dict[str, Future[Outcome]]
) -> None:
    outcome = outcomes[kill_point].result()
    before, restart = outcome.before, outcome.restart
    print(
        f"\n{kill_point}: killed with {len(before.records)} records {dict(before.counts)}; "
        f"{len(before.observed)} observed, running {sorted(before.running)}, "
        f"queued {sorted(before.queued)}"
    )
    assert KILL_POINTS[kill_point].condition(before.counts)
    if KILL_POINTS[kill_point].needs_running:
        assert before.running, f"killed too late: no experiment was mid-protocol ({kill_point})"

    # the restart picked the killed campaign up and finished it
    assert restart.returncode == 0, _explain(restart)
    out = " ".join(restart.stdout.split())
    resuming = f"Resuming campaign {CAMPAIGN} ({len(before.observed)}/{BUDGET} experiments done)"
    assert resuming in out, _explain(restart)
    assert f"Finished: all {BUDGET} experiments designed and finished." in out

    store = Store.open(f"sqlite:///{outcome.db}")
    try:
        assert [info.id for info in store.campaigns()] == [CAMPAIGN], "a second campaign began"
        info = store.campaign(CAMPAIGN)
        records = store.records(CAMPAIGN)
        campaign = Journal.open(store, CAMPAIGN).campaign
    finally:
        store.close()
    assert verify_chain(records, campaign=CAMPAIGN, head=(info.head_seq, info.head_hash)) == len(
        outcome.records
    )
    assert outcome.verify.returncode == 0, _explain(outcome.verify)
    verified = f"ledger OK: 1 campaign(s), {len(outcome.records)} records verified."
    assert verified in outcome.verify.stdout, _explain(outcome.verify)

    # history before the kill is untouched: same records, same hashes, in the same places
    assert [r[:3] for r in outcome.records[: len(before.records)]] == [
        r[:3] for r in before.records
    ]

    # 16 experiments, each designed once, observed once, all done
    assert campaign.finished is not None and campaign.finished.reason == "budget"
    ids = [f"E{i:04d}" for i in range(1, BUDGET + 1)]
    assert list(campaign.experiments) == ids
    assert {e.status for e in campaign.experiments.values()} == {ExperimentStatus.DONE}
    designed = Counter(
        p["experiment"]["id"] for _, kind, _, p in outcome.records if kind == "experiment.designed"
    )
    assert designed == Counter(ids), "an experiment was designed twice or not at all"
    observed = Counter(
        p["observation"]["experiment"]
        for _, kind, _, p in outcome.records
        if kind == "observation.recorded"
    )
    assert observed == Counter(ids), "an experiment was observed twice or not at all"

    # what existed before the kill is unchanged
    for eid, params in before.params.items():
        assert campaign.experiments[eid].params == params, eid
    for eid, values in before.observed.items():
        assert campaign.observations[eid].values == values, eid

    # experiments cut off mid-protocol were requeued as attempt 2, and only those
    after_kill = outcome.records[len(before.records) :]
    requeued = {
        p["experiment"]: p["attempt"]
        for _, kind, _, p in after_kill
        if kind == "experiment.requeued"
    }
    assert requeued == {eid: 2 for eid in before.running}
    assert [kind for _, kind, _, _ in outcome.records].count("experiment.requeued") == len(
        before.running
    )
    resumed = [p for _, kind, _, p in outcome.records if kind == "campaign.resumed"]
    assert len(resumed) == 1
    assert sorted(resumed[0]["requeued"]) == sorted(before.running)
    for eid, experiment in campaign.experiments.items():
        assert experiment.attempt == (2 if eid in before.running else 1), eid
    restarted = {
        (p["experiment"], p["attempt"])
        for _, kind, _, p in after_kill
        if kind == "experiment.started"
    }
    assert {(eid, 2) for eid in before.running} <= restarted
    assert {(eid, 1) for eid in before.queued} <= restarted
