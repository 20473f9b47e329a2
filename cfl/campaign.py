"""The campaign: the one mutable record of a running campaign, folded from its events."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field

from cfl.errors import CFLError
from cfl.events import (
    CampaignCreated,
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignReviewed,
    DeviceQuarantined,
    DeviceReleased,
    Event,
    ExperimentDesigned,
    ExperimentEdited,
    ExperimentFailed,
    ExperimentRequeued,
    ExperimentsApproved,
    ExperimentsRejected,
    ExperimentStarted,
    HypothesesRanked,
    HypothesisAssessed,
    HypothesisProposed,
    ModelCalled,
    ObservationRecorded,
    RoundCompleted,
    SampleDiscarded,
    StepCompleted,
    StepDispatched,
    StepFailed,
)
from cfl.models import DeviceState, Experiment, ExperimentStatus, Hypothesis, Observation
from cfl.spec import CampaignSpec

__all__ = ["Campaign", "score"]


def score(spec: CampaignSpec, values: dict[str, float]) -> float:
    """The optimised score of one observation: ``sum_i w_i * s_i * y_i``.

    ``s_i`` is +1 for objectives to maximise and -1 for those to minimise, ``w_i`` the weight from
    the spec. Weights carry the exchange rate between units, so choose them with the units in mind.
    """
    total = 0.0
    for objective in spec.objectives:
        if objective.weight > 0:
            sign = 1.0 if objective.direction == "maximize" else -1.0
            total += objective.weight * sign * values[objective.name]
    return total


@dataclass
class Campaign:
    """State of one campaign. Change it only through :meth:`apply`, which the journal calls."""

    id: str
    spec: CampaignSpec
    spec_hash: str
    experiments: dict[str, Experiment] = field(default_factory=dict)
    observations: dict[str, Observation] = field(default_factory=dict)
    hypotheses: dict[str, Hypothesis] = field(default_factory=dict)
    rounds_completed: int = 0
    best_scores: list[float | None] = field(default_factory=list)
    """Best score after each completed round."""
    busy_devices: dict[str, str] = field(default_factory=dict)
    """Device name to the experiment whose step it is running now."""
    device_faults: dict[str, str] = field(default_factory=dict)
    """Device name to its last failure, while it has not completed a step since."""
    offline: set[str] = field(default_factory=set)
    consecutive_failures: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, str] = field(default_factory=dict)
    """Device name to the reason it was taken out of service."""
    lab_time_s: float = 0.0
    finished: CampaignFinished | None = None
    paused: CampaignPaused | None = None
    review: CampaignReviewed | None = None
    """The co-scientist's last meta-review, if it writes one."""
    """Set when the last run stopped for want of devices; cleared when a run resumes."""
    busy_since: dict[str, float] = field(default_factory=dict)
    """Device name to the lab time its current step began."""
    busy_s: dict[str, float] = field(default_factory=dict)
    """Device name to lab seconds spent running steps (failed attempts included)."""
    requests_applied: set[int] = field(default_factory=set)
    """Control requests (``cfl.control``) whose events are in the record."""

    @classmethod
    def from_events(cls, campaign_id: str, events: Iterable[Event]) -> Campaign:
        """Replay a campaign from its events; the first must be :class:`CampaignCreated`.

        Raises:
            CFLError: the events do not describe a valid history.
        """
        iterator = iter(events)
        first = next(iterator, None)
        if not isinstance(first, CampaignCreated):
            raise CFLError(f"campaign {campaign_id} does not start with campaign.created")
        campaign = cls(id=campaign_id, spec=first.spec, spec_hash=first.spec_hash)
        for event in iterator:
            campaign.apply(event)
        return campaign

    def copy(self) -> Campaign:
        """A copy whose containers can change without touching this one (values are frozen)."""
        clone = copy.copy(self)
        clone.experiments = dict(self.experiments)
        clone.observations = dict(self.observations)
        clone.hypotheses = dict(self.hypotheses)
        clone.best_scores = list(self.best_scores)
        clone.busy_devices = dict(self.busy_devices)
        clone.device_faults = dict(self.device_faults)
        clone.offline = set(self.offline)
        clone.consecutive_failures = dict(self.consecutive_failures)
        clone.quarantined = dict(self.quarantined)
        clone.busy_since = dict(self.busy_since)
        clone.busy_s = dict(self.busy_s)
        clone.requests_applied = set(self.requests_applied)
        return clone

    # -- queries ------------------------------------------------------------------------------

    @property
    def designed(self) -> int:
        """Experiments designed so far, whatever their state."""
        return len(self.experiments)

    def with_status(self, *statuses: ExperimentStatus) -> list[Experiment]:
        """Experiments in any of ``statuses``, in design order."""
        return [e for e in self.experiments.values() if e.status in statuses]

    @property
    def pending(self) -> list[Experiment]:
        """Designed but not finished: proposed (awaiting approval), queued or running."""
        return self.with_status(
            ExperimentStatus.PROPOSED, ExperimentStatus.QUEUED, ExperimentStatus.RUNNING
        )

    @property
    def current_round(self) -> int:
        """The round in progress (the last completed one plus one)."""
        return self.rounds_completed + 1

    def score_of(self, experiment_id: str) -> float:
        """Score of an observed experiment (see :func:`score`)."""
        return score(self.spec, self.observations[experiment_id].values)

    def device_state(self, device: str) -> DeviceState:
        """Quarantined, busy, offline, faulted or idle, in that order of precedence."""
        if device in self.quarantined:
            return DeviceState.QUARANTINED
        if device in self.busy_devices:
            return DeviceState.BUSY
        if device in self.offline:
            return DeviceState.OFFLINE
        if device in self.device_faults:
            return DeviceState.FAULTED
        return DeviceState.IDLE

    def best(self) -> tuple[Experiment, Observation] | None:
        """The observed experiment with the highest score, if any."""
        if not self.observations:
            return None
        best_id = max(self.observations, key=self.score_of)
        return self.experiments[best_id], self.observations[best_id]

    # -- the fold -----------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Apply one event. Checks come first, so a rejected event changes nothing.

        Raises:
            CFLError: the event contradicts the state (a bug, or a record edited to lie).
        """
        if self.finished is not None:
            raise CFLError(f"campaign {self.id} is finished; {type(event).__name__} refused")
        match event:
            case CampaignCreated():
                raise CFLError(f"campaign {self.id} was already created")
            case CampaignResumed():
                self.paused = None
            case CampaignPaused():
                self.paused = event
            case HypothesisProposed(hypothesis=h):
                if h.id in self.hypotheses:
                    raise CFLError(f"hypothesis {h.id} already exists")
                self.hypotheses[h.id] = h
            case ExperimentDesigned(experiment=e):
                if e.id in self.experiments:
                    raise CFLError(f"experiment {e.id} already exists")
                self.experiments[e.id] = e
            case ExperimentStarted(experiment=eid, attempt=attempt):
                e = self._expect(eid, attempt, ExperimentStatus.QUEUED)
                self.experiments[eid] = e.model_copy(update={"status": ExperimentStatus.RUNNING})
            case StepDispatched(experiment=eid, attempt=attempt, device=device):
                self._expect(eid, attempt, ExperimentStatus.RUNNING)
                self.busy_devices[device] = eid
                self.busy_since[device] = event.lab_time_s
            case StepCompleted(experiment=eid, attempt=attempt, device=device):
                self._expect(eid, attempt, ExperimentStatus.RUNNING)
                self._end_busy(device, event.lab_time_s)
                self.consecutive_failures[device] = 0
                self.device_faults.pop(device, None)
                self.offline.discard(device)
            case StepFailed(experiment=eid, attempt=attempt, device=device):
                self._expect(eid, attempt, ExperimentStatus.RUNNING)
                self._end_busy(device, event.lab_time_s)
                self.consecutive_failures[device] = self.consecutive_failures.get(device, 0) + 1
                self.device_faults[device] = f"{event.error}: {event.message}"
                if event.error == "DeviceDisconnected":
                    self.offline.add(device)
                else:
                    self.offline.discard(device)
            case DeviceQuarantined(device=device, reason=reason):
                if device in self.quarantined:
                    raise CFLError(f"device {device} is already quarantined")
                self.quarantined[device] = reason
            case DeviceReleased(device=device):
                if device not in self.quarantined:
                    raise CFLError(f"device {device} is not quarantined; nothing to release")
                del self.quarantined[device]
                self.consecutive_failures[device] = 0
                self.device_faults.pop(device, None)
                self.offline.discard(device)
            case ExperimentsApproved(experiments=ids):
                for e in [self._expect(eid, None, ExperimentStatus.PROPOSED) for eid in ids]:
                    self.experiments[e.id] = e.model_copy(
                        update={"status": ExperimentStatus.QUEUED}
                    )
            case ExperimentEdited(experiment=eid, params=params, tests=tests):
                e = self._expect(eid, None, ExperimentStatus.PROPOSED)
                self.experiments[eid] = e.model_copy(
                    update={
                        "params": self.spec.space.coerce(params),
                        "tests": tests,
                        "designed_for": (),
                        "source": "human",
                        "status": ExperimentStatus.QUEUED,
                    }
                )
            case ExperimentsRejected(experiments=ids, by=by, note=note):
                for e in [self._expect(eid, None, ExperimentStatus.PROPOSED) for eid in ids]:
                    self.experiments[e.id] = e.model_copy(
                        update={
                            "status": ExperimentStatus.CANCELLED,
                            "failure": f"rejected by {by}: {note or 'no reason given'}",
                        }
                    )
            case SampleDiscarded():
                pass
            case ExperimentFailed(experiment=eid, attempt=attempt, reason=reason):
                e = self._expect(eid, attempt, ExperimentStatus.RUNNING, ExperimentStatus.QUEUED)
                self._free_devices_of(eid)
                self.experiments[eid] = e.model_copy(
                    update={"status": ExperimentStatus.FAILED, "failure": reason}
                )
            case ExperimentRequeued(experiment=eid, attempt=attempt):
                e = self._expect(eid, attempt - 1, ExperimentStatus.RUNNING)
                self._free_devices_of(eid)
                self.experiments[eid] = e.model_copy(
                    update={"status": ExperimentStatus.QUEUED, "attempt": attempt}
                )
            case ObservationRecorded(observation=o):
                e = self._expect(o.experiment, None, ExperimentStatus.RUNNING)
                if o.experiment in self.observations:
                    raise CFLError(f"experiment {o.experiment} already has an observation")
                missing = [
                    x.name for x in self.spec.objectives if x.weight > 0 and x.name not in o.values
                ]
                if missing:  # it could not be scored; CFL's dispatcher records every objective
                    raise CFLError(
                        f"observation of {o.experiment} lacks optimised objective(s) {missing} "
                        "of the spec, so it cannot be scored; CFL's dispatcher never records one "
                        "so, so this record came from elsewhere"
                    )
                self._free_devices_of(o.experiment)
                self.observations[o.experiment] = o
                self.experiments[o.experiment] = e.model_copy(
                    update={"status": ExperimentStatus.DONE}
                )
            case HypothesisAssessed(hypothesis=hid):
                assessed = self.hypotheses.get(hid)
                if assessed is None:
                    raise CFLError(f"no hypothesis {hid}")
                self.hypotheses[hid] = assessed.model_copy(
                    update={
                        "status": event.status,
                        "credence": event.credence,
                        "evidence_n": event.evidence_n,
                        "log10_bf": _number(event.statistics.get("log10_bf"), assessed.log10_bf),
                    }
                )
            case HypothesesRanked(elo=ratings):
                for hid, rating in ratings.items():
                    ranked = self.hypotheses.get(hid)
                    if ranked is None:
                        raise CFLError(f"no hypothesis {hid}")
                    self.hypotheses[hid] = ranked.model_copy(update={"elo": rating})
            case RoundCompleted(round=number, best_score=best):
                if number != self.rounds_completed + 1:
                    raise CFLError(f"round {number} completed out of order")
                self.rounds_completed = number
                self.best_scores.append(best)
            case CampaignFinished():
                self.finished = event
            case CampaignReviewed():
                self.review = event
            case ModelCalled():
                pass  # provenance only: a model call changes nothing until its output is used
            case _:
                raise CFLError(f"unhandled event {type(event).__name__}")
        request = getattr(event, "request", None)
        if request is not None:
            self.requests_applied.add(request)
        self.lab_time_s = max(self.lab_time_s, event.lab_time_s)

    def _expect(
        self, experiment_id: str, attempt: int | None, *statuses: ExperimentStatus
    ) -> Experiment:
        e = self.experiments.get(experiment_id)
        if e is None:
            raise CFLError(f"no experiment {experiment_id} in campaign {self.id}")
        if e.status not in statuses:
            raise CFLError(
                f"experiment {experiment_id} is {e.status}, expected one of "
                f"{[str(s) for s in statuses]}"
            )
        if attempt is not None and e.attempt != attempt:
            raise CFLError(
                f"experiment {experiment_id} is on attempt {e.attempt}, event is for {attempt}"
            )
        return e

    def _end_busy(self, device: str, now: float) -> None:
        self.busy_devices.pop(device, None)
        since = self.busy_since.pop(device, None)
        if since is not None:
            self.busy_s[device] = self.busy_s.get(device, 0.0) + max(0.0, now - since)

    def _free_devices_of(self, experiment_id: str) -> None:
        """Devices still marked busy for an experiment that ended (its step never completed)."""
        for device in [d for d, e in self.busy_devices.items() if e == experiment_id]:
            del self.busy_devices[device]
            self.busy_since.pop(device, None)

    def utilisation(self, device: str) -> float:
        """Share of the campaign's lab time ``device`` spent running steps."""
        if self.lab_time_s <= 0:
            return 0.0
        return self.busy_s.get(device, 0.0) / self.lab_time_s


def _number(value: object, default: float) -> float:
    """A statistic read back from a record: a number, or ``default`` when absent."""
    return float(value) if isinstance(value, (int, float)) else default
