"""What ``cfl sim serve`` serves as the robot, and how refusals travel."""

from __future__ import annotations

import asyncio

from cfl.clock import LabClock
from cfl.lab import Lab
from cfl.wire.loop import DeviceLoop
from robots.contract import ErrorCode, RobotError
from robots.messages import GoalRequest
from robots.sila.codec import refusal_from_wire, refusal_to_wire
from robots.sila.server import RobotServer, serve_device
from robots.sila.transport import SilaTransport
from tests.instruments.sila.conftest import free_port, lab_spec
from tests.robots.rig import NAME, POLICY, options
from tests.robots.sila.conftest import OWNER


def test_the_hook_serves_a_simulated_kapex_with_its_policy_and_nothing_else() -> None:
    real = "tests.robots.kapex.test_driver:real_transport"  # raises if it is ever built
    spec = lab_spec(
        {
            NAME: {"driver": "kapex", "role": "robot", "options": options()},
            "kapex-2": {
                "driver": "kapex",
                "role": "robot",
                "options": {"transport": real, "safety": POLICY},
            },
            "hplc-1": {"driver": "sim-hplc", "role": "hplc"},
        }
    )
    clock = LabClock(speed=600)
    lab = Lab.build(spec, clock=clock, seed=1)
    with DeviceLoop(clock) as loop:
        assert serve_device(lab.devices["hplc-1"], name="hplc-1", loop=loop) is None
        assert serve_device(lab.devices["kapex-2"], name="kapex-2", loop=loop) is None
        server = serve_device(lab.devices[NAME], name=NAME, loop=loop)
        assert isinstance(server, RobotServer)
        assert server.features == ("RobotLease", "RobotEStop", "RobotGoals")
        with server.start("127.0.0.1", free_port()):
            transport = SilaTransport(NAME, server.address)

            async def body() -> tuple[str, bool]:
                info = await transport.open()
                lease = await transport.acquire_lease(OWNER, 5.0)
                goal = {
                    "goal_id": "g1",
                    "skill": "move_to",
                    "args": {"location": "archive"},
                    "instruction": "go",
                    "lease_id": lease.lease_id,
                    "deadline_s": 5.0,
                }
                response = await transport.send_goal(GoalRequest.model_validate(goal))
                await transport.close()
                return info.serial, response.accepted

            serial, accepted = asyncio.run(body())
    assert serial == "KPX-T-0001"
    # archive (0, 5.7) is outside the robot's default workspace, inside the served lab's policy
    assert accepted is True


def test_a_refusal_travels_with_its_code_and_a_foreign_one_is_kept_for_a_person() -> None:
    refused = RobotError(ErrorCode.OPERATOR_REQUIRED, "a person must check the robot first")
    back = refusal_from_wire(refusal_to_wire(refused))
    assert (back.code, back.info.message) == (ErrorCode.OPERATOR_REQUIRED, refused.info.message)
    foreign = refusal_from_wire("Lease held by someone else")
    assert foreign.code is ErrorCode.HARDWARE_FAULT
    assert foreign.info.message == "the robot refused the call: Lease held by someone else"
