"""The store, and the journal and settings where they touch it, on SQLite and on PostgreSQL.

Tests taking ``store_url`` or ``db`` run once per backend: against an SQLite file in the test's
folder and against a fresh database on a private PostgreSQL server (see ``tests/postgres.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import JsonValue
from sqlalchemy import delete, insert, inspect, text, update
from sqlalchemy.engine import make_url

import cfl.store
from cfl.canonical import canonical_json
from cfl.errors import CFLError, LedgerTampered, NotFound, SpecError
from cfl.events import (
    CampaignFinished,
    ExperimentDesigned,
    ExperimentFailed,
    ExperimentStarted,
    ObservationRecorded,
    RoundCompleted,
    StepCompleted,
    StepDispatched,
)
from cfl.journal import Journal, load_campaign, spec_hash
from cfl.ledger import GENESIS, Record, seal, verify_chain
from cfl.models import Experiment, ExperimentStatus, Observation
from cfl.runner import open_or_create, run_campaign
from cfl.settings import Settings
from cfl.spec import CampaignSpec, load_spec
from cfl.store import CampaignInfo, ConcurrentWriter, RecordRow, Store
from tests.conftest import REPO, demo_spec_data, write_spec
from tests.postgres import PostgresServer, free_port

BACKENDS = ["sqlite", "postgresql"]
SPEC_HASH = "5" * 64

# Unicode in and out of the BMP, escapes, a NUL (JSON escapes it, so even PostgreSQL's text,
# which cannot hold NUL, keeps it), and floats whose shortest repr must survive unchanged.
AWKWARD_PAYLOAD: dict[str, JsonValue] = {
    "text": "Müller – 2,4-difluoronitrobenzène → 反応 🧪",
    "quoted": 'say "hi"\\ and\nnewline\ttab',
    "nul": "a\x00b",
    "tenth": 0.1,
    "tiny": 1e-07,
    "third": 1 / 3,
    "huge": 1.7976931348623157e308,
    "negative_zero": -0.0,
    "one_float": 1.0,
    "big_int": 12345678901234567890,
    "nested": {"z": [1, 2.5, None, True, False], "a": {}, "": []},
}


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's URL: an SQLite file here, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(store_url: str) -> Iterator[Store]:
    """The store at ``store_url``, open."""
    store = Store.open(store_url)
    yield store
    store.close()


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> CampaignSpec:
    """``small_spec`` from tests/conftest.py, loaded once for the module (specs are frozen)."""
    data = demo_spec_data()
    data.update(name="snar-small", budget={"experiments": 8}, initial_design=4, stop={})
    return load_spec(write_spec(tmp_path_factory.mktemp("spec"), data))


@pytest.fixture
def store_now(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the time the store stamps on rows: ``store_now(moment)`` until changed."""
    current: list[datetime] = []

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return current[0]

    monkeypatch.setattr(cfl.store, "datetime", FrozenDatetime)

    def set_now(moment: datetime) -> None:
        current[:] = [moment]

    return set_now


def chain(
    campaign: str,
    payloads: Sequence[dict[str, JsonValue]],
    *,
    after: Record | None = None,
    actor: str = "cfl",
) -> list[Record]:
    """Records sealed in a chain, continuing from ``after`` (or starting the campaign)."""
    seq, prev = (after.seq, after.hash) if after is not None else (0, GENESIS)
    records = []
    for payload in payloads:
        seq += 1
        record = seal(
            campaign=campaign, seq=seq, type="test.event", actor=actor, payload=payload, prev=prev
        )
        records.append(record)
        prev = record.hash
    return records


def create(
    store: Store, campaign: str, *, name: str = "demo", payload: dict[str, JsonValue] | None = None
) -> Record:
    """Create ``campaign`` with one record and return that record."""
    first = chain(campaign, [payload if payload is not None else {"n": 0}])[0]
    store.create_campaign(name=name, spec_hash=SPEC_HASH, first=first)
    return first


def raw_payloads(store: Store, campaign: str) -> list[str]:
    """The ``record.payload`` column text, as stored, in ``seq`` order."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT payload FROM record WHERE campaign_id = :c ORDER BY seq"), {"c": campaign}
        )
        return [row[0] for row in rows]


POINT = {"residence_time": 1.25, "equivalents": 2.5, "concentration": 0.1, "temperature": 95.5}


def experiment(spec: CampaignSpec, index: int) -> Experiment:
    return Experiment(
        id=f"E{index:04d}",
        index=index,
        round=1,
        params=spec.space.coerce(POINT),
        protocol=spec.protocol,
        source="initial",
    )


# -- opening ------------------------------------------------------------------------------------


def test_open_creates_tables_and_a_second_open_sees_the_same_data(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        schema = inspect(store.engine)
        assert {"campaign", "record", "tree_head", "ledger_key"} <= set(schema.get_table_names())
        assert {c["name"] for c in schema.get_columns("record")} == {
            "campaign_id",
            "seq",
            "type",
            "ts",
            "actor",
            "payload",
            "prev",
            "hash",
            "v",
            "meta",
            "sig",
        }
        assert schema.get_pk_constraint("record")["constrained_columns"] == ["campaign_id", "seq"]
        assert schema.get_pk_constraint("campaign")["constrained_columns"] == ["id"]
        assert store.campaigns() == []
        first = create(store, "c-1")
        rest = chain("c-1", [{"n": 1}, {"n": 2}], after=first)
        store.append(rest)
        info = store.campaign("c-1")
    finally:
        store.close()

    again = Store.open(store_url)  # create_all on existing tables must keep the data
    try:
        assert again.campaigns() == [info]
        assert again.campaign("c-1") == info
        assert again.records("c-1") == [first, *rest]
        assert (info.head_seq, info.head_hash) == (3, rest[-1].hash)
    finally:
        again.close()


def test_open_sqlite_relative_path_creates_its_folder_and_uses_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store.open("sqlite:///nested/dir/cfl.db")
    try:
        create(store, "c-1")
        assert (tmp_path / "nested" / "dir" / "cfl.db").is_file()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"], ids=str)
def test_open_postgresql_connects_with_psycopg3(postgres_url: str, scheme: str) -> None:
    url = make_url(postgres_url).set(drivername=scheme).render_as_string(hide_password=False)
    store = Store.open(url)
    try:
        assert store.engine.dialect.name == "postgresql"
        assert store.engine.dialect.driver == "psycopg"
        with store.engine.connect() as conn:
            assert isinstance(conn.connection.dbapi_connection, psycopg.Connection)
        create(store, "c-1")
        assert [c.id for c in store.campaigns()] == ["c-1"]
    finally:
        store.close()


@pytest.mark.parametrize(
    "scheme",
    [
        "postgresql",
        "postgresql+psycopg",
    ],
    ids=str,
)
def test_open_postgresql_names_the_psycopg_driver_in_the_engine_url(
    postgres_url: str, scheme: str
) -> None:
    url = make_url(postgres_url).set(drivername=scheme).render_as_string(hide_password=False)
    store = Store.open(url)
    try:
        assert store.engine.url.drivername == "postgresql+psycopg"
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://x/y", "oracle://scott@db.example/orcl", "postgres://u@localhost/cfl"],
)
def test_open_rejects_malformed_and_unsupported_urls_naming_them(url: str) -> None:
    with pytest.raises(SpecError) as caught:
        Store.open(url)
    assert repr(url) in str(caught.value)


@pytest.mark.parametrize("driver", ["pg8000", "psycopg2", "asyncpg"])
def test_open_rejects_an_unsupported_postgresql_driver_with_spec_error(driver: str) -> None:
    url = f"postgresql+{driver}://cfl@127.0.0.1:{free_port()}/cfl"
    with pytest.raises(SpecError, match=f"unsupported PostgreSQL driver '{driver}'"):
        Store.open(url)


def test_open_unreachable_postgresql_raises_cfl_error_without_the_password() -> None:
    url = f"postgresql://cfl:s3cret-pw@127.0.0.1:{free_port()}/cfl"
    with pytest.raises(CFLError, match="cannot open the store") as caught:
        Store.open(url)
    assert not isinstance(caught.value, SpecError)
    assert "s3cret-pw" not in str(caught.value)


def test_open_missing_postgresql_database_raises_cfl_error_naming_it(
    postgres_server: PostgresServer,
) -> None:
    with pytest.raises(CFLError, match="cannot open the store") as caught:
        Store.open(postgres_server.url("no_such_db"))
    assert "no_such_db" in str(caught.value)


# -- records ------------------------------------------------------------------------------------


def test_records_round_trip_in_seq_order_with_exact_canonical_payload_text(db: Store) -> None:
    first = create(db, "c-1", payload=AWKWARD_PAYLOAD)
    batch = chain("c-1", [{"i": i, "x": i / 10} for i in range(1, 11)], after=first)
    db.append(batch[:4])
    create(db, "other")  # interleaved campaign: must not leak into c-1's records
    db.append(batch[4:])
    last = chain("c-1", [{**AWKWARD_PAYLOAD, "tiny": 1e-300}], after=batch[-1], actor="human:ü")
    db.append(last)
    written = [first, *batch, *last]

    read = db.records("c-1")

    assert [r.seq for r in read] == list(range(1, 13))  # numeric order: 10, 11 after 9
    assert [r.model_dump() for r in read] == [w.model_dump() for w in written]
    raw = raw_payloads(db, "c-1")
    assert raw == [canonical_json(w.payload) for w in written]
    assert raw[0] == canonical_json(AWKWARD_PAYLOAD)
    for spelling in ('"tenth":0.1', '"tiny":1e-07', '"one_float":1.0', "🧪", "反応", r"a\u0000b"):
        assert spelling in raw[0]
    # Payloads read back re-encode to the same bytes, so the hashes still verify.
    assert [canonical_json(r.payload) for r in read] == raw
    assert verify_chain(read, campaign="c-1", head=(12, last[-1].hash)) == 12
    assert [r.campaign for r in db.records("other")] == ["other"]
    assert db.records("no-such-campaign") == []


def test_records_are_returned_by_seq_not_by_insertion_order(db: Store) -> None:
    records = chain("c-1", [{"n": n} for n in range(5)])
    db.create_campaign(name="demo", spec_hash=SPEC_HASH, first=records[0])
    with db.engine.begin() as conn:
        for record in (records[3], records[1], records[4], records[2]):
            conn.execute(
                insert(RecordRow).values(
                    campaign_id=record.campaign,
                    seq=record.seq,
                    type=record.type,
                    ts=record.ts,
                    actor=record.actor,
                    payload=canonical_json(record.payload),
                    prev=record.prev,
                    hash=record.hash,
                )
            )
    assert db.records("c-1") == records


def test_append_moves_the_head_and_marks_finished(db: Store) -> None:
    before = datetime.now(UTC)
    first = create(db, "c-1")
    created = db.campaign("c-1")
    assert not created.finished
    assert (created.head_seq, created.head_hash) == (1, first.hash)

    more = chain("c-1", [{"n": 1}, {"n": 2}], after=first)
    db.append(more)
    db.append([])  # nothing to do
    assert not db.campaign("c-1").finished
    end = chain("c-1", [{"n": 3}], after=more[-1])
    db.append(end, finished=True)
    after = datetime.now(UTC)

    info = db.campaign("c-1")
    assert info.finished
    assert (info.head_seq, info.head_hash) == (4, end[0].hash)
    assert (info.name, info.spec_hash) == ("demo", SPEC_HASH)
    assert info.created_at == created.created_at
    # Real clock: aware UTC, and within the test's window (the store keeps microseconds).
    assert before <= info.created_at <= info.updated_at <= after
    assert info.created_at.utcoffset() == timedelta(0)
    assert info.updated_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("stale", ["old-head", "forked-prev", "gap", "unknown-campaign"])
def test_append_with_a_stale_head_raises_concurrent_writer_and_writes_nothing(
    db: Store, stale: str
) -> None:
    first = create(db, "c-1")
    ours = chain("c-1", [{"by": "us"}], after=first)
    db.append(ours)
    before = db.campaign("c-1")
    if stale == "old-head":  # seq 2 again, built on the head we had before our write
        theirs = chain("c-1", [{"by": "them"}, {"by": "them", "n": 2}], after=first)
    elif stale == "forked-prev":  # the right seq, chained to a record that is not the head
        ghost = chain("c-1", [{"by": "ghost"}], after=first)[0]
        theirs = chain("c-1", [{"by": "them"}], after=ghost)
    elif stale == "gap":  # chained to the head but skipping a seq
        theirs = [
            seal(campaign="c-1", seq=4, type="t", actor="cfl", payload={}, prev=ours[-1].hash)
        ]
    else:
        theirs = chain("c-9", [{"by": "them"}], after=chain("c-9", [{}])[0])

    with pytest.raises(ConcurrentWriter, match=theirs[0].campaign):
        db.append(theirs, finished=True)

    assert db.records("c-1") == [first, *ours]
    assert db.campaign("c-1") == before  # head, finished flag and updated_at untouched
    assert [c.id for c in db.campaigns()] == ["c-1"]
    assert db.records("c-9") == []


def test_creating_a_campaign_with_an_existing_id_raises_and_keeps_the_original(db: Store) -> None:
    first = create(db, "c-1", name="original")
    original = db.campaign("c-1")
    impostor = seal(
        campaign="c-1", seq=1, type="t", actor="cfl", payload={"other": True}, prev=GENESIS
    )
    with pytest.raises(ConcurrentWriter, match="campaign c-1 already exists"):
        db.create_campaign(name="impostor", spec_hash="0" * 64, first=impostor)
    assert db.campaigns() == [original]
    assert db.records("c-1") == [first]
    # The failed insert left the store usable.
    db.append(chain("c-1", [{"n": 1}], after=first))
    assert db.campaign("c-1").head_seq == 2


def test_two_writers_racing_on_one_head_never_fork_the_chain(store_url: str) -> None:
    stores = {"a": Store.open(store_url), "b": Store.open(store_url)}
    try:
        first = create(stores["a"], "c-1")
        batches = {
            w: chain("c-1", [{"writer": w}, {"writer": w, "n": 2}], after=first) for w in stores
        }
        barrier = threading.Barrier(len(stores))
        outcomes: dict[str, str] = {}

        def write(writer: str) -> None:
            barrier.wait()
            try:
                stores[writer].append(batches[writer])
                outcomes[writer] = "ok"
            except ConcurrentWriter:
                outcomes[writer] = "conflict"
            except Exception as exc:  # reported by the assertion below
                outcomes[writer] = repr(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert sorted(outcomes.values()) == ["conflict", "ok"], outcomes
        winner = next(w for w, outcome in outcomes.items() if outcome == "ok")
        assert stores["b"].records("c-1") == [first, *batches[winner]]
        info = stores["a"].campaign("c-1")
        assert (info.head_seq, info.head_hash) == (3, batches[winner][-1].hash)
    finally:
        for store in stores.values():
            store.close()


# -- campaigns ----------------------------------------------------------------------------------


def test_campaigns_are_listed_newest_first(
    db: Store, store_now: Callable[[datetime], None]
) -> None:
    base = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
    for campaign, minutes in [("b", 2), ("a", 1), ("c", 3)]:  # inserted out of time order
        store_now(base + timedelta(minutes=minutes))
        create(db, campaign)
    assert [c.id for c in db.campaigns()] == ["c", "b", "a"]
    # Appending moves updated_at only; the listing stays by creation.
    store_now(base + timedelta(hours=1))
    db.append(chain("a", [{"n": 1}], after=db.records("a")[-1]))
    assert [c.id for c in db.campaigns()] == ["c", "b", "a"]


def test_datetimes_come_back_timezone_aware_utc_and_exact(
    db: Store, store_now: Callable[[datetime], None]
) -> None:
    created = datetime(2026, 11, 23, 23, 27, 35, 123456, tzinfo=timezone(timedelta(hours=2)))
    updated = datetime(2026, 11, 24, 1, 2, 3, 999999, tzinfo=UTC)
    store_now(created)
    first = create(db, "c-1")
    store_now(updated)
    db.append(chain("c-1", [{"n": 1}], after=first))

    info = db.campaign("c-1")
    assert info.created_at == created
    assert info.created_at.tzinfo is UTC
    assert info.created_at.replace(tzinfo=None) == datetime(2026, 11, 23, 21, 27, 35, 123456)
    assert info.updated_at == updated
    assert info.updated_at.tzinfo is UTC
    assert info.updated_at.microsecond == 999999
    assert db.campaigns() == [info]


def test_an_unknown_campaign_raises_not_found_listing_known_ids(
    db: Store, store_now: Callable[[datetime], None]
) -> None:
    with pytest.raises(NotFound, match="known campaigns: none") as empty:
        db.campaign("nope")
    assert empty.value.name == "nope"

    base = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(1, 13):
        store_now(base + timedelta(seconds=n))
        create(db, f"run-{n:02d}")
    with pytest.raises(NotFound) as caught:
        db.campaign("nope")
    message = str(caught.value)
    assert "no campaign 'nope'" in message
    newest_ten = [f"run-{n:02d}" for n in range(12, 2, -1)]
    assert message.endswith(f"known campaigns: {newest_ten}")
    assert caught.value.name == "nope"


def test_next_campaign_id_counts_campaigns_of_that_name(db: Store) -> None:
    assert db.next_campaign_id("snar") == "snar-1"
    create(db, "snar-1", name="snar")
    create(db, "snar-x-1", name="snar-x")
    create(db, "snar-2", name="snar")
    assert db.next_campaign_id("snar") == "snar-3"
    assert db.next_campaign_id("snar-x") == "snar-x-2"
    assert db.next_campaign_id("other") == "other-1"


# -- the journal on the store -------------------------------------------------------------------


def test_journal_round_trip_replays_the_written_campaign(db: Store, spec: CampaignSpec) -> None:
    journal = Journal.create(db, spec, actor="human:tester")
    cid = journal.campaign.id
    assert cid == "snar-small-1"
    e1, e2 = experiment(spec, 1), experiment(spec, 2)
    observation = Observation(
        experiment="E0001",
        values={"yield": 87.25, "e_factor": 0.1},
        device="hplc-1",
        lab_time_s=90.0,
        raw={"trace": [0.1, 1e-07, 3.0], "note": "pic à 2,4 min ✓"},
    )
    journal.write("cfl", *(ExperimentDesigned(lab_time_s=0.0, experiment=e) for e in (e1, e2)))
    journal.write(
        "cfl", ExperimentStarted(lab_time_s=1.0, experiment="E0001", attempt=1, sample=e1.sample)
    )
    journal.write(
        "device:reactor-1",
        StepDispatched(
            lab_time_s=1.5,
            experiment="E0001",
            attempt=1,
            step=5,
            command="react",
            role="reactor",
            device="reactor-1",
        ),
    )
    journal.write(
        "device:reactor-1",
        StepCompleted(
            lab_time_s=61.5,
            experiment="E0001",
            attempt=1,
            step=5,
            device="reactor-1",
            duration_s=60.0,
        ),
    )
    journal.write("device:hplc-1", ObservationRecorded(lab_time_s=90.0, observation=observation))
    journal.write(
        "cfl",
        ExperimentFailed(
            lab_time_s=95.0,
            experiment="E0002",
            attempt=1,
            reason="vial dropped",
            error="DeviceFault",
            device="kapex-1",
        ),
    )
    journal.write(
        "cfl",
        RoundCompleted(lab_time_s=100.0, round=1, best_score=87.25),
        CampaignFinished(lab_time_s=100.0, reason="budget", detail="2 experiments finished"),
    )

    reopened = Journal.open(db, cid)
    written, replayed = journal.campaign, reopened.campaign
    assert replayed.spec == written.spec == spec
    assert replayed.spec_hash == spec_hash(spec)
    assert replayed.experiments == written.experiments
    assert replayed.observations == written.observations == {"E0001": observation}
    assert replayed.finished == written.finished
    assert replayed == written  # every field, including rounds, best scores and lab time
    assert replayed.experiments["E0001"].status is ExperimentStatus.DONE
    assert replayed.experiments["E0002"].status is ExperimentStatus.FAILED
    assert replayed.experiments["E0002"].failure == "vial dropped"
    assert replayed.rounds_completed == 1
    assert replayed.best_scores == [87.25]
    assert replayed.lab_time_s == 100.0
    assert reopened.head == journal.head

    records = db.records(cid)
    assert [r.type for r in records] == [
        "campaign.created",
        "experiment.designed",
        "experiment.designed",
        "experiment.started",
        "step.dispatched",
        "step.completed",
        "observation.recorded",
        "experiment.failed",
        "round.completed",
        "campaign.finished",
    ]
    assert records[0].actor == "human:tester"
    assert records[6].actor == "device:hplc-1"
    info = db.campaign(cid)
    assert info.finished
    assert (info.name, info.spec_hash) == ("snar-small", spec_hash(spec))
    assert journal.head == (info.head_seq, info.head_hash) == (10, records[-1].hash)
    assert Journal.find_unfinished(db, spec) is None


def test_a_second_journal_writing_after_the_first_gets_concurrent_writer(
    db: Store, spec: CampaignSpec
) -> None:
    creator = Journal.create(db, spec, actor="human:tester")
    cid = creator.campaign.id
    assert Journal.find_unfinished(db, spec) == cid
    first, second = Journal.open(db, cid), Journal.open(db, cid)

    first.write("cfl", ExperimentDesigned(lab_time_s=0.0, experiment=experiment(spec, 1)))
    with pytest.raises(ConcurrentWriter, match=cid):
        second.write("cfl", ExperimentDesigned(lab_time_s=0.0, experiment=experiment(spec, 2)))
    with pytest.raises(ConcurrentWriter):
        creator.write("cfl", CampaignFinished(lab_time_s=0.0, reason="budget", detail="x"))

    # The losers changed nothing, in the store or in memory.
    assert second.head == creator.head == (1, db.records(cid)[0].hash)
    assert second.campaign.experiments == {}
    assert creator.campaign.finished is None
    records = db.records(cid)
    assert [r.type for r in records] == ["campaign.created", "experiment.designed"]
    designed = records[1].payload["experiment"]
    assert isinstance(designed, dict) and designed["id"] == "E0001"
    info = db.campaign(cid)
    assert not info.finished
    assert verify_chain(records, campaign=cid, head=(info.head_seq, info.head_hash)) == 2
    assert load_campaign(db, cid) == first.campaign


def test_journal_create_numbers_campaigns_and_retries_an_id_taken_meanwhile(
    db: Store, spec: CampaignSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = Journal.create(db, spec, actor="human:tester")
    assert one.campaign.id == "snar-small-1"
    allocate = db.next_campaign_id
    calls: list[str] = []

    def racing(name: str) -> str:  # the first answer is an id another process just took
        calls.append(name)
        return "snar-small-1" if len(calls) == 1 else allocate(name)

    monkeypatch.setattr(db, "next_campaign_id", racing)
    two = Journal.create(db, spec, actor="human:tester")

    assert two.campaign.id == "snar-small-2"
    assert calls == ["snar-small", "snar-small"]
    assert {c.id for c in db.campaigns()} == {"snar-small-1", "snar-small-2"}
    assert len(db.records("snar-small-1")) == 1
    assert load_campaign(db, "snar-small-1") == one.campaign


def test_journal_open_of_an_unknown_campaign_raises_not_found(db: Store) -> None:
    with pytest.raises(NotFound, match="no campaign 'ghost-1'"):
        Journal.open(db, "ghost-1")


@pytest.mark.parametrize("tamper", ["edit-actor", "edit-payload", "drop-last"])
def test_journal_open_refuses_records_changed_in_the_database(
    db: Store, spec: CampaignSpec, tamper: str
) -> None:
    journal = Journal.create(db, spec, actor="human:tester")
    cid = journal.campaign.id
    journal.write("cfl", ExperimentDesigned(lab_time_s=0.0, experiment=experiment(spec, 1)))
    journal.write(
        "cfl", ExperimentStarted(lab_time_s=1.0, experiment="E0001", attempt=1, sample="S-E0001-1")
    )
    row = RecordRow.__table__.c
    with db.engine.begin() as conn:
        where = (row.campaign_id == cid) & (row.seq == 2)
        if tamper == "edit-actor":
            conn.execute(update(RecordRow).where(where).values(actor="human:mallory"))
        elif tamper == "edit-payload":
            edited = raw_payloads(db, cid)[1].replace('"temperature":95.5', '"temperature":96.5')
            assert edited != raw_payloads(db, cid)[1]
            conn.execute(update(RecordRow).where(where).values(payload=edited))
        else:
            conn.execute(delete(RecordRow).where((row.campaign_id == cid) & (row.seq == 3)))
    expected_seq = 3 if tamper == "drop-last" else 2
    with pytest.raises(LedgerTampered) as caught:
        Journal.open(db, cid)
    assert caught.value.seq == expected_seq


# -- settings -----------------------------------------------------------------------------------


def test_settings_default_to_an_sqlite_file_in_cfl_home(tmp_path: Path) -> None:
    home = tmp_path / "cfl-home"  # set by the autouse fixture in tests/conftest.py
    url = Settings().store_url
    assert make_url(url).get_backend_name() == "sqlite"
    assert make_url(url).database == str(home / "cfl.db")
    store = Store.open(url)
    try:
        create(store, "c-1")
    finally:
        store.close()
    assert (home / "cfl.db").is_file()


def test_settings_cfl_database_url_selects_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CFL_DATABASE_URL", postgres_url)
    assert Settings().store_url == postgres_url
    store = Store.open(Settings().store_url)
    try:
        assert store.engine.dialect.name == "postgresql"
        create(store, "c-1")
    finally:
        store.close()
    direct = Store.open(postgres_url)
    try:
        assert [c.id for c in direct.campaigns()] == ["c-1"]
    finally:
        direct.close()
    assert not (tmp_path / "cfl-home" / "cfl.db").exists()


@pytest.mark.parametrize("folder", ["lab?1", "lab%41"])
def test_settings_sqlite_url_keeps_unusual_cfl_home_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    home = tmp_path / folder
    monkeypatch.setenv("CFL_HOME", str(home))
    assert make_url(Settings().store_url).database == str(home / "cfl.db")


# -- whole campaigns on PostgreSQL --------------------------------------------------------------


def test_a_small_campaign_runs_to_the_end_on_postgresql(
    postgres_url: str, spec: CampaignSpec
) -> None:
    store = Store.open(postgres_url)
    try:
        started = open_or_create(store, spec)
        assert not started.resumed
        cid = started.journal.campaign.id
        final = run_campaign(started.journal)

        assert final.finished is not None and final.finished.reason == "budget"
        assert len(final.experiments) == 8
        assert all(e.status is ExperimentStatus.DONE for e in final.experiments.values())
        assert len(final.observations) == 8
        info = store.campaign(cid)
        assert info.finished
        records = store.records(cid)
        assert verify_chain(records, campaign=cid, head=(info.head_seq, info.head_hash)) == len(
            records
        )
        assert info.head_seq == len(records)
        assert sum(r.type == "observation.recorded" for r in records) == 8
        assert load_campaign(store, cid) == final
        assert Journal.find_unfinished(store, spec) is None
    finally:
        store.close()


def test_cli_run_uses_postgresql_from_cfl_database_url(postgres_url: str, tmp_path: Path) -> None:
    data = demo_spec_data()
    data.update(name="snar-pg", budget={"experiments": 4}, initial_design=4, stop={})
    spec_path = write_spec(tmp_path, data)
    home = tmp_path / "cli-home"
    env = {
        **os.environ,
        "CFL_DATABASE_URL": postgres_url,
        "CFL_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cfl", "run", str(spec_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"

    store = Store.open(postgres_url)
    try:
        campaigns = store.campaigns()
        assert [(c.id, c.name, c.finished) for c in campaigns] == [("snar-pg-1", "snar-pg", True)]
        records = store.records("snar-pg-1")
        assert sum(r.type == "observation.recorded" for r in records) == 4
        assert campaigns[0].spec_hash == spec_hash(load_spec(spec_path))
        assert verify_chain(
            records, campaign="snar-pg-1", head=(campaigns[0].head_seq, campaigns[0].head_hash)
        ) == len(records)
    finally:
        store.close()
    assert not (home / "cfl.db").exists()
    assert not list(tmp_path.rglob("*.db"))


def test_a_snapshot_never_sees_records_past_the_head_it_read(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer appending while a reader loads must not make the chain look extended or cut."""
    reader, writer = Store.open(store_url), Store.open(store_url)
    try:
        first = create(writer, "c-1")
        more = chain("c-1", [{"n": n} for n in range(1, 5)], after=first)
        writer.append(more[:2])
        read_info = cfl.store._info_of

        def write_meanwhile(row: Any) -> CampaignInfo:
            writer.append(more[2:])  # between reading the head and reading the records
            return read_info(row)

        monkeypatch.setattr(cfl.store, "_info_of", write_meanwhile)
        snapshot = reader.snapshot("c-1")
        monkeypatch.setattr(cfl.store, "_info_of", read_info)
        assert (snapshot.info.head_seq, len(snapshot.records)) == (3, 3)
        assert (
            verify_chain(
                snapshot.records,
                campaign="c-1",
                head=(snapshot.info.head_seq, snapshot.info.head_hash),
            )
            == 3
        )
        assert len(reader.snapshot("c-1").records) == 5
        with pytest.raises(NotFound):
            reader.snapshot("nope")
    finally:
        reader.close()
        writer.close()


def test_a_record_edited_into_invalid_json_reads_as_tampering(
    spec: CampaignSpec, store: Store
) -> None:
    campaign_id = Journal.create(store, spec, actor="human:ada").campaign.id
    with store.engine.begin() as conn:
        conn.execute(
            update(RecordRow)
            .where(RecordRow.campaign_id == campaign_id, RecordRow.seq == 1)
            .values(payload='{"spec": 09}')
        )
    with pytest.raises(LedgerTampered, match=r"record #1 of campaign .* is not valid JSON") as e:
        Journal.open(store, campaign_id)
    assert (e.value.seq, e.value.kind) == (1, "edited")
