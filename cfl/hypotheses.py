"""The co-scientist seam: who proposes hypotheses, and what they are given.

Proposing is a plug-in (an LLM, the offline co-scientist, a human); judging is not. A proposer
only drafts hypotheses with machine-checkable predictions; CFL registers them in the ledger before
the experiments that test them are designed, and :mod:`cfl.evidence` decides from measured data
whether each holds. No author grades its own hypothesis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from cfl.models import BestLevel, Experiment, Hypothesis, Observation, Prediction, Trend
from cfl.space import Point
from cfl.spec import CampaignSpec

__all__ = [
    "HypothesisDraft",
    "HypothesisProposer",
    "ProposalContext",
    "prediction_key",
    "tested_by",
]


class HypothesisDraft(BaseModel):
    """A hypothesis as a proposer writes it, before CFL registers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    statement: str
    kind: Literal["effect", "interaction", "region", "mechanism"]
    prediction: Prediction
    rationale: str
    author: str


@dataclass(frozen=True)
class ProposalContext:
    """What a proposer sees: the goal, the space, the data and the hypotheses so far."""

    spec: CampaignSpec
    experiments: Sequence[Experiment]
    observations: Mapping[str, Observation]
    hypotheses: Sequence[Hypothesis]


@runtime_checkable
class HypothesisProposer(Protocol):
    """Drafts new hypotheses about the campaign's response."""

    def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        """New hypotheses worth testing (may be empty); duplicates are dropped by CFL."""
        ...


def prediction_key(prediction: Prediction) -> tuple[str | int, ...]:
    """Identity of a prediction: two hypotheses with the same key claim the same thing."""
    if isinstance(prediction, Trend):
        return (prediction.type, prediction.objective, prediction.variable, prediction.sign)
    return (prediction.type, prediction.objective, prediction.variable, prediction.level)


def tested_by(prediction: Prediction, params: Point) -> bool:
    """Whether an experiment at ``params`` bears on ``prediction``."""
    if isinstance(prediction, BestLevel):
        return True
    value = params[prediction.variable]
    assert isinstance(value, (int, float))
    return prediction.low <= value <= prediction.high
