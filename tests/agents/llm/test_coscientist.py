"""The LLM co-scientist over HTTP: which drafts it proposes, refuses, and how it judges pairs."""

from __future__ import annotations

import time
from typing import Any

import pytest

from agents.errors import ModelOutputInvalid, ModelUnavailable
from agents.llm.calls import ModelCall
from agents.llm.coscientist import LLMCoScientist
from agents.llm.roles import MetaReview
from agents.llm.settings import LLMSettings
from cfl.hypotheses import HypothesisDraft, HypothesisProposer, ProposalContext
from cfl.models import BestLevel, Interaction, Trend
from cfl.spec import CampaignSpec
from cfl.tournament import HypothesisJudge
from tests.agents.llm.conftest import AUTHOR, GOAL, hypothesis
from tests.agents.llm.stub_server import Reply, StubServer, json_reply

TREND = {
    "type": "trend",
    "objective": "yield",
    "variable": "temperature",
    "sign": 1,
    "low": 40.0,
    "high": 100.0,
}
LEVEL = {"type": "best_level", "objective": "yield", "variable": "solvent", "level": "MeCN"}
PASS = {"notes": "Checked against H01-H02.", "novel": True, "testable": True, "safe": True}


def draft(statement: str, prediction: dict[str, Any], kind: str = "effect") -> dict[str, Any]:
    return {
        "statement": statement,
        "kind": kind,
        "prediction": prediction,
        "rationale": f"Because: {statement.lower()}",
    }


def drafts(*items: dict[str, Any]) -> Reply:
    return json_reply({"hypotheses": list(items)})


def user_text(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


def schema_name(request: dict[str, Any]) -> str:
    return str(request["response_format"]["json_schema"]["name"])


@pytest.fixture
def coscientist(
    settings: LLMSettings, spec: CampaignSpec, calls: list[ModelCall]
) -> LLMCoScientist:
    built = LLMCoScientist.from_settings(settings, spec=spec, sink=calls.append)
    assert built is not None
    return built


def test_it_is_a_hypothesis_proposer_and_judge(coscientist: LLMCoScientist) -> None:
    assert isinstance(coscientist, HypothesisProposer)
    assert isinstance(coscientist, HypothesisJudge)
    assert coscientist.author == AUTHOR


def test_generation_proposes_checked_reviewed_drafts_by_cfl_s_author(
    stub: StubServer,
    coscientist: LLMCoScientist,
    context: ProposalContext,
    calls: list[ModelCall],
) -> None:
    stub.script(
        drafts(
            draft("Yield rises with temperature over 40-100 degC.", TREND),
            draft("MeCN gives the highest yield of the solvents.", LEVEL),
        ),
        json_reply(PASS),
        json_reply(PASS),
    )
    proposed = coscientist.propose(context)

    assert proposed == [
        HypothesisDraft(
            statement="Yield rises with temperature over 40-100 degC.",
            kind="effect",
            prediction=Trend(objective="yield", variable="temperature", sign=1, low=40, high=100),
            rationale="Because: yield rises with temperature over 40-100 degc.",
            author=AUTHOR,
        ),
        HypothesisDraft(
            statement="MeCN gives the highest yield of the solvents.",
            kind="effect",
            prediction=BestLevel(objective="yield", variable="solvent", level="MeCN"),
            rationale="Because: mecn gives the highest yield of the solvents.",
            author=AUTHOR,
        ),
    ]
    generation, review_1, review_2 = stub.requests  # no evolution: nothing registered yet
    assert schema_name(generation) == "Drafts"
    asked = user_text(generation)
    assert GOAL in asked
    assert "- temperature: continuous in [30, 120] degC" in asked
    assert "- solvent: categorical, levels EtOH, MeCN" in asked
    assert "- yield (%): maximize, weight 1" in asked
    assert "| E0002 | 60 | 0.5 | MeCN | 55.25 | 3 |" in asked
    assert "Propose at most 3 new hypotheses" in asked
    assert [schema_name(r) for r in (review_1, review_2)] == ["Review", "Review"]
    assert "Statement: Yield rises with temperature" in user_text(review_1)
    assert "Statement: MeCN gives the highest yield" in user_text(review_2)
    assert [c.purpose for c in calls] == ["generation", "reflection", "reflection"]
    assert all(c.outcome == "ok" and c.model == "stub-model" for c in calls)


def test_a_prediction_outside_the_bounds_is_refused_naming_the_field_and_bounds(
    stub: StubServer, coscientist: LLMCoScientist, context: ProposalContext
) -> None:
    hot = {**TREND, "low": 150.0, "high": 200.0}
    stub.script(
        drafts(
            draft("Yield rises with temperature over 150-200 degC.", hot),
            draft("MeCN gives the highest yield of the solvents.", LEVEL),
        ),
        json_reply(PASS),
    )
    proposal = coscientist.propose_detailed(context)

    assert [d.prediction for d in proposal.drafts] == [
        BestLevel(objective="yield", variable="solvent", level="MeCN")
    ]
    (rejection,) = proposal.rejected
    assert rejection.stage == "check"
    assert rejection.draft.statement == "Yield rises with temperature over 150-200 degC."
    assert rejection.reason.startswith("prediction.low: range [150, 200] of temperature")
    assert "inside its bounds [30, 120]" in rejection.reason
    assert len(stub.requests) == 2  # the refused draft was not even sent for review


def test_invalid_json_from_generation_is_an_error_and_no_drafts(
    stub: StubServer, coscientist: LLMCoScientist, context: ProposalContext
) -> None:
    stub.script(Reply(content="Here are three ideas: {temperature matters}"))
    with pytest.raises(ModelOutputInvalid) as caught:
        coscientist.propose(context)
    assert str(caught.value).startswith(
        "generation: stub-model did not answer with a valid Drafts: not JSON"
    )
    assert "Here are three ideas" in str(caught.value)
    assert len(stub.requests) == 1


def test_a_timeout_is_model_unavailable_within_the_timeout(
    stub: StubServer, settings: LLMSettings, spec: CampaignSpec, context: ProposalContext
) -> None:
    slow = LLMCoScientist.from_settings(
        settings.model_copy(update={"timeout_s": 0.3}), spec=spec, sink=None
    )
    assert slow is not None
    stub.script(Reply(delay_s=30, content="{}"))
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable, match=r"did not answer within 0\.3 s"):
        slow.propose(context)
    assert time.perf_counter() - started < 0.3 + 0.6


def test_reflection_drops_what_fails_review(
    stub: StubServer, coscientist: LLMCoScientist, context: ProposalContext
) -> None:
    stub.script(
        drafts(
            draft("Yield rises with temperature over 40-100 degC.", TREND),
            draft("MeCN gives the highest yield of the solvents.", LEVEL),
        ),
        json_reply({**PASS, "novel": False, "notes": "Same claim as H01."}),
        Reply(content="I think it is fine."),  # an unreadable review: not vetted, not proposed
    )
    proposal = coscientist.propose_detailed(context)
    assert proposal.drafts == ()
    assert [(r.stage, r.reason) for r in proposal.rejected] == [
        ("reflection", "not novel: Same claim as H01."),
        ("reflection", "its review could not be read, so it was not vetted"),
    ]
    (problem,) = proposal.problems
    assert problem.startswith("reflection: stub-model did not answer with a valid Review")


def test_evolution_refines_the_best_ranked_once_there_are_two(
    stub: StubServer,
    coscientist: LLMCoScientist,
    context: ProposalContext,
    calls: list[ModelCall],
) -> None:
    registered = [
        hypothesis(
            "H01",
            "Yield rises with temperature.",
            Trend(objective="yield", variable="temperature", sign=1, low=30, high=120),
            elo=1250,
        ),
        hypothesis(
            "H02",
            "Yield rises with residence time.",
            Trend(objective="yield", variable="residence_time", sign=1, low=0.5, high=2),
            elo=1180,
        ),
    ]
    context = ProposalContext(
        spec=context.spec,
        experiments=context.experiments,
        observations=context.observations,
        hypotheses=registered,
    )
    merged = {
        "type": "interaction",
        "objective": "yield",
        "variable": "temperature",
        "moderator": "residence_time",
        "sign": 1,
    }
    stub.script(
        drafts(draft("MeCN gives the highest yield of the solvents.", LEVEL)),
        json_reply(PASS),
        drafts(
            draft("Temperature and residence time reinforce each other.", merged, "interaction"),
            draft("Yield rises with temperature over 30-120 degC.", {**TREND, "low": 30.0}),
        ),
    )
    proposal = coscientist.propose_detailed(context)

    assert [d.prediction for d in proposal.drafts] == [
        BestLevel(objective="yield", variable="solvent", level="MeCN"),
        Interaction(objective="yield", variable="temperature", moderator="residence_time", sign=1),
    ]
    (duplicate,) = proposal.rejected  # the same trend as H01, sign and all
    assert duplicate.stage == "duplicate"
    assert [c.purpose for c in calls] == ["generation", "reflection", "evolution"]
    evolution = user_text(stub.requests[2])
    top = evolution.split("The best-ranked hypotheses so far:\n")[1].split("\n\n")[0]
    assert top.splitlines()[0].startswith("- H01 [open; credence 0.50 on 0 observations; Elo 1250]")
    assert top.splitlines()[1].startswith("- H02 ")
    assert "Propose at most 2 new hypotheses" in evolution


def _letter_of(statement_part: str, request: dict[str, Any]) -> str:
    text = user_text(request)
    a = text.split("Hypothesis A:\n")[1].split("Hypothesis B:\n")[0]
    return "A" if statement_part in a else "B"


@pytest.fixture
def pair() -> tuple[Any, Any]:
    hot = hypothesis(
        "H01",
        "Yield rises with temperature.",
        Trend(objective="yield", variable="temperature", sign=1, low=30, high=120),
    )
    slow = hypothesis(
        "H02",
        "Yield rises with residence time.",
        Trend(objective="yield", variable="residence_time", sign=1, low=0.5, high=2),
    )
    return hot, slow


def test_a_judge_that_always_says_a_scores_a_draw(
    stub: StubServer,
    coscientist: LLMCoScientist,
    pair: tuple[Any, Any],
    calls: list[ModelCall],
) -> None:
    hot, slow = pair
    stub.always(lambda request: json_reply({"reason": "First is better.", "winner": "A"}))
    assert coscientist.judge_pair(hot, slow) == 0.5
    first, second = stub.requests
    assert _letter_of("temperature", first) == "A"  # asked (hot, slow) ...
    assert _letter_of("temperature", second) == "B"  # ... then (slow, hot)
    assert GOAL in user_text(first)
    assert "H01" not in user_text(first) and "offline-coscientist" not in user_text(first)
    assert [c.purpose for c in calls] == ["ranking", "ranking"]


def test_a_consistent_preference_wins_whichever_side_it_is_on(
    stub: StubServer, coscientist: LLMCoScientist, pair: tuple[Any, Any]
) -> None:
    hot, slow = pair

    def prefers_temperature(request: dict[str, Any]) -> Reply:
        winner = _letter_of("temperature", request)
        return json_reply({"reason": "Temperature has the larger effect.", "winner": winner})

    stub.always(prefers_temperature)
    assert coscientist.judge(hot, slow) == 1.0
    assert coscientist.judge(slow, hot) == 0.0
    assert len(stub.requests) == 4


def test_compare_asks_one_order_for_the_tournament(
    stub: StubServer,
    coscientist: LLMCoScientist,
    pair: tuple[Any, Any],
    context: ProposalContext,
    calls: list[ModelCall],
) -> None:
    hot, slow = pair
    stub.always(lambda request: json_reply({"reason": "First is better.", "winner": "A"}))
    assert coscientist.compare(hot, slow, context) == 1.0
    assert coscientist.compare(slow, hot, context) == 1.0  # the tournament cancels the bias
    assert [_letter_of("temperature", r) for r in stub.requests] == ["A", "B"]
    assert [c.purpose for c in calls] == ["ranking", "ranking"]


def test_meta_review(
    stub: StubServer, coscientist: LLMCoScientist, context: ProposalContext
) -> None:
    review = {"summary": "Yield climbs with temperature.", "next_steps": ["Try 110 degC in MeCN."]}
    stub.script(json_reply(review))
    assert coscientist.meta_review(context) == MetaReview.model_validate(review)
    (request,) = stub.requests
    assert schema_name(request) == "MetaReview"
    assert GOAL in user_text(request) and "| E0004 | 100 | 2 | MeCN | 71.75 | 3 |" in user_text(
        request
    )


def test_notes_reach_the_generation_prompt(
    stub: StubServer, settings: LLMSettings, spec: CampaignSpec, context: ProposalContext
) -> None:
    noted = LLMCoScientist.from_settings(
        settings, spec=spec, sink=None, notes=lambda: ["Avoid MeCN above 80 degC."]
    )
    assert noted is not None
    stub.script(drafts())
    assert noted.propose(context) == []
    assert "Researcher notes:\n- Avoid MeCN above 80 degC." in user_text(stub.requests[0])
    assert stub.requests[0]["model"] == "stub-model"


def test_the_spec_notes_reach_the_generation_prompt(
    stub: StubServer, coscientist: LLMCoScientist, context: ProposalContext
) -> None:
    noted = ProposalContext(
        spec=context.spec.model_copy(update={"notes": ("The amine degrades above 100 degC.",)}),
        experiments=context.experiments,
        observations=context.observations,
        hypotheses=context.hypotheses,
    )
    stub.script(drafts())
    assert coscientist.propose(noted) == []
    assert "Researcher notes:\n- The amine degrades above 100 degC." in user_text(stub.requests[0])
