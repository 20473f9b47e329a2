"""The invention-disclosure packet, written for real (simulated-lab) campaigns."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cfl.blobs import BlobStore
from cfl.campaign import Campaign
from cfl.clock import LabClock, run_on_clock
from cfl.devices import Reading
from cfl.disclosure import Packet, write_packet
from cfl.engine import Engine
from cfl.errors import LedgerTampered
from cfl.events import HypothesisProposed
from cfl.hypotheses import HypothesisDraft, ProposalContext
from cfl.journal import Journal
from cfl.keys import Keyring, TrustedKeys
from cfl.lab import Lab
from cfl.ledger import Record
from cfl.models import Hypothesis, HypothesisStatus, Trend
from cfl.planner import Evaluation
from cfl.space import Point
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from cfl.timestamp import TimestampUnavailable, load_tsa_settings, verify_token
from instruments.sim.hplc import SimHPLC
from tests.conftest import demo_spec_data, observed_campaign, write_spec
from tests.tsa import LocalTsa, OpenSSLMissing, closed_port, serving

GOOD = {"residence_time": 2.0, "equivalents": 2.2, "concentration": 0.4, "temperature": 30.0}
SWEEP = [dict(GOOD, temperature=t) for t in (30.0, 60.0, 90.0, 120.0)]
"""Temperature alone varies: yield falls with it, clearly, in the simulator."""


class ScriptedPlanner:
    def __init__(self, batches: list[list[Point]]) -> None:
        self.batches = batches

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        return self.batches.pop(0)[:n] if self.batches else []

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        pass


class AdaProposes:
    """A person registers one hypothesis after the initial design: yield falls with heat."""

    author = "human:ada"

    def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        return [
            HypothesisDraft(
                statement="yield falls with temperature over 30-120 degC",
                kind="effect",
                prediction=Trend(
                    objective="yield", variable="temperature", sign=-1, low=30, high=120
                ),
                rationale="the ortho product reacts on to the bis-adduct when hot",
                author=self.author,
            )
        ]


@dataclass(frozen=True)
class Ran:
    store: Store
    campaign: Campaign
    records: list[Record]
    packet: Packet
    markdown: str
    keys: Path
    """The keys folder of the CFL home the campaign ran in (its records are signed there)."""

    def write_packet(self, out_dir: Path, **kwargs: Any) -> Packet:
        return write_packet(
            self.store,
            self.campaign.id,
            out_dir,
            keys=Keyring(self.keys),
            trusted=TrustedKeys.load(self.keys),
            **kwargs,
        )


def _run(
    folder: Path, *, experiments: int, batches: list[list[Point]], proposer: AdaProposes | None
) -> tuple[Store, Campaign]:
    data = demo_spec_data()
    data.update(
        name="disclosure",
        budget={"experiments": experiments},
        batch_size=4,
        initial_design=4,
        testing_share=0,
        stop={},
    )
    spec = load_spec(write_spec(folder, data))
    store = Store.open(f"sqlite:///{folder / 'store.db'}")
    journal = Journal.create(store, spec, actor="human:ada")
    clock = LabClock()

    async def main() -> Campaign:
        lab = Lab.build(spec.lab, clock=clock, seed=spec.seed)
        return await Engine(
            journal=journal,
            devices=dict(lab.devices),
            planner=ScriptedPlanner(batches),
            proposer=proposer,
            clock=clock,
        ).run()

    return store, run_on_clock(main, clock=clock, kind="virtual")


async def _measure_with_chromatogram(self: SimHPLC, sample: str) -> Reading:
    """The simulated HPLC, also keeping a (made-up) chromatogram file by content."""
    reading = await _MEASURE(self, sample)
    trace = f"chromatogram of {sample}: {sorted(reading.values.items())}".encode()
    ref = BlobStore.default().put(trace, media_type="text/csv")
    return Reading(values=reading.values, raw={**reading.raw, "chromatogram": ref.model_dump()})


_MEASURE = SimHPLC.measure


def _ran(folder: Path, *, chromatograms: bool = False, **kwargs: object) -> Iterator[Ran]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CFL_HOME", str(folder / "cfl-home"))
        patch.delenv("CFL_DATABASE_URL", raising=False)
        patch.delenv("CFL_TSA_URL", raising=False)
        if chromatograms:
            patch.setattr(SimHPLC, "measure", _measure_with_chromatogram)
        store, campaign = _run(folder, **kwargs)  # type: ignore[arg-type]
        packet = write_packet(store, campaign.id, folder / "packet")
        yield Ran(
            store,
            campaign,
            store.records(campaign.id),
            packet,
            packet.markdown.read_text(encoding="utf-8"),
            folder / "cfl-home" / "keys",
        )
        store.close()


@pytest.fixture(scope="module")
def supported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """12 experiments; a hypothesis registered after the first 4, supported by the next 8."""
    yield from _ran(
        tmp_path_factory.mktemp("supported"),
        experiments=12,
        batches=[SWEEP, SWEEP, SWEEP],
        proposer=AdaProposes(),
    )


@pytest.fixture(scope="module")
def unsupported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """4 experiments, no hypothesis at all; the HPLC keeps a chromatogram file of each."""
    yield from _ran(
        tmp_path_factory.mktemp("unsupported"),
        experiments=4,
        batches=[SWEEP],
        proposer=None,
        chromatograms=True,
    )


def _section(markdown: str, number: int) -> str:
    start = markdown.index(f"\n## {number}. ")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end > 0 else None]


def _by_type(records: list[Record], type_: str) -> list[Record]:
    return [r for r in records if r.type == type_]


def test_every_section_is_there_with_the_campaigns_values(supported: Ran) -> None:
    md, packet, campaign = supported.markdown, supported.packet, supported.campaign
    goal = " ".join(campaign.spec.goal.split())
    assert md.startswith(f"# Invention disclosure: {goal}\n")
    for number, title in enumerate(
        (
            "Title",
            "Contributors and their roles",
            "Conception",
            "Reduction to practice",
            "Data",
            "Human conception statement",
            "Verification bundle",
        ),
        start=1,
    ):
        assert f"\n## {number}. {title}" in md
    assert goal in _section(md, 1)
    head = supported.store.campaign(campaign.id)
    assert (packet.head.seq, packet.head.hash) == (head.head_seq, head.head_hash)
    assert head.head_hash in md and f"record #{head.head_seq}" in md


def test_contributors_and_their_roles(supported: Ran) -> None:
    section = _section(supported.markdown, 2)
    people = {c.actor: c for c in supported.packet.contributors}
    ada = people["human:ada"]
    assert ada.kind == "human" and "authored hypothesis H01" in ada.roles
    assert "started the campaign" in ada.roles
    assert people["planner:cfl-gp"].kind == "AI"
    assert people["device:hplc-1"].kind == "device"
    assert "measured 12 observations" in people["device:hplc-1"].roles
    assert "serial KPX-SIM-0001" in people["device:kapex-1"].label
    assert sum(c.records for c in people.values()) == len(supported.records)
    assert "| ada (person) | human | started the campaign; authored hypothesis H01 | 2 |" in section
    # human vs AI: the hypothesis is Ada's; 8 conditions came from the planner, 4 from the design
    assert "| Hypotheses authored | 1 | 0 | 0 | 0 |" in section
    assert "| Experiment conditions chosen | 0 | 8 | 0 | 4 |" in section
    by_kind = supported.packet.contributions["records"]
    assert sum(by_kind.values()) == len(supported.records)


def test_conception_is_the_registered_hypothesis_with_its_records(supported: Ran) -> None:
    conception = supported.packet.conception
    assert conception is not None
    h = conception.hypothesis
    assert h.id == "H01" and h.author == "human:ada" and h.status == HypothesisStatus.SUPPORTED
    registered = _by_type(supported.records, "hypothesis.proposed")[0]
    support = next(
        r
        for r in _by_type(supported.records, "hypothesis.assessed")
        if r.payload["status"] == "supported"
    )
    assert (conception.registered.seq, conception.registered.hash) == (
        registered.seq,
        registered.hash,
    )
    assert conception.registered.ts == registered.ts
    assert (conception.supported.seq, conception.supported.hash) == (support.seq, support.hash)
    section = _section(supported.markdown, 3)
    for value in (
        h.statement,
        "yield falls with temperature over [30, 120]",
        "human:ada (human)",
        f"record #{registered.seq} at {registered.ts} by human:ada, after 4 experiments",
        f"| Registration record SHA-256 | {registered.hash} |",
        f"| Support record SHA-256 | {support.hash} |",
        f"record #{support.seq} at {support.ts}: credence {support.payload['credence']:.6g}",
    ):
        assert value in section, value


def test_reduction_to_practice_lists_the_testing_experiments(supported: Ran) -> None:
    trials = supported.packet.trials
    assert [t.experiment.id for t in trials] == [f"E{i:04d}" for i in range(5, 13)]
    designed = {
        r.payload["experiment"]["id"]: r  # type: ignore[index]
        for r in _by_type(supported.records, "experiment.designed")
    }
    observed = {
        r.payload["observation"]["experiment"]: r  # type: ignore[index]
        for r in _by_type(supported.records, "observation.recorded")
    }
    section = _section(supported.markdown, 4)
    conception = supported.packet.conception
    assert conception is not None
    for t in trials:
        e = t.experiment.id
        assert t.designed.hash == designed[e].hash and t.observed is not None
        assert t.observed.hash == observed[e].hash
        assert t.confirming == (observed[e].seq < conception.supported.seq)
        assert f"#{designed[e].seq} {designed[e].hash}" in section
        assert f"#{observed[e].seq} {observed[e].hash}" in section
        value = supported.campaign.observations[e].values["yield"]
        temperature = supported.campaign.experiments[e].params["temperature"]
        assert f"temperature {temperature:.4g} degC" in section
        assert f"yield {value:.4g} %" in section
    assert any(t.confirming for t in trials)


def test_data_hashes_are_the_observation_records(supported: Ran) -> None:
    section = _section(supported.markdown, 5)
    observations = _by_type(supported.records, "observation.recorded")
    assert len(observations) == 12
    for r in observations:
        assert f"| #{r.seq} | {r.payload['observation']['experiment']} | hplc-1 | {r.ts} | " in (  # type: ignore[index]
            section
        )
        assert r.hash in section


def test_statement_placeholder_for_the_inventor(supported: Ran) -> None:
    section = _section(supported.markdown, 6)
    assert "to be completed and signed by the inventor" in section
    assert "hypothesis H01" in section and "`human:ada`" in section
    assert "Inventor's signature and date: ____" in section
    assert "Witness's signature and date: ____" in section


def test_the_bundle_verifies_offline_and_catches_an_edit(supported: Ran, tmp_path: Path) -> None:
    packet = supported.packet
    assert packet.bundle.name == "bundle.json"  # the ledger's signed export (cfl.bundle)
    data = packet.bundle.read_bytes()
    assert hashlib.sha256(data).hexdigest() == packet.bundle_sha256
    section = _section(supported.markdown, 7)
    assert packet.bundle_sha256 in section
    assert "python3 bundle/verify_records.py bundle/bundle.json" in section
    assert "cfl ledger verify --bundle bundle/bundle.json --keys bundle/keys" in section
    assert "No trusted timestamp" in section
    exported = json.loads(data)
    assert [r["hash"] for r in exported["records"]] == [r.hash for r in supported.records]
    assert packet.tree_head is not None and packet.tree_head["size"] == len(supported.records)
    assert str(packet.tree_head["root"]) in supported.markdown
    # the signatures verify against the keys placed beside it (what `cfl ledger verify` runs)
    from cfl.bundle import load_document, verify_bundle

    report = verify_bundle(
        load_document(packet.bundle), TrustedKeys.load(packet.bundle.parent / "keys")
    )
    assert report.records == len(supported.records)
    # the checker runs on its own: a copy of the bundle, Python's standard library only
    copy = tmp_path / "bundle"
    shutil.copytree(packet.bundle.parent, copy)
    run = [sys.executable, "-I", str(copy / "verify_records.py"), str(copy / "bundle.json")]
    done = subprocess.run(run, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"OK: {supported.campaign.id}, {len(supported.records)} records")
    observation = _by_type(supported.records, "observation.recorded")[3]
    edited = json.loads(data)
    edited["records"][observation.seq - 1]["payload"]["observation"]["values"]["yield"] = 99.9
    (copy / "bundle.json").write_text(json.dumps(edited))
    done = subprocess.run(run, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == (
        f"FAILED: record #{observation.seq}: content does not match its hash (edited)\n"
    )
    rerooted = json.loads(data)
    rerooted["tree_heads"][-1]["root"] = "00" * 32
    (copy / "bundle.json").write_text(json.dumps(rerooted))
    done = subprocess.run(run, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 1 and "its root is not the records' Merkle root" in done.stdout


def test_without_the_signed_export_the_records_are_bundled(
    unsupported: Ran, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cfl.bundle", None)  # as if this CFL had no cfl.bundle
    packet = unsupported.write_packet(tmp_path / "packet")
    assert packet.bundle.name == "records.json" and packet.tree_head is None
    exported = json.loads(packet.bundle.read_bytes())
    assert exported["head"] == {"seq": packet.head.seq, "hash": packet.head.hash}
    section = _section(packet.markdown.read_text(encoding="utf-8"), 7)
    assert "python3 bundle/verify_records.py bundle/records.json" in section
    assert "records and their chain head only" in section
    run = [sys.executable, "-I", "verify_records.py", "records.json"]
    folder = packet.bundle.parent
    done = subprocess.run(run, capture_output=True, text=True, check=False, cwd=folder)
    assert done.returncode == 0 and done.stdout.startswith("OK:"), done.stdout + done.stderr


def _pdftoppm() -> str:
    path = shutil.which("pdftoppm")
    if path is None:
        pytest.skip(
            "pdftoppm is not installed (Debian package poppler-utils; `make test` installs it "
            "when run as root): cannot prove the PDF renders"
        )
    return path


def _rendered_pages(pdf: Path, folder: Path) -> list[Path]:
    folder.mkdir()
    subprocess.run(
        [_pdftoppm(), "-png", "-r", "50", str(pdf), str(folder / "page")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return sorted(folder.glob("page-*.png"))


def _assert_not_blank(png: Path) -> None:
    from PIL import Image

    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(png) as image:
        grey = image.convert("L")
        assert image.width > 300 and image.height > 400  # A4 at 50 dpi: 413 x 585
        darkest, lightest = grey.getextrema()  # type: ignore[misc]
        assert lightest > 200 and darkest < 100  # paper and ink
        assert sum(grey.histogram()[:128]) > 300  # lines of text, not a stray mark


def test_the_pdf_renders(supported: Ran, tmp_path: Path) -> None:
    assert supported.packet.pdf.read_bytes().startswith(b"%PDF-")
    pages = _rendered_pages(supported.packet.pdf, tmp_path / "png")
    assert supported.packet.pages >= 3
    assert len(pages) == supported.packet.pages
    for png in pages:
        _assert_not_blank(png)


def test_a_campaign_without_a_supported_hypothesis_still_gets_a_packet(
    unsupported: Ran, tmp_path: Path
) -> None:
    packet, md = unsupported.packet, unsupported.markdown
    assert packet.conception is None and packet.trials == ()
    assert "No pre-registered hypothesis of this campaign became supported" in _section(md, 3)
    assert "| - | no hypotheses were registered |" in _section(md, 3)
    assert "None: no hypothesis was confirmed by experiment" in _section(md, 4)
    for r in _by_type(unsupported.records, "observation.recorded"):
        assert r.hash in _section(md, 5)
        # the chromatogram, kept by content: its SHA-256 is in the signed record and the packet
        (blob,) = r.blobs
        assert blob.media_type == "text/csv"
        assert f"| #{r.seq} | text/csv | {blob.size} | {blob.sha256} |" in _section(md, 5)
    assert "| Experiment conditions chosen | 0 | 0 | 0 | 4 |" in _section(md, 2)
    pages = _rendered_pages(packet.pdf, tmp_path / "png")
    assert len(pages) == packet.pages >= 1
    for png in pages:
        _assert_not_blank(png)


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LocalTsa]:
    try:
        with serving(tmp_path / "tsa", "Packet TSA") as served:
            yield served
    except OpenSSLMissing as exc:
        pytest.skip(str(exc))


def test_with_a_tsa_the_head_and_bundle_are_stamped(
    unsupported: Ran, tsa: LocalTsa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFL_TSA_URL", tsa.url)
    monkeypatch.setenv("CFL_TSA_CERTIFICATE", str(tsa.identity.ca_cert))
    packet = unsupported.write_packet(tmp_path / "packet", tsa=load_tsa_settings())
    assert packet.timestamp is not None
    stamped = (packet.bundle.parent / "head.json").read_bytes()
    assert packet.tree_head is not None
    assert json.loads(stamped) == {
        "campaign": unsupported.campaign.id,
        "head_hash": packet.head.hash,
        "head_seq": packet.head.seq,
        "bundle_file": "bundle.json",
        "bundle_sha256": packet.bundle_sha256,
        "tree_size": packet.tree_head["size"],
        "tree_root": packet.tree_head["root"],
    }
    token = (packet.bundle.parent / "head.tsr").read_bytes()
    ca = tsa.identity.ca_cert.read_bytes()
    assert verify_token(token, stamped, tsa_certificate=ca) == packet.timestamp.gen_time
    section = _section(packet.markdown.read_text(encoding="utf-8"), 7)
    assert packet.timestamp.gen_time.isoformat().replace("+00:00", "Z") in section
    assert "openssl ts -verify -token_in -in bundle/head.tsr -data bundle/head.json" in section
    # the instructions work as written
    (tmp_path / "packet" / "TSA-CA.pem").write_bytes(ca)
    command = next(
        block.split("\n```")[0] for block in section.split("```\n") if block.startswith("openssl")
    )
    done = subprocess.run(
        command.split(), cwd=tmp_path / "packet", capture_output=True, text=True, check=False
    )
    assert "Verification: OK" in done.stdout, done.stderr


def test_an_unreachable_tsa_leaves_no_half_packet(tmp_path: Path, unsupported: Ran) -> None:
    url = f"http://127.0.0.1:{closed_port()}/tsr"
    with pytest.raises(TimestampUnavailable, match="CFL_TSA_URL") as caught:
        unsupported.write_packet(tmp_path / "packet", tsa=load_tsa_settings(url=url, timeout_s=2))
    assert caught.value.url == url
    assert not (tmp_path / "packet").exists()


def test_a_tampered_ledger_gets_no_packet(tmp_path: Path, unsupported: Ran) -> None:
    copy = tmp_path / "store.db"
    with unsupported.store.engine.connect() as connection:
        connection.exec_driver_sql(f"VACUUM INTO '{copy}'")
    store = Store.open(f"sqlite:///{copy}")
    try:
        with store.engine.begin() as connection:
            connection.execute(
                text("UPDATE record SET actor = :a WHERE campaign_id = :c AND seq = 2"),
                {"a": "human:mallory", "c": unsupported.campaign.id},
            )
        with pytest.raises(LedgerTampered) as caught:
            write_packet(store, unsupported.campaign.id, tmp_path / "packet")
        assert caught.value.seq == 2
        assert not (tmp_path / "packet").exists()
    finally:
        store.close()


def test_models_and_agents_are_named_with_their_versions(small_spec: CampaignSpec) -> None:
    """An LLM co-scientist's calls and hypotheses, from records (no model is run)."""
    from cfl.disclosure import _contributors_section, _Facts, _markdown
    from cfl.ledger import GENESIS, seal

    agent = "agent:gpt-4o-mini@1.2"
    hypothesis = {
        "id": "H01",
        "statement": "yield falls with temperature",
        "kind": "effect",
        "prediction": Trend(
            objective="yield", variable="temperature", sign=-1, low=30, high=120
        ).model_dump(mode="json"),
        "rationale": "generated",
        "author": agent,
        "registered_after": 0,
    }
    call = {
        "purpose": "generate",
        "model": "gpt-4o-mini",
        "endpoint": "https://llm.example/v1",
        "prompt_sha256": "a" * 64,
        "output_sha256": "b" * 64,
        "input_tokens": 10,
        "output_tokens": 20,
        "tokens_counted_by": "server",
        "started_at": "2026-01-01T00:00:00Z",
        "duration_s": 1.0,
        "outcome": "ok",
        "lab_time_s": 0.0,
    }
    approval = {"experiments": ["E0001"], "by": "human:ada", "note": "", "lab_time_s": 0.0}
    rows = [
        ("campaign.created", "human:ada", {}),
        ("model.called", agent, call),
        ("model.called", agent, dict(call, purpose="review")),
        ("hypothesis.proposed", agent, {"hypothesis": hypothesis, "lab_time_s": 0.0}),
        ("experiment.approved", "human:ada", approval),
    ]
    records, prev = [], GENESIS
    for seq, (type_, actor, payload) in enumerate(rows, start=1):
        record = seal(campaign="c-1", seq=seq, type=type_, actor=actor, payload=payload, prev=prev)
        records.append(record)
        prev = record.hash
    campaign = observed_campaign(small_spec, [])
    campaign.apply(HypothesisProposed(lab_time_s=0, hypothesis=Hypothesis(**hypothesis)))
    facts = _Facts.read(campaign, records)
    people = {c.actor: c for c in facts.contributors}
    assert people[agent].kind == "AI"
    assert people[agent].label == "gpt-4o-mini, version 1.2 (AI agent)"
    assert "authored hypothesis H01" in people[agent].roles
    assert "called a language model" in people[agent].roles
    assert "approved 1 experiment" in people["human:ada"].roles
    assert facts.contributions["hypotheses"] == {"human": 0, "AI": 1, "device": 0, "system": 0}
    assert facts.contributions["decisions"]["human"] == 1
    text = _markdown(_contributors_section(facts))
    assert f"| {agent} | gpt-4o-mini | https://llm.example/v1 | 2 | generate, review |" in text
