"""The co-scientist's roles, each a small runnable: a prompt, then the model asked for a schema.

- generation: campaign, data, notes and registered hypotheses → :class:`Drafts`;
- reflection: one draft and the registered hypotheses → :class:`Review` (novel, testable, safe);
- ranking: two hypotheses → :class:`Verdict` (A or B); :func:`judge_pair` asks twice, the order
  swapped, so a judge that always prefers one position scores a draw;
- evolution: the best-ranked hypotheses → :class:`Drafts` that refine or merge them;
- meta-review: campaign, data and hypotheses → :class:`MetaReview` for the researcher.

Models write predictions, never authors: :func:`screen` turns a model's drafts into
:class:`~cfl.hypotheses.HypothesisDraft` values under the author CFL gives, and refuses (with the
reason) every one :func:`cfl.hypotheses.check_draft` refuses or that repeats a known prediction.
In the schemas the reasoning field comes first: a model fills fields in order, and one that
writes its reason before its verdict judges better than one that justifies a verdict already
given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field

from agents.llm.calls import PURPOSE_KEY
from agents.llm.prompts import (
    EVOLUTION,
    GENERATION,
    META_REVIEW,
    RANKING,
    REFLECTION,
    describe_objectives,
    describe_space,
)
from agents.llm.settings import StructuredMethod
from agents.llm.structured import with_schema
from cfl.errors import SpecError
from cfl.hypotheses import HypothesisDraft, check_draft, prediction_key
from cfl.models import Hypothesis, Prediction
from cfl.spec import CampaignSpec

__all__ = [
    "DraftOut",
    "Drafts",
    "MetaReview",
    "Purpose",
    "Rejection",
    "Review",
    "Roles",
    "Verdict",
    "campaign_inputs",
    "judge_pair",
    "screen",
]

Purpose = Literal["generation", "reflection", "ranking", "evolution", "meta-review"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DraftOut(_Out):
    """A hypothesis as the model writes it (CFL adds the author)."""

    statement: str = Field(description="The claim in one sentence.")
    kind: Literal["effect", "interaction", "region", "mechanism"]
    prediction: Prediction
    rationale: str = Field(description="Why: the data or chemistry it rests on.")


class Drafts(_Out):
    """New hypotheses, possibly none."""

    hypotheses: list[DraftOut]


class Review(_Out):
    """A reviewer's check of a new hypothesis before it is registered."""

    notes: str = Field(description="What was checked, briefly.")
    novel: bool
    testable: bool
    safe: bool

    @property
    def passed(self) -> bool:
        """Novel, testable and safe."""
        return self.novel and self.testable and self.safe


class Verdict(_Out):
    """Which of two hypotheses, A or B, is more worth testing."""

    reason: str
    winner: Literal["A", "B"]


class MetaReview(_Out):
    """Where the campaign stands, for the researcher."""

    summary: str
    next_steps: list[str]


class Rejection(_Out):
    """A draft not proposed, and why."""

    stage: Literal["check", "duplicate", "limit", "reflection"]
    """``check``: refused by :func:`~cfl.hypotheses.check_draft`; ``duplicate``: repeats a known
    prediction; ``limit``: beyond the number asked for; ``reflection``: failed review."""
    reason: str
    draft: HypothesisDraft


def _config(purpose: Purpose) -> RunnableConfig:
    return {"metadata": {PURPOSE_KEY: purpose}, "run_name": purpose}


class Roles:
    """The five role runnables on one chat model.

    Args:
        model: The chat model (see :func:`~agents.llm.factory.make_chat_model`).
        method: How structured output is requested.
    """

    def __init__(self, model: BaseChatModel, *, method: StructuredMethod = "json_schema") -> None:
        self.generation: Runnable[dict[str, object], Drafts] = GENERATION | with_schema(
            model, Drafts, method=method
        )
        self.reflection: Runnable[dict[str, object], Review] = REFLECTION | with_schema(
            model, Review, method=method
        )
        self.ranking: Runnable[dict[str, object], Verdict] = RANKING | with_schema(
            model, Verdict, method=method
        )
        self.evolution: Runnable[dict[str, object], Drafts] = EVOLUTION | with_schema(
            model, Drafts, method=method
        )
        self.meta_review: Runnable[dict[str, object], MetaReview] = META_REVIEW | with_schema(
            model, MetaReview, method=method
        )

    def generate(self, inputs: dict[str, object]) -> Drafts:
        """Run generation (inputs: goal, space, objectives, data, notes, hypotheses, n)."""
        return self.generation.invoke(inputs, _config("generation"))

    def reflect(self, inputs: dict[str, object]) -> Review:
        """Run reflection (inputs: goal, space, objectives, hypotheses, candidate)."""
        return self.reflection.invoke(inputs, _config("reflection"))

    def rank(self, inputs: dict[str, object]) -> Verdict:
        """Run one ranking comparison (inputs: goal, space, objectives, a, b)."""
        return self.ranking.invoke(inputs, _config("ranking"))

    def evolve(self, inputs: dict[str, object]) -> Drafts:
        """Run evolution (inputs: goal, space, objectives, data, top, hypotheses, n)."""
        return self.evolution.invoke(inputs, _config("evolution"))

    def review(self, inputs: dict[str, object]) -> MetaReview:
        """Run the meta-review (inputs: goal, space, objectives, data, hypotheses)."""
        return self.meta_review.invoke(inputs, _config("meta-review"))


def screen(
    spec: CampaignSpec,
    drafts: Iterable[DraftOut],
    *,
    author: str,
    known: Iterable[Hypothesis | HypothesisDraft] = (),
    limit: int | None = None,
) -> tuple[list[HypothesisDraft], list[Rejection]]:
    """The model's drafts as CFL drafts by ``author``, split into accepted and refused.

    A draft is refused if :func:`~cfl.hypotheses.check_draft` refuses it (the reason is its
    :class:`~cfl.errors.SpecError` message, naming the field and the bounds), if its prediction
    repeats one of ``known`` or an earlier draft, or if ``limit`` drafts were already accepted.
    """
    seen = {prediction_key(h.prediction) for h in known}
    accepted: list[HypothesisDraft] = []
    rejected: list[Rejection] = []
    for out in drafts:
        draft = HypothesisDraft(
            statement=out.statement,
            kind=out.kind,
            prediction=out.prediction,
            rationale=out.rationale,
            author=author,
        )
        try:
            check_draft(spec, draft)
        except SpecError as exc:
            rejected.append(Rejection(stage="check", reason=str(exc), draft=draft))
            continue
        key = prediction_key(draft.prediction)
        if key in seen:
            reason = "repeats the prediction of a registered or earlier hypothesis"
            rejected.append(Rejection(stage="duplicate", reason=reason, draft=draft))
            continue
        if limit is not None and len(accepted) >= limit:
            reason = f"beyond the {limit} hypotheses asked for"
            rejected.append(Rejection(stage="limit", reason=reason, draft=draft))
            continue
        seen.add(key)
        accepted.append(draft)
    return accepted, rejected


def judge_pair(
    ask: Callable[[Hypothesis, Hypothesis], Literal["A", "B"]], a: Hypothesis, b: Hypothesis
) -> float:
    """Score of ``a`` against ``b``: 1.0 win, 0.5 draw, 0.0 loss, position bias cancelled.

    ``ask(x, y)`` shows ``x`` as A and ``y`` as B and returns the winner's letter. It is asked
    twice, ``(a, b)`` then ``(b, a)``; the score is the share of the two answers that prefer
    ``a``, so answers that disagree (the judge followed the position, not the content) are a
    draw.
    """
    first = ask(a, b)
    second = ask(b, a)
    return ((first == "A") + (second == "B")) / 2


def campaign_inputs(spec: CampaignSpec) -> dict[str, object]:
    """The inputs every role shares: goal, space, objectives."""
    return {
        "goal": spec.goal.strip(),
        "space": describe_space(spec),
        "objectives": describe_objectives(spec),
    }
