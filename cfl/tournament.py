"""Ranking hypotheses: an Elo tournament of pairwise judgements, then updated by evidence.

Before an experiment tests it, a hypothesis can only be judged against the others: is it more
plausible, more useful to the goal? A *judge* (an LLM, the offline co-scientist's surrogate, a
person) compares two hypotheses at a time. Every pair is judged twice with the order swapped, and
the two verdicts are averaged, so a judge that prefers whichever comes first (position bias, a
known failure of LLM judges [Zheng2023]_) scores a draw instead of deciding the match. Ratings
follow Elo [Elo1978]_ from 1200 with ``K = 32`` (as the open co-scientist tournaments do):

    E_a = 1 / (1 + 10^((R_b - R_a) / 400)),    R_a' = R_a + K * (S_a - E_a).

Once experiments test it, what the data say outweighs any judge. The final rank orders hypotheses
by posterior log-odds that their prediction holds, with the tournament as the prior and the
measured evidence as the update:

    log-odds = ln(E_vs_1200 / (1 - E_vs_1200)) + ln(10) * log10_bf,

where ``E_vs_1200`` is the hypothesis's expected score against an unrated (1200) hypothesis and
``log10_bf`` the Bayes factor of its evidence (:mod:`cfl.evidence`). A hypothesis nobody tested
keeps its tournament prior; a refuted one sinks however well it debated.

.. [Elo1978] A. E. Elo, The Rating of Chessplayers, Past and Present, Arco (1978).
.. [Zheng2023] L. Zheng et al., "Judging LLM-as-a-judge with MT-Bench and Chatbot Arena",
   NeurIPS 2023 Datasets and Benchmarks, section 3.3 (position bias).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from cfl.hypotheses import ProposalContext
from cfl.models import Hypothesis, HypothesisStatus, Match

__all__ = [
    "INITIAL_ELO",
    "K_FACTOR",
    "HypothesisJudge",
    "Match",
    "expected_score",
    "final_rank",
    "play",
    "posterior_log_odds",
    "top_hypotheses",
]

INITIAL_ELO = 1200.0
K_FACTOR = 32.0


@runtime_checkable
class HypothesisJudge(Protocol):
    """Compares two hypotheses about the same campaign."""

    def compare(self, first: Hypothesis, second: Hypothesis, context: ProposalContext) -> float:
        """The score of ``first``: 1 it is the better hypothesis, 0 the worse, 0.5 a draw.

        Called twice per pair with the order swapped; a judge need not (and should not) try to
        correct its own position bias.
        """
        ...


def expected_score(rating: float, opponent: float) -> float:
    """Elo's expected score of ``rating`` against ``opponent``."""
    return 1.0 / (1.0 + math.pow(10.0, (opponent - rating) / 400.0))


def play(
    hypotheses: Sequence[Hypothesis],
    newcomers: Sequence[str],
    judge: HypothesisJudge,
    context: ProposalContext,
    *,
    opponents: int = 4,
) -> tuple[list[Match], dict[str, float]]:
    """Let each newcomer play the ``opponents`` rated nearest to it; return matches and ratings.

    Only newcomers play, so ratings are stable between rounds and a judge that costs a model
    call per comparison is called ``2 * opponents`` times per new hypothesis, not for every pair
    again. Newcomers start at :data:`INITIAL_ELO` (or their stored rating).
    """
    ratings = {h.id: h.elo for h in hypotheses}
    by_id = {h.id: h for h in hypotheses}
    matches: list[Match] = []
    played: set[frozenset[str]] = set()
    for newcomer in newcomers:
        others = sorted(
            (h for h in by_id if h != newcomer),
            key=lambda h: (abs(ratings[h] - ratings[newcomer]), h),
        )
        for other in itertools.islice(
            (o for o in others if frozenset((newcomer, o)) not in played), opponents
        ):
            played.add(frozenset((newcomer, other)))
            a, b = by_id[newcomer], by_id[other]
            match = Match(
                first=a.id,
                second=b.id,
                forward=_clip(judge.compare(a, b, context)),
                backward=_clip(judge.compare(b, a, context)),
            )
            matches.append(match)
            change = K_FACTOR * (match.score - expected_score(ratings[a.id], ratings[b.id]))
            ratings[a.id] += change
            ratings[b.id] -= change
    return matches, {h: round(r, 3) for h, r in ratings.items() if r != by_id[h].elo}


def _clip(score: float) -> float:
    if not math.isfinite(score):
        raise ValueError(f"a judge returned {score}; it must return a score in [0, 1]")
    return min(max(float(score), 0.0), 1.0)


def posterior_log_odds(hypothesis: Hypothesis) -> float:
    """Log-odds that the prediction holds: tournament prior plus measured evidence."""
    prior = expected_score(hypothesis.elo, INITIAL_ELO)
    return math.log(prior / (1.0 - prior)) + math.log(10.0) * hypothesis.log10_bf


def final_rank(hypotheses: Mapping[str, Hypothesis]) -> list[Hypothesis]:
    """Hypotheses best first by :func:`posterior_log_odds` (ties by id)."""
    return sorted(hypotheses.values(), key=lambda h: (-posterior_log_odds(h), h.id))


def top_hypotheses(hypotheses: Sequence[Hypothesis], n: int) -> list[Hypothesis]:
    """The ``n`` best-rated hypotheses not refuted, by Elo then credence: evolution's parents."""
    alive = [h for h in hypotheses if h.status != HypothesisStatus.REFUTED]
    return sorted(alive, key=lambda h: (-h.elo, -h.credence, h.id))[:n]
