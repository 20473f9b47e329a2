"""The contract, rule by rule, as a client sees it over the simulated robot's transport."""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from cfl.faults import FaultSpec
from robots.contract import ErrorCode, GoalStatus, RobotError, StopLevel
from robots.kapex.goals import GoalHandle
from robots.kapex.sim_transport import SimTransport
from robots.messages import Feedback, GoalResult
from robots.safety import SafetyPolicy
from robots.world import WorldObject
from tests.robots.rig import NAME, POLICY, Rig, rig

L_SHAPED: dict[str, JsonValue] = POLICY | {
    "workspace": [
        {"name": "south", "min": [-1.0, -1.0, 0.2], "max": [6.5, 1.0, 1.8]},
        {"name": "east", "min": [4.5, -1.0, 0.2], "max": [6.5, 6.5, 1.8]},
    ]
}


def _robot(setup: Rig) -> SimTransport:
    transport = setup.client.transport
    assert isinstance(transport, SimTransport)
    return transport


def _code(result: GoalResult) -> ErrorCode | None:
    return None if result.error is None else result.error.code


def test_without_a_lease_a_goal_is_rejected() -> None:
    setup = rig()

    async def body() -> GoalResult:
        return await setup.client.run("move_to", {"location": "reactor-1"})

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.REJECTED, ErrorCode.LEASE_INVALID)
    assert "acquire the lease first" in result.error.message  # type: ignore[union-attr]
    [episode] = setup.sink.episodes
    assert (episode.outcome, episode.error, len(episode.frames)) == ("rejected", "lease_invalid", 1)


def test_a_second_owner_is_refused_until_the_first_releases() -> None:
    setup = rig()

    async def body() -> None:
        first = await setup.client.acquire_lease()
        other = setup.second_client("cfl/KAIST/team-9/kapex-1")
        with pytest.raises(RobotError) as refused:
            await other.acquire_lease()
        assert refused.value.code is ErrorCode.LEASE_HELD
        assert f"leased to {first.owner}" in str(refused.value)
        await setup.client.release_lease()
        taken = await other.acquire_lease()
        assert taken.owner == "cfl/KAIST/team-9/kapex-1" and taken.sequence > first.sequence

    setup.run(body)


def test_a_target_outside_the_workspace_is_rejected_before_it_is_sent() -> None:
    setup = rig()

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        return await setup.client.run("move_to", {"location": "shelf"})

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.REJECTED, ErrorCode.WORKSPACE_VIOLATION)
    assert result.goal_id not in _robot(setup).robot._goals  # never reached the robot


def test_leaving_the_workspace_during_a_walk_aborts_the_goal_at_the_boundary() -> None:
    setup = rig({"safety": L_SHAPED})  # rack and hplc-1 are inside; the diagonal between is not

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        return await setup.client.run("move_to", {"location": "hplc-1"})

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.ABORTED, ErrorCode.WORKSPACE_VIOLATION)
    assert "outside the workspace ['south', 'east']" in result.error.message  # type: ignore[union-attr]
    x, y = _robot(setup).robot.pose.base
    assert 0.9 < x < 1.2 and 0.9 < y < 1.2  # stopped where the hand first left the workspace


def test_an_over_torque_goal_is_refused() -> None:
    setup = rig()

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        args: dict[str, JsonValue] = {"screw": "M4", "location": "rack", "torque_nm": 12}
        return await setup.client.run("tighten_screw", args)

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.REJECTED, ErrorCode.TORQUE_LIMIT)
    assert "torque 12 N m, over the limit 3 N m" in result.error.message  # type: ignore[union-attr]


def test_cancel_mid_motion_stops_the_robot_and_the_goal_ends_cancelled() -> None:
    setup = rig()

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        handle = await setup.client.submit("move_to", {"location": "reactor-1"})
        await setup.clock.sleep(5.0)
        await handle.cancel()
        return await handle.result()

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.CANCELLED, ErrorCode.CANCELLED)
    assert result.duration_s == pytest.approx(5.0)
    x, _ = _robot(setup).robot.pose.base
    assert 0.5 < x < 5.7
    assert setup.sink.episodes[-1].outcome == "cancelled"


def test_the_deadline_travels_with_the_goal_and_the_robot_aborts_it() -> None:
    setup = rig()

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        return await setup.client.run("pick", {"object": "S1", "location": "rack"}, deadline_s=4.0)

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.ABORTED, ErrorCode.TIMEOUT)
    assert result.duration_s == pytest.approx(4.0)
    assert "passed its deadline of 4 s in its grasp phase" in result.error.message  # type: ignore[union-attr]


def test_a_preempting_goal_cancels_the_running_one_and_a_plain_one_is_refused_busy() -> None:
    setup = rig()

    async def body() -> tuple[GoalResult, GoalResult, GoalResult]:
        await setup.client.acquire_lease()
        first = await setup.client.submit("move_to", {"location": "reactor-1"})
        await setup.clock.sleep(3.0)
        busy = await setup.client.run("move_to", {"location": "archive"})
        second = await setup.client.submit("move_to", {"location": "rack"}, preempt=True)
        return await first.result(), busy, await second.result()

    first, busy, second = setup.run(body)
    assert (first.status, _code(first)) == (GoalStatus.CANCELLED, ErrorCode.PREEMPTED)
    assert (busy.status, _code(busy)) == (GoalStatus.REJECTED, ErrorCode.BUSY)
    assert second.status is GoalStatus.SUCCEEDED
    assert _robot(setup).robot.pose.base == pytest.approx((0.0, 0.0))


def test_an_estop_stops_the_goal_needs_no_lease_and_only_a_named_human_clears_it() -> None:
    setup = rig()

    async def body() -> tuple[GoalResult, GoalResult, GoalResult]:
        await setup.client.acquire_lease()
        running = await setup.client.submit("pick", {"object": "S1", "location": "rack"})
        await setup.clock.sleep(2.0)
        bystander = setup.second_client("cfl/KAIST/team-9/kapex-1")  # holds no lease
        await bystander.estop(StopLevel.CUT, "spill on the floor", by="human:park")
        stopped = await running.result()
        refused = await setup.client.run("move_to", {"location": "archive"})
        for agent in ("agent:offline", "planner:skopt-gp", "human:"):
            with pytest.raises(RobotError) as error:
                await setup.client.clear_estop(agent)
            assert error.value.code is ErrorCode.OPERATOR_REQUIRED
        state = await setup.client.clear_estop("human:lee")
        assert state.cleared_by == "human:lee" and not state.engaged
        return stopped, refused, await setup.client.run("move_to", {"location": "archive"})

    stopped, refused, after = setup.run(body)
    assert (stopped.status, _code(stopped)) == (GoalStatus.ABORTED, ErrorCode.ESTOPPED)
    assert "e-stop (cut) by human:park: spill on the floor" in stopped.error.message  # type: ignore[union-attr]
    assert (refused.status, _code(refused)) == (GoalStatus.REJECTED, ErrorCode.ESTOPPED)
    assert after.status is GoalStatus.SUCCEEDED


def test_feedback_streams_to_listeners_and_a_goal_ends_exactly_once() -> None:
    setup = rig()
    seen: list[Feedback] = []

    async def body() -> GoalHandle:
        await setup.client.acquire_lease()
        handle = await setup.client.submit("pick", {"object": "S1", "location": "rack"})
        handle.listen(seen.append)
        await handle.result()
        return handle

    handle = setup.run(body)
    assert seen == handle.feedback and len(seen) == 7  # one a second over the 8 s pick
    assert {f.phase for f in seen} == {"approach", "grasp", "lift"}
    assert handle.status is GoalStatus.SUCCEEDED and handle.states[0].t_s == 0.0
    result = GoalResult(goal_id=handle.goal_id, status=GoalStatus.ABORTED, duration_s=1.0)
    with pytest.raises(ValueError, match="already ended succeeded; a second result"):
        handle.finish(result)


def test_the_world_follows_successes_and_after_a_failure_equals_the_world_before() -> None:
    setup = rig({"grasp_failure_rate": 1.0})

    async def body() -> None:
        client = setup.client
        client.world.add(WorldObject(id="S1", location="rack"))
        setup.bench.take("S1", "rack", robot="bench")  # the same vial on the bench
        setup.bench.put("S1", "rack", robot="bench")
        await client.acquire_lease()
        before = client.world.snapshot()
        failed = await client.run("pick", {"object": "S1", "location": "rack"})
        assert _code(failed) is ErrorCode.GRASP_FAILED
        assert client.world.snapshot() == before
        assert (setup.bench.sample("S1").location, setup.bench.sample("S1").held_by) == (
            "rack", None)

    setup.run(body)


def test_a_retried_grasp_is_counted_and_every_goal_is_an_episode_with_provenance() -> None:
    setup = rig({"grasp_failure_rate": 0.5}, seed=7)  # with this seed: slip, slip, hold

    async def body() -> list[GoalResult]:
        await setup.client.acquire_lease()
        results = []
        for _ in range(4):
            result = await setup.client.run("pick", {"object": "S-E0007-1", "location": "rack"})
            results.append(result)
            if result.status is GoalStatus.SUCCEEDED:
                break
        return results

    results = setup.run(body)
    assert [_code(r) for r in results] == [ErrorCode.GRASP_FAILED, ErrorCode.GRASP_FAILED, None]
    episodes = setup.sink.episodes
    assert [e.attempts for e in episodes] == [1, 2, 3]
    assert [e.outcome for e in episodes] == ["aborted", "aborted", "succeeded"]
    assert [e.error for e in episodes] == ["grasp_failed", "grasp_failed", None]
    last = episodes[-1]
    assert (last.site, last.team, last.campaign, last.experiment) == (
        "KIST-Seoul", "team-7", "snar-yield-3", "E0007")
    assert (last.robot_serial, last.robot_type, last.is_sim) == ("KPX-T-0001", "kapex_sim", True)
    assert last.instruction == "pick up the object at rack with the right hand"
    assert last.fps == 10.0 and len(last.frames) == 81 and last.duration_s == pytest.approx(8.0)
    assert last.args["object"] == "S-E0007-1" and len(last.joint_names) == 16


class _IgnoresPolicy(SimTransport):
    """A robot that keeps its own, looser limits (a real robot may not take CFL's policy)."""

    async def set_safety_policy(self, policy: SafetyPolicy) -> None:
        return None


def test_a_robot_breaking_the_policy_it_ignores_is_estopped_by_the_client() -> None:
    setup = rig({"safety": POLICY | {"max_speed_m_s": 0.2}})  # the robot walks at 0.3
    robot = _robot(setup).robot
    robot.set_policy(SafetyPolicy.model_validate(POLICY))
    setup.client.transport = _IgnoresPolicy(robot, setup.context.injector(NAME), setup.context)

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        return await setup.client.run("move_to", {"location": "reactor-1"})

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.ABORTED, ErrorCode.SPEED_LIMIT)
    assert robot.estop_state().engaged_by == "cfl:safety-monitor"


@pytest.mark.parametrize(
    ("kind", "code"), [("hang", ErrorCode.TIMEOUT), ("disconnect", ErrorCode.TRANSPORT_LOST)]
)
def test_a_robot_that_does_not_answer_or_a_lost_link_ends_the_goal(
    kind: str, code: ErrorCode
) -> None:
    setup = rig(faults=(FaultSpec(kind=kind, command="move_to"),))

    async def body() -> tuple[GoalResult, GoalResult]:
        await setup.client.acquire_lease()
        lost = await setup.client.run("move_to", {"location": "reactor-1"}, deadline_s=60)
        await setup.client.acquire_lease()
        return lost, await setup.client.run("move_to", {"location": "reactor-1"})

    lost, next_goal = setup.run(body)
    assert (lost.status, _code(lost)) == (GoalStatus.ABORTED, code)
    assert next_goal.status is GoalStatus.SUCCEEDED  # the next goal reconnects


def test_a_robot_with_another_serial_is_refused() -> None:
    setup = rig({"serial": "KPX-T-0002"})
    _robot(setup).robot.serial = "KPX-T-0001"

    async def body() -> None:
        with pytest.raises(RobotError, match="connected to robot KPX-T-0001, but the lab file"):
            await setup.client.connect()

    setup.run(body)


def test_capabilities_list_the_skills_the_policy_and_no_estop_clearing() -> None:
    setup = rig()

    async def body() -> None:
        await setup.client.connect()
        capabilities = setup.client.capabilities()
        assert "pick" in capabilities.skills and "clear_estop" not in capabilities.skills
        assert capabilities.policy.name == "test-bench"
        assert capabilities.robot.joint_names[:3] == ("base_x", "base_y", "base_yaw")

    setup.run(body)

