"""Leaderboard fixtures: a leaderboard database and CFL store in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cfl.events import ExperimentDesigned, ExperimentStarted, ObservationRecorded
from cfl.journal import Journal
from cfl.models import Experiment, Observation
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from leaderboard.service import Leaderboard
from tests.conftest import demo_spec_data, write_spec


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Leaderboard]:
    lb = Leaderboard(
        f"sqlite:///{tmp_path / 'lb.db'}", cfl_store_url=f"sqlite:///{tmp_path / 'cfl.db'}"
    )
    yield lb
    lb.close()


@pytest.fixture(scope="session")
def snar_spec(tmp_path_factory: pytest.TempPathFactory) -> CampaignSpec:
    data = demo_spec_data()
    data.update(name="snar-lb", budget={"experiments": 8}, initial_design=4, stop={})
    return load_spec(write_spec(tmp_path_factory.mktemp("spec"), data))


def observed(store: Store, spec: CampaignSpec, yields: list[float]) -> str:
    """A campaign in ``store`` whose experiments measured ``yields``; returns its id."""
    journal = Journal.create(store, spec, actor="human:tester")
    point = spec.space.coerce(
        {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 80.0}
    )
    for i, y in enumerate(yields, start=1):
        e = Experiment(
            id=f"E{i:04d}", index=i, round=1, params=point, protocol=spec.protocol, source="planner"
        )
        journal.write("cfl", ExperimentDesigned(lab_time_s=0, experiment=e))
        journal.write(
            "cfl", ExperimentStarted(lab_time_s=0, experiment=e.id, attempt=1, sample=e.sample)
        )
        observation = Observation(
            experiment=e.id, values={"yield": y, "e_factor": 1.0}, device="hplc-1", lab_time_s=0
        )
        journal.write("device:hplc-1", ObservationRecorded(lab_time_s=0, observation=observation))
    return journal.campaign.id
