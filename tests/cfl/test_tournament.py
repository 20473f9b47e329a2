from __future__ import annotations

import math

import pytest

from cfl.hypotheses import ProposalContext
from cfl.models import Hypothesis, HypothesisStatus, Match, Trend
from cfl.spec import CampaignSpec
from cfl.tournament import (
    expected_score,
    final_rank,
    play,
    posterior_log_odds,
)


def _h(hid: str, *, elo: float = 1200.0, log10_bf: float = 0.0) -> Hypothesis:
    return Hypothesis(
        id=hid,
        statement=hid,
        kind="effect",
        prediction=Trend(objective="yield", variable="temperature", sign=1, low=30, high=120),
        rationale="r",
        author="human:ada",
        registered_after=0,
        elo=elo,
        log10_bf=log10_bf,
    )


class FirstWins:
    """A judge with pure position bias: whatever is shown first wins."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def compare(self, first: Hypothesis, second: Hypothesis, context: ProposalContext) -> float:
        self.calls.append((first.id, second.id))
        return 1.0


class Prefers:
    def __init__(self, favourite: str) -> None:
        self.favourite = favourite

    def compare(self, first: Hypothesis, second: Hypothesis, context: ProposalContext) -> float:
        if self.favourite in (first.id, second.id):
            return 1.0 if first.id == self.favourite else 0.0
        return 0.5


@pytest.fixture
def context(small_spec: CampaignSpec) -> ProposalContext:
    return ProposalContext(spec=small_spec, experiments=(), observations={}, hypotheses=())


def test_expected_score_is_elos_logistic() -> None:
    assert expected_score(1200, 1200) == 0.5
    assert expected_score(1600, 1200) == pytest.approx(1 / (1 + 10**-1))


def test_position_bias_is_cancelled_by_judging_both_orders(context: ProposalContext) -> None:
    judge = FirstWins()
    matches, ratings = play([_h("H01"), _h("H02")], ["H02"], judge, context)
    assert judge.calls == [("H02", "H01"), ("H01", "H02")]
    assert matches == [Match(first="H02", second="H01", forward=1.0, backward=1.0)]
    assert matches[0].score == 0.5 and ratings == {}  # a draw between equals changes nothing


def test_a_consistent_win_moves_k_over_two_between_equals(context: ProposalContext) -> None:
    matches, ratings = play([_h("H01"), _h("H02")], ["H02"], Prefers("H02"), context)
    assert matches[0].score == 1.0
    assert ratings == {"H02": 1216.0, "H01": 1184.0}


def test_newcomers_play_the_nearest_rated_and_each_pair_once(context: ProposalContext) -> None:
    pool = [_h("H01", elo=1400), _h("H02", elo=1210), _h("H03", elo=1190), _h("H04")]
    judge = FirstWins()
    matches, _ = play(pool, ["H04", "H03"], judge, context, opponents=2)
    # H04 (1200) meets H02 and H03 (10 away); H03 then two it has not met: H02, then H01
    assert [(m.first, m.second) for m in matches] == [
        ("H04", "H02"),
        ("H04", "H03"),
        ("H03", "H02"),
        ("H03", "H01"),
    ]
    assert len(judge.calls) == 8


def test_a_judge_out_of_range_is_clipped_and_nan_refused(context: ProposalContext) -> None:
    class Wild:
        def __init__(self, score: float) -> None:
            self.score = score

        def compare(self, first: Hypothesis, second: Hypothesis, c: ProposalContext) -> float:
            return self.score

    matches, _ = play([_h("H01"), _h("H02")], ["H02"], Wild(3.0), context)
    assert (matches[0].forward, matches[0].backward) == (1.0, 1.0)
    with pytest.raises(ValueError, match="must return a score in"):
        play([_h("H01"), _h("H02")], ["H02"], Wild(math.nan), context)


def test_posterior_log_odds_add_the_rating_prior_and_the_evidence() -> None:
    # logit(E vs 1200) = ln(10) (R - 1200) / 400
    assert posterior_log_odds(_h("H01", elo=1300)) == pytest.approx(math.log(10) * 0.25)
    assert posterior_log_odds(_h("H01", elo=1300, log10_bf=-2)) == pytest.approx(
        math.log(10) * (0.25 - 2)
    )


def test_evidence_outweighs_debate_in_the_final_rank() -> None:
    eloquent = _h("H01", elo=1350, log10_bf=-1.5)  # won its debates, refuted by the data
    tested = _h("H02", elo=1180, log10_bf=1.3)
    untested = _h("H03")
    ranked = final_rank({h.id: h for h in (eloquent, tested, untested)})
    assert [h.id for h in ranked] == ["H02", "H03", "H01"]
    assert eloquent.status == HypothesisStatus.OPEN
