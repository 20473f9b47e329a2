"""The LLM co-scientist: proposes, reviews, judges and summarises hypotheses with a chat model.

One round of :meth:`LLMCoScientist.propose`:

1. generation drafts up to ``per_round`` hypotheses from the campaign, its data, the researcher's
   notes and the hypotheses registered so far;
2. every draft passes :func:`cfl.hypotheses.check_draft` (a prediction outside the space is
   refused with the field and the bounds) and must not repeat a known prediction;
3. reflection reviews each survivor (novel, testable, safe); one that fails is dropped;
4. once at least two hypotheses are registered and not refuted, evolution refines or merges the
   best-ranked of them (Elo, then credence) into up to ``evolve`` more drafts, checked the same
   way as in step 2.

It only proposes: CFL registers the drafts and judges them on measured data
(:mod:`cfl.evidence`). For the Elo tournament, :meth:`LLMCoScientist.compare` answers one order
(:mod:`cfl.tournament` asks both) and :meth:`LLMCoScientist.judge_pair` asks both orders itself;
:meth:`LLMCoScientist.meta_review` writes the researcher a summary. Model calls block; each is
logged as a :class:`~agents.llm.calls.ModelCall` through the sink given at construction.

Failures: generation's, and any :class:`~agents.errors.ModelUnavailable` or
:class:`~agents.errors.ModelRefused`, propagate (nothing is proposed; the caller retries next
round or runs offline). An unusable answer from reflection drops that draft (it could not be
vetted); one from evolution leaves the generated drafts standing. Both are reported in
:attr:`Proposal.rejected` and :attr:`Proposal.problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict

from agents.errors import ModelOutputInvalid
from agents.llm.calls import ModelCall, ModelCallSink
from agents.llm.factory import make_chat_model
from agents.llm.prompts import describe_candidate, describe_hypotheses, experiment_table
from agents.llm.roles import (
    MetaReview,
    Rejection,
    Review,
    Roles,
    campaign_inputs,
    judge_pair,
    screen,
)
from agents.llm.settings import LLMSettings, StructuredMethod, load_llm_settings
from cfl.errors import SpecError
from cfl.hypotheses import HypothesisDraft, ModelCallLog, ProposalContext
from cfl.hypotheses import MetaReview as CampaignReview
from cfl.models import Hypothesis
from cfl.spec import CampaignSpec
from cfl.tournament import top_hypotheses

__all__ = ["VERSION", "LLMCoScientist", "Proposal"]

VERSION = "0.1"


class Proposal(BaseModel):
    """One round's outcome: the drafts proposed, those refused and why, and what went wrong."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drafts: tuple[HypothesisDraft, ...]
    rejected: tuple[Rejection, ...] = ()
    problems: tuple[str, ...] = ()
    """Role calls whose answers could not be used (e.g. an invalid evolution answer)."""


class LLMCoScientist:
    """A :class:`~cfl.hypotheses.HypothesisProposer` backed by a chat model.

    Args:
        model: The chat model; build it with :func:`~agents.llm.factory.make_chat_model` so that
            every call is logged.
        spec: The campaign; :meth:`judge_pair` reads its goal and space (the other methods read
            the spec of the context they are given).
        model_name: The model's name, part of the author ``agent:<model>@<version>``.
        method: How structured output is requested (see :mod:`agents.llm.structured`).
        per_round: Most hypotheses generation is asked for per round.
        evolve: Most hypotheses evolution is asked for per round (0: no evolution).
        evolve_top: How many best-ranked hypotheses evolution starts from.
        max_rows: Most experiments shown to the model (the latest ones).
        notes: Returns the researcher's notes to take into account, if any.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        spec: CampaignSpec,
        model_name: str,
        method: StructuredMethod = "json_schema",
        per_round: int = 3,
        evolve: int = 2,
        evolve_top: int = 3,
        max_rows: int = 60,
        notes: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self._roles = Roles(model, method=method)
        self._spec = spec
        self._per_round = per_round
        self._evolve = evolve
        self._evolve_top = evolve_top
        self._max_rows = max_rows
        self._notes = notes
        self._forward: _Forward | None = None
        self.author = f"agent:{model_name}@{VERSION}"
        """Who the drafts are by, e.g. ``agent:gpt-4o-mini@0.1``."""

    @classmethod
    def from_settings(
        cls,
        settings: LLMSettings | None = None,
        *,
        spec: CampaignSpec,
        sink: ModelCallSink | None,
        notes: Callable[[], Sequence[str]] | None = None,
    ) -> LLMCoScientist | None:
        """The co-scientist on the configured endpoint, or ``None`` when none is (offline).

        Args:
            settings: Defaults to the environment (:func:`~agents.llm.settings.load_llm_settings`).
            sink: Receives one :class:`~agents.llm.calls.ModelCall` per model call.

        Raises:
            SpecError: a malformed or half-configured endpoint.
        """
        settings = load_llm_settings() if settings is None else settings
        forward = _Forward(sink)
        model = make_chat_model(settings, sink=forward)
        if model is None or settings.model is None:
            return None
        made = cls(
            model,
            spec=spec,
            model_name=settings.model,
            method=settings.structured_output,
            notes=notes,
        )
        made._forward = forward
        return made

    def log_calls(self, log: ModelCallLog) -> None:
        """Also send every later model call to ``log`` as JSON (CFL writes it to the ledger).

        Only a co-scientist made by :meth:`from_settings` knows its calls; one built around a
        model of the caller's logs through that model's own callbacks.
        """
        if self._forward is None:
            raise SpecError(
                "this co-scientist was built around a ready model; build it with from_settings "
                "so its calls can be logged"
            )
        self._forward.logs.append(log)

    @classmethod
    def from_spec(cls, spec: CampaignSpec, *, sink: ModelCallSink | None = None) -> LLMCoScientist:
        """The plug-in constructor: the endpoint from the environment, which must name one.

        Raises:
            SpecError: no endpoint is configured, or it is malformed or half-configured.
        """
        coscientist = cls.from_settings(spec=spec, sink=sink)
        if coscientist is None:
            raise SpecError(
                "the LLM co-scientist needs an endpoint: set CFL_LLM_BASE_URL and CFL_LLM_MODEL, "
                "or use coscientist: offline",
                field="coscientist",
            )
        return coscientist

    def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        """New hypotheses worth testing (see the module's description of a round).

        Raises:
            ModelError: generation failed, or the endpoint became unavailable or refused.
        """
        return list(self.propose_detailed(context).drafts)

    def propose_detailed(
        self, context: ProposalContext, *, notes: Sequence[str] | None = None
    ) -> Proposal:
        """Like :meth:`propose`, with the refused drafts and their reasons.

        Args:
            notes: The researcher's notes; default: those of the ``notes`` source, if any.
        """
        spec = context.spec
        if notes is None:
            notes = self._notes() if self._notes is not None else context.notes
        common = campaign_inputs(spec)
        data = experiment_table(
            spec, context.experiments, context.observations, max_rows=self._max_rows
        )
        registered = describe_hypotheses(context.hypotheses)
        generated = self._roles.generate(
            {
                **common,
                "data": data,
                "notes": "\n".join(f"- {note}" for note in notes) or "(none)",
                "hypotheses": registered,
                "n": self._per_round,
            }
        )
        drafts, rejected = screen(
            spec,
            generated.hypotheses,
            author=self.author,
            known=context.hypotheses,
            limit=self._per_round,
        )
        problems: list[str] = []
        accepted: list[HypothesisDraft] = []
        for draft in drafts:
            try:
                review = self._roles.reflect(
                    {**common, "hypotheses": registered, "candidate": describe_candidate(draft)}
                )
            except ModelOutputInvalid as exc:
                problems.append(str(exc))
                reason = "its review could not be read, so it was not vetted"
                rejected.append(Rejection(stage="reflection", reason=reason, draft=draft))
                continue
            if review.passed:
                accepted.append(draft)
            else:
                rejected.append(Rejection(stage="reflection", reason=_failed(review), draft=draft))
        top = top_hypotheses(context.hypotheses, self._evolve_top)
        if self._evolve > 0 and len(top) >= 2:
            try:
                evolved = self._roles.evolve(
                    {
                        **common,
                        "data": data,
                        "top": describe_hypotheses(top),
                        "hypotheses": registered,
                        "n": self._evolve,
                    }
                )
            except ModelOutputInvalid as exc:
                problems.append(str(exc))
            else:
                more, refused = screen(
                    spec,
                    evolved.hypotheses,
                    author=self.author,
                    known=[*context.hypotheses, *accepted],
                    limit=self._evolve,
                )
                accepted.extend(more)
                rejected.extend(refused)
        return Proposal(drafts=tuple(accepted), rejected=tuple(rejected), problems=tuple(problems))

    def compare(self, first: Hypothesis, second: Hypothesis, context: ProposalContext) -> float:
        """Score of ``first`` shown as A against ``second`` as B: 1.0 or 0.0, one model call.

        The :class:`cfl.tournament.HypothesisJudge` seam: the tournament asks both orders itself.
        """
        return 1.0 if self._winner(context.spec, first, second) == "A" else 0.0

    def judge_pair(self, a: Hypothesis, b: Hypothesis) -> float:
        """Score of ``a`` against ``b``: 1.0, 0.5 or 0.0, asked in both orders (two calls).

        A disagreement between the orders is a draw (see :func:`~agents.llm.roles.judge_pair`).
        """
        return judge_pair(lambda x, y: self._winner(self._spec, x, y), a, b)

    judge = judge_pair

    def _winner(self, spec: CampaignSpec, a: Hypothesis, b: Hypothesis) -> Literal["A", "B"]:
        inputs = {**campaign_inputs(spec), "a": describe_candidate(a), "b": describe_candidate(b)}
        return self._roles.rank(inputs).winner

    def review(self, context: ProposalContext) -> CampaignReview:
        """The meta-review as CFL records it (:class:`cfl.hypotheses.CampaignReviewer`)."""
        answer = self.meta_review(context)
        return CampaignReview(summary=answer.summary, next_steps=tuple(answer.next_steps))

    def meta_review(self, context: ProposalContext) -> MetaReview:
        """A short summary of where the campaign stands, and next steps, for the researcher."""
        return self._roles.review(
            {
                **campaign_inputs(context.spec),
                "data": experiment_table(
                    context.spec, context.experiments, context.observations, max_rows=self._max_rows
                ),
                "hypotheses": describe_hypotheses(context.hypotheses),
            }
        )


def _failed(review: Review) -> str:
    failed = [name for name in ("novel", "testable", "safe") if not getattr(review, name)]
    return f"not {', not '.join(failed)}: {review.notes}"


class _Forward:
    """The model's call sink: the caller's sink, then every log attached since."""

    def __init__(self, sink: ModelCallSink | None) -> None:
        self.sink = sink
        self.logs: list[ModelCallLog] = []

    def __call__(self, call: ModelCall) -> None:
        if self.sink is not None:
            self.sink(call)
        if self.logs:
            data = call.model_dump(mode="json")
            for log in self.logs:
                log(data)
