"""End-to-end tests of the ``cfl`` command line, run as a subprocess like a researcher runs it.

Every CLI start costs a few seconds of imports on a small machine, so independent invocations run
two at a time (:func:`_cli_many`), and the one good campaign most tests read is started in the
background when the module starts (:func:`_good_run_process`) and copied for the tests that change
the store.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cfl.journal import Journal
from cfl.spec import load_spec
from cfl.store import Store
from tests.conftest import demo_spec_data, write_spec

NAME = "snar-small"
CAMPAIGN = f"{NAME}-1"
PARAMETERS = ("residence_time", "equivalents", "concentration", "temperature")
DEVICES = ("reactor-1", "reactor-2", "hplc-1", "kapex-1")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WORKERS = 2  # CLI processes at once: one per core
RUN_TIMEOUT_S = 240.0
CLI_TIMEOUT_S = 120.0

Result = subprocess.CompletedProcess[str]


# -- helpers --------------------------------------------------------------------------------------


def _env(home: Path, *, columns: int = 200) -> dict[str, str]:
    """The caller's environment with its own CFL home and no configured database or colours."""
    env = dict(os.environ)
    for name in ("CFL_DATABASE_URL", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    env.update(CFL_HOME=str(home), MPLBACKEND="Agg", COLUMNS=str(columns))
    return env


@dataclass(frozen=True)
class Job:
    """One ``python -m cfl ...`` invocation."""

    args: tuple[str, ...]
    cwd: Path
    home: Path
    columns: int = 200
    timeout_s: float = CLI_TIMEOUT_S


def _cli(job: Job) -> Result:
    job.cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "cfl", *job.args],
        cwd=job.cwd,
        env=_env(job.home, columns=job.columns),
        capture_output=True,
        text=True,
        timeout=job.timeout_s,
        check=False,
    )


def _cli_many(jobs: dict[str, Job]) -> dict[str, Result]:
    """Run independent invocations, :data:`WORKERS` at a time; results by key."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {key: pool.submit(_cli, job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


def _flat(text: str) -> str:
    """Text with every run of whitespace made one space (rich wraps long lines)."""
    return " ".join(text.split())


def _explain(result: Result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _db(home: Path) -> Path:
    return home / "cfl.db"


def _url(db: Path) -> str:
    return f"sqlite:///{db}"


def _campaign_ids(db: Path) -> list[str]:
    """Campaign ids in the store at ``db``; none if the file was never created."""
    if not db.exists():
        return []
    store = Store.open(_url(db))
    try:
        return sorted(info.id for info in store.campaigns())
    finally:
        store.close()


def _copy_db(db: Path, home: Path) -> Path:
    """A consistent copy of the store (WAL included) as ``home``'s store."""
    home.mkdir(parents=True, exist_ok=True)
    target = _db(home)
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target


def _sql(db: Path, statement: str, *args: object) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(db)
    try:
        with connection:
            return connection.execute(statement, args).fetchall()
    finally:
        connection.close()


def _small_spec_data() -> dict[str, Any]:
    data = demo_spec_data()
    data.update(name=NAME, budget={"experiments": 8}, batch_size=4, initial_design=4, stop={})
    return data


# -- 1. bad input ---------------------------------------------------------------------------------


def _parameter(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in data["space"]["parameters"] if p["name"] == name)


def _rename(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def _top_level_typo(data: dict[str, Any]) -> None:
    _rename(data, "budget", "budgett")


def _parameter_typo(data: dict[str, Any]) -> None:
    _rename(_parameter(data, "temperature"), "high", "hihg")


def _wrong_type(data: dict[str, Any]) -> None:
    _parameter(data, "temperature")["low"] = "hot"


def _reversed_bounds(data: dict[str, Any]) -> None:
    _parameter(data, "temperature").update(low=120, high=30)


def _unknown_driver(data: dict[str, Any]) -> None:
    data["lab"]["devices"]["hplc-1"]["driver"] = "sim-hplcx"


def _unknown_role(data: dict[str, Any]) -> None:
    measure = next(i for i, s in enumerate(data["protocol"]) if s["command"] == "measure")
    data["protocol"][measure]["role"] = "spectrometer"


def _unmeasured_objective(data: dict[str, Any]) -> None:
    data["objectives"][0]["name"] = "purity"


def _spec_with(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        data = _small_spec_data()
        change(data)
        return write_spec(folder, data)

    return write


def _missing_file(folder: Path) -> Path:
    return folder / "no-such-spec.yaml"


def _yaml_syntax_error(folder: Path) -> Path:
    path = write_spec(folder, _small_spec_data())
    text = path.read_text()
    assert "planner: cfl-gp\n" in text
    path.write_text(text.replace("planner: cfl-gp\n", "planner: [cfl-gp\n"))
    return path


@dataclass(frozen=True)
class BadCase:
    write: Callable[[Path], Path]
    expected: tuple[str, ...]
    """Fragments the error message must contain (compared with whitespace collapsed)."""


BAD_CASES: dict[str, BadCase] = {
    "unknown-top-level-field": BadCase(
        _spec_with(_top_level_typo),
        ("budgett", "unknown field 'budgett'", "did you mean 'budget'?"),
    ),
    "unknown-parameter-field": BadCase(
        _spec_with(_parameter_typo),
        ("space.parameters[3].hihg", "unknown field 'hihg'", "did you mean 'high'?"),
    ),
    "wrong-type": BadCase(
        _spec_with(_wrong_type),
        ("space.parameters[3].low", "valid number", "got 'hot'", "fix the value"),
    ),
    "reversed-bounds": BadCase(
        _spec_with(_reversed_bounds),
        ("space.parameters[3]", "low must be less than high", "swap the bounds"),
    ),
    "unknown-driver": BadCase(
        _spec_with(_unknown_driver),
        (
            "lab.devices.hplc-1.driver",
            "'sim-hplcx'",
            "'sim-flow-reactor', 'sim-hplc', 'sim-kapex'",
            "Fix the name",
        ),
    ),
    "protocol-role-without-device": BadCase(
        _spec_with(_unknown_role),
        (
            "protocol[12].role",
            "no device in the lab has role 'spectrometer'",
            "roles: ['hplc', 'reactor', 'robot']",
            "Add a device with that role",
        ),
    ),
    "objective-nobody-measures": BadCase(
        _spec_with(_unmeasured_objective),
        (
            "objectives:",
            "['purity']",
            "not measured",
            "'yield'",
            "fix the objective name or add an instrument that measures it",
        ),
    ),
    "missing-spec-file": BadCase(
        _missing_file, ("cannot read", "no-such-spec.yaml", "No such file", "check the path")
    ),
    "yaml-syntax-error": BadCase(
        _yaml_syntax_error, ("campaign.yaml is not valid YAML", "flow sequence", "line ")
    ),
}


@dataclass(frozen=True)
class BadRun:
    home: Path
    result: Result


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BadRun]:
    """``cfl run`` on every bad spec, each with a CFL home of its own."""
    jobs: dict[str, Job] = {}
    for key, case in BAD_CASES.items():
        folder = tmp_path_factory.mktemp(f"bad-{key}")
        jobs[key] = Job(("run", str(case.write(folder))), cwd=folder, home=folder / "home")
    results = _cli_many(jobs)
    return {key: BadRun(jobs[key].home, results[key]) for key in jobs}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_spec_exits_2_naming_the_field_and_writes_nothing(
    case: str, bad_runs: dict[str, BadRun]
) -> None:
    run = bad_runs[case]
    assert run.result.returncode == 2, _explain(run.result)
    message = _flat(run.result.stderr)
    assert message.startswith("error:"), _explain(run.result)
    for fragment in BAD_CASES[case].expected:
        assert fragment in message, f"{fragment!r} not in the error message:\n{run.result.stderr}"
    assert "Traceback" not in run.result.stderr
    assert "Started campaign" not in run.result.stdout
    assert _campaign_ids(_db(run.home)) == [], "a bad spec wrote a campaign to the store"


def test_yaml_error_is_printed_verbatim(bad_runs: dict[str, BadRun]) -> None:
    stderr = bad_runs["yaml-syntax-error"].result.stderr
    assert "planner: [cfl-gp" in stderr
    assert "expected ',' or ']'" in stderr


# -- 2. a good run and everything that reads it ---------------------------------------------------


@dataclass(frozen=True)
class GoodRun:
    folder: Path
    home: Path
    spec: Path
    result: Result

    @property
    def db(self) -> Path:
        return _db(self.home)


@pytest.fixture(scope="module", autouse=True)
def _good_run_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Path, subprocess.Popen[str]]]:
    """Start ``cfl run SPEC --report`` when the module starts; the bad-spec tests run meanwhile."""
    folder = tmp_path_factory.mktemp("good")
    spec = write_spec(folder, _small_spec_data())
    process = subprocess.Popen(
        [sys.executable, "-m", "cfl", "run", str(spec), "--report"],
        cwd=folder,
        env=_env(folder / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield folder, spec, process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def good(_good_run_process: tuple[Path, Path, subprocess.Popen[str]]) -> GoodRun:
    folder, spec, process = _good_run_process
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return GoodRun(folder=folder, home=folder / "home", spec=spec, result=result)


@pytest.fixture(scope="module")
def after_good(good: GoodRun) -> dict[str, Result]:
    """The read-only commands, on the good run's store; ``report`` from a folder of its own."""
    jobs = {
        "status": Job(("status",), cwd=good.folder, home=good.home),
        "status-one": Job(("status", CAMPAIGN), cwd=good.folder, home=good.home),
        "report": Job(("report", CAMPAIGN), cwd=good.folder / "report-cwd", home=good.home),
        "verify": Job(("ledger", "verify"), cwd=good.folder, home=good.home),
        "status-unknown": Job(("status", "nope"), cwd=good.folder, home=good.home),
        "report-unknown": Job(("report", "nope"), cwd=good.folder, home=good.home),
        "status-80-columns": Job(("status",), cwd=good.folder, home=good.home, columns=80),
    }
    return _cli_many(jobs)


def test_run_finishes_and_writes_its_report(good: GoodRun) -> None:
    assert good.result.returncode == 0, _explain(good.result)
    out = _flat(good.result.stdout)
    assert f"Started campaign {CAMPAIGN} (0/8 experiments done)" in out
    assert "Finished: all 8 experiments designed and finished." in out
    assert f"Report: reports/{CAMPAIGN}/summary.md" in out
    assert "Traceback" not in good.result.stderr
    assert "error" not in good.result.stderr.lower()
    assert _campaign_ids(good.db) == [CAMPAIGN]
    folder = good.folder / "reports" / CAMPAIGN
    assert sorted(p.name for p in folder.iterdir()) == [
        "convergence.png",
        "experiments.csv",
        "summary.md",
    ]
    assert (folder / "convergence.png").read_bytes().startswith(PNG_MAGIC)


def test_status_lists_the_campaign(good: GoodRun, after_good: dict[str, Result]) -> None:
    result = after_good["status"]
    assert result.returncode == 0, _explain(result)
    row = next((line for line in result.stdout.splitlines() if CAMPAIGN in line), None)
    assert row is not None, _explain(result)
    assert "budget" in row  # finished, and why
    assert "8/8" in row


def test_status_shows_the_whole_campaign_id_at_80_columns(after_good: dict[str, Result]) -> None:
    result = after_good["status-80-columns"]
    assert result.returncode == 0, _explain(result)
    assert CAMPAIGN in result.stdout, result.stdout


def test_status_of_one_campaign_shows_idle_devices(after_good: dict[str, Result]) -> None:
    result = after_good["status-one"]
    assert result.returncode == 0, _explain(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{CAMPAIGN}  finished: all 8 experiments designed and finished")
    assert "8 done (budget 8)" in _flat(result.stdout)
    for device in DEVICES:
        line = next((x for x in lines if re.search(rf"\b{re.escape(device)}\b", x)), None)
        assert line is not None, f"device {device} not shown:\n{result.stdout}"
        assert "idle" in line, line


def test_report_writes_plot_table_and_summary(good: GoodRun, after_good: dict[str, Result]) -> None:
    result = after_good["report"]
    assert result.returncode == 0, _explain(result)
    folder = good.folder / "report-cwd" / "reports" / CAMPAIGN
    for name in ("summary.md", "experiments.csv", "convergence.png"):
        assert f"wrote reports/{CAMPAIGN}/{name}" in result.stdout

    png = (folder / "convergence.png").read_bytes()
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 5_000

    with (folder / "experiments.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        rows = list(reader)
    assert set(PARAMETERS) | {"yield", "id", "status"} <= set(header), header
    assert len(rows) == 8
    assert [r["id"] for r in rows] == [f"E{i:04d}" for i in range(1, 9)]
    assert {r["status"] for r in rows} == {"done"}
    assert all(0.0 <= float(r["yield"]) <= 100.0 for r in rows)

    store = Store.open(_url(good.db))
    try:
        head_hash = store.campaign(CAMPAIGN).head_hash
    finally:
        store.close()
    summary = (folder / "summary.md").read_text()
    assert summary.startswith(f"# Campaign {CAMPAIGN}")
    assert "## Best result" in summary
    assert "## Hypotheses" in summary
    assert f"head `{head_hash}`" in summary
    # the report written by `run --report` quotes the same head
    assert f"head `{head_hash}`" in (good.folder / "reports" / CAMPAIGN / "summary.md").read_text()


def test_ledger_verify_counts_every_record(good: GoodRun, after_good: dict[str, Result]) -> None:
    result = after_good["verify"]
    assert result.returncode == 0, _explain(result)
    [(rows,)] = _sql(good.db, "SELECT count(*) FROM record")
    assert rows > 8 * 10  # designed, started, steps, observation per experiment at least
    assert f"ledger OK: 1 campaign(s), {rows} records verified." in _flat(result.stdout)


# -- 3. running a finished spec again, and --new --------------------------------------------------


@pytest.fixture(scope="module")
def reruns(good: GoodRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """On copies of the good store: ``run`` the finished spec again, and ``run --new`` while an
    unfinished campaign of the same spec exists (created here, in-process)."""
    assert good.result.returncode == 0, _explain(good.result)
    again = tmp_path_factory.mktemp("again")
    new = tmp_path_factory.mktemp("new")
    _copy_db(good.db, again / "home")
    _copy_db(good.db, new / "home")
    spec = load_spec(good.spec)
    store = Store.open(_url(_db(new / "home")))
    try:
        unfinished = Journal.create(store, spec, actor="human:test").campaign.id
        would_resume = Journal.find_unfinished(store, spec)
    finally:
        store.close()
    results = _cli_many(
        {
            "again": Job(
                ("run", str(good.spec)), cwd=again, home=again / "home", timeout_s=RUN_TIMEOUT_S
            ),
            "new": Job(
                ("run", str(good.spec), "--new"),
                cwd=new,
                home=new / "home",
                timeout_s=RUN_TIMEOUT_S,
            ),
        }
    )
    return {
        "again": (again / "home", results["again"]),
        "new": (new / "home", results["new"]),
        "unfinished": unfinished,
        "would_resume": would_resume,
    }


def _info(db: Path, campaign_id: str) -> tuple[bool, int]:
    """(finished, head_seq) of a campaign, from the store."""
    store = Store.open(_url(db))
    try:
        info = store.campaign(campaign_id)
        return info.finished, info.head_seq
    finally:
        store.close()


def test_running_a_finished_spec_again_starts_a_new_campaign(
    good: GoodRun, reruns: dict[str, Any]
) -> None:
    home, result = reruns["again"]
    assert result.returncode == 0, _explain(result)
    out = _flat(result.stdout)
    assert f"Started campaign {NAME}-2 (0/8 experiments done)" in out
    assert "Resuming" not in out
    assert _campaign_ids(_db(home)) == [CAMPAIGN, f"{NAME}-2"]
    assert _info(_db(home), CAMPAIGN) == _info(good.db, CAMPAIGN)  # the finished one untouched
    finished, _ = _info(_db(home), f"{NAME}-2")
    assert finished


def test_new_flag_starts_a_new_campaign_beside_an_unfinished_one(
    reruns: dict[str, Any],
) -> None:
    assert reruns["unfinished"] == f"{NAME}-2"
    assert reruns["would_resume"] == f"{NAME}-2"  # without --new, this one would be resumed
    home, result = reruns["new"]
    assert result.returncode == 0, _explain(result)
    out = _flat(result.stdout)
    assert f"Started campaign {NAME}-3 (0/8 experiments done)" in out
    assert "Resuming" not in out
    assert _campaign_ids(_db(home)) == [CAMPAIGN, f"{NAME}-2", f"{NAME}-3"]
    assert _info(_db(home), f"{NAME}-2") == (False, 1)  # left as it was: created, nothing else
    assert _info(_db(home), f"{NAME}-3")[0]


# -- 4. unknown campaign --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "report"])
def test_unknown_campaign_exits_4(command: str, after_good: dict[str, Result]) -> None:
    result = after_good[f"{command}-unknown"]
    assert result.returncode == 4, _explain(result)
    message = _flat(result.stderr)
    assert "no campaign 'nope'" in message
    assert f"known campaigns: ['{CAMPAIGN}']" in message


# -- 5. tampering ---------------------------------------------------------------------------------


def _edit_observation(db: Path) -> int:
    seq, payload = _sql(
        db,
        "SELECT seq, payload FROM record WHERE type = 'observation.recorded' ORDER BY seq LIMIT 1",
    )[0]
    at = payload.rindex('"yield":') + len('"yield":')
    digit = payload[at]
    assert digit.isdigit(), payload
    edited = payload[:at] + str((int(digit) + 1) % 10) + payload[at + 1 :]
    _sql(db, "UPDATE record SET payload = ? WHERE seq = ?", edited, seq)
    return int(seq)


def _head(db: Path) -> int:
    [(head,)] = _sql(db, "SELECT max(seq) FROM record")
    return int(head)


def _delete_middle(db: Path) -> int:
    seq = _head(db) // 2
    _sql(db, "DELETE FROM record WHERE seq = ?", seq)
    return seq


def _swap(db: Path) -> int:
    first, second = 20, 40
    _sql(db, "UPDATE record SET seq = -1 WHERE seq = ?", first)
    _sql(db, "UPDATE record SET seq = ? WHERE seq = ?", first, second)
    _sql(db, "UPDATE record SET seq = ? WHERE seq = -1", second)
    return first


def _delete_last(db: Path) -> int:
    seq = _head(db)
    _sql(db, "DELETE FROM record WHERE seq = ?", seq)
    return seq


TAMPERS: dict[str, tuple[Callable[[Path], int], str]] = {
    "edited": (_edit_observation, "edited"),
    "removed": (_delete_middle, "removed"),
    "reordered": (_swap, "reordered"),
    "cut": (_delete_last, "cut"),
}


STATUS_TAMPERS = ("edited", "cut")
"""Loading is the same verification for every kind; two kinds keep the CLI starts down."""


@dataclass(frozen=True)
class Tampered:
    seq: int
    """The record tampered with (for a deletion in the middle: the seq now missing)."""
    verify: Result
    status: Result | None
    """``cfl status`` on the tampered store, for the kinds in :data:`STATUS_TAMPERS`."""


@pytest.fixture(scope="module")
def tampered(good: GoodRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Tampered]:
    """Each tampering on a fresh copy of the good store; then `ledger verify` and `status`."""
    assert good.result.returncode == 0, _explain(good.result)
    seqs: dict[str, int] = {}
    jobs: dict[str, Job] = {}
    for kind, (tamper, _) in TAMPERS.items():
        folder = tmp_path_factory.mktemp(f"tampered-{kind}")
        seqs[kind] = tamper(_copy_db(good.db, folder / "home"))
        jobs[f"{kind}/verify"] = Job(("ledger", "verify"), cwd=folder, home=folder / "home")
        if kind in STATUS_TAMPERS:
            jobs[f"{kind}/status"] = Job(("status", CAMPAIGN), cwd=folder, home=folder / "home")
    results = _cli_many(jobs)
    return {
        kind: Tampered(seqs[kind], results[f"{kind}/verify"], results.get(f"{kind}/status"))
        for kind in TAMPERS
    }


@pytest.mark.parametrize("kind", list(TAMPERS))
def test_tampered_ledger_fails_verify_naming_the_record(
    kind: str, tampered: dict[str, Tampered]
) -> None:
    case = tampered[kind]
    assert case.verify.returncode == 3, _explain(case.verify)
    message = _flat(case.verify.stderr)
    assert re.search(rf"#{case.seq}\b", message), message
    if kind != "cut":  # a cut names where the chain ends first, then the head it should reach
        first_number = re.search(r"#(\d+)", message)
        assert first_number is not None, message
        assert int(first_number.group(1)) == case.seq, message
    assert f"campaign {CAMPAIGN}" in message
    assert "ledger OK" not in case.verify.stdout


@pytest.mark.parametrize("kind", TAMPERS)
def test_tampered_ledger_names_the_kind_of_problem(
    kind: str, tampered: dict[str, Tampered]
) -> None:
    case = tampered[kind]
    assert case.verify.returncode == 3, _explain(case.verify)
    assert TAMPERS[kind][1] in _flat(case.verify.stderr), case.verify.stderr


@pytest.mark.parametrize("kind", STATUS_TAMPERS)
def test_status_refuses_a_tampered_campaign(kind: str, tampered: dict[str, Tampered]) -> None:
    case = tampered[kind]
    assert case.status is not None
    assert case.status.returncode == 3, _explain(case.status)
    assert re.search(rf"#{case.seq}\b", _flat(case.status.stderr)), case.status.stderr
    assert "Devices" not in case.status.stdout


def test_tampering_was_done_on_copies(good: GoodRun, tampered: dict[str, Tampered]) -> None:
    """The original store still verifies: every tampering had a copy of its own."""
    store = Store.open(_url(good.db))
    try:
        journal = Journal.open(store, CAMPAIGN)
    finally:
        store.close()
    assert journal.campaign.finished is not None
    assert set(tampered) == set(TAMPERS)
