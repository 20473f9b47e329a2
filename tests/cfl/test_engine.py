from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cfl import hypotheses
from cfl.campaign import Campaign
from cfl.clock import LabClock, run_on_clock
from cfl.devices import Reading
from cfl.engine import Engine
from cfl.errors import DeviceFault
from cfl.events import ModelCalled
from cfl.hypotheses import HypothesisDraft, ProposalContext
from cfl.journal import Journal
from cfl.lab import Lab
from cfl.ledger import verify_chain
from cfl.models import ExperimentStatus, Trend
from cfl.planner import Evaluation
from cfl.runner import open_or_create, run_campaign
from cfl.space import Point
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from instruments.sim.hplc import SimHPLC
from robots.sim_kapex import SimKapex
from tests.conftest import demo_spec_data, write_spec

GOOD = {"residence_time": 2.0, "equivalents": 2.2, "concentration": 0.4, "temperature": 30.0}
POOR = {"residence_time": 0.5, "equivalents": 5.0, "concentration": 0.1, "temperature": 120.0}


class ScriptedPlanner:
    """Hands out prepared batches, then nothing; remembers what it was told."""

    def __init__(self, batches: list[list[Point]]) -> None:
        self.batches = batches
        self.ingested: list[Evaluation] = []

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        return self.batches.pop(0)[:n] if self.batches else []

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        self.ingested.extend(evaluations)


class FixedProposer:
    author = "human:ada"

    def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        return [
            HypothesisDraft(
                statement="yield falls with temperature over 30-120 degC",
                kind="effect",
                prediction=Trend(
                    objective="yield", variable="temperature", sign=-1, low=30, high=120
                ),
                rationale="known chemistry",
                author=self.author,
            )
        ]


class FlakyKapex(SimKapex):
    """Cannot find the vial of experiment E0002 in the rack (nothing is left behind)."""

    async def pick(self, sample: str, location: str) -> None:
        if sample.startswith("S-E0002"):
            raise DeviceFault(f"{self.name}: no vial found at {location}", device=self.name)
        await super().pick(sample, location)


class FlakyHPLC(SimHPLC):
    """Fails on the sample of experiment E0001, which then stays in the instrument."""

    async def measure(self, sample: str) -> Reading:
        if sample.startswith("S-E0001"):
            raise DeviceFault("hplc-1: air bubble in the flow cell", device=self.name)
        return await super().measure(sample)


def _engine_run(
    spec: CampaignSpec,
    store: Store,
    planner: ScriptedPlanner,
    proposer: FixedProposer | None = None,
) -> Campaign:
    journal = Journal.create(store, spec, actor="human:ada")
    clock = LabClock()

    async def main() -> Campaign:
        lab = Lab.build(spec.lab, clock=clock, seed=spec.seed)
        return await Engine(
            journal=journal,
            devices=dict(lab.devices),
            planner=planner,
            proposer=proposer,
            clock=clock,
        ).run()

    return run_on_clock(main, clock=clock, kind="virtual")


def _spec(tmp_path: Path, **changes: object) -> CampaignSpec:
    data = demo_spec_data()
    data.update(name="engine-test", budget={"experiments": 8}, initial_design=2, stop={})
    data.update(changes)
    return load_spec(write_spec(tmp_path, data))


def test_small_campaign_runs_to_budget_with_pre_registered_hypotheses(
    tmp_path: Path, store: Store
) -> None:
    spec = _spec(tmp_path, batch_size=2, budget={"experiments": 6}, testing_share=0)
    planner = ScriptedPlanner([[GOOD, POOR], [POOR, GOOD], [GOOD, GOOD]])
    campaign = _engine_run(spec, store, planner, FixedProposer())
    assert campaign.finished is not None and campaign.finished.reason == "budget"
    assert [e.round for e in campaign.experiments.values()] == [1, 1, 2, 2, 3, 3]
    assert all(e.status == ExperimentStatus.DONE for e in campaign.experiments.values())
    assert len(planner.ingested) == 6  # each observation exactly once
    assert {e.params["temperature"] for e in planner.ingested} == {30.0, 120.0}
    # The hypothesis came after round 1 (2 observations = initial design) and before round 2.
    h = campaign.hypotheses["H01"]
    assert h.registered_after == 2
    records = store.records(campaign.id)
    proposed = next(r.seq for r in records if r.type == "hypothesis.proposed")
    designed = {
        r.payload["experiment"]["id"]: r.seq
        for r in records  # type: ignore[index]
        if r.type == "experiment.designed"
    }
    for e in campaign.experiments.values():
        if e.index > 2:
            assert "H01" in e.tests and designed[e.id] > proposed
        else:
            assert e.tests == ()
    # 4 experiments after registration at 30 and 120 degC, 2 each: yield falls, clearly.
    assert h.evidence_n == 4
    assert verify_chain(records, campaign=campaign.id) == len(records)


def test_a_share_of_each_batch_tests_the_open_hypotheses(tmp_path: Path, store: Store) -> None:
    spec = _spec(tmp_path, batch_size=4, budget={"experiments": 8}, initial_design=4)
    assert spec.testing_share == 0.25
    planner = ScriptedPlanner([[GOOD, POOR, GOOD, POOR], [GOOD, POOR, GOOD, POOR]])
    campaign = _engine_run(spec, store, planner, FixedProposer())
    sources = [e.source for e in campaign.experiments.values()]
    # round 1 is the initial design; then one of four is the co-scientist's, designed first
    assert sources == ["initial"] * 4 + ["coscientist", "planner", "planner", "planner"]
    aimed = campaign.experiments["E0005"]
    assert aimed.designed_for == ("H01",) and "H01" in aimed.tests
    records = store.records(campaign.id)
    actors = {
        r.payload["experiment"]["id"]: r.actor  # type: ignore[index]
        for r in records
        if r.type == "experiment.designed"
    }
    assert actors["E0005"] == "cfl:discriminate" and actors["E0006"] == "planner:cfl-gp"


def test_target_stops_early(tmp_path: Path, store: Store) -> None:
    spec = _spec(tmp_path, stop={"target": {"objective": "yield", "value": 80}})
    campaign = _engine_run(spec, store, ScriptedPlanner([[GOOD, POOR], [GOOD, GOOD]]))
    assert campaign.finished is not None and campaign.finished.reason == "target"
    assert campaign.designed == 2
    assert "yield reached" in campaign.finished.detail


def test_patience_stops_when_rounds_bring_nothing_better(tmp_path: Path, store: Store) -> None:
    spec = _spec(tmp_path, batch_size=1, stop={"patience": 2})
    planner = ScriptedPlanner([[GOOD]] + [[POOR]] * 6)
    campaign = _engine_run(spec, store, planner)
    assert campaign.finished is not None and campaign.finished.reason == "patience"
    assert campaign.designed == 3  # round 1 set the best; rounds 2 and 3 did not beat it


def test_no_suggestions_ends_the_campaign(tmp_path: Path, store: Store) -> None:
    campaign = _engine_run(_spec(tmp_path), store, ScriptedPlanner([[GOOD, GOOD]]))
    assert campaign.finished is not None and campaign.finished.reason == "no-suggestions"
    assert campaign.designed == 2


def test_failed_experiments_count_against_the_budget_and_the_campaign_goes_on(
    tmp_path: Path, store: Store
) -> None:
    data = demo_spec_data()
    # a sim-kapex twin, so it takes sim-kapex's options rather than the demo robot's
    data["lab"]["devices"]["kapex-1"].update(
        driver="tests.cfl.test_engine:FlakyKapex", options={"home": "rack"}
    )
    data.update(name="flaky", budget={"experiments": 4}, initial_design=2, stop={})
    spec = load_spec(write_spec(tmp_path, data))
    planner = ScriptedPlanner([[GOOD, POOR], [GOOD, POOR]])
    campaign = _engine_run(spec, store, planner)
    statuses = {e.id: e.status for e in campaign.experiments.values()}
    assert statuses == {
        "E0001": ExperimentStatus.DONE,
        "E0002": ExperimentStatus.FAILED,
        "E0003": ExperimentStatus.DONE,
        "E0004": ExperimentStatus.DONE,
    }
    assert "no vial found at rack" in (campaign.experiments["E0002"].failure or "")
    assert "E0002" not in campaign.observations and len(planner.ingested) == 3
    assert campaign.finished is not None and campaign.finished.reason == "budget"


def test_the_vial_of_a_failed_measurement_is_discarded_and_the_instrument_goes_on(
    tmp_path: Path, store: Store
) -> None:
    data = demo_spec_data()
    data["lab"]["devices"]["hplc-1"]["driver"] = "tests.cfl.test_engine:FlakyHPLC"
    data.update(name="discard", budget={"experiments": 2}, batch_size=2, initial_design=2, stop={})
    campaign = _engine_run(
        load_spec(write_spec(tmp_path, data)), store, ScriptedPlanner([[GOOD, POOR]])
    )
    first, second = campaign.experiments["E0001"], campaign.experiments["E0002"]
    assert first.status == ExperimentStatus.FAILED and "air bubble" in (first.failure or "")
    assert second.status == ExperimentStatus.DONE
    discarded = [r.payload for r in store.records(campaign.id) if r.type == "sample.discarded"]
    assert discarded == [
        {
            "lab_time_s": discarded[0]["lab_time_s"],
            "experiment": "E0001",
            "sample": "S-E0001-1",
            "source": "hplc-1",
            "robot": "kapex-1",
        }
    ]
    assert campaign.quarantined == {}


def test_without_a_discard_a_blocked_station_is_quarantined_and_the_campaign_pauses(
    tmp_path: Path, store: Store
) -> None:
    """The simulated bench catches what a real bench would: the vial has nowhere to go."""
    data = demo_spec_data()
    data["lab"]["devices"]["hplc-1"]["driver"] = "tests.cfl.test_engine:FlakyHPLC"
    del data["lab"]["locations"]["waste"]
    data.update(name="blocked", budget={"experiments": 2}, batch_size=2, initial_design=2, stop={})
    campaign = _engine_run(
        load_spec(write_spec(tmp_path, data)), store, ScriptedPlanner([[GOOD, POOR]])
    )
    first, second = campaign.experiments["E0001"], campaign.experiments["E0002"]
    assert first.status == ExperimentStatus.FAILED
    assert "holds vial S-E0001-1 of failed experiment E0001" in campaign.quarantined["hplc-1"]
    # the second experiment lost nothing: its vial was discarded, and it waits for a device
    assert (second.status, second.attempt) == (ExperimentStatus.QUEUED, 2)
    assert campaign.finished is None
    assert campaign.paused is not None and "role 'hplc' is quarantined" in campaign.paused.detail


def test_runner_resumes_an_unfinished_campaign_of_the_same_spec(
    small_spec: CampaignSpec, store: Store
) -> None:
    first = open_or_create(store, small_spec)
    assert not first.resumed
    again = open_or_create(store, small_spec)
    assert again.resumed and again.journal.campaign.id == first.journal.campaign.id
    finished = run_campaign(again.journal)
    assert finished.finished is not None and len(finished.observations) == 8
    new = open_or_create(store, small_spec)
    assert not new.resumed and new.journal.campaign.id == "snar-small-2"


def test_tested_by_covers_the_range_inclusively() -> None:
    trend = Trend(objective="yield", variable="temperature", sign=1, low=30, high=60)
    assert hypotheses.tested_by(trend, {"temperature": 30.0})
    assert hypotheses.tested_by(trend, {"temperature": 60})
    assert not hypotheses.tested_by(trend, {"temperature": 60.5})


class ThinkingProposer:
    """Stands in for a language-model co-scientist: logs its "model call", then answers only
    once the lab has recorded another observation (or after 5 s if nothing is in flight)."""

    author = "agent:thinker@1"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.log: hypotheses.ModelCallLog | None = None
        self.on_main_thread: list[bool] = []
        self.lab_moved_on: list[bool] = []

    def log_calls(self, log: hypotheses.ModelCallLog) -> None:
        self.log = log

    def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        assert self.log is not None
        self.on_main_thread.append(threading.current_thread() is threading.main_thread())
        self.log(
            {
                "purpose": "generation", "model": "thinker", "endpoint": "http://127.0.0.1:1",
                "prompt_sha256": "0" * 64, "output_sha256": "1" * 64, "input_tokens": 10,
                "output_tokens": 5, "tokens_counted_by": "estimate",
                "started_at": "2026-11-24T00:00:00Z", "duration_s": 0.1, "outcome": "ok",
            }
        )  # fmt: skip
        in_flight = any(not e.status.finished for e in context.experiments)
        before = len(context.observations)
        deadline = time.monotonic() + 5
        while in_flight and time.monotonic() < deadline:
            if len(self.journal.campaign.observations) > before:
                break
            time.sleep(0.01)
        self.lab_moved_on.append(len(self.journal.campaign.observations) > before)
        return []


def test_the_lab_runs_on_while_a_language_model_thinks(tmp_path: Path, store: Store) -> None:
    # On the wall clock, as with real devices (sped up 1000 times); on
    # the virtual clock no lab time passes while a thread works (cfl.clock).
    # Leases and deadlines outlive a loaded machine's stalls at this speed (the robot's 10 s
    # lease would be 10 ms).
    lab = demo_spec_data()["lab"]
    lab["devices"]["kapex-1"]["options"]["lease_ttl_s"] = 3600
    for device in lab["devices"].values():
        device["step_timeout_s"] = 36_000
    spec = _spec(
        tmp_path, batch_size=2, max_in_flight=4, budget={"experiments": 6}, testing_share=0, lab=lab
    )
    journal = Journal.create(store, spec, actor="human:ada")
    clock = LabClock(speed=1000.0)
    thinker = ThinkingProposer(journal)

    def log_call(call: object) -> None:  # what the runner does: the call into the ledger
        assert isinstance(call, dict)
        journal.write("agent:thinker", ModelCalled.model_validate({**call, "lab_time_s": 0}))

    thinker.log_calls(log_call)
    planner = ScriptedPlanner([[GOOD, POOR]] * 4)

    async def main() -> Campaign:
        lab = Lab.build(spec.lab, clock=clock, seed=spec.seed)
        engine = Engine(
            journal=journal, devices=dict(lab.devices), planner=planner, proposer=thinker,
            clock=clock,
        )  # fmt: skip
        return await engine.run()

    campaign = run_on_clock(main, clock=clock, kind="wall")
    assert campaign.finished is not None and campaign.finished.reason == "budget"
    assert thinker.on_main_thread and not any(thinker.on_main_thread)  # thought in a thread
    assert any(thinker.lab_moved_on)  # ... while observations kept coming in
    records = store.records(campaign.id)
    assert sum(r.type == "model.called" for r in records) == len(thinker.on_main_thread)
    assert verify_chain(records, campaign=campaign.id) == len(records)


def test_a_data_driven_proposer_thinks_inline(tmp_path: Path, store: Store) -> None:
    threads: list[bool] = []

    class Inline(FixedProposer):
        def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
            threads.append(threading.current_thread() is threading.main_thread())
            return super().propose(context)

    spec = _spec(tmp_path, batch_size=2, budget={"experiments": 4}, testing_share=0)
    _engine_run(spec, store, ScriptedPlanner([[GOOD, POOR], [POOR, GOOD]]), Inline())
    assert threads and all(threads)
