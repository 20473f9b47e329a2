"""A real campaign in a temporary store, written through the journal, for the copilot's tests.

``snar-small-1``: 12 experiments done (yield rising with temperature), H01 (yield rises with
temperature) registered after E0004 and assessed by :func:`cfl.evidence.assess`, H02 (an optimum)
registered but not yet assessed, E0013 and E0014 proposed (awaiting a decision), E0015 queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cfl.events import (
    ExperimentDesigned,
    ExperimentStarted,
    HypothesisAssessed,
    HypothesisProposed,
    ObservationRecorded,
)
from cfl.evidence import assess
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus, Hypothesis, Observation, Optimum, Trend
from cfl.settings import Settings
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from tests.agents.copilot.stub import Stub, serve
from tests.conftest import demo_spec_data, write_spec

CAMPAIGN = "snar-small-1"
ALICE = "human:alice"


@pytest.fixture(autouse=True)
def _no_llm_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CFL_LLM_BASE_URL", "CFL_LLM_MODEL", "CFL_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def copilot_spec(tmp_path_factory: pytest.TempPathFactory) -> CampaignSpec:
    """The small demo spec, loaded once (it is frozen)."""
    data = demo_spec_data()
    data.update(name="snar-small", budget={"experiments": 16}, initial_design=4, stop={})
    return load_spec(write_spec(tmp_path_factory.mktemp("copilot-spec"), data))


@dataclass(frozen=True)
class Lab:
    store: Store
    campaign: str
    best: str
    """Id of the best experiment."""
    best_yield: float
    h01_log10_bf: float


def _yield(i: int, temperature: float, equivalents: float) -> float:
    noise = ((i * 37) % 7 - 3) * 0.8  # deterministic, so the best experiment is known
    return round(20 + 0.5 * (temperature - 30) + 3 * equivalents + noise, 3)


def build_campaign(store: Store, spec: CampaignSpec) -> Lab:
    journal = Journal.create(store, spec, actor="human:tester")
    temperatures = [30, 110, 60, 90, 40, 50, 70, 80, 100, 115, 65, 85]
    h01 = Hypothesis(
        id="H01",
        statement="Yield rises with temperature",
        kind="effect",
        prediction=Trend(objective="yield", variable="temperature", sign=1, low=30, high=120),
        rationale="faster substitution when hot",
        author="agent:offline@0.1",
        registered_after=4,
    )
    for i, temperature in enumerate(temperatures, start=1):
        if i == 5:
            journal.write(h01.author, HypothesisProposed(lab_time_s=i, hypothesis=h01))
        equivalents = 1.0 + (i % 4)
        params = spec.space.coerce(
            {
                "residence_time": 0.5 + (i % 3) * 0.5,
                "equivalents": equivalents,
                "concentration": 0.1 + (i % 5) * 0.1,
                "temperature": float(temperature),
            }
        )
        e = Experiment(
            id=f"E{i:04d}",
            index=i,
            round=1 + (i - 1) // 4,
            params=params,
            protocol=spec.protocol,
            source="initial" if i <= 4 else "planner",
            tests=("H01",) if i > 4 else (),
        )
        observation = Observation(
            experiment=e.id,
            values={"yield": _yield(i, temperature, equivalents), "e_factor": 2.0},
            device="hplc-1",
            lab_time_s=float(i),
        )
        journal.write(
            "cfl",
            ExperimentDesigned(lab_time_s=i, experiment=e),
            ExperimentStarted(lab_time_s=i, experiment=e.id, attempt=1, sample=e.sample),
            ObservationRecorded(lab_time_s=i, observation=observation),
        )
    result = assess(journal.campaign, h01)
    statistics = {k: round(v, 6) for k, v in result.statistics.items()}
    journal.write(
        "cfl:evidence",
        HypothesisAssessed(
            lab_time_s=13,
            hypothesis="H01",
            status=result.status,
            credence=round(result.credence, 6),
            evidence_n=result.evidence_n,
            statistics=dict(statistics),
        ),
    )
    h02 = Hypothesis(
        id="H02",
        statement="The best temperature lies between 90 and 120 degC",
        kind="region",
        prediction=Optimum(objective="yield", variable="temperature", low=90, high=120),
        rationale="",
        author=ALICE,
        registered_after=12,
    )
    journal.write(ALICE, HypothesisProposed(lab_time_s=13, hypothesis=h02))
    point = spec.space.coerce(
        {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 95.0}
    )
    waiting = [
        Experiment(
            id=f"E{i:04d}",
            index=i,
            round=4,
            params=point,
            protocol=spec.protocol,
            source="planner",
            status=status,
        )
        for i, status in (
            (13, ExperimentStatus.PROPOSED),
            (14, ExperimentStatus.PROPOSED),
            (15, ExperimentStatus.QUEUED),
        )
    ]
    journal.write("cfl", *(ExperimentDesigned(lab_time_s=13, experiment=e) for e in waiting))
    best = journal.campaign.best()
    assert best is not None
    return Lab(
        store=store,
        campaign=journal.campaign.id,
        best=best[0].id,
        best_yield=best[1].values["yield"],
        h01_log10_bf=statistics["log10_bf"],
    )


@pytest.fixture
def lab(copilot_spec: CampaignSpec, tmp_path: Path) -> Iterator[Lab]:
    """The campaign in the store ``cfl`` itself opens here (``$CFL_HOME`` is per test)."""
    store = Store.open(Settings().store_url)
    built = build_campaign(store, copilot_spec)
    assert built.campaign == CAMPAIGN
    yield built
    store.close()


@pytest.fixture(scope="session")
def _stub_server() -> Iterator[Stub]:
    with serve([]) as stub:
        yield stub


@pytest.fixture
def stub(_stub_server: Stub) -> Stub:
    """The scripted OpenAI-compatible server, emptied: ``stub.load([...])`` gives it a script."""
    return _stub_server.load([])
