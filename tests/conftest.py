"""Shared fixtures: an isolated CFL home per test, the demo spec, and small variants of it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from cfl.campaign import Campaign
from cfl.events import CampaignCreated, ExperimentDesigned, ExperimentStarted, ObservationRecorded
from cfl.journal import spec_hash
from cfl.models import Experiment, Observation
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "examples" / "snar"
DEMO_SPEC = DEMO_DIR / "campaign.yaml"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the developer's .cfl or a configured database."""
    monkeypatch.setenv("CFL_HOME", str(tmp_path / "cfl-home"))
    monkeypatch.delenv("CFL_DATABASE_URL", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty SQLite store in the test's folder."""
    s = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def demo_spec_data() -> dict[str, Any]:
    """The demo spec as a mapping, with the lab file inlined."""
    data = yaml.safe_load(DEMO_SPEC.read_text())
    data["lab"] = yaml.safe_load((DEMO_DIR / "lab.yaml").read_text())
    return data


def write_spec(folder: Path, data: dict[str, Any], name: str = "campaign.yaml") -> Path:
    """Write a spec mapping as YAML and return its path."""
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def small_spec(tmp_path: Path) -> CampaignSpec:
    """The demo campaign cut down to 8 experiments in batches of 4 (about 2 s)."""
    data = demo_spec_data()
    data.update(name="snar-small", budget={"experiments": 8}, initial_design=4, stop={})
    return load_spec(write_spec(tmp_path, data))


def observed_campaign(
    spec: CampaignSpec,
    rows: Sequence[tuple[dict[str, float | int | str], float | dict[str, float]]],
) -> Campaign:
    """A campaign whose experiments ran at ``rows``' conditions and measured ``rows``' yields
    (with an e-factor of 1), or ``rows``' values where a row gives them all."""
    campaign = Campaign.from_events(
        "c-1", [CampaignCreated(lab_time_s=0, spec=spec, spec_hash=spec_hash(spec))]
    )
    for i, (params, y) in enumerate(rows, start=1):
        e = Experiment(
            id=f"E{i:04d}",
            index=i,
            round=1,
            params=params,
            protocol=spec.protocol,
            source="planner",
        )
        campaign.apply(ExperimentDesigned(lab_time_s=0, experiment=e))
        campaign.apply(ExperimentStarted(lab_time_s=0, experiment=e.id, attempt=1, sample=e.sample))
        values = y if isinstance(y, dict) else {"yield": y, "e_factor": 1.0}
        observation = Observation(experiment=e.id, values=values, device="hplc-1", lab_time_s=0)
        campaign.apply(ObservationRecorded(lab_time_s=0, observation=observation))
    return campaign
