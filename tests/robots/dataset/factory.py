"""Hand-built episodes with trajectories small enough to compute their statistics by hand."""

from __future__ import annotations

from typing import Any

from robots.episodes import Episode, Frame

JOINTS = ("shoulder", "elbow")
PICK = "pick the vial from the rack"
PLACE = "place the vial in reactor-1"


def episode(
    goal_id: str,
    *,
    instruction: str = PICK,
    states: list[tuple[float, ...]] | None = None,
    actions: list[tuple[float, ...]] | None = None,
    joints: tuple[str, ...] = JOINTS,
    fps: float = 10.0,
    started_at: str = "2026-03-01T09:00:00.000Z",
    **fields: Any,
) -> Episode:
    """An episode with frames at ``fps`` from ``states`` (actions default to state + 0.5)."""
    states = states if states is not None else [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    if actions is None:
        actions = [tuple(v + 0.5 for v in s) for s in states]
    frames = tuple(
        Frame(timestamp_s=i / fps, state=s, action=a)
        for i, (s, a) in enumerate(zip(states, actions, strict=True))
    )
    values: dict[str, Any] = {
        "goal_id": goal_id,
        "skill": "pick",
        "args": {"sample": "S1", "at": "rack"},
        "instruction": instruction,
        "outcome": "succeeded",
        "started_at": started_at,
        "duration_s": len(frames) / fps,
        "fps": fps,
        "joint_names": joints,
        "frames": frames,
        "site": "site-a",
        "team": "team-1",
        "robot_serial": "KPX-0001",
        "robot_type": "kapex",
        "is_sim": False,
        "campaign": "snar-yield-1",
        "experiment": "E0001",
    }
    values.update(fields)
    return Episode(**values)


def lab_day(site: str = "site-a", team: str = "team-1", serial: str = "KPX-0001") -> list[Episode]:
    """Four goals of one robot: a pick (3 frames), a failed place (2), a rejected pick (no
    frame) and a second pick (1 frame), in that order."""
    common: dict[str, Any] = {"site": site, "team": team, "robot_serial": serial}
    return [
        episode("g1", started_at="2026-03-01T09:00:00.000Z", **common),
        episode(
            "g2",
            instruction=PLACE,
            skill="place",
            args={"sample": "S1", "at": "reactor-1"},
            outcome="aborted",
            error="grasp_failed",
            attempts=2,
            states=[(4.0, -1.0), (6.0, -3.0)],
            actions=[(4.0, -1.0), (6.0, -3.0)],
            started_at="2026-03-01T09:01:00.000Z",
            **common,
        ),
        episode(
            "g3",
            outcome="rejected",
            error="workspace_violation",
            states=[],
            started_at="2026-03-01T09:02:00.000Z",
            **common,
        ),
        episode(
            "g4",
            states=[(10.0, 20.0)],
            started_at="2026-03-01T09:03:00.000Z",
            **common,
        ),
    ]
