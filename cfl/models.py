"""The domain values of a running campaign: experiments, observations and hypotheses.

All are frozen. A change of state makes a new value (``model_copy(update=...)``) that replaces
the old one inside the one mutable record, the :class:`~cfl.campaign.Campaign`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.protocol import Step
from cfl.space import Point

__all__ = [
    "BestLevel",
    "DeviceState",
    "Experiment",
    "ExperimentStatus",
    "Hypothesis",
    "HypothesisStatus",
    "Interaction",
    "Match",
    "Observation",
    "Optimum",
    "Prediction",
    "Trend",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExperimentStatus(StrEnum):
    """Life of an experiment: proposed → approved → queued → running → done | failed | cancelled.

    Without a human approval gate, designed experiments start ``queued``.
    """

    PROPOSED = "proposed"
    APPROVED = "approved"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """No further transition can happen."""
        return self in (ExperimentStatus.DONE, ExperimentStatus.FAILED, ExperimentStatus.CANCELLED)


class DeviceState(StrEnum):
    """What a device is doing, as far as the record shows."""

    IDLE = "idle"
    BUSY = "busy"
    FAULTED = "faulted"
    """Its last attempt failed; it may be retried or used again."""
    OFFLINE = "offline"
    """Its last attempt lost the connection."""
    QUARANTINED = "quarantined"
    """Out of service until a human releases it."""


class Experiment(_Frozen):
    """One set of conditions and the protocol that realises it."""

    id: str
    """``E0007``: unique within the campaign, ordered by design."""
    index: int = Field(ge=1)
    round: int = Field(ge=1)
    params: Point
    protocol: tuple[Step, ...]
    source: Literal["initial", "planner", "coscientist", "human"]
    """Who chose the conditions."""
    tests: tuple[str, ...] = ()
    """Hypotheses registered before this experiment was designed whose prediction covers its
    conditions: its result is evidence for or against them."""
    designed_for: tuple[str, ...] = ()
    """Hypotheses the co-scientist placed it to test (``source == "coscientist"``)."""
    status: ExperimentStatus = ExperimentStatus.QUEUED
    attempt: int = Field(default=1, ge=1)
    """Raised when an interrupted run is started again from the first step."""
    failure: str | None = None

    @property
    def sample(self) -> str:
        """Sample id of the current attempt: a fresh vial for every attempt."""
        return f"S-{self.id}-{self.attempt}"


class Observation(_Frozen):
    """What was measured for one experiment."""

    experiment: str
    values: dict[str, float]
    """Every quantity the instrument reported; objectives are among them."""
    device: str
    lab_time_s: float
    raw: dict[str, JsonValue] = Field(default_factory=dict)


class Trend(_Frozen):
    """Prediction: over ``[low, high]`` of ``variable``, the objective moves with sign ``sign``."""

    type: Literal["trend"] = "trend"
    objective: str
    variable: str
    sign: Literal[1, -1]
    low: float
    high: float


class BestLevel(_Frozen):
    """Prediction: ``level`` of categorical ``variable`` gives the best objective on average."""

    type: Literal["best_level"] = "best_level"
    objective: str
    variable: str
    level: str


class Interaction(_Frozen):
    """Prediction: the effect of ``variable`` on the objective changes with ``moderator``.

    ``sign`` is the sign of the product-term coefficient: ``1``, the objective rises more (or falls
    less) with ``variable`` when ``moderator`` is high; ``-1``, the reverse. Both are numeric.
    """

    type: Literal["interaction"] = "interaction"
    objective: str
    variable: str
    moderator: str
    sign: Literal[1, -1]


class Optimum(_Frozen):
    """Prediction: the best value of numeric ``variable`` lies within ``[low, high]``.

    "Best" is in the objective's direction, the other parameters held where the data put them;
    a region hypothesis in one variable.
    """

    type: Literal["optimum"] = "optimum"
    objective: str
    variable: str
    low: float
    high: float


Prediction: TypeAlias = Annotated[
    Trend | BestLevel | Interaction | Optimum, Field(discriminator="type")
]


class Match(_Frozen):
    """One pair, judged in both orders."""

    first: str
    second: str
    forward: float = Field(ge=0, le=1)
    """Score of ``first`` when shown first."""
    backward: float = Field(ge=0, le=1)
    """Score of ``second`` when shown first."""

    @property
    def score(self) -> float:
        """Score of ``first``, position bias cancelled: the mean over both orders."""
        return (self.forward + 1.0 - self.backward) / 2.0


class HypothesisStatus(StrEnum):
    """Where the evidence stands."""

    OPEN = "open"
    SUPPORTED = "supported"
    REFUTED = "refuted"


class Hypothesis(_Frozen):
    """A claim about the response, with a prediction a computer can check against data."""

    id: str
    """``H03``: unique within the campaign."""
    statement: str
    kind: Literal["effect", "interaction", "region", "mechanism"]
    prediction: Prediction
    rationale: str
    author: str
    """``agent:<name>@<version>`` or ``human:<id>``."""
    registered_after: int = Field(ge=0)
    """Experiments designed before registration; only later ones count as evidence."""
    status: HypothesisStatus = HypothesisStatus.OPEN
    credence: float = Field(default=0.5, ge=0, le=1)
    """Posterior probability that the prediction holds."""
    evidence_n: int = 0
    """Observations the current credence rests on."""
    log10_bf: float = 0.0
    """Bayes factor of the evidence so far for the prediction against its negation (log10)."""
    elo: float = 1200.0
    """Tournament rating (:mod:`cfl.tournament`): how the hypothesis fared in pairwise judgement."""
