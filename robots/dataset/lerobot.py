"""Recorded episodes to a LeRobot v3.0 dataset, without torch or the ``lerobot`` package.

One goal is one LeRobot episode; its ``instruction`` is the LeRobot task. Frames carry
``observation.state`` (measured joint positions) and ``action`` (commanded targets) as float32
vectors named by the robot's joints, which is the precision LeRobot trains on (the raw store keeps
the recorded float64 values). ``timestamp`` is the recorded time since the goal began, not
``frame_index / fps``: LeRobot v3.0 does not require them to agree without video, and turns
``delta_timestamps`` into frame offsets with ``fps``.

Provenance goes into the episodes table under the ``kapex/`` prefix, never into ``info.json``
(LeRobot drops unknown keys there). The columns, one per :class:`~robots.episodes.Episode` field:

========================  =========  ==============================================
column                    type       value
========================  =========  ==============================================
``kapex/goal_id``         string     the goal's id
``kapex/skill``           string     the skill that ran
``kapex/args_json``       string     the skill's arguments, canonical JSON
``kapex/outcome``         string     succeeded, cancelled, aborted or rejected
``kapex/success``         bool       outcome is succeeded
``kapex/error``           string     error code when not succeeded, else null
``kapex/attempts``        int64      attempts the goal took
``kapex/started_at``      string     UTC acceptance time, ISO 8601
``kapex/duration_s``      float64    lab seconds from acceptance to result
``kapex/site``            string     the lab's site (null if not set)
``kapex/team``            string     the team (null if not set)
``kapex/robot_serial``    string     the robot's serial number
``kapex/robot_type``      string     ``kapex`` or ``kapex_sim``
``kapex/is_sim``          bool       recorded in simulation
``kapex/campaign``        string     the CFL campaign (null outside one)
``kapex/experiment``      string     the experiment (null outside one)
========================  =========  ==============================================

``info.json``'s ``robot_type`` is the robot type of the episodes, or the distinct types joined by
commas (``kapex,kapex_sim``) when simulated and real episodes share the same joints; the
``kapex/robot_type`` and ``kapex/is_sim`` columns say which episode is which.

Goals that produced no frame (a rejected goal never moves) keep the same columns, plus ``task``,
in ``meta/kapex/frameless.parquet`` (see :mod:`robots.dataset.writer` for why not in LeRobot's
tables); they count in no LeRobot total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from cfl.canonical import canonical_json
from robots.dataset.frames import DatasetPlan, EpisodeFrames, Feature
from robots.dataset.layout import (
    ACTION,
    DATA_FILES_SIZE_IN_MB,
    PROVENANCE_PREFIX,
    STATE,
    DatasetError,
    whole_fps,
)
from robots.dataset.writer import Written, write_dataset
from robots.episodes import Episode

__all__ = ["PROVENANCE_SCHEMA", "episode_frames", "export", "plan_for", "provenance"]

P = PROVENANCE_PREFIX
PROVENANCE_SCHEMA = pa.schema(
    [
        pa.field(f"{P}goal_id", pa.string()),
        pa.field(f"{P}skill", pa.string()),
        pa.field(f"{P}args_json", pa.string()),
        pa.field(f"{P}outcome", pa.string()),
        pa.field(f"{P}success", pa.bool_()),
        pa.field(f"{P}error", pa.string()),
        pa.field(f"{P}attempts", pa.int64()),
        pa.field(f"{P}started_at", pa.string()),
        pa.field(f"{P}duration_s", pa.float64()),
        pa.field(f"{P}site", pa.string()),
        pa.field(f"{P}team", pa.string()),
        pa.field(f"{P}robot_serial", pa.string()),
        pa.field(f"{P}robot_type", pa.string()),
        pa.field(f"{P}is_sim", pa.bool_()),
        pa.field(f"{P}campaign", pa.string()),
        pa.field(f"{P}experiment", pa.string()),
    ]
)
"""The provenance columns of the episodes table (and of the frameless-goals table)."""


def provenance(episode: Episode) -> dict[str, Any]:
    """The ``kapex/...`` column values of ``episode``.

    Raises:
        DatasetError: the goal's arguments hold NaN or infinity, which JSON cannot carry.
    """
    try:
        args_json = canonical_json(episode.args)
    except ValueError as exc:
        raise DatasetError(
            f"episode of goal {episode.goal_id!r}: its args {episode.args!r} cannot be written as "
            f"JSON ({exc}); the driver must record finite numbers"
        ) from exc
    return {
        f"{P}goal_id": episode.goal_id,
        f"{P}skill": episode.skill,
        f"{P}args_json": args_json,
        f"{P}outcome": episode.outcome,
        f"{P}success": episode.outcome == "succeeded",
        f"{P}error": episode.error,
        f"{P}attempts": episode.attempts,
        f"{P}started_at": episode.started_at,
        f"{P}duration_s": episode.duration_s,
        f"{P}site": episode.site,
        f"{P}team": episode.team,
        f"{P}robot_serial": episode.robot_serial,
        f"{P}robot_type": episode.robot_type,
        f"{P}is_sim": episode.is_sim,
        f"{P}campaign": episode.campaign,
        f"{P}experiment": episode.experiment,
    }


def episode_frames(episode: Episode) -> EpisodeFrames:
    """``episode`` as columns: timestamps, states and actions, checked against its joints.

    Raises:
        DatasetError: a frame has a different number of values than the episode has joints, or
            the timestamps go backwards.
    """
    joints = len(episode.joint_names)
    where = f"episode of goal {episode.goal_id!r}"
    previous = -1.0
    for i, frame in enumerate(episode.frames):
        for name, values in (("state", frame.state), ("action", frame.action)):
            if len(values) != joints:
                raise DatasetError(
                    f"{where}: frame {i} has {len(values)} {name} values for {joints} joints "
                    f"{list(episode.joint_names)}; the driver must record one value per joint"
                )
        if frame.timestamp_s < previous:
            raise DatasetError(
                f"{where}: frame {i} has timestamp {frame.timestamp_s} s after {previous} s; "
                "frames must be recorded in time order"
            )
        previous = frame.timestamp_s
    shape = (len(episode.frames), joints)
    return EpisodeFrames(
        task=episode.instruction,
        timestamp=np.array([f.timestamp_s for f in episode.frames], dtype=np.float32),
        values={
            STATE: np.array([f.state for f in episode.frames], dtype=np.float32).reshape(shape),
            ACTION: np.array([f.action for f in episode.frames], dtype=np.float32).reshape(shape),
        },
        provenance=provenance(episode),
    )


def plan_for(
    episodes: Sequence[Episode], *, data_files_size_in_mb: int = DATA_FILES_SIZE_IN_MB
) -> DatasetPlan:
    """The features, rate and robot type shared by ``episodes`` that have frames.

    Episodes without frames take no part: they add no frame whose shape could clash.

    Raises:
        DatasetError: no episode has frames, or two of them differ in fps or joint names (mixing
            them would make vectors whose components mean different joints).
    """
    framed = [e for e in episodes if e.frames]
    if not framed:
        raise DatasetError(
            f"none of the {len(episodes)} episode(s) has frames (rejected goals record none); "
            "there is nothing LeRobot could train on"
        )
    first = framed[0]
    for other in framed[1:]:
        if other.fps != first.fps:
            raise DatasetError(
                f"episodes differ in fps: {first.fps:g} (goal {first.goal_id!r}, robot "
                f"{first.robot_serial}) and {other.fps:g} (goal {other.goal_id!r}, robot "
                f"{other.robot_serial}); export them separately, e.g. filtered by site, team, "
                "or --sim/--real"
            )
        if other.joint_names != first.joint_names:
            raise DatasetError(
                f"episodes differ in joints: {len(first.joint_names)} "
                f"{list(first.joint_names)} (goal {first.goal_id!r}, robot {first.robot_serial}) "
                f"and {len(other.joint_names)} {list(other.joint_names)} (goal "
                f"{other.goal_id!r}, robot {other.robot_serial}); a dataset has one state and "
                "action layout, so export each robot's episodes separately (filter by site, "
                "team, or --sim/--real)"
            )
    names = tuple(first.joint_names)
    feature = Feature(shape=(len(names),), names=names)
    return DatasetPlan(
        fps=whole_fps(first.fps, f"goal {first.goal_id!r}"),
        robot_type=",".join(sorted({e.robot_type for e in framed})),
        features={STATE: feature, ACTION: feature},
        provenance=PROVENANCE_SCHEMA,
        data_files_size_in_mb=data_files_size_in_mb,
    )


def export(
    episodes: Iterable[Episode],
    out: Path,
    *,
    data_files_size_in_mb: int = DATA_FILES_SIZE_IN_MB,
) -> Written:
    """Write ``episodes`` as a LeRobot v3.0 dataset in the new folder ``out``.

    Raises:
        DatasetError: see :func:`plan_for` and :func:`episode_frames`; ``out`` is not new.
    """
    chosen = list(episodes)
    plan = plan_for(chosen, data_files_size_in_mb=data_files_size_in_mb)
    return write_dataset(out, plan, (episode_frames(e) for e in chosen))
