"""``cfl approve``: a person's decision on proposed experiments, filed for the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cfl.cli import app
from cfl.control import ControlBoard
from cfl.events import ExperimentDesigned
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus
from cfl.settings import Settings
from cfl.spec import CampaignSpec
from cfl.store import Store


@pytest.fixture
def store() -> Iterator[Store]:
    """The store ``cfl`` itself opens (``CFL_HOME`` of the test)."""
    opened = Store.open(Settings().store_url)
    yield opened
    opened.close()


@pytest.fixture
def proposed(store: Store, small_spec: CampaignSpec) -> str:
    journal = Journal.create(store, small_spec, actor="human:ada")
    point = small_spec.space.coerce(
        {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 80.0}
    )
    journal.write(
        "cfl",
        *(
            ExperimentDesigned(
                lab_time_s=0,
                experiment=Experiment(
                    id=f"E{i:04d}",
                    index=i,
                    round=1,
                    params=point,
                    protocol=small_spec.protocol,
                    source="planner",
                    status=ExperimentStatus.PROPOSED,
                ),
            )
            for i in (1, 2)
        ),
    )
    return journal.campaign.id


def test_approve_files_every_proposed_experiment_as_the_named_person(
    proposed: str, store: Store, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["approve", proposed, "--by", "ada", "--note", "looks safe"])
    assert result.exit_code == 0, result.output
    assert f"Filed the approval of E0001, E0002 for {proposed}" in result.output
    (request,) = ControlBoard(store).pending(proposed)
    assert (request.kind, request.by) == ("approve", "human:ada")
    assert request.payload == {"experiments": ["E0001", "E0002"], "note": "looks safe"}


def test_reject_names_the_experiments_and_a_decision_needs_a_name(
    proposed: str, store: Store
) -> None:
    nameless = CliRunner().invoke(app, ["approve", proposed])
    assert nameless.exit_code == 2 and "--by NAME" in nameless.output
    result = CliRunner().invoke(app, ["approve", proposed, "E0002", "--by", "bo", "--reject"])
    assert result.exit_code == 0, result.output
    (request,) = ControlBoard(store).pending(proposed)
    assert (request.kind, request.payload["experiments"]) == ("reject", ["E0002"])
    unknown = CliRunner().invoke(app, ["approve", proposed, "E0009", "--by", "bo"])
    assert unknown.exit_code == 2 and "E0009" in unknown.output


def test_set_edits_one_experiment_inside_the_bounds(proposed: str, store: Store) -> None:
    edit = ["approve", proposed, "E0002", "--by", "ada", "--set", "temperature=95"]
    result = CliRunner().invoke(app, [*edit, "--set", "equivalents=3"])
    assert result.exit_code == 0, result.output
    assert f"Filed the edit and approval of E0002 for {proposed}" in result.output
    (request,) = ControlBoard(store).pending(proposed)
    assert (request.kind, request.by) == ("edit", "human:ada")
    assert request.payload == {
        "experiment": "E0002",
        "params": {"temperature": 95.0, "equivalents": 3.0},
        "note": "",
    }
    for bad, says in [
        (["E0001", "--set", "temperature=200"], "temperature=200.0 is outside [30.0, 120.0]"),
        (["E0001", "--set", "temperature=hot"], "temperature takes a number, got 'hot'"),
        (["E0001", "--set", "pressure=2"], "unknown parameter 'pressure'"),
        (["--set", "temperature=90"], "--set edits one experiment"),
    ]:
        refused = CliRunner().invoke(app, ["approve", proposed, "--by", "ada", *bad])
        assert refused.exit_code == 2 and says in refused.output, (bad, refused.output)
    assert len(ControlBoard(store).pending(proposed)) == 1  # nothing else was filed
