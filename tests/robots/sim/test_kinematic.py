"""The simulated KAPEX, robot side: timing from distances, joint states, seeded failures, stops."""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import Any

import pytest
from pydantic import JsonValue

from robots.contract import ErrorCode, GoalStatus, RobotError, StopLevel
from robots.kapex.sim_transport import SimTransport
from robots.messages import Feedback, GoalRequest, GoalResult, Lease
from robots.safety import SafetyPolicy
from robots.sim.kinematic import KinematicSim
from robots.sim.motion import JOINT_NAMES, walk_time_s
from tests.robots.rig import NAME, POLICY, Rig, rig

RACK_TO_REACTOR_S = 5.7 / 0.3 + 0.3 / 0.3  # trapezoid: d / v + v / a


def _sim(**changes: Any) -> tuple[Rig, KinematicSim]:
    setup = rig(changes)
    transport = setup.client.transport
    assert isinstance(transport, SimTransport)
    transport.robot.set_policy(SafetyPolicy.model_validate(POLICY))
    return setup, transport.robot


async def _goal(
    sim: KinematicSim, lease: Lease, skill: str, **args: JsonValue
) -> tuple[GoalResult, list[Feedback]]:
    request = GoalRequest(
        goal_id=f"g-{skill}-{len(args)}-{id(args)}",
        skill=skill,
        args=args,
        instruction=skill,
        lease_id=lease.lease_id,
        deadline_s=600.0,
    )
    response = sim.submit(request)
    assert response.accepted, response.error
    events = sim.events(request.goal_id)
    feedback: list[Feedback] = []
    while True:
        event = await events.get()
        if isinstance(event, GoalResult):
            assert events.empty()  # nothing after the result: it ends exactly once
            return event, feedback
        feedback.append(event)


def _held(setup: Rig, sim: KinematicSim) -> tuple[str | None, str | None]:
    vial = setup.bench.sample("S1")
    return (vial.location, vial.held_by)


def test_a_pick_where_the_robot_stands_takes_the_grasp_time_in_three_phases() -> None:
    setup, sim = _sim()

    async def body() -> None:
        lease = sim.acquire_lease("me", ttl_s=600)
        start = setup.clock.now()
        result, feedback = await _goal(sim, lease, "pick", object="S1", location="rack")
        assert setup.clock.now() - start == pytest.approx(8.0)
        assert (result.status, result.error, result.duration_s) == (GoalStatus.SUCCEEDED, None, 8.0)
        phases = [f.phase for f in feedback]
        assert phases == sorted(phases, key=["approach", "grasp", "lift"].index)
        assert set(phases) == {"approach", "grasp", "lift"}
        assert all(f.status is GoalStatus.EXECUTING for f in feedback)
        assert [f.progress for f in feedback] == sorted(f.progress for f in feedback)
        assert result.outputs == {"payload_kg": 0.02}

    setup.run(body)
    assert _held(setup, sim) == ("rack", NAME) and sim.holding == "S1"


def test_walking_time_comes_from_distance_speed_and_acceleration() -> None:
    setup, sim = _sim()

    async def body() -> tuple[GoalResult, list[Feedback]]:
        lease = sim.acquire_lease("me", ttl_s=600)
        await _goal(sim, lease, "pick", object="S1", location="rack")
        return await _goal(sim, lease, "place", object="S1", location="reactor-1")

    result, feedback = setup.run(body)
    assert result.duration_s == pytest.approx(RACK_TO_REACTOR_S + 6.0)
    states = [s for f in feedback for s in f.states] + list(result.states)
    assert max(s.speed_m_s for s in states) == pytest.approx(0.3)  # cruise, never more
    x = JOINT_NAMES.index("base_x")
    assert states[0].joints[x] == 0.0 and states[-1].joints[x] == pytest.approx(5.7)
    assert [s.joints[x] for s in states] == sorted(s.joints[x] for s in states)
    assert states[-1].tool == (5.7, 0.0, 1.0)
    assert _held(setup, sim) == ("reactor-1", None)
    assert walk_time_s(0.03, 0.3, 0.3) == pytest.approx(2 * math.sqrt(0.1))  # never cruises


def test_a_shared_zone_on_the_way_slows_the_whole_walk() -> None:
    setup, sim = _sim()
    zone = {"name": "aisle", "min": [2.0, -1.0, 0.0], "max": [3.0, 1.0, 2.0],
            "max_speed_m_s": 0.15}
    sim.set_policy(SafetyPolicy.model_validate(POLICY | {"shared_zones": [zone]}))

    async def body() -> GoalResult:
        lease = sim.acquire_lease("me", ttl_s=600)
        return (await _goal(sim, lease, "move_to", location="reactor-1"))[0]

    result = setup.run(body)
    assert result.duration_s == pytest.approx(5.7 / 0.15 + 0.15 / 0.3)


def test_states_are_sampled_at_the_state_rate_and_measured_joints_trail_the_commands() -> None:
    setup, sim = _sim(state_hz=20.0)

    async def body() -> tuple[GoalResult, list[Feedback]]:
        lease = sim.acquire_lease("me", ttl_s=600)
        return await _goal(sim, lease, "pick", object="S1", location="rack")

    result, feedback = setup.run(body)
    states = [s for f in feedback for s in f.states] + list(result.states)
    assert [s.t_s for s in states] == pytest.approx([k / 20 for k in range(161)])
    assert all(len(s.joints) == len(JOINT_NAMES) for s in states)
    for earlier, later in itertools.pairwise(states):
        assert later.joints == pytest.approx(earlier.command)  # one sample of tracking lag
    hand = JOINT_NAMES.index("right_hand")
    assert states[0].joints[hand] == 0.0 and states[-1].joints[hand] == 1.0
    assert states[-1].grip_force_n == 8.0
    assert states[-1].payload_kg == pytest.approx(0.02, rel=1e-2)  # still settling: lag


def test_the_same_seed_gives_the_same_run() -> None:
    def once() -> list[tuple[float, ...]]:
        setup, sim = _sim(grasp_failure_rate=0.5)

        async def body() -> list[tuple[float, ...]]:
            lease = sim.acquire_lease("me", ttl_s=600)
            joints = []
            for sample in ("S1", "S2", "S3"):
                result, _ = await _goal(sim, lease, "pick", object=sample, location="rack")
                joints.append(result.states[-1].joints)
                if result.status is GoalStatus.SUCCEEDED:
                    await _goal(sim, lease, "place", object=sample, location="archive")
            return joints

        return setup.run(body)

    assert once() == once()


def test_a_seeded_slip_aborts_the_lift_and_leaves_the_vial_in_its_slot() -> None:
    setup, sim = _sim(grasp_failure_rate=1.0)

    async def body() -> GoalResult:
        lease = sim.acquire_lease("me", ttl_s=600)
        return (await _goal(sim, lease, "pick", object="S1", location="rack"))[0]

    result = setup.run(body)
    assert result.status is GoalStatus.ABORTED and result.error is not None
    assert result.error.code is ErrorCode.GRASP_FAILED and result.error.retryable
    assert "slipped out of the right hand during the lift" in result.error.message
    assert result.duration_s == pytest.approx(3.0 + 2.0 + 1.5)  # halfway through the lift
    assert sim.holding is None and sim.pose.payload_kg == 0.0
    with pytest.raises(Exception, match="no sample 'S1'"):
        setup.bench.sample("S1")  # never taken from the rack


def test_a_seeded_perception_miss_ends_the_approach() -> None:
    setup, sim = _sim(perception_failure_rate=1.0)

    async def body() -> GoalResult:
        lease = sim.acquire_lease("me", ttl_s=600)
        return (await _goal(sim, lease, "pick", object="S1", location="rack"))[0]

    result = setup.run(body)
    assert result.error is not None and result.error.code is ErrorCode.OBJECT_NOT_FOUND
    assert result.duration_s == pytest.approx(3.0)


def test_a_vial_that_is_elsewhere_is_not_found_and_a_full_station_refuses_a_place() -> None:
    setup, sim = _sim()

    async def body() -> tuple[GoalResult, GoalResult]:
        lease = sim.acquire_lease("me", ttl_s=600)
        for sample in ("S1", "S2"):
            await _goal(sim, lease, "pick", object=sample, location="rack")
            if sample == "S1":
                await _goal(sim, lease, "place", object=sample, location="reactor-1")
        full, _ = await _goal(sim, lease, "place", object="S2", location="reactor-1")
        await _goal(sim, lease, "place", object="S2", location="archive")
        missing, _ = await _goal(sim, lease, "pick", object="S1", location="hplc-1")
        return full, missing

    full, missing = setup.run(body)
    assert full.error is not None and full.error.code is ErrorCode.PRECONDITION_FAILED
    assert "it already holds ['S1']; the hand kept hold of it" in full.error.message
    assert missing.error is not None and missing.error.code is ErrorCode.OBJECT_NOT_FOUND
    assert "the sample is at reactor-1" in missing.error.message
    assert setup.bench.occupants("archive") == ["S2"]


def test_an_object_heavier_than_the_payload_limit_aborts_the_lift() -> None:
    setup, sim = _sim(masses_kg={"S1": 1.6})

    async def body() -> GoalResult:
        lease = sim.acquire_lease("me", ttl_s=600)
        return (await _goal(sim, lease, "pick", object="S1", location="rack"))[0]

    result = setup.run(body)
    assert result.error is not None and result.error.code is ErrorCode.PAYLOAD_LIMIT
    assert 5.0 < result.duration_s < 8.0  # weighed during the lift
    assert result.states[-1].payload_kg > 1.0 and sim.holding is None


def test_a_stale_lease_stops_the_robot_mid_motion() -> None:
    setup, sim = _sim()

    async def body() -> GoalResult:
        lease = sim.acquire_lease("me", ttl_s=5.0)  # never renewed
        return (await _goal(sim, lease, "move_to", location="reactor-1"))[0]

    result = setup.run(body)
    assert result.error is not None and result.error.code is ErrorCode.LEASE_EXPIRED
    assert result.duration_s == pytest.approx(5.0)
    assert 0.0 < sim.pose.base[0] < 5.7


@pytest.mark.parametrize(
    ("level", "stopped_after"), [(StopLevel.CUT, 4.0), (StopLevel.SETTLE_THEN_CUT, 5.0)]
)
def test_an_estop_ends_the_goal_at_its_level_and_refuses_goals_until_a_human_clears_it(
    level: StopLevel, stopped_after: float
) -> None:
    setup, sim = _sim()

    async def body() -> GoalResult:
        lease = sim.acquire_lease("me", ttl_s=600)
        running = setup.clock.sleep(4.0)
        task = asyncio.ensure_future(_goal(sim, lease, "move_to", location="reactor-1"))
        await running
        sim.estop(level, "operator pressed the button", "human:lee")
        result, _ = await task
        refused = sim.submit(
            GoalRequest(goal_id="after", skill="move_to", args={"location": "rack"},
                        instruction="x", lease_id=lease.lease_id, deadline_s=60)
        )
        assert not refused.accepted and refused.error is not None
        assert refused.error.code is ErrorCode.ESTOPPED
        with pytest.raises(RobotError, match="not 'agent:offline'"):
            sim.clear_estop("agent:offline")
        assert sim.clear_estop("human:lee").cleared_by == "human:lee"
        return result

    result = setup.run(body)
    assert result.status is GoalStatus.ABORTED and result.error is not None
    assert result.error.code is ErrorCode.ESTOPPED
    assert result.duration_s == pytest.approx(stopped_after)


@pytest.mark.parametrize(
    ("skill", "args", "output"),
    [
        ("pour", {"source": "S1", "target": "flask", "location": "rack", "volume_ml": 10},
         {"volume_ml": 10.0}),
        ("tighten_screw", {"screw": "M3", "location": "rack", "torque_nm": 2},
         {"torque_nm": 2.0}),
        ("press", {"button": "start", "location": "rack"}, {"force_n": 5.0}),
        ("open_door", {"door": "hood", "location": "rack"}, {"door": "open"}),
        ("pipette", {"source": "S1", "target": "flask", "location": "rack", "volume_ul": 200},
         {"volume_ul": 200.0}),
        ("run_policy", {"instruction": "wipe the bench", "location": "rack"}, {}),
    ],
)
def test_the_other_skills_run_and_report(
    skill: str, args: dict[str, JsonValue], output: dict[str, JsonValue]
) -> None:
    setup, sim = _sim()

    async def body() -> GoalResult:
        lease = sim.acquire_lease("me", ttl_s=600)
        return (await _goal(sim, lease, skill, **args))[0]

    result = setup.run(body)
    assert result.status is GoalStatus.SUCCEEDED and result.outputs == output
    assert result.duration_s > 5.0
    if skill == "tighten_screw":
        assert max(s.torque_nm for s in result.states) <= 2.0
