"""Every goal becomes an episode: frames at a fixed rate, the task in words, and where it came from.

The robot streams state samples at its own rate (in feedback and in the result); an episode wants
frames at a fixed ``fps``. :func:`resample` takes, for each frame time ``k / fps``, the latest
sample at or before it (a zero-order hold: what the robot last reported, never an invented
in-between). A rejected goal has one frame: the robot standing as it was.

Episodes go to an :class:`~robots.episodes.EpisodeSink`. In a lab run that is the episode store of
the dataset code, ``robots.dataset.store.EpisodeStore(<data_dir>/episodes)``, imported only when a
run needs it (:func:`lab_sink`), so the driver works, without recording, where that package is
not installed.
"""

from __future__ import annotations

import importlib
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import JsonValue

from robots.contract import GoalStatus, RobotErrorInfo
from robots.episodes import Episode, EpisodeSink, Frame, Outcome
from robots.messages import RobotInfo, RobotState

__all__ = ["Provenance", "episode_of", "experiment_of", "lab_sink", "resample", "utc_stamp"]

logger = logging.getLogger(__name__)

_EXPERIMENT = re.compile(r"^S-(E\d+)-\d+$")
_STORE = "robots.dataset.store"
_missing_store_logged = False


@dataclass(frozen=True)
class Provenance:
    """Where the episodes of one robot in one run come from."""

    site: str | None
    team: str | None
    campaign: str | None
    robot: RobotInfo


def experiment_of(objects: Sequence[str]) -> str | None:
    """The experiment a sample id names (``S-E0007-1`` is experiment ``E0007``), if any."""
    for object_id in objects:
        match = _EXPERIMENT.match(object_id)
        if match:
            return match.group(1)
    return None


def utc_stamp(moment: datetime) -> str:
    """ISO 8601 UTC with ``Z``, to the microsecond, as episodes record their start."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def resample(states: Sequence[RobotState], fps: float, duration_s: float) -> tuple[Frame, ...]:
    """Frames at ``k / fps`` for ``0 <= k / fps <= duration_s``, each the latest sample so far."""
    if not states:
        return ()
    ordered = sorted(states, key=lambda s: s.t_s)
    frames: list[Frame] = []
    index = 0
    for k in range(math.floor(duration_s * fps + 1e-9) + 1):
        t = k / fps
        while index + 1 < len(ordered) and ordered[index + 1].t_s <= t + 1e-9:
            index += 1
        state = ordered[index]
        frames.append(Frame(timestamp_s=t, state=state.joints, action=state.command))
    return tuple(frames)


def episode_of(
    *,
    provenance: Provenance,
    goal_id: str,
    skill: str,
    args: dict[str, JsonValue],
    objects: Sequence[str],
    instruction: str,
    status: GoalStatus,
    error: RobotErrorInfo | None,
    attempts: int,
    started_at: str,
    duration_s: float,
    states: Sequence[RobotState],
    fps: float,
) -> Episode:
    """The episode of one goal, whatever its outcome."""
    outcome: Outcome = {
        GoalStatus.SUCCEEDED: "succeeded",
        GoalStatus.CANCELLED: "cancelled",
        GoalStatus.REJECTED: "rejected",
    }.get(status, "aborted")  # type: ignore[assignment]
    robot = provenance.robot
    return Episode(
        goal_id=goal_id,
        skill=skill,
        args=args,
        instruction=instruction,
        outcome=outcome,
        error=None if error is None else error.code.value,
        attempts=attempts,
        started_at=started_at,
        duration_s=duration_s,
        fps=fps,
        joint_names=robot.joint_names,
        frames=resample(states, fps, duration_s),
        site=provenance.site,
        team=provenance.team,
        robot_serial=robot.serial,
        robot_type=robot.robot_type,
        is_sim=robot.is_sim,
        campaign=provenance.campaign,
        experiment=experiment_of(objects),
    )


def lab_sink(data_dir: Path | None) -> EpisodeSink | None:
    """Where a lab run keeps episodes: the episode store under ``data_dir``, if there is one.

    ``None`` when the lab keeps no data (a lab file being validated, a test) or when the dataset
    package is not installed; the latter is logged once per process, since every episode of the
    run is then lost.
    """
    global _missing_store_logged
    if data_dir is None:
        return None
    try:
        module = importlib.import_module(_STORE)
    except ImportError as exc:
        if not _missing_store_logged:
            _missing_store_logged = True
            logger.warning(
                "robot episodes are not recorded: %s cannot be imported (%s); install the "
                "dataset package to keep them",
                _STORE,
                exc,
            )
        return None
    sink = module.EpisodeStore(data_dir / "episodes")
    if not isinstance(sink, EpisodeSink):
        raise TypeError(f"{_STORE}.EpisodeStore is not an EpisodeSink (it has no write method)")
    return sink
