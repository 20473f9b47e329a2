"""Campaign events: every change of a campaign's state, as a frozen value.

A campaign *is* its events. The journal seals each event into a ledger record, and the
campaign's state is the fold of its events (:meth:`cfl.campaign.Campaign.apply`), so the
tamper-evident record and the state it describes cannot drift apart, and resuming a campaign is
replaying its record.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.errors import CFLError
from cfl.models import Experiment, Hypothesis, HypothesisStatus, Match, Observation
from cfl.spec import CampaignSpec

__all__ = [
    "CampaignCreated",
    "CampaignFinished",
    "CampaignPaused",
    "CampaignResumed",
    "CampaignReviewed",
    "DeviceQuarantined",
    "DeviceReleased",
    "Event",
    "ExperimentDesigned",
    "ExperimentEdited",
    "ExperimentFailed",
    "ExperimentRequeued",
    "ExperimentStarted",
    "ExperimentsApproved",
    "ExperimentsRejected",
    "FinishReason",
    "HypothesesRanked",
    "HypothesisAssessed",
    "HypothesisProposed",
    "ModelCalled",
    "ObservationRecorded",
    "RoundCompleted",
    "SampleDiscarded",
    "StepCompleted",
    "StepDispatched",
    "StepFailed",
    "event_from_payload",
]


class Event(BaseModel):
    """Base of all events; ``TYPE`` is the record type written to the ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]

    lab_time_s: float = Field(ge=0)
    """Lab time when it happened (virtual seconds in a simulated lab)."""


class CampaignCreated(Event):
    TYPE = "campaign.created"
    spec: CampaignSpec
    spec_hash: str


class CampaignResumed(Event):
    TYPE = "campaign.resumed"
    requeued: tuple[str, ...] = ()
    request: int | None = None
    """The control request this applies (``cfl.control``), if a person asked for it."""


class HypothesisProposed(Event):
    TYPE = "hypothesis.proposed"
    hypothesis: Hypothesis
    request: int | None = None
    """The control request this applies, when a person added the hypothesis."""


class ExperimentsApproved(Event):
    """A person approved proposed experiments, exactly as designed: they are queued."""

    TYPE = "experiment.approved"
    experiments: tuple[str, ...]
    by: str
    note: str = ""
    request: int | None = None


class ExperimentEdited(Event):
    """A person changed a proposed experiment's conditions and approved it: queued as edited.

    ``params`` are the whole new conditions (inside the space); ``tests`` the hypotheses they
    now bear on, among those registered before the experiment was designed. The conditions are
    the person's from now on (``source: human``); the ledger keeps the design it replaced.
    """

    TYPE = "experiment.edited"
    experiment: str
    params: dict[str, float | int | str]
    tests: tuple[str, ...] = ()
    by: str
    note: str = ""
    request: int | None = None


class ExperimentsRejected(Event):
    """A person rejected proposed experiments: they are cancelled and never run."""

    TYPE = "experiment.rejected"
    experiments: tuple[str, ...]
    by: str
    note: str = ""
    request: int | None = None


class ExperimentDesigned(Event):
    TYPE = "experiment.designed"
    experiment: Experiment


class ExperimentStarted(Event):
    TYPE = "experiment.started"
    experiment: str
    attempt: int
    sample: str


class StepDispatched(Event):
    TYPE = "step.dispatched"
    experiment: str
    attempt: int
    step: int
    command: str
    role: str
    device: str
    at: str | None = None


class StepCompleted(Event):
    TYPE = "step.completed"
    experiment: str
    attempt: int
    step: int
    device: str
    duration_s: float


class StepFailed(Event):
    """An attempt at a step failed; an alert. ``retry_in_s`` is set when it will be tried again."""

    TYPE = "step.failed"
    experiment: str
    attempt: int
    step: int
    device: str
    error: str
    """Class name of the error, e.g. ``DeviceTimeout``."""
    message: str
    retry_in_s: float | None = None


class DeviceQuarantined(Event):
    """A device was taken out of service; an alert. A human clears it (``cfl devices release``)."""

    TYPE = "device.quarantined"
    device: str
    reason: str


class DeviceReleased(Event):
    """A human put a quarantined device back into service."""

    TYPE = "device.released"
    device: str
    by: str
    """``human:<id>`` of whoever checked the device."""
    note: str = ""


class SampleDiscarded(Event):
    """The vial of a failed experiment was moved to the lab's discard, freeing its station."""

    TYPE = "sample.discarded"
    experiment: str
    sample: str
    source: str
    """Where it was taken from: a station, or the gripper of the robot holding it."""
    robot: str


class ExperimentFailed(Event):
    TYPE = "experiment.failed"
    experiment: str
    attempt: int
    reason: str
    error: str
    """Class name of the error, e.g. ``DeviceFault``."""
    device: str | None = None


class ExperimentRequeued(Event):
    TYPE = "experiment.requeued"
    experiment: str
    attempt: int
    """The new attempt number."""
    reason: str


class ObservationRecorded(Event):
    TYPE = "observation.recorded"
    observation: Observation


class HypothesisAssessed(Event):
    TYPE = "hypothesis.assessed"
    hypothesis: str
    status: HypothesisStatus
    credence: float
    evidence_n: int
    statistics: dict[str, JsonValue] = Field(default_factory=dict)


class HypothesesRanked(Event):
    """A tournament: who played whom, each pair judged in both orders, and the new ratings."""

    TYPE = "hypotheses.ranked"
    judge: str
    matches: tuple[Match, ...]
    elo: dict[str, float]


class ModelCalled(Event):
    """One call to a language model by an agent: enough to prove what was asked and answered.

    The prompt and the answer are kept as SHA-256 of their canonical JSON, so a disclosure can
    show that a given text was (or was not) what the model saw, without the ledger holding it.
    """

    TYPE = "model.called"
    purpose: str
    model: str
    endpoint: str
    prompt_sha256: str
    output_sha256: str | None
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    tokens_counted_by: Literal["server", "estimate"]
    started_at: str
    """Wall-clock start, ISO 8601 UTC."""
    duration_s: float = Field(ge=0)
    outcome: Literal["ok", "error"]
    error: str | None = None


class RoundCompleted(Event):
    TYPE = "round.completed"
    round: int
    best_score: float | None


FinishReason = Literal["budget", "target", "patience", "converged", "no-suggestions"]


class CampaignPaused(Event):
    """The campaign stopped starting experiments.

    Either a person paused it (``by``; a ``resume`` request carries on), or every device of a role
    is out and the run ended (running the spec again resumes it, once they are released).
    """

    TYPE = "campaign.paused"
    detail: str
    by: str | None = None
    """``human:<name>`` when a person paused it; ``None`` when devices ran out."""
    request: int | None = None


class CampaignReviewed(Event):
    """The co-scientist's meta-review as the campaign ends: summary and next steps."""

    TYPE = "campaign.reviewed"
    author: str
    summary: str
    next_steps: tuple[str, ...] = ()


class CampaignFinished(Event):
    TYPE = "campaign.finished"
    reason: FinishReason
    detail: str


_EVENTS: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        CampaignCreated,
        CampaignResumed,
        CampaignPaused,
        HypothesisProposed,
        ExperimentDesigned,
        ExperimentsApproved,
        ExperimentEdited,
        ExperimentsRejected,
        ExperimentStarted,
        StepDispatched,
        StepCompleted,
        StepFailed,
        DeviceQuarantined,
        DeviceReleased,
        SampleDiscarded,
        ExperimentFailed,
        ExperimentRequeued,
        ObservationRecorded,
        HypothesisAssessed,
        HypothesesRanked,
        ModelCalled,
        CampaignReviewed,
        RoundCompleted,
        CampaignFinished,
    )
}


def event_from_payload(record_type: str, payload: dict[str, Any]) -> Event:
    """Rebuild the event a ledger record carries.

    Raises:
        CFLError: the record type is unknown (written by a newer CFL).
    """
    cls = _EVENTS.get(record_type)
    if cls is None:
        raise CFLError(
            f"unknown record type {record_type!r}; this store was written by a newer CFL, "
            "upgrade to read it"
        )
    return cls.model_validate(payload)
