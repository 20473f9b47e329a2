"""The campaign report: the noise-aware recommendation, trade-offs, the hypotheses table."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfl.events import HypothesisProposed
from cfl.models import Hypothesis, Interaction
from cfl.report import _recommended, _trade_offs, recommended, write_summary
from cfl.spec import CampaignSpec, load_spec
from tests.conftest import demo_spec_data, observed_campaign, write_spec

LUCKY = {"residence_time": 0.6, "equivalents": 1.2, "concentration": 0.12, "temperature": 110.0}
STEADY = {"residence_time": 1.9, "equivalents": 2.4, "concentration": 0.4, "temperature": 35.0}
ELSEWHERE = [
    {"residence_time": 1.2, "equivalents": 4.5, "concentration": 0.25, "temperature": 70.0},
    {"residence_time": 0.9, "equivalents": 3.0, "concentration": 0.45, "temperature": 90.0},
    {"residence_time": 1.6, "equivalents": 1.5, "concentration": 0.2, "temperature": 55.0},
]


def _spec(tmp_path: Path, planner: str) -> CampaignSpec:
    data = demo_spec_data()
    data.update(planner=planner)
    return load_spec(write_spec(tmp_path, data))


def _rows() -> list[tuple[dict[str, float | int | str], float]]:
    # one lucky reading of 90 at conditions that read 70 and 71 when repeated; steady 84-86
    lucky = [(dict(LUCKY), 90.0), (dict(LUCKY), 70.0), (dict(LUCKY), 71.0)]
    steady = [(dict(STEADY), 85.0), (dict(STEADY), 84.0), (dict(STEADY), 86.0)]
    others = [(dict(p), 50.0 + 5 * i) for i, p in enumerate(ELSEWHERE)]
    return lucky + steady + others


def test_the_model_recommends_the_steady_conditions_over_the_lucky_reading(
    tmp_path: Path,
) -> None:
    campaign = observed_campaign(_spec(tmp_path, "cfl-gp"), _rows())
    best = campaign.best()
    assert best is not None and best[0].id == "E0001"  # the lucky 90
    pick = recommended(campaign)
    assert pick is not None and pick.params == STEADY and pick.id == "E0004"
    (line,) = [text for text in _recommended(campaign) if text]
    assert line.startswith("**Recommended conditions** (noise-aware): the planner's model (cfl-gp)")
    assert "rates E0004 best" in line and "yield = 85" in line


@pytest.mark.parametrize("planner", ["skopt-gp", "random"])
def test_planners_without_a_model_pick_recommend_nothing(tmp_path: Path, planner: str) -> None:
    campaign = observed_campaign(_spec(tmp_path, planner), _rows())
    assert recommended(campaign) is None and _recommended(campaign) == []


def test_the_report_lists_the_pareto_front_of_yield_against_e_factor(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "cfl-gp")  # yield maximised (weight 1), e_factor minimised (weight 0)
    points = [LUCKY, STEADY, *ELSEWHERE]
    values = [(80, 9.0), (85, 12.0), (70, 4.0), (78, 10.0), (70, 5.0)]
    rows = [
        (dict(p), {"yield": y, "e_factor": e}) for p, (y, e) in zip(points, values, strict=True)
    ]
    campaign = observed_campaign(spec, rows)
    lines = _trade_offs(campaign)
    # E0004 (78, 10) loses to E0001 (80, 9); E0005 (70, 5) to E0003 (70, 4); the rest trade off
    assert lines[1] == "## Trade-offs"
    assert lines[3].startswith("3 of 5 measured experiments are Pareto-optimal for yield")
    table = [line.split(" | ")[:3] for line in lines[7:10]]
    assert table == [["| E0002", "85", "12"], ["| E0001", "80", "9"], ["| E0003", "70", "4"]]
    assert "The planner optimised the weighted score;" in lines[3]
    # gains (80, -9), (85, -12), (70, -4), (78, -10), (70, -5); reference a tenth of each range
    # below the worst, (68.5, -12.8). First two: 16.5 * 0.8 + 11.5 * 3.8 - 11.5 * 0.8 = 47.7;
    # (70, -4) adds 1.5 * (8.8 - 3.8) = 7.5; the last two are dominated
    assert lines[-1].endswith("47.7 after 2, 55.2 after 3, 55.2 after 4, 55.2 after 5 experiments.")


def test_a_campaign_planned_for_the_front_says_so(tmp_path: Path) -> None:
    data = demo_spec_data()
    data["objectives"][1].update(weight=1.0)
    data.update(plan_for="front")
    spec = load_spec(write_spec(tmp_path, data))
    campaign = observed_campaign(
        spec,
        [
            (dict(LUCKY), {"yield": 80.0, "e_factor": 9.0}),
            (dict(STEADY), {"yield": 85.0, "e_factor": 12.0}),
        ],
    )
    assert "The planner mapped this front (plan_for: front);" in _trade_offs(campaign)[3]


def test_one_objective_has_no_trade_offs(tmp_path: Path) -> None:
    data = demo_spec_data()
    data.update(objectives=[{"name": "yield", "direction": "maximize"}])
    campaign = observed_campaign(load_spec(write_spec(tmp_path, data)), _rows())
    assert _trade_offs(campaign) == []


def test_the_hypotheses_table_says_how_much_evidence_an_open_one_still_needs(
    tmp_path: Path,
) -> None:
    campaign = observed_campaign(_spec(tmp_path, "cfl-gp"), _rows())
    pair = Interaction(
        objective="yield", variable="temperature", moderator="residence_time", sign=1
    )
    waiting = Hypothesis(
        id="H01",
        statement="temperature helps more at long residence times",
        kind="interaction",
        prediction=pair,
        rationale="r",
        author="human:ada",
        registered_after=0,
        evidence_n=8,
    )
    campaign.apply(HypothesisProposed(lab_time_s=0, hypothesis=waiting))
    out = tmp_path / "summary.md"
    write_summary(campaign, out, plot=tmp_path / "p.png", table=tmp_path / "t.csv", head=(1, "ab"))
    (row,) = [line for line in out.read_text().splitlines() if line.startswith("| 1 | H01 |")]
    assert "| 8 (needs 11) |" in row  # an interaction: p = 5 + product + 2 squares, plus 3
