"""Signed records written by the journal, exports, single-record proofs, blobs, old stores, keys
on the command line."""

from __future__ import annotations

import copy
import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cfl.blobs import BlobStore
from cfl.bundle import (
    ensure_head,
    export_bundle,
    heads_in,
    load_document,
    prove_record,
    verify_bundle,
    verify_campaign,
    verify_proof,
)
from cfl.cli import app
from cfl.errors import LedgerTampered, NotFound, SpecError
from cfl.events import (
    CampaignFinished,
    ExperimentDesigned,
    ExperimentStarted,
    HypothesisAssessed,
    HypothesisProposed,
    ObservationRecorded,
    RoundCompleted,
)
from cfl.journal import Journal
from cfl.keys import Keyring, TrustedKeys
from cfl.ledger import GENESIS, seal
from cfl.models import Experiment, Hypothesis, HypothesisStatus, Observation, Trend
from cfl.settings import Settings
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from tests.conftest import demo_spec_data, write_spec

POINT = {"residence_time": 1.25, "equivalents": 2.5, "concentration": 0.1, "temperature": 95.5}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> CampaignSpec:
    data = demo_spec_data()
    data.update(name="snar-small", budget={"experiments": 8}, initial_design=4, stop={})
    return load_spec(write_spec(tmp_path_factory.mktemp("spec"), data))


@pytest.fixture
def store() -> Any:
    opened = Store.open(Settings().store_url)
    yield opened
    opened.close()


def _experiment(spec: CampaignSpec, index: int) -> Experiment:
    return Experiment(
        id=f"E{index:04d}",
        index=index,
        round=1,
        params=spec.space.coerce(POINT),
        protocol=spec.protocol,
        source="initial",
    )


def _campaign(store: Store, spec: CampaignSpec, blobs: BlobStore | None = None) -> Journal:
    """A short campaign: created, a hypothesis, two experiments, one measured, assessed, done."""
    journal = Journal.create(store, spec, actor="human:ada")
    hypothesis = Hypothesis(
        id="H01",
        statement="Yield rises with temperature",
        kind="effect",
        prediction=Trend(objective="yield", variable="temperature", sign=1, low=30, high=120),
        rationale="Arrhenius",
        author="agent:offline@0.1",
        registered_after=0,
    )
    journal.write("agent:offline@0.1", HypothesisProposed(lab_time_s=0, hypothesis=hypothesis))
    e1, e2 = _experiment(spec, 1), _experiment(spec, 2)
    journal.write(
        "planner:skopt-gp", *(ExperimentDesigned(lab_time_s=0, experiment=e) for e in (e1, e2))
    )
    journal.write(
        "cfl", ExperimentStarted(lab_time_s=1, experiment="E0001", attempt=1, sample=e1.sample)
    )
    raw: dict[str, Any] = {"note": "peak at 2.4 min"}
    if blobs is not None:
        raw["chromatogram"] = blobs.put(b"t,signal\n0,0.1\n1,0.9\n", "text/csv").model_dump()
    observation = Observation(
        experiment="E0001", values={"yield": 87.25}, device="hplc-1", lab_time_s=90.0, raw=raw
    )
    journal.write("device:hplc-1", ObservationRecorded(lab_time_s=90, observation=observation))
    for credence in (0.7, 0.9):
        journal.write(
            "cfl:evidence",
            HypothesisAssessed(
                lab_time_s=91,
                hypothesis="H01",
                status=HypothesisStatus.OPEN,
                credence=credence,
                evidence_n=1,
            ),
        )
    journal.write(
        "cfl",
        RoundCompleted(lab_time_s=100, round=1, best_score=87.25),
        CampaignFinished(lab_time_s=100, reason="budget", detail="done"),
    )
    return journal


def _trusted() -> TrustedKeys:
    return TrustedKeys(Keyring.default().public_keys())


# -- the journal signs --------------------------------------------------------------------------


def test_the_journal_writes_signed_records_with_who_and_why(
    store: Store, spec: CampaignSpec
) -> None:
    journal = _campaign(store, spec)
    cid = journal.campaign.id
    records = store.records(cid)
    instance = Keyring.default().instance()
    assert {r.v for r in records} == {2}
    assert {r.key for r in records} == {instance.key_id}  # ada has no key: the instance signs
    by_type = {r.type: r for r in records}
    assert by_type["campaign.created"].contribution == "human"
    assert by_type["campaign.created"].meta["actor_info"] == {"kind": "human", "id": "ada"}
    assert by_type["hypothesis.proposed"].contribution == "ai"
    assert by_type["experiment.designed"].contribution == "ai"
    observed = by_type["observation.recorded"]
    assert observed.contribution == "device"
    assert observed.meta["actor_info"] == {
        "kind": "device",
        "device": "hplc-1",
        "driver": "sim-hplc",
        "role": "hplc",
    }
    assessed = [r for r in records if r.type == "hypothesis.assessed"]
    proposed = by_type["hypothesis.proposed"]
    assert assessed[0].supersedes == (proposed.id,)
    assert assessed[1].supersedes == (assessed[0].id,)
    assert by_type["campaign.finished"].meta["reason"] == "budget"
    assert [r.id for r in records] == [f"{cid}/{n}" for n in range(1, len(records) + 1)]
    # Heads: at creation, at the hypothesis, and after the round and the end (one write).
    assert [h.size for h in store.tree_heads(cid)] == [1, 2, len(records)]
    assert [k.key_id for k in store.public_keys()] == [instance.key_id]
    report = verify_campaign(store, cid, _trusted())
    assert report.records == len(records) and report.covered == len(records)
    assert report.contributions == {"human": 1, "ai": 3, "system": 5, "device": 1}


def test_a_persons_own_key_signs_their_records(store: Store, spec: CampaignSpec) -> None:
    ada, _ = Keyring.default().init("human:ada")
    journal = _campaign(store, spec)
    first = store.records(journal.campaign.id)[0]
    assert first.key == ada.key_id
    assert verify_campaign(store, journal.campaign.id, _trusted()).signed_by[ada.key_id] == 1


def test_reopening_continues_the_tree_and_supersedes_links(
    store: Store, spec: CampaignSpec
) -> None:
    journal = Journal.create(store, spec, actor="human:ada")
    journal.write("cfl", ExperimentDesigned(lab_time_s=0, experiment=_experiment(spec, 1)))
    reopened = Journal.open(store, journal.campaign.id)
    heard: list[int] = []
    reopened.subscribe_heads(lambda head: heard.append(head.size))
    head = reopened.sign_head()
    assert head is not None and head.size == 2 and heard == [2]
    assert reopened.sign_head() is None  # nothing new to cover
    reopened.write("cfl", RoundCompleted(lab_time_s=1, round=1, best_score=None))
    assert heard == [2, 3]
    assert verify_campaign(store, journal.campaign.id, _trusted()).tree_heads == 3


def test_blob_references_in_raw_data_are_signed_and_checked(
    store: Store, spec: CampaignSpec, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    journal = _campaign(store, spec, blobs)
    observed = next(
        r for r in store.records(journal.campaign.id) if r.type == "observation.recorded"
    )
    [ref] = observed.blobs
    assert (ref.size, ref.media_type) == (21, "text/csv")
    assert blobs.get(ref) == b"t,signal\n0,0.1\n1,0.9\n"
    path = blobs.path(ref.sha256)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert blobs.put(b"t,signal\n0,0.1\n1,0.9\n", "text/csv") == ref  # stored once
    path.chmod(0o644)
    path.write_bytes(b"t,signal\n0,0.1\n1,0.8\n")
    with pytest.raises(LedgerTampered, match="raw data was changed"):
        blobs.check(ref)
    path.unlink()
    assert not blobs.check(ref)
    with pytest.raises(NotFound, match="is not in"):
        blobs.get(ref)


# -- bundles and proofs -------------------------------------------------------------------------


def test_export_signs_a_head_over_an_uncovered_tail_after_verifying(
    store: Store, spec: CampaignSpec
) -> None:
    journal = Journal.create(store, spec, actor="human:ada")
    journal.write("cfl", ExperimentDesigned(lab_time_s=0, experiment=_experiment(spec, 1)))
    cid = journal.campaign.id
    assert [h.size for h in store.tree_heads(cid)] == [1]
    bundle = export_bundle(store, cid, Keyring.default(), _trusted())
    assert [h["size"] for h in bundle["tree_heads"]] == [1, 2]  # type: ignore[index]
    assert verify_bundle(bundle, _trusted()).covered == 2
    assert ensure_head(store, cid, Keyring.default()).size == 2  # covered now: no new head

    store.engine.dispose()
    with sqlite3.connect(Path(str(store.engine.url.database))) as conn:
        conn.execute("UPDATE record SET actor = 'human:mallory' WHERE seq = 2")
    journal.write("cfl", ExperimentDesigned(lab_time_s=0, experiment=_experiment(spec, 2)))
    with pytest.raises(LedgerTampered, match="record #2"):
        export_bundle(store, cid, Keyring.default(), _trusted())
    assert [h.size for h in store.tree_heads(cid)] == [1, 2]  # nothing signed over it


def test_a_proof_shows_one_record_and_nothing_else(store: Store, spec: CampaignSpec) -> None:
    journal = _campaign(store, spec)
    cid = journal.campaign.id
    records = store.records(cid)
    target = next(r for r in records if r.type == "observation.recorded")
    proof = prove_record(store, cid, target.seq, Keyring.default(), _trusted())
    text = json.dumps(proof)
    assert '"yield": 87.25' in text
    for other in records:
        if other.seq != target.seq:
            assert json.dumps(other.payload)[1:-1] not in text
    assert "Arrhenius" not in text  # the hypothesis, in another record
    shown = verify_proof(proof, _trusted())
    assert shown.record == target
    assert [h.size for h in shown.heads] == [len(records)]
    assert heads_in(proof) == shown.heads


PROOF_TAMPERS = {
    "edited": (
        lambda p: p["record"]["payload"]["observation"]["values"].update(yield_=1.0),
        "edited",
    ),
    "moved-signature": (
        lambda p: p["record"].update(sig=p["heads"][0]["tree_head"]["sig"]),
        "bad-signature",
    ),
    "wrong-position": (lambda p: p.update(leaf_index=p["leaf_index"] + 1), "not-included"),
    "altered-path": (lambda p: p["heads"][0]["inclusion"].reverse(), "not-included"),
    "head-resized": (lambda p: p["heads"][0]["tree_head"].update(size=3), "bad-signature"),
    "no-head": (lambda p: p.update(heads=[]), "malformed"),
}


@pytest.mark.parametrize("name", list(PROOF_TAMPERS))
def test_a_changed_proof_is_refused(store: Store, spec: CampaignSpec, name: str) -> None:
    journal = _campaign(store, spec)
    proof = copy.deepcopy(
        prove_record(store, journal.campaign.id, 6, Keyring.default(), _trusted())
    )
    tamper, kind = PROOF_TAMPERS[name]
    tamper(proof)
    with pytest.raises(LedgerTampered) as caught:
        verify_proof(proof, _trusted())
    assert (caught.value.kind, caught.value.seq) == (kind, 6), str(caught.value)


def test_a_proof_is_refused_without_the_signing_key(store: Store, spec: CampaignSpec) -> None:
    journal = _campaign(store, spec)
    proof = prove_record(store, journal.campaign.id, 3, Keyring.default(), _trusted())
    with pytest.raises(LedgerTampered, match="not among the 0 trusted") as caught:
        verify_proof(proof, TrustedKeys())
    assert caught.value.kind == "unknown-key"


def test_documents_are_checked_for_their_format(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"format": "something-else", "version": 1}')
    with pytest.raises(SpecError, match="not one of"):
        load_document(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("not json")
    with pytest.raises(SpecError, match="is not JSON"):
        load_document(tmp_path / "y.json")
    with pytest.raises(SpecError, match="cannot read"):
        load_document(tmp_path / "missing.json")


# -- a store written before signatures ------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE campaign (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, spec_hash VARCHAR NOT NULL,
  finished BOOLEAN NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  head_seq INTEGER NOT NULL, head_hash VARCHAR NOT NULL);
CREATE TABLE record (campaign_id VARCHAR NOT NULL REFERENCES campaign (id), seq INTEGER NOT NULL,
  type VARCHAR NOT NULL, ts VARCHAR NOT NULL, actor VARCHAR NOT NULL, payload TEXT NOT NULL,
  prev VARCHAR NOT NULL, hash VARCHAR NOT NULL, PRIMARY KEY (campaign_id, seq));
"""


def test_a_v1_store_is_upgraded_in_place_and_its_campaign_continues_signed(
    spec: CampaignSpec, tmp_path: Path
) -> None:
    from cfl.events import CampaignCreated
    from cfl.journal import spec_hash

    path = tmp_path / "old.db"
    created = CampaignCreated(lab_time_s=0, spec=spec, spec_hash=spec_hash(spec))
    first = seal(
        campaign="snar-small-1",
        seq=1,
        type=created.TYPE,
        actor="human:ada",
        payload=created.model_dump(mode="json"),
        prev=GENESIS,
    )
    from cfl.canonical import canonical_json

    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute(
            "INSERT INTO campaign VALUES ('snar-small-1', 'snar-small', ?, 0, "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', 1, ?)",
            (spec_hash(spec), first.hash),
        )
        conn.execute(
            "INSERT INTO record VALUES ('snar-small-1', 1, ?, ?, ?, ?, ?, ?)",
            (
                first.type,
                first.ts,
                first.actor,
                canonical_json(first.payload),
                first.prev,
                first.hash,
            ),
        )
    store = Store.open(f"sqlite:///{path}")
    try:
        assert store.records("snar-small-1") == [first]
        report = verify_campaign(store, "snar-small-1", _trusted())
        assert (report.records, report.unsigned, report.tree_heads) == (1, 1, 0)
        journal = Journal.open(store, "snar-small-1")
        journal.write("cfl", ExperimentDesigned(lab_time_s=0, experiment=_experiment(spec, 1)))
        journal.write("cfl", RoundCompleted(lab_time_s=1, round=1, best_score=None))
        report = verify_campaign(store, "snar-small-1", _trusted())
        assert (report.records, report.unsigned, sum(report.signed_by.values())) == (3, 1, 2)
        assert report.covered == 3
        bundle = export_bundle(store, "snar-small-1", Keyring.default(), _trusted())
        assert verify_bundle(bundle, _trusted()).unsigned == 1
    finally:
        store.close()
    again = Store.open(f"sqlite:///{path}")  # a second open finds nothing to upgrade
    try:
        assert len(again.records("snar-small-1")) == 3
    finally:
        again.close()


# -- the command line ---------------------------------------------------------------------------

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_keys_commands(tmp_path: Path) -> None:
    result = runner.invoke(app, ["keys", "list"])
    assert result.exit_code == 0 and "No keys" in _flat(result.stdout)
    result = runner.invoke(app, ["keys", "init"])
    assert result.exit_code == 0 and "instance key" in result.stdout and "created" in result.stdout
    result = runner.invoke(app, ["keys", "init", "--actor", "human:ada"])
    assert result.exit_code == 0 and "human:ada key" in result.stdout
    assert "exists" in runner.invoke(app, ["keys", "init"]).stdout
    result = runner.invoke(app, ["keys", "init", "--actor", "agent:gpt"])
    assert result.exit_code == 2
    listed = _flat(runner.invoke(app, ["keys", "list"]).stdout)
    assert "instance" in listed and "human:ada" in listed
    result = runner.invoke(app, ["keys", "export", str(tmp_path / "pub")])
    assert result.exit_code == 0
    assert len(TrustedKeys.load(tmp_path / "pub")) == 2


def test_export_prove_head_and_verify_offline(
    store: Store, spec: CampaignSpec, tmp_path: Path
) -> None:
    journal = _campaign(store, spec)
    cid = journal.campaign.id
    bundle, proof, head, keys = (tmp_path / n for n in ("b.json", "p.json", "h.json", "pub"))
    assert runner.invoke(app, ["keys", "export", str(keys)]).exit_code == 0
    for args in (
        ["ledger", "export", cid, "--out", str(bundle)],
        ["ledger", "prove", cid, "6", "--out", str(proof)],
        ["ledger", "head", cid, "--out", str(head)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert load_document(head)["tree_head"]["size"] == len(store.records(cid))

    result = runner.invoke(app, ["ledger", "verify", "--bundle", str(bundle), "--keys", str(keys)])
    assert result.exit_code == 0, result.output
    assert f"bundle OK: campaign {cid}" in _flat(result.stdout)
    result = runner.invoke(
        app,
        ["ledger", "verify", "--proof", str(proof), "--keys", str(keys), "--against", str(head)],
    )
    assert result.exit_code == 0, result.output
    assert f"proof OK: campaign {cid}, record #6 (observation.recorded" in _flat(result.stdout)
    result = runner.invoke(app, ["ledger", "verify", "--against", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "ledger OK: 1 campaign(s)" in _flat(result.stdout)

    for args, message in [
        (["ledger", "verify", "--bundle", str(bundle)], "--keys"),
        (
            [
                "ledger",
                "verify",
                "--bundle",
                str(bundle),
                "--proof",
                str(proof),
                "--keys",
                str(keys),
            ],
            "not both",
        ),
        (["ledger", "verify", "--proof", str(bundle), "--keys", str(keys)], "not one of"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in _flat(result.stderr)
    assert runner.invoke(app, ["ledger", "prove", cid, "999", "--out", str(proof)]).exit_code == 4
    assert runner.invoke(app, ["ledger", "export", "nope", "--out", str(bundle)]).exit_code == 4
