"""The contract, rule by rule, over SiLA 2: a served simulator, reached with ``transport: sila``.

The same rules as ``tests/robots/kapex/test_client.py`` checks in process, now with a gRPC
connection between client and robot, and the robot on a sped-up clock while the client counts
real seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from robots.contract import ErrorCode, GoalStatus, RobotError, StopLevel
from robots.kapex.transport import TransportLost, TransportTimeout
from robots.messages import Feedback, GoalEvent, GoalRequest, GoalResult
from tests.robots.sila.conftest import OWNER, SLOW, Hosting, Watch, wire_rig


def _code(result: GoalResult) -> ErrorCode | None:
    return None if result.error is None else result.error.code


def _pick(goal_id: str, lease_id: str | None, **changes: object) -> GoalRequest:
    fields: dict[str, object] = {
        "goal_id": goal_id,
        "skill": "pick",
        "args": {"object": "S1", "location": "rack"},
        "instruction": "pick up S1 from rack",
        "lease_id": lease_id,
        "deadline_s": 5.0,
    }
    return GoalRequest.model_validate(fields | changes)


async def _events(events: AsyncIterator[GoalEvent]) -> list[GoalEvent]:
    return [event async for event in events]


def test_without_a_lease_a_goal_is_rejected_over_the_wire(hosting: Hosting) -> None:
    served = hosting.robot()
    setup = wire_rig(served)

    async def body() -> GoalResult:
        return await setup.client.run("move_to", {"location": "reactor-1"})

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.REJECTED, ErrorCode.LEASE_INVALID)
    assert "acquire the lease first" in result.error.message  # type: ignore[union-attr]
    assert served.server.host.accepted == 0


def test_a_second_owner_is_refused_lease_held_through_the_wire(hosting: Hosting) -> None:
    served = hosting.robot()
    first, second = served.transport(), served.transport()

    async def body() -> None:
        lease = await first.acquire_lease(OWNER, 5.0)
        assert (lease.owner, lease.ttl_s, lease.sequence) == (OWNER, 5.0, 1)  # real seconds
        with pytest.raises(RobotError) as refused:
            await second.acquire_lease("cfl/KAIST/team-9/kapex-1", 5.0)
        assert refused.value.code is ErrorCode.LEASE_HELD
        assert f"leased to {OWNER}" in refused.value.info.message
        await first.release_lease(lease.lease_id)
        taken = await second.acquire_lease("cfl/KAIST/team-9/kapex-1", 5.0)
        assert (taken.owner, taken.sequence) == ("cfl/KAIST/team-9/kapex-1", 2)
        with pytest.raises(RobotError) as stale:
            await first.renew_lease(lease.lease_id)
        assert stale.value.code is ErrorCode.LEASE_INVALID

    asyncio.run(body())


def test_a_lease_lives_its_time_to_live_in_real_seconds(hosting: Hosting) -> None:
    served = hosting.robot()  # 600 lab seconds a second: unconverted, 1 s would last 1.7 ms
    first, second = served.transport(), served.transport()

    async def body() -> None:
        await asyncio.gather(first.open(), second.open())
        await first.acquire_lease(OWNER, 1.0)
        with pytest.raises(RobotError) as refused:
            await second.acquire_lease("cfl/KAIST/team-9/kapex-1", 5.0)
        assert refused.value.code is ErrorCode.LEASE_HELD
        await asyncio.sleep(1.1)
        taken = await second.acquire_lease("cfl/KAIST/team-9/kapex-1", 5.0)
        assert taken.sequence == 2  # the first went stale after 1 real second

    asyncio.run(body())


def test_a_goal_streams_its_feedback_and_ends_exactly_once(hosting: Hosting) -> None:
    served = hosting.robot()
    setup = wire_rig(served)
    watch = Watch()

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        handle = await setup.client.submit("pick", {"object": "S1", "location": "rack"})
        handle.listen(watch)
        return await handle.result()

    result = setup.run(body)
    assert result.status is GoalStatus.SUCCEEDED
    assert len(watch.seen) == 7  # one a (robot) second over the 8 s pick, each once, in order
    assert [f.progress for f in watch.seen] == pytest.approx([k / 8 for k in range(1, 8)])
    assert {f.phase for f in watch.seen} == {"approach", "grasp", "lift"}
    # The goal's timeline is the robot's: 8 s, sampled at 10 Hz, so its episode has 81 frames.
    assert result.duration_s == pytest.approx(8.0)
    [episode] = setup.sink.episodes
    assert (episode.outcome, len(episode.frames), episode.robot_serial) == (
        "succeeded",
        81,
        "KPX-T-0001",
    )
    assert served.server.host.ended == {GoalStatus.SUCCEEDED: 1}


def test_following_late_or_twice_yields_every_event_once(hosting: Hosting) -> None:
    served = hosting.robot()
    transport = served.transport()

    async def body() -> tuple[list[GoalEvent], list[GoalEvent]]:
        lease = await transport.acquire_lease(OWNER, 5.0)
        assert (await transport.send_goal(_pick("g-late", lease.lease_id))).accepted
        await asyncio.sleep(0.2)  # the 8 s pick ended after 13 ms: everything was sent unheard
        return await _events(transport.goal_events("g-late")), await _events(
            transport.goal_events("g-late")
        )

    late, again = asyncio.run(body())
    assert late == again
    *feedback, result = late
    assert all(isinstance(f, Feedback) for f in feedback) and len(feedback) == 7
    progress = [f.progress for f in feedback if isinstance(f, Feedback)]
    assert progress == pytest.approx([k / 8 for k in range(1, 8)])
    assert isinstance(result, GoalResult) and result.status is GoalStatus.SUCCEEDED


def test_cancel_mid_motion_stops_the_robot_and_the_goal_ends_cancelled(hosting: Hosting) -> None:
    served = hosting.robot(speed=SLOW)
    setup = wire_rig(served)
    watch = Watch(at=0.4)  # 20 robot seconds to reactor-1; at 8 s it is well on the way

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        handle = await setup.client.submit("move_to", {"location": "reactor-1"})
        handle.listen(watch)
        await watch.reached.wait()
        await handle.cancel()
        return await handle.result()

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.CANCELLED, ErrorCode.CANCELLED)
    x, _ = served.robot.pose.base
    assert 0.5 < x < 5.7  # stopped on the way
    assert 8.0 <= result.duration_s < 20.0


def test_the_deadline_travels_in_real_seconds_and_the_robot_aborts_on_time(
    hosting: Hosting,
) -> None:
    served = hosting.robot(speed=50.0)
    setup = wire_rig(served)

    async def body() -> tuple[GoalResult, float]:
        await setup.client.acquire_lease()
        start = time.monotonic()
        result = await setup.client.run(
            "pick", {"object": "S1", "location": "rack"}, deadline_s=0.08
        )
        return result, time.monotonic() - start

    result, wall_s = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.ABORTED, ErrorCode.TIMEOUT)
    # 0.08 real seconds are 4 robot seconds at 50x: the robot aborted it then, in the grasp
    # (3 s to 5 s into the pick), long before the client's own deadline (+2 s grace) came
    assert result.duration_s == pytest.approx(4.0)
    assert "passed its deadline of 4 s in its grasp phase" in result.error.message  # type: ignore[union-attr]
    assert 0.08 <= wall_s < 2.0


def test_an_estop_reaches_the_robot_while_goals_stream_and_only_a_human_clears_it(
    hosting: Hosting,
) -> None:
    served = hosting.robot(speed=SLOW)
    setup = wire_rig(served)
    observer = served.transport()  # holds no lease: follows the goal, then e-stops the robot
    streaming = asyncio.Event()

    async def follow(goal_id: str) -> list[GoalEvent]:
        events = []
        async for event in observer.goal_events(goal_id):
            events.append(event)
            streaming.set()
        return events

    async def body() -> tuple[GoalResult, list[GoalEvent], GoalResult, GoalResult]:
        await observer.open()
        await setup.client.acquire_lease()
        running = await setup.client.submit("move_to", {"location": "reactor-1"})
        following = asyncio.ensure_future(follow(running.goal_id))
        await streaming.wait()  # the observer's FollowGoal stream is open (and the driver's)
        # on the very connection that carries the open stream: gRPC multiplexes the calls
        state = await observer.estop(StopLevel.CUT, "spill on the floor", "human:park")
        assert (state.engaged, state.level, state.engaged_by) == (True, StopLevel.CUT, "human:park")
        stopped = await running.result()
        refused = await setup.client.run("move_to", {"location": "archive"})
        for agent in ("agent:offline", "planner:skopt-gp", "human:"):
            with pytest.raises(RobotError) as error:
                await observer.clear_estop(agent)
            assert error.value.code is ErrorCode.OPERATOR_REQUIRED
        assert (await observer.estop_state()).engaged
        cleared = await setup.client.clear_estop("human:lee")
        assert (cleared.engaged, cleared.cleared_by) == (False, "human:lee")
        after = await setup.client.run("move_to", {"location": "rack"})
        return stopped, await following, refused, after

    stopped, observed, refused, after = setup.run(body)
    assert (stopped.status, _code(stopped)) == (GoalStatus.ABORTED, ErrorCode.ESTOPPED)
    assert "e-stop (cut) by human:park: spill on the floor" in stopped.error.message  # type: ignore[union-attr]
    assert stopped.duration_s < 20.0  # stopped on the way to reactor-1
    assert observed[-1] == stopped  # both followers saw the same one result
    assert observed[:-1] and all(isinstance(e, Feedback) for e in observed[:-1])
    assert (refused.status, _code(refused)) == (GoalStatus.REJECTED, ErrorCode.ESTOPPED)
    assert after.status is GoalStatus.SUCCEEDED
    assert served.server.host.ended == {GoalStatus.ABORTED: 1, GoalStatus.SUCCEEDED: 1}


def test_a_stopped_server_is_a_lost_transport(hosting: Hosting) -> None:
    served = hosting.robot(speed=10.0)  # the walk would take 2 s: the server stops long before
    transport = served.transport()

    async def body() -> None:
        lease = await transport.acquire_lease(OWNER, 5.0)
        goal = _pick("g-lost", lease.lease_id, skill="move_to", args={"location": "reactor-1"})
        assert (await transport.send_goal(goal)).accepted
        events = transport.goal_events("g-lost")
        first = await anext(events)
        assert isinstance(first, Feedback)
        await asyncio.to_thread(served.server.stop)
        with pytest.raises(TransportLost) as lost:
            async for _ in events:
                pass
        where = f"the robot kapex-1 at {served.address}"
        assert f"lost the link to {where} during FollowGoal g-lost" in str(lost.value)
        with pytest.raises(TransportLost) as unreachable:
            await transport.estop_state()
        assert f"cannot reach {where}" in str(unreachable.value)

    asyncio.run(body())


def test_nothing_listening_is_a_lost_transport_naming_the_fix(hosting: Hosting) -> None:
    served = hosting.robot()
    served.server.stop()
    transport = served.transport()

    with pytest.raises(TransportLost) as lost:
        asyncio.run(transport.open())
    assert f"cannot reach the robot kapex-1 at {served.address}" in str(lost.value)
    assert "cfl sim serve LAB" in str(lost.value)


def test_a_robot_that_does_not_answer_in_time_is_a_transport_timeout(hosting: Hosting) -> None:
    served = hosting.robot()
    transport = served.transport(call_timeout_s=0.5)

    async def hold_up_the_robot() -> None:
        time.sleep(1.5)  # blocks the robot's loop: its server cannot answer meanwhile

    async def body() -> bool:
        await transport.open()
        stuck = served.loop.submit(hold_up_the_robot())
        with pytest.raises(TransportTimeout) as unanswered:
            await transport.estop_state()
        assert f"at {served.address} did not answer State within 0.5 s" in str(unanswered.value)
        await asyncio.wrap_future(stuck)
        return (await transport.estop_state()).engaged  # answered again, on a new connection

    assert asyncio.run(body()) is False


def test_clients_connecting_at_once_all_reach_the_robot(hosting: Hosting) -> None:
    served = hosting.robot()  # sila2 compiles features per client, not thread-safely
    transports = [served.transport() for _ in range(4)]

    async def body() -> list[str]:
        infos = await asyncio.gather(*(t.open() for t in transports))
        return [info.serial for info in infos]

    assert asyncio.run(body()) == ["KPX-T-0001"] * 4


def test_a_seeded_grasp_slip_over_the_wire_ends_aborted_and_retryable(hosting: Hosting) -> None:
    served = hosting.robot(grasp_failure_rate=1.0)
    setup = wire_rig(served)

    async def body() -> GoalResult:
        await setup.client.acquire_lease()
        return await setup.client.run("pick", {"object": "S1", "location": "rack"})

    result = setup.run(body)
    assert (result.status, _code(result)) == (GoalStatus.ABORTED, ErrorCode.GRASP_FAILED)
    assert result.error is not None and result.error.retryable is True
    assert "S1 slipped out of the right hand during the lift" in result.error.message
    assert result.duration_s == pytest.approx(6.5)  # halfway through the 3 s lift
    assert served.bench.occupants("rack") == [] and served.robot.holding is None
