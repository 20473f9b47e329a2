"""The co-scientist seam: who proposes hypotheses, and what they are given.

Proposing is a plug-in (an LLM, the offline co-scientist, a human); judging is not. A proposer
only drafts hypotheses with machine-checkable predictions; CFL registers them in the ledger before
the experiments that test them are designed, and :mod:`cfl.evidence` decides from measured data
whether each holds. No author grades its own hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, JsonValue

from cfl.errors import SpecError
from cfl.models import (
    BestLevel,
    Experiment,
    Hypothesis,
    Interaction,
    Observation,
    Prediction,
    Trend,
)
from cfl.space import CategoricalParameter, Parameter, Point
from cfl.spec import CampaignSpec

__all__ = [
    "CampaignReviewer",
    "HypothesisDraft",
    "HypothesisProposer",
    "LogsModelCalls",
    "MetaReview",
    "ModelCallLog",
    "ProposalContext",
    "check_draft",
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

    @property
    def notes(self) -> tuple[str, ...]:
        """The researcher's notes (the spec's ``notes``)."""
        return self.spec.notes


@runtime_checkable
class HypothesisProposer(Protocol):
    """Drafts new hypotheses about the campaign's response."""

    def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        """New hypotheses worth testing (may be empty); duplicates are dropped by CFL."""
        ...


class MetaReview(BaseModel):
    """Where a campaign stands, for the researcher: what the evidence says and what to do next."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    summary: str
    next_steps: tuple[str, ...] = ()


@runtime_checkable
class CampaignReviewer(Protocol):
    """Writes the meta-review of a campaign (the co-scientist's last word, in the ledger)."""

    author: str
    """Who signs the review: ``agent:<name>@<version>``."""

    def review(self, context: ProposalContext) -> MetaReview:
        """A summary of the hypotheses and the evidence, and next steps."""
        ...


ModelCallLog = Callable[[Mapping[str, JsonValue]], None]
"""Receives each model call an agent makes, as the JSON of :class:`cfl.events.ModelCalled`
without ``lab_time_s``."""


@runtime_checkable
class LogsModelCalls(Protocol):
    """An agent that calls language models and lets CFL log every call to the ledger."""

    def log_calls(self, log: ModelCallLog) -> None:
        """Send every later model call to ``log`` (in the calling thread, before it is used)."""
        ...


def prediction_key(prediction: Prediction) -> tuple[str | int, ...]:
    """Identity of a prediction: two hypotheses with the same key claim the same thing."""
    p = prediction
    if isinstance(p, Trend):
        return (p.type, p.objective, p.variable, p.sign)
    if isinstance(p, BestLevel):
        return (p.type, p.objective, p.variable, p.level)
    if isinstance(p, Interaction):
        pair = tuple(sorted((p.variable, p.moderator)))  # a product term has no order
        return (p.type, p.objective, *pair, p.sign)
    return (p.type, p.objective, p.variable)


def tested_by(prediction: Prediction, params: Point) -> bool:
    """Whether an experiment at ``params`` bears on ``prediction``."""
    if not isinstance(prediction, Trend):
        return True  # levels, interactions and optima are judged on every experiment
    value = params[prediction.variable]
    assert isinstance(value, (int, float))
    return prediction.low <= value <= prediction.high


def check_draft(spec: CampaignSpec, draft: HypothesisDraft) -> None:
    """Refuse a draft whose prediction cannot be checked in this campaign's space.

    Whoever wrote it (a model, a person), a prediction must name an objective of the campaign and
    parameters of its space of the right kind, and a range within the parameter's bounds: a
    prediction about conditions CFL will never run can never be tested.

    Raises:
        SpecError: naming the field (``prediction.low``, ...), the bad value and what is allowed.
    """
    p = draft.prediction
    objectives = [o.name for o in spec.objectives]
    if p.objective not in objectives:
        raise SpecError(
            f"unknown objective {p.objective!r}; the campaign measures {objectives}",
            field="prediction.objective",
        )
    categorical = isinstance(p, BestLevel)
    parameter = _parameter(spec, p.variable, categorical=categorical, field="prediction.variable")
    if isinstance(p, BestLevel):
        assert isinstance(parameter, CategoricalParameter)
        if p.level not in parameter.levels:
            raise SpecError(
                f"{p.variable} has no level {p.level!r}; its levels are {list(parameter.levels)}",
                field="prediction.level",
            )
        return
    if isinstance(p, Interaction):
        if p.moderator == p.variable:
            raise SpecError(
                f"an interaction needs two different parameters, got {p.variable!r} twice",
                field="prediction.moderator",
            )
        _parameter(spec, p.moderator, categorical=False, field="prediction.moderator")
        return
    assert not isinstance(parameter, CategoricalParameter)
    low, high = parameter.low, parameter.high
    if not (low <= p.low < p.high <= high):
        raise SpecError(
            f"range [{p.low:g}, {p.high:g}] of {p.variable} must be increasing and inside its "
            f"bounds [{low:g}, {high:g}]; CFL never runs conditions outside them",
            field="prediction.low",
        )


def _parameter(spec: CampaignSpec, name: str, *, categorical: bool, field: str) -> Parameter:
    parameters = {q.name: q for q in spec.space.parameters}
    parameter = parameters.get(name)
    kind = "categorical" if categorical else "numeric"
    names = [
        q.name for q in spec.space.parameters if isinstance(q, CategoricalParameter) == categorical
    ]
    if parameter is None or isinstance(parameter, CategoricalParameter) != categorical:
        raise SpecError(
            f"{name!r} is not a {kind} parameter of the space; {kind} parameters: {names}",
            field=field,
        )
    return parameter
