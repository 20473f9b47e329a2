"""Robot episodes: what one skill goal did, frame by frame, with where it came from.

Every skill goal KAPEX runs becomes one :class:`Episode`, whatever its outcome, so the data ~100
teams pool into a national dataset holds failures as well as successes. A driver hands finished
episodes to an :class:`EpisodeSink`; the dataset code writes them in the LeRobot v3.0 layout.

Provenance travels with the episode (site, team, robot serial, skill, outcome, simulated or not),
so datasets pooled from many labs stay usable: one can select, weigh or exclude by any of them.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["Episode", "EpisodeSink", "Frame", "Outcome"]

Outcome = Literal["succeeded", "cancelled", "aborted", "rejected"]


class Frame(BaseModel):
    """One sample of the robot while it worked on a goal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timestamp_s: float = Field(ge=0)
    """Seconds since the episode began."""
    state: tuple[float, ...]
    """Measured joint positions, in the order of :attr:`Episode.joint_names`."""
    action: tuple[float, ...]
    """Commanded joint targets at this instant, same order."""


class Episode(BaseModel):
    """One skill goal, recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    goal_id: str
    skill: str
    args: dict[str, JsonValue]
    instruction: str
    """Natural-language statement of the task; the LeRobot ``task``."""
    outcome: Outcome
    error: str | None = None
    """Error code when the goal did not succeed (e.g. ``grasp_failed``)."""
    attempts: int = Field(default=1, ge=1)
    started_at: str
    """UTC wall-clock time the goal was accepted, ISO 8601 with ``Z``."""
    duration_s: float = Field(ge=0)
    """Lab seconds from acceptance to the terminal result."""
    fps: float = Field(gt=0)
    joint_names: tuple[str, ...]
    frames: tuple[Frame, ...]
    site: str | None = None
    team: str | None = None
    robot_serial: str
    robot_type: str
    """``kapex`` for the robot, ``kapex_sim`` for the simulator."""
    is_sim: bool
    campaign: str | None = None
    experiment: str | None = None


@runtime_checkable
class EpisodeSink(Protocol):
    """Where a driver puts finished episodes."""

    def write(self, episode: Episode) -> None:
        """Keep ``episode``; called once per goal, after its terminal result."""
        ...
