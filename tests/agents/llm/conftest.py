"""Fixtures for the LLM co-scientist: a stub endpoint, settings pointing at it, a small campaign."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents.llm.calls import ModelCall
from agents.llm.settings import LLMSettings
from cfl.hypotheses import ProposalContext
from cfl.models import Experiment, ExperimentStatus, Hypothesis, Observation, Trend
from cfl.spec import CampaignSpec
from tests.agents.llm.stub_server import StubServer
from tests.conftest import demo_spec_data

GOAL = "Maximise the yield of the SnAr coupling in flow while keeping waste low."
MODEL = "stub-model"
AUTHOR = "agent:stub-model@0.1"


@pytest.fixture(autouse=True)
def _no_llm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's endpoint, key or tracing settings."""
    for name in (
        "CFL_LLM_BASE_URL",
        "CFL_LLM_MODEL",
        "CFL_LLM_API_KEY",
        "CFL_LLM_TIMEOUT_S",
        "CFL_LLM_MAX_RETRIES",
        "CFL_LLM_TEMPERATURE",
        "CFL_LLM_STRUCTURED_OUTPUT",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "LC_OUTPUT_VERSION",
        "LANGSMITH_TRACING",
        "LANGCHAIN_TRACING_V2",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def _stub_server() -> Iterator[StubServer]:
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def stub(_stub_server: StubServer) -> Iterator[StubServer]:
    """The session's stub, with no requests and no script."""
    _stub_server.reset()
    yield _stub_server
    _stub_server.reset()


@pytest.fixture
def settings(stub: StubServer) -> LLMSettings:
    return LLMSettings(base_url=stub.base_url, model=MODEL, timeout_s=5, max_retries=0)


@pytest.fixture
def calls() -> list[ModelCall]:
    """The sink's records."""
    return []


@pytest.fixture
def spec() -> CampaignSpec:
    """Temperature 30-120 degC, residence time 0.5-2 min, solvent EtOH or MeCN; yield, e-factor."""
    data = demo_spec_data()
    data.update(
        name="snar-llm",
        goal=GOAL,
        space={
            "parameters": [
                {
                    "name": "temperature",
                    "type": "continuous",
                    "low": 30,
                    "high": 120,
                    "unit": "degC",
                },
                {
                    "name": "residence_time",
                    "type": "continuous",
                    "low": 0.5,
                    "high": 2.0,
                    "unit": "min",
                },
                {"name": "solvent", "type": "categorical", "levels": ["EtOH", "MeCN"]},
            ]
        },
    )
    return CampaignSpec.model_validate(data)


def experiments(spec: CampaignSpec, rows: list[tuple[float, float, str, float]]) -> ProposalContext:
    """A context whose finished experiments are ``rows`` of (temperature, time, solvent, yield)."""
    done: list[Experiment] = []
    observations: dict[str, Observation] = {}
    for i, (temperature, time, solvent, y) in enumerate(rows, start=1):
        e = Experiment(
            id=f"E{i:04d}",
            index=i,
            round=1,
            params={"temperature": temperature, "residence_time": time, "solvent": solvent},
            protocol=spec.protocol,
            source="initial",
            status=ExperimentStatus.DONE,
        )
        done.append(e)
        observations[e.id] = Observation(
            experiment=e.id, values={"yield": y, "e_factor": 3.0}, device="hplc-1", lab_time_s=0
        )
    return ProposalContext(spec=spec, experiments=done, observations=observations, hypotheses=[])


ROWS = [
    (40.0, 1.0, "EtOH", 41.5),
    (60.0, 0.5, "MeCN", 55.25),
    (80.0, 1.5, "EtOH", 63.0),
    (100.0, 2.0, "MeCN", 71.75),
]


@pytest.fixture
def context(spec: CampaignSpec) -> ProposalContext:
    return experiments(spec, ROWS)


def hypothesis(hid: str, statement: str, prediction: Trend, *, elo: float = 1200) -> Hypothesis:
    return Hypothesis(
        id=hid,
        statement=statement,
        kind="effect",
        prediction=prediction,
        rationale="From the data.",
        author="agent:offline-coscientist@0.1",
        registered_after=4,
        elo=elo,
    )
