"""The loop engine: hypothesize → design → dispatch → observe → interpret, round after round.

Everything the engine decides is written through the journal before it acts on it, and it reads
its position from the campaign's state rather than from local variables, so the same ``run`` both
starts a campaign and resumes one that was killed at any point:

* experiments left ``running`` by the dead process are requeued as a new attempt with a fresh
  sample (the old vial's state is unknown), and none is designed twice;
* a round whose experiments all finished but which was never interpreted is interpreted first;
* the planner is rebuilt from the stored observations, each ingested exactly once.
"""

from __future__ import annotations

import asyncio

from cfl.campaign import Campaign, score
from cfl.clock import LabClock
from cfl.dispatcher import Dispatcher
from cfl.events import (
    CampaignFinished,
    CampaignResumed,
    Event,
    ExperimentDesigned,
    ExperimentRequeued,
    FinishReason,
    HypothesisAssessed,
    HypothesisProposed,
    RoundCompleted,
)
from cfl.evidence import assess
from cfl.hypotheses import HypothesisProposer, ProposalContext, prediction_key, tested_by
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus, Hypothesis
from cfl.planner import Evaluation, Planner
from cfl.pool import DevicePool

__all__ = ["Engine"]


class Engine:
    """Runs one campaign to its end on a built lab.

    Args:
        journal: The campaign's journal; all state lives there.
        devices: Built devices by name (see :class:`cfl.lab.Lab`).
        planner: Proposes conditions.
        proposer: Drafts hypotheses; ``None`` runs without them.
        clock: Lab clock the devices share.
    """

    def __init__(
        self,
        *,
        journal: Journal,
        devices: dict[str, object],
        planner: Planner,
        proposer: HypothesisProposer | None,
        clock: LabClock,
    ) -> None:
        spec = journal.campaign.spec
        self._journal = journal
        self._planner = planner
        self._proposer = proposer
        self._clock = clock
        self.pool = DevicePool(spec.lab.roles)
        self._dispatcher = Dispatcher(
            devices=devices,
            pool=self.pool,
            journal=journal,
            clock=clock,
            objectives=tuple(o.name for o in spec.objectives),
        )
        self._ingested: set[str] = set()

    @property
    def campaign(self) -> Campaign:
        """The campaign as of the last event."""
        return self._journal.campaign

    async def run(self) -> Campaign:
        """Run until a stop rule fires; returns the finished campaign."""
        if self.campaign.finished is not None:
            return self.campaign
        self._recover()
        self._ingest()
        while True:
            round_number = self.campaign.current_round
            batch = [e for e in self.campaign.experiments.values() if e.round == round_number]
            if not batch:
                reason = self._stop_reason()
                if reason is not None:
                    self._finish(*reason)
                    break
                self._hypothesize()
                batch = self._design(round_number)
                if not batch:
                    self._finish("no-suggestions", "the planner proposed nothing new")
                    break
            queued = [
                self.campaign.experiments[e.id]
                for e in batch
                if self.campaign.experiments[e.id].status == ExperimentStatus.QUEUED
            ]
            await asyncio.gather(*(self._dispatcher.run(e) for e in queued))
            self._interpret(round_number)
        return self.campaign

    # -- the steps of a round -----------------------------------------------------------------

    def _recover(self) -> None:
        running = self.campaign.with_status(ExperimentStatus.RUNNING)
        now = self._clock.now()
        events: list[Event] = [
            ExperimentRequeued(
                lab_time_s=now,
                experiment=e.id,
                attempt=e.attempt + 1,
                reason="the previous run was interrupted mid-protocol; its sample is discarded",
            )
            for e in running
        ]
        if self.campaign.observations or self.campaign.experiments:
            events.append(CampaignResumed(lab_time_s=now, requeued=tuple(e.id for e in running)))
        self._journal.write("cfl", *events)

    def _ingest(self) -> None:
        campaign = self.campaign
        new = [eid for eid in campaign.observations if eid not in self._ingested]
        self._planner.ingest(
            [Evaluation(campaign.experiments[eid].params, campaign.score_of(eid)) for eid in new]
        )
        self._ingested.update(new)

    def _hypothesize(self) -> None:
        campaign = self.campaign
        if self._proposer is None or len(campaign.observations) < campaign.spec.initial_design:
            return
        context = ProposalContext(
            spec=campaign.spec,
            experiments=list(campaign.experiments.values()),
            observations=dict(campaign.observations),
            hypotheses=list(campaign.hypotheses.values()),
        )
        for draft in self._proposer.propose(context):
            known = {prediction_key(h.prediction) for h in self.campaign.hypotheses.values()}
            if prediction_key(draft.prediction) in known:
                continue
            hypothesis = Hypothesis(
                id=f"H{len(self.campaign.hypotheses) + 1:02d}",
                statement=draft.statement,
                kind=draft.kind,
                prediction=draft.prediction,
                rationale=draft.rationale,
                author=draft.author,
                registered_after=campaign.designed,
            )
            self._journal.write(
                draft.author,
                HypothesisProposed(lab_time_s=self._clock.now(), hypothesis=hypothesis),
            )

    def _design(self, round_number: int) -> list[Experiment]:
        campaign = self.campaign
        spec = campaign.spec
        n = min(spec.batch_size, spec.budget.experiments - campaign.designed)
        pending = [e.params for e in campaign.pending]
        points = self._planner.suggest(n, pending)[:n]  # a plug-in may not overspend the budget
        experiments = []
        for offset, point in enumerate(points):
            index = campaign.designed + offset + 1
            experiments.append(
                Experiment(
                    id=f"E{index:04d}",
                    index=index,
                    round=round_number,
                    params=spec.space.coerce(point),
                    protocol=spec.protocol,
                    source="initial" if index <= spec.initial_design else "planner",
                    tests=tuple(
                        h.id for h in campaign.hypotheses.values() if tested_by(h.prediction, point)
                    ),
                )
            )
        now = self._clock.now()
        self._journal.write(
            f"planner:{spec.planner}",
            *(ExperimentDesigned(lab_time_s=now, experiment=e) for e in experiments),
        )
        return experiments

    def _interpret(self, round_number: int) -> None:
        self._ingest()
        campaign = self.campaign
        now = self._clock.now()
        assessments = []
        for hypothesis in campaign.hypotheses.values():
            result = assess(campaign, hypothesis)
            changed = (
                result.status != hypothesis.status
                or round(result.credence, 4) != round(hypothesis.credence, 4)
                or result.evidence_n != hypothesis.evidence_n
            )
            if changed:
                assessments.append(
                    HypothesisAssessed(
                        lab_time_s=now,
                        hypothesis=hypothesis.id,
                        status=result.status,
                        credence=round(result.credence, 6),
                        evidence_n=result.evidence_n,
                        statistics={k: round(v, 6) for k, v in result.statistics.items()},
                    )
                )
        best = campaign.best()
        best_score = None if best is None else score(campaign.spec, best[1].values)
        self._journal.write("cfl:evidence", *assessments)
        self._journal.write(
            "cfl", RoundCompleted(lab_time_s=now, round=round_number, best_score=best_score)
        )

    # -- stopping -----------------------------------------------------------------------------

    def _stop_reason(self) -> tuple[FinishReason, str] | None:
        campaign = self.campaign
        spec = campaign.spec
        target = spec.stop.target
        if target is not None and campaign.observations:
            objective = next(o for o in spec.objectives if o.name == target.objective)
            values = [o.values[target.objective] for o in campaign.observations.values()]
            if objective.direction == "maximize":
                reached, hit = max(values), max(values) >= target.value
            else:
                reached, hit = min(values), min(values) <= target.value
            if hit:
                return "target", f"{target.objective} reached {reached:g} (target {target.value:g})"
        if campaign.designed >= spec.budget.experiments:
            return "budget", f"all {spec.budget.experiments} experiments designed and finished"
        patience = spec.stop.patience
        scores = campaign.best_scores
        if patience is not None and len(scores) > patience:
            before, now = scores[-1 - patience], scores[-1]
            if before is not None and now is not None and now <= before:
                return "patience", f"no better score in the last {patience} rounds"
        return None

    def _finish(self, reason: FinishReason, detail: str) -> None:
        self._journal.write(
            "cfl",
            CampaignFinished(
                lab_time_s=self._clock.now(),
                reason=reason,
                detail=detail,
            ),
        )
