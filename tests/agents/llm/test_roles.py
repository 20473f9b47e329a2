"""The pure parts of the roles: screening drafts, the swapped-order judge, the data table."""

from __future__ import annotations

from typing import Literal

import pytest

from agents.llm.coscientist import LLMCoScientist
from agents.llm.prompts import experiment_table
from agents.llm.roles import DraftOut, judge_pair, screen
from cfl.errors import SpecError
from cfl.models import BestLevel, Hypothesis, HypothesisStatus, Optimum, Trend
from cfl.spec import CampaignSpec
from cfl.tournament import top_hypotheses
from tests.agents.llm.conftest import ROWS, experiments, hypothesis


def out(prediction: Trend | BestLevel | Optimum, statement: str = "claim") -> DraftOut:
    return DraftOut(statement=statement, kind="effect", prediction=prediction, rationale="r")


def test_screen_refuses_bad_duplicate_and_surplus_drafts(spec: CampaignSpec) -> None:
    known = hypothesis(
        "H01", "t", Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)
    )
    accepted, rejected = screen(
        spec,
        [
            out(Trend(objective="yield", variable="temperature", sign=1, low=50, high=90), "dup"),
            out(BestLevel(objective="yield", variable="solvent", level="DMSO"), "no level"),
            out(Optimum(objective="purity", variable="temperature", low=50, high=90), "no obj"),
            out(Optimum(objective="yield", variable="temperature", low=70, high=90), "first"),
            out(Optimum(objective="yield", variable="temperature", low=60, high=80), "same"),
            out(BestLevel(objective="yield", variable="solvent", level="EtOH"), "second"),
            out(Trend(objective="yield", variable="residence_time", sign=-1, low=1, high=2), "3rd"),
        ],
        author="agent:m@0.1",
        known=[known],
        limit=2,
    )
    assert [(d.statement, d.author) for d in accepted] == [
        ("first", "agent:m@0.1"),
        ("second", "agent:m@0.1"),
    ]
    assert [(r.draft.statement, r.stage) for r in rejected] == [
        ("dup", "duplicate"),
        ("no level", "check"),
        ("no obj", "check"),
        ("same", "duplicate"),
        ("3rd", "limit"),
    ]
    assert rejected[1].reason.startswith("prediction.level: solvent has no level 'DMSO'")
    assert rejected[2].reason.startswith("prediction.objective: unknown objective 'purity'")


@pytest.mark.parametrize(
    ("first", "second", "score"),
    [("A", "B", 1.0), ("B", "A", 0.0), ("A", "A", 0.5), ("B", "B", 0.5)],
)
def test_judge_pair_counts_each_order_once(
    first: Literal["A", "B"], second: Literal["A", "B"], score: float
) -> None:
    a = hypothesis(
        "H01", "a", Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)
    )
    b = hypothesis(
        "H02", "b", Trend(objective="yield", variable="temperature", sign=-1, low=30, high=120)
    )
    asked: list[tuple[str, str]] = []
    answers = iter([first, second])

    def ask(x: Hypothesis, y: Hypothesis) -> Literal["A", "B"]:
        asked.append((x.id, y.id))
        return next(answers)

    assert judge_pair(ask, a, b) == score
    assert asked == [("H01", "H02"), ("H02", "H01")]


def test_top_hypotheses_skip_refuted_and_rank_by_elo() -> None:
    trend = Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)
    ranked = [
        hypothesis("H01", "a", trend, elo=1100),
        hypothesis("H02", "b", trend, elo=1300).model_copy(
            update={"status": HypothesisStatus.REFUTED}
        ),
        hypothesis("H03", "c", trend, elo=1250),
        hypothesis("H04", "d", trend, elo=1200),
    ]
    assert [h.id for h in top_hypotheses(ranked, 2)] == ["H03", "H04"]


def test_the_table_shows_the_latest_finished_experiments(spec: CampaignSpec) -> None:
    context = experiments(spec, ROWS)
    table = experiment_table(spec, context.experiments, context.observations, max_rows=2)
    assert table.splitlines() == [
        "| id | temperature | residence_time | solvent | yield | e_factor |",
        "|---|---|---|---|---|---|",
        "| E0003 | 80 | 1.5 | EtOH | 63 | 3 |",
        "| E0004 | 100 | 2 | MeCN | 71.75 | 3 |",
        "(the latest 2 of 4 finished experiments)",
    ]
    assert experiment_table(spec, [], {}, max_rows=10) == "(none)"


def test_from_spec_needs_an_endpoint(spec: CampaignSpec) -> None:
    with pytest.raises(SpecError, match="set CFL_LLM_BASE_URL and CFL_LLM_MODEL") as caught:
        LLMCoScientist.from_spec(spec)
    assert caught.value.field == "coscientist"
