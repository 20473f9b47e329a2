"""The loop engine: hypothesize → design → dispatch → observe → interpret, round after round.

Rounds overlap when the spec allows more experiments in flight than a batch (``max_in_flight``):
the next round is designed, around the pending experiments, as soon as there is room for it, and
each experiment is dispatched the moment it is designed, so devices never wait for the planner.
A round is interpreted (planner fed, hypotheses assessed) when all its experiments have finished,
rounds in order. With the default (``max_in_flight = batch_size``) rounds run one after another.

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
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from cfl.campaign import Campaign, score
from cfl.clock import LabClock
from cfl.control import (
    ControlBoard,
    ControlRequest,
    ExperimentDecision,
    ExperimentEdit,
    HypothesisRequest,
    PauseRequest,
)
from cfl.discriminate import Aim, discriminating_points
from cfl.dispatcher import Dispatcher, DispatchHooks
from cfl.errors import AgentError, CFLError, SpecError
from cfl.events import (
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignReviewed,
    Event,
    ExperimentDesigned,
    ExperimentEdited,
    ExperimentRequeued,
    ExperimentsApproved,
    ExperimentsRejected,
    FinishReason,
    HypothesesRanked,
    HypothesisAssessed,
    HypothesisProposed,
    RoundCompleted,
)
from cfl.evidence import assess
from cfl.hypotheses import (
    CampaignReviewer,
    HypothesisDraft,
    HypothesisProposer,
    LogsModelCalls,
    ProposalContext,
    check_draft,
    prediction_key,
    tested_by,
)
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus, Hypothesis, HypothesisStatus
from cfl.planner import Converges, Planner, evaluation_of
from cfl.pool import DevicePool
from cfl.space import Point
from cfl.store import ConcurrentWriter
from cfl.tournament import HypothesisJudge, play

__all__ = ["Engine"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_EXHAUSTED: tuple[FinishReason, str] = ("no-suggestions", "the planner proposed nothing new")


class Engine:
    """Runs one campaign to its end on a built lab.

    Args:
        journal: The campaign's journal; all state lives there.
        devices: Built devices by name (see :class:`cfl.lab.Lab`).
        planner: Proposes conditions.
        proposer: Drafts hypotheses; ``None`` runs without them.
        judge: Compares hypotheses in the tournament that rates newcomers; ``None``: no ratings.
        clock: Lab clock the devices share.
        control: Where people file requests (pause, resume, approve, reject, add a
            hypothesis); read at every loop step. ``None``: nobody steers this run.
        control_poll_s: Wall-clock seconds between looks at ``control`` while nothing runs
            (paused, or proposed experiments waiting for a decision).
        hooks: Wrap each experiment and step (``flows``: Prefect subflows and tasks).
        wait: Called instead of sleeping ``control_poll_s`` while nothing runs and the campaign
            waits for a person (``flows``: pause the flow run for a decision); it returns when
            the engine should look at ``control`` again.
    """

    def __init__(
        self,
        *,
        journal: Journal,
        devices: dict[str, object],
        planner: Planner,
        proposer: HypothesisProposer | None,
        clock: LabClock,
        judge: HypothesisJudge | None = None,
        control: ControlBoard | None = None,
        control_poll_s: float = 2.0,
        hooks: DispatchHooks | None = None,
        wait: Callable[[Campaign], Awaitable[None]] | None = None,
    ) -> None:
        spec = journal.campaign.spec
        self._journal = journal
        self._planner = planner
        self._proposer = proposer
        self._judge = judge
        self._clock = clock
        self.pool = DevicePool(spec.lab.roles)
        self._dispatcher = Dispatcher(
            devices=devices,
            pool=self.pool,
            journal=journal,
            clock=clock,
            lab=spec.lab,
            objectives=tuple(o.name for o in spec.objectives),
            hooks=hooks,
        )
        self._wait = wait
        self._ingested: set[str] = set()
        self._control = control
        self._control_poll_s = control_poll_s

    @property
    def campaign(self) -> Campaign:
        """The campaign as of the last event."""
        return self._journal.campaign

    async def run(self) -> Campaign:
        """Run until a stop rule fires and every experiment in flight has finished."""
        if self.campaign.finished is not None:
            return self.campaign
        if self.campaign.spec.approval and self._control is None:
            raise SpecError(
                "this campaign waits for approvals (approval: true) but nobody can give them in "
                "this run; run it with `cfl run`, or set approval: false",
                field="approval",
            )
        self._recover()
        self._ingest()
        for device in self.campaign.quarantined:
            self.pool.quarantine(device)
        tasks: dict[str, asyncio.Task[None]] = {}
        exhausted = False  # the planner proposed nothing new
        try:
            while True:
                self._apply_requests()
                self._interpret_finished_rounds()
                stranded = self._stranded_role()
                held = self.campaign.paused is not None  # a person paused it
                for experiment in self.campaign.with_status(ExperimentStatus.QUEUED):
                    if experiment.id not in tasks and stranded is None and not held:
                        tasks[experiment.id] = asyncio.create_task(
                            self._dispatcher.run(experiment), name=experiment.id
                        )
                if not (exhausted or held) and self._stop_reason() is None and stranded is None:
                    n = self._design_size()
                    if n:
                        await self._hypothesize()
                        exhausted = not self._design(n)
                        continue
                waiting = held or self.campaign.with_status(ExperimentStatus.PROPOSED)
                if not tasks and waiting and self._control is not None:
                    # For a resume or a decision, in wall-clock time (a virtual clock waits for
                    # the thread instead of jumping ahead).
                    if self._wait is not None:
                        await self._wait(self.campaign)
                    else:
                        await asyncio.to_thread(time.sleep, self._control_poll_s)
                    continue
                if not tasks:
                    stranded = self._stranded_role()
                    if stranded is not None:  # pause, not finish: a human can bring devices back
                        self._journal.write(
                            "cfl", CampaignPaused(lab_time_s=self._clock.now(), detail=stranded)
                        )
                        break
                    reason, detail = self._stop_reason() or _EXHAUSTED
                    self._finish(reason, detail)
                    break
                done, _ = await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    del tasks[task.get_name()]
                    task.result()  # a bug in the dispatcher must not pass silently
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        return self.campaign

    def _stranded_role(self) -> str | None:
        """Why no experiment can run, if every device of a role the protocol needs is out."""
        for role in sorted({step.role for step in self.campaign.spec.protocol}):
            if not self.pool.usable(role):
                return (
                    f"every device of role {role!r} is quarantined; check them, release them with "
                    "`cfl devices release CAMPAIGN DEVICE --by NAME`, and run the spec again"
                )
        return None

    def _design_size(self) -> int:
        """How many experiments to design now: a full batch when there is room for it."""
        spec = self.campaign.spec
        in_flight = len(self.campaign.pending)
        room = (spec.max_in_flight or spec.batch_size) - in_flight
        wanted = min(spec.batch_size, spec.budget.experiments - self.campaign.designed)
        return wanted if 0 < wanted <= room else 0

    def _interpret_finished_rounds(self) -> None:
        """Interpret, in order, every round whose experiments have all finished."""
        while True:
            number = self.campaign.current_round
            members = [e for e in self.campaign.experiments.values() if e.round == number]
            if not members or not all(e.status.finished for e in members):
                return
            self._interpret(number)

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
            [
                evaluation_of(
                    campaign.spec,
                    campaign.experiments[eid].params,
                    campaign.observations[eid].values,
                )
                for eid in new
            ]
        )
        self._ingested.update(new)

    async def _think(self, agent: object, step: Callable[..., _T], *args: Any) -> _T:
        """Run an agent's ``step``: in a worker thread if it calls language models, else here.

        A model call can take tens of seconds; on the event loop it would stall every step in
        flight (device polls, deadlines, the lab clock). In a thread the lab runs on while the
        model thinks, and the calls it logs are written between the loop's own writes
        (:class:`cfl.journal.Journal` serialises them). On the virtual clock no lab time
        passes while the thread works (:mod:`cfl.clock`), so a simulated campaign interleaves
        as if the model answered at once. A data-driven agent is fast and runs inline, so a
        campaign with it stays exactly reproducible from its seed.
        """
        if isinstance(agent, LogsModelCalls):
            return await asyncio.to_thread(step, *args)
        return step(*args)

    async def _hypothesize(self) -> None:
        campaign = self.campaign
        if self._proposer is None or len(campaign.observations) < campaign.spec.initial_design:
            return
        context = ProposalContext(
            spec=campaign.spec,
            experiments=list(campaign.experiments.values()),
            observations=dict(campaign.observations),
            hypotheses=list(campaign.hypotheses.values()),
        )
        newcomers: list[str] = []
        try:
            drafts = await self._think(self._proposer, self._proposer.propose, context)
        except AgentError as exc:  # a model that is down must not stop the lab
            logger.warning("no hypotheses this round: %s", exc)
            return
        for draft in drafts:
            try:
                registered = self._register(draft)
            except SpecError as exc:  # a plug-in's bad draft is dropped, never registered
                logger.warning("dropped a hypothesis by %s: %s", draft.author, exc)
                continue
            if registered is not None:
                newcomers.append(registered)
        await self._rank(newcomers, context)

    def _register(self, draft: HypothesisDraft, *, request: int | None = None) -> str | None:
        """Register a draft; its id, or ``None`` if a registered one predicts the same.

        Raises:
            SpecError: the prediction lies outside the space; or, for a person's request, it
                repeats a registered prediction.
        """
        campaign = self.campaign
        same = {prediction_key(h.prediction): h.id for h in campaign.hypotheses.values()}.get(
            prediction_key(draft.prediction)
        )
        if same is not None:
            if request is None:
                return None
            raise SpecError(f"hypothesis {same} already makes this prediction")
        check_draft(campaign.spec, draft)
        hypothesis = Hypothesis(
            id=f"H{len(campaign.hypotheses) + 1:02d}",
            statement=draft.statement,
            kind=draft.kind,
            prediction=draft.prediction,
            rationale=draft.rationale,
            author=draft.author,
            registered_after=campaign.designed,
        )
        self._journal.write(
            draft.author,
            HypothesisProposed(
                lab_time_s=self._clock.now(), hypothesis=hypothesis, request=request
            ),
        )
        return hypothesis.id

    # -- requests from people (cfl.control) ------------------------------------------------------

    def _apply_requests(self) -> None:
        """Apply, oldest first, what people asked for since the last step; settle each request."""
        if self._control is None:
            return
        for request in self._control.pending(self.campaign.id):
            if request.id in self.campaign.requests_applied:  # journaled, then the process died
                self._control.settle(request.id, outcome="applied", detail="applied before")
                continue
            try:
                detail = self._apply(request)
            except ConcurrentWriter:
                raise
            except CFLError as exc:  # the campaign moved on since the request was filed
                self._control.settle(request.id, outcome="refused", detail=str(exc))
            else:
                self._control.settle(request.id, outcome="applied", detail=detail)

    def _apply(self, request: ControlRequest) -> str:
        """Journal what ``request`` asks for, as its requester; what was done.

        Raises:
            CFLError: the campaign cannot take it now (the reason is the refusal's detail).
        """
        campaign, now, by, payload = self.campaign, self._clock.now(), request.by, request.parsed()
        if isinstance(payload, HypothesisRequest):
            hid = self._register(request.draft(), request=request.id)
            return f"registered as {hid}; judged on experiments designed from now on"
        if isinstance(payload, ExperimentEdit):
            experiment = campaign.experiments.get(payload.experiment)
            if experiment is None or experiment.status != ExperimentStatus.PROPOSED:
                raise SpecError(f"no longer awaiting a decision: {payload.experiment}")
            point = payload.conditions(experiment.params, campaign.spec)
            tests = tuple(
                h.id
                for h in campaign.hypotheses.values()
                if h.registered_after < experiment.index and tested_by(h.prediction, point)
            )
            self._journal.write(
                by,
                ExperimentEdited(
                    lab_time_s=now,
                    experiment=experiment.id,
                    params=point,
                    tests=tests,
                    by=by,
                    note=payload.note,
                    request=request.id,
                ),
            )
            changed = ", ".join(f"{k}={point[k]}" for k in payload.params)
            return f"{experiment.id} queued with {changed}"
        if isinstance(payload, ExperimentDecision):
            stale = [
                eid
                for eid in payload.experiments
                if eid not in campaign.experiments
                or campaign.experiments[eid].status != ExperimentStatus.PROPOSED
            ]
            if stale:
                raise SpecError(f"no longer awaiting a decision: {', '.join(stale)}")
            decided = ExperimentsApproved if request.kind == "approve" else ExperimentsRejected
            self._journal.write(
                by,
                decided(
                    lab_time_s=now,
                    experiments=payload.experiments,
                    by=by,
                    note=payload.note,
                    request=request.id,
                ),
            )
            verb = "approved" if request.kind == "approve" else "rejected"
            return f"{verb} {', '.join(payload.experiments)}"
        if isinstance(payload, PauseRequest):
            if campaign.paused is not None:
                raise SpecError("the campaign is already paused")
            note = f": {payload.note}" if payload.note else ""
            paused = CampaignPaused(
                lab_time_s=now, detail=f"paused by {by}{note}", by=by, request=request.id
            )
            self._journal.write(by, paused)
            return "paused: experiments in progress finish, no new ones start"
        if campaign.paused is None:
            raise SpecError("the campaign is not paused; nothing to resume")
        self._journal.write(by, CampaignResumed(lab_time_s=now, request=request.id))
        return "resumed"

    def _review(self) -> None:
        """The co-scientist's meta-review, into the ledger before the campaign ends."""
        reviewer = self._proposer
        if not isinstance(reviewer, CampaignReviewer) or not self.campaign.hypotheses:
            return
        campaign = self.campaign
        context = ProposalContext(
            spec=campaign.spec,
            experiments=list(campaign.experiments.values()),
            observations=dict(campaign.observations),
            hypotheses=list(campaign.hypotheses.values()),
        )
        try:
            review = reviewer.review(context)
        except AgentError as exc:
            logger.warning("no meta-review: %s", exc)
            return
        self._journal.write(
            reviewer.author,
            CampaignReviewed(
                lab_time_s=self._clock.now(),
                author=reviewer.author,
                summary=review.summary,
                next_steps=review.next_steps,
            ),
        )

    async def _rank(self, newcomers: list[str], context: ProposalContext) -> None:
        """Rate the newcomers in a tournament against the hypotheses nearest in rating."""
        hypotheses = list(self.campaign.hypotheses.values())
        if self._judge is None or not newcomers or len(hypotheses) < 2:
            return
        try:
            matches, ratings = await self._think(
                self._judge, play, hypotheses, newcomers, self._judge, context
            )
        except AgentError as exc:
            logger.warning("no tournament this round: %s", exc)
            return
        if matches:
            judge = f"agent:judge:{type(self._judge).__name__}"
            self._journal.write(
                judge,
                HypothesesRanked(
                    lab_time_s=self._clock.now(), judge=judge, matches=tuple(matches), elo=ratings
                ),
            )

    def _design(self, n: int) -> list[Experiment]:
        campaign = self.campaign
        spec = campaign.spec
        round_number = max((e.round for e in campaign.experiments.values()), default=0) + 1
        pending = [e.params for e in campaign.pending]
        aims = discriminating_points(
            campaign, self._testing_count(n), pending, seed=spec.seed * 100_003 + campaign.designed
        )
        chosen = [aim.point for aim in aims]
        rest = n - len(aims)
        points = self._planner.suggest(rest, pending + chosen)[:rest] if rest else []
        # a plug-in may not overspend the budget, hence the cut
        designs: list[tuple[Point, Aim | None]] = [(a.point, a) for a in aims]
        designs += [(point, None) for point in points]
        experiments = []
        for offset, (point, aim) in enumerate(designs):
            index = campaign.designed + offset + 1
            source: Literal["initial", "planner", "coscientist"] = (
                "initial" if index <= spec.initial_design else "planner"
            )
            experiments.append(
                Experiment(
                    id=f"E{index:04d}",
                    index=index,
                    round=round_number,
                    params=spec.space.coerce(point),
                    protocol=spec.protocol,
                    source="coscientist" if aim is not None else source,
                    tests=tuple(
                        h.id for h in campaign.hypotheses.values() if tested_by(h.prediction, point)
                    ),
                    designed_for=() if aim is None else aim.hypotheses,
                    status=(
                        ExperimentStatus.PROPOSED if spec.approval else ExperimentStatus.QUEUED
                    ),
                )
            )
        now = self._clock.now()
        by_planner = [e for e in experiments if e.source != "coscientist"]
        by_coscientist = [e for e in experiments if e.source == "coscientist"]
        if by_coscientist:
            self._journal.write(
                "cfl:discriminate",
                *(ExperimentDesigned(lab_time_s=now, experiment=e) for e in by_coscientist),
            )
        if by_planner:
            self._journal.write(
                f"planner:{spec.planner}",
                *(ExperimentDesigned(lab_time_s=now, experiment=e) for e in by_planner),
            )
        return experiments

    def _testing_count(self, n: int) -> int:
        """How many of ``n`` experiments to design for the open hypotheses.

        ``testing_share`` of them, at least one if any share is asked for, once the initial
        design is done and while a hypothesis is open.
        """
        campaign = self.campaign
        share = campaign.spec.testing_share
        if share <= 0 or campaign.designed < campaign.spec.initial_design:
            return 0
        if not any(h.status == HypothesisStatus.OPEN for h in campaign.hypotheses.values()):
            return 0
        return min(n, max(1, round(share * n)))

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
        if spec.stop.converged and isinstance(self._planner, Converges):
            converged = self._planner.stop_reason()
            if converged is not None:
                return "converged", f"{spec.planner}: {converged}"
        return None

    def _finish(self, reason: FinishReason, detail: str) -> None:
        self._review()
        self._journal.write(
            "cfl",
            CampaignFinished(
                lab_time_s=self._clock.now(),
                reason=reason,
                detail=detail,
            ),
        )
