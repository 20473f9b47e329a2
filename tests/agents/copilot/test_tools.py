"""The tools themselves: schemas for the model, and the rules they keep whoever calls them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agents.copilot.tools import Toolbox, tool_schemas
from cfl.control import ControlBoard
from cfl.errors import SpecError
from cfl.events import ExperimentDesigned, ExperimentStarted, ObservationRecorded
from cfl.journal import Journal
from cfl.models import Experiment, Observation
from cfl.settings import Settings
from cfl.spec import CampaignSpec
from cfl.store import Store
from tests.agents.copilot.conftest import ALICE, CAMPAIGN, Lab


def test_every_tool_has_a_schema_the_model_can_use() -> None:
    schemas = {s["function"]["name"]: s["function"] for s in tool_schemas()}
    assert set(schemas) == {
        "list_campaigns",
        "campaign_status",
        "best_result",
        "explain_hypothesis",
        "add_hypothesis",
        "approve_experiments",
        "edit_experiment",
        "reject_experiments",
        "pause_campaign",
        "resume_campaign",
        "verify_ledger",
    }
    for name, schema in schemas.items():
        assert schema["description"], name
        assert schema["parameters"]["type"] == "object"
        assert schema["parameters"]["additionalProperties"] is False
        text = json.dumps(schema)
        assert "discriminator" not in text and "oneOf" not in text
        assert not {"by", "actor", "author"} & set(schema["parameters"]["properties"])
    prediction = schemas["add_hypothesis"]["parameters"]["properties"]["prediction"]
    assert len(prediction["anyOf"]) == 4
    trend = schemas["add_hypothesis"]["parameters"]["$defs"]["Trend"]
    assert trend["required"][0] == "type"  # the tag that picks the union member is sent


def test_identity_must_be_a_person(lab: Lab) -> None:
    with pytest.raises(SpecError, match="human:<name>"):
        Toolbox(lab.store, actor="agent:copilot")


@pytest.mark.parametrize("key", ["by", "actor", "author", "as", "identity"])
def test_a_call_cannot_smuggle_an_identity(lab: Lab, key: str) -> None:
    toolbox = Toolbox(lab.store, actor=ALICE)
    result = toolbox.call("pause_campaign", {"campaign": CAMPAIGN, key: "human:root"})
    assert not result.ok and "cannot set or change it" in result.text
    assert toolbox.actor == ALICE
    assert ControlBoard(lab.store).history(CAMPAIGN) == []


def test_bad_arguments_come_back_as_text(lab: Lab) -> None:
    toolbox = Toolbox(lab.store, actor=ALICE)
    result = toolbox.call("explain_hypothesis", {"campaign": CAMPAIGN})
    assert not result.ok
    assert result.text == (
        "Invalid arguments for explain_hypothesis: hypothesis: Field required. Nothing was done."
    )
    result = toolbox.call("add_hypothesis", {"campaign": CAMPAIGN, "statement": "x", "kind": "x"})
    assert "kind: Input should be 'effect', 'interaction', 'region' or 'mechanism'" in result.text
    assert "prediction: Field required" in result.text
    assert toolbox.call("campaign_status", {"campaign": "nope-1"}).text.startswith(
        "Not found: no campaign 'nope-1'; known campaigns: ['snar-small-1']"
    )
    assert [c.name for c in toolbox.calls] == [
        "explain_hypothesis",
        "add_hypothesis",
        "campaign_status",
    ]


def test_unknown_tools_are_refused(lab: Lab) -> None:
    toolbox = Toolbox(lab.store, actor=ALICE)
    for name in ("clear_estop", "move_robot", "take_lease", "release_device"):
        result = toolbox.call(name, {})
        assert not result.ok and "Operator procedure" in result.text, name
    result = toolbox.call("sing", {})
    assert result.text.startswith("There is no tool 'sing'; tools: [")


def test_a_hypothesis_in_bounds_is_filed_for_the_engine(lab: Lab) -> None:
    toolbox = Toolbox(lab.store, actor=ALICE)
    prediction = {
        "type": "best_level",
        "objective": "yield",
        "variable": "temperature",
        "level": "x",
    }
    result = toolbox.call(
        "add_hypothesis",
        {"campaign": CAMPAIGN, "statement": "x", "kind": "effect", "prediction": prediction},
    )
    assert "'temperature' is not a categorical parameter" in result.text
    prediction = {
        "type": "optimum",
        "objective": "yield",
        "variable": "temperature",
        "low": 60,
        "high": 90,
    }
    args = {"campaign": CAMPAIGN, "statement": "x", "kind": "region", "prediction": prediction}
    assert (
        "hypothesis H02 already makes this prediction" in toolbox.call("add_hypothesis", args).text
    )
    prediction = {**prediction, "variable": "equivalents", "low": 2, "high": 3}
    result = toolbox.call(
        "add_hypothesis",
        {
            "campaign": CAMPAIGN,
            "statement": "Best at 2-3 equiv",
            "kind": "region",
            "prediction": prediction,
        },
    )
    assert result.ok, result.text
    (request,) = ControlBoard(lab.store).pending(CAMPAIGN)
    assert request.draft().author == ALICE and request.draft().statement == "Best at 2-3 equiv"
    assert result.data["request"]["id"] == request.id  # type: ignore[index, call-overload]


def test_status_gives_the_model_bounds_and_objectives(lab: Lab) -> None:
    data = Toolbox(lab.store, actor=None).call("campaign_status", {"campaign": CAMPAIGN}).data
    assert {
        "name": "temperature",
        "type": "continuous",
        "low": 30.0,
        "high": 120.0,
        "unit": "degC",
    } in data["space"]  # type: ignore[operator]
    assert data["awaiting_decision"] == ["E0013", "E0014"]
    json.dumps(data)  # JSON-able as it is


def test_verify_ledger_names_the_first_bad_record(lab: Lab) -> None:
    lab.store.close()
    database = str(Settings().store_url).removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE record SET payload = replace(payload, '73.9', '99.9') "
            "WHERE campaign_id = ? AND type = 'observation.recorded'",
            (CAMPAIGN,),
        )
    toolbox = Toolbox(lab.store, actor=ALICE)
    result = toolbox.call("verify_ledger", {"campaign": CAMPAIGN})
    assert not result.ok and "does NOT verify" in result.text
    assert isinstance(result.data["first_bad_record"], int)
    listed = toolbox.call("list_campaigns", {})
    assert "LEDGER DOES NOT VERIFY" in listed.text
    assert "ledger does not verify" in toolbox.call("best_result", {"campaign": CAMPAIGN}).text


def test_best_result_leaves_out_an_objective_recorded_but_not_measured(
    copilot_spec: CampaignSpec, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'cfl.db'}")
    journal = Journal.create(store, copilot_spec, actor="human:tester")
    params = copilot_spec.space.coerce(
        {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 80.0}
    )
    e = Experiment(
        id="E0001",
        index=1,
        round=1,
        params=params,
        protocol=copilot_spec.protocol,
        source="initial",
    )
    journal.write("cfl", ExperimentDesigned(lab_time_s=0, experiment=e))
    journal.write(
        "cfl", ExperimentStarted(lab_time_s=0, experiment=e.id, attempt=1, sample=e.sample)
    )
    only_yield = Observation(experiment=e.id, values={"yield": 61.5}, device="hplc-1", lab_time_s=1)
    journal.write("device:hplc-1", ObservationRecorded(lab_time_s=1, observation=only_yield))
    result = Toolbox(store, actor=None).call("best_result", {"campaign": journal.campaign.id})
    assert result.ok, result.text
    assert result.text.endswith("Measured: yield 61.5%.")  # e_factor (weight 0) not measured
    store.close()
