"""The offline copilot: each plain command reaches the right tool with the right arguments."""

from __future__ import annotations

from typing import Any

import pytest

from agents.copilot.offline import HELP, OFFLINE_NOTICE, OfflineCopilot, parse
from agents.copilot.tools import OPERATOR_PROCEDURE, Toolbox
from cfl.control import ControlBoard
from tests.agents.copilot.conftest import ALICE, CAMPAIGN, Lab


def _ask(lab: Lab, message: str, *, actor: str | None = ALICE) -> tuple[str, Toolbox]:
    toolbox = Toolbox(lab.store, actor=actor)
    text = OfflineCopilot(toolbox).respond(message).text
    assert text.startswith(OFFLINE_NOTICE)
    return text.removeprefix(OFFLINE_NOTICE).strip(), toolbox


@pytest.mark.parametrize(
    ("message", "tool", "args"),
    [
        ("list campaigns", "list_campaigns", {}),
        ("status of snar-small-1", "campaign_status", {"campaign": CAMPAIGN}),
        ("how is snar-small-1 doing?", "campaign_status", {"campaign": CAMPAIGN}),
        ("best result", "best_result", {"campaign": CAMPAIGN}),  # the newest campaign
        ("best result in snar-small-1", "best_result", {"campaign": CAMPAIGN}),
        (
            "explain H02 in snar-small-1",
            "explain_hypothesis",
            {"campaign": CAMPAIGN, "hypothesis": "H02"},
        ),
        ("verify the ledger of snar-small-1", "verify_ledger", {"campaign": CAMPAIGN}),
        (
            "pause snar-small-1 because the HPLC drifts",
            "pause_campaign",
            {"campaign": CAMPAIGN, "note": "the HPLC drifts"},
        ),
        ("resume snar-small-1", "resume_campaign", {"campaign": CAMPAIGN, "note": ""}),
        (
            "approve E0013 E0014 in snar-small-1",
            "approve_experiments",
            {"campaign": CAMPAIGN, "experiments": ["E0013", "E0014"], "note": ""},
        ),
        (
            "reject E0014 in snar-small-1 because too close to E0013",
            "reject_experiments",
            {"campaign": CAMPAIGN, "experiments": ["E0014"], "note": "too close to E0013"},
        ),
        (
            "add hypothesis to snar-small-1: yield falls with equivalents over 1.5 to 4",
            "add_hypothesis",
            {
                "campaign": CAMPAIGN,
                "statement": "yield falls with equivalents over 1.5 to 4",
                "kind": "effect",
                "prediction": {
                    "type": "trend",
                    "objective": "yield",
                    "variable": "equivalents",
                    "sign": -1,
                    "low": 1.5,
                    "high": 4.0,
                },
            },
        ),
        (
            "add hypothesis to snar-small-1: the best temperature for yield lies between 60 and 90",
            "add_hypothesis",
            {
                "campaign": CAMPAIGN,
                "statement": "the best temperature for yield lies between 60 and 90",
                "kind": "region",
                "prediction": {
                    "type": "optimum",
                    "objective": "yield",
                    "variable": "temperature",
                    "low": 60.0,
                    "high": 90.0,
                },
            },
        ),
        (
            "new hypothesis for snar-small-1: the effect of temperature on yield grows with "
            "equivalents",
            "add_hypothesis",
            {
                "campaign": CAMPAIGN,
                "statement": "the effect of temperature on yield grows with equivalents",
                "kind": "interaction",
                "prediction": {
                    "type": "interaction",
                    "objective": "yield",
                    "variable": "temperature",
                    "moderator": "equivalents",
                    "sign": 1,
                },
            },
        ),
    ],
)
def test_intents_reach_the_right_tool(message: str, tool: str, args: dict[str, Any]) -> None:
    intent = parse(message, [CAMPAIGN])
    assert (intent.tool, intent.args) == (tool, args)


def test_status_answers_from_the_campaign(lab: Lab) -> None:
    text, toolbox = _ask(lab, "status of snar-small-1")
    assert [c.name for c in toolbox.calls] == ["campaign_status"]
    assert "2 proposed, 1 queued, 12 done (budget 16)" in text
    assert "awaiting a decision: E0013, E0014" in text
    assert "H01 supported" in text and "H02 open" in text


def test_list_and_best_result(lab: Lab) -> None:
    text, _ = _ask(lab, "list campaigns")
    assert f"- {CAMPAIGN}: not finished" in text and "12/16 done" in text
    text, _ = _ask(lab, "what is the best result?")
    assert f"yield {lab.best_yield:.4g}% at {lab.best}" in text
    assert "temperature=115 degC" in text


def test_explain_gives_the_bayes_factor_of_the_last_assessment(lab: Lab) -> None:
    text, toolbox = _ask(lab, "explain h1 in snar-small-1")
    assert text.startswith("H01 (effect, by agent:offline@0.1): Yield rises with temperature")
    assert f"log10 BF = {lab.h01_log10_bf:.2f}" in text
    assert "on 8 observations" in text
    assert "tested by: E0005, E0006" in text
    assert toolbox.calls[0].result.data["log10_bf"] == lab.h01_log10_bf
    text, _ = _ask(lab, "explain H02 in snar-small-1")
    assert "Bayes factor: not assessed yet" in text and "by human:alice" in text
    text, _ = _ask(lab, "explain H07 in snar-small-1")
    assert "no hypothesis 'H07' in snar-small-1; hypotheses: ['H01', 'H02']" in text


def test_verify_the_ledger(lab: Lab) -> None:
    text, _ = _ask(lab, "verify the ledger of snar-small-1")
    head = lab.store.campaign(CAMPAIGN).head_seq
    assert text.startswith(f"Ledger of {CAMPAIGN} OK: {head} records verified")


def test_acting_files_requests_as_the_session(lab: Lab) -> None:
    text, _ = _ask(lab, "approve E0013 E0014 in snar-small-1")
    assert "Filed control request #1 (approve E0013, E0014)" in text
    assert "applies it at its next step" in text
    _ask(lab, "pause snar-small-1 because the HPLC drifts")
    approve, pause = ControlBoard(lab.store).pending(CAMPAIGN)
    assert (approve.kind, approve.by, approve.payload["experiments"]) == (
        "approve",
        ALICE,
        ["E0013", "E0014"],
    )
    assert (pause.kind, pause.by, pause.payload) == ("pause", ALICE, {"note": "the HPLC drifts"})


def test_refusals_store_nothing(lab: Lab) -> None:
    board = ControlBoard(lab.store)
    text, _ = _ask(
        lab, "add hypothesis to snar-small-1: yield rises with temperature over 100 to 200"
    )
    assert "Refused: prediction.low: range [100, 200] of temperature" in text
    assert "inside its bounds [30, 120]" in text
    text, _ = _ask(lab, "approve E0015 in snar-small-1")
    assert "E0015 is queued; only proposed experiments can be approved" in text
    text, _ = _ask(lab, "pause snar-small-1", actor=None)
    assert "start the chat with `cfl chat --as NAME`" in text
    text, _ = _ask(lab, "resume snar-small-1")
    assert "not paused and no pause is pending" in text
    assert board.history(CAMPAIGN) == []


@pytest.mark.parametrize(
    "message",
    [
        "clear the e-stop on kapex-1",
        "reset the emergency stop",
        "move the robot to the rack",
        "release the lease",
        "release device reactor-1 in snar-small-1",
    ],
)
def test_safety_requests_are_refused_with_the_operator_procedure(lab: Lab, message: str) -> None:
    text, toolbox = _ask(lab, message)
    assert OPERATOR_PROCEDURE in text
    assert toolbox.calls == []


def test_unknown_messages_get_help_and_the_notice_is_said_once(lab: Lab) -> None:
    copilot = OfflineCopilot(Toolbox(lab.store, actor=ALICE))
    first = copilot.respond("sing me a song").text
    second = copilot.respond("help").text
    assert first.startswith(OFFLINE_NOTICE) and HELP in first
    assert OFFLINE_NOTICE not in second and second == HELP


def test_acting_needs_a_named_campaign(lab: Lab) -> None:
    text, toolbox = _ask(lab, "pause")
    assert text == f"Which campaign? Say e.g. 'pause {CAMPAIGN}'."
    assert toolbox.calls == []


def test_edit_changes_one_proposed_experiment_inside_the_bounds(lab: Lab) -> None:
    text, _ = _ask(lab, "edit E0013 in snar-small-1: temperature=200")
    assert "Refused" in text and "temperature=200.0 is outside [30.0, 120.0]" in text
    assert ControlBoard(lab.store).pending(CAMPAIGN) == []
    text, _ = _ask(
        lab, "edit E0013 in snar-small-1: temperature=95, equivalents=2 because the seal leaks"
    )
    assert "Filed control request #1 (edit E0013: temperature=95, equivalents=2)" in text
    (edit,) = ControlBoard(lab.store).pending(CAMPAIGN)
    assert (edit.kind, edit.by) == ("edit", ALICE)
    assert edit.payload == {
        "experiment": "E0013",
        "params": {"temperature": 95.0, "equivalents": 2.0},
        "note": "the seal leaks",
    }
    text, _ = _ask(lab, "edit E0013 E0014 in snar-small-1: temperature=95")
    assert text.endswith(
        "Say which experiment and what to change, e.g. 'edit E0012 in "
        "snar-small-1: temperature=100'."
    )
