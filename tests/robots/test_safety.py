"""The safety policy: what a goal states is checked before dispatch, what the robot does after."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfl.errors import SpecError
from robots.contract import ErrorCode
from robots.layout import Layout
from robots.messages import RobotState
from robots.safety import Box, SafetyPolicy, load_policy, policy_from
from robots.skills import parse_skill

POLICY = SafetyPolicy.model_validate(
    {
        "name": "bench",
        "workspace": [{"name": "floor", "min": [-1, -1, 0], "max": [6, 6, 2]}],
        "keep_out": [{"name": "cabinet", "min": [2, 2, 0], "max": [3, 3, 2]}],
        "shared_zones": [
            {"name": "door", "min": [-1, 4, 0], "max": [1, 6, 2], "max_speed_m_s": 0.2}
        ],
        "max_grip_force_n": 20,
        "max_torque_nm": 3,
        "max_payload_kg": 1,
        "max_speed_m_s": 0.5,
    }
)
LAYOUT = Layout(
    {"rack": (0, 0, 0.9), "shelf": (9, 0, 0.9), "cabinet": (2.5, 2.5, 1.0), "door": (0, 5, 1)}
)


def _state(**values: object) -> RobotState:
    base: dict[str, object] = {"t_s": 1.5, "joints": (0.0,), "command": (0.0,), "tool": (0, 0, 1)}
    return RobotState.model_validate(base | values)


def test_a_goal_inside_the_rules_passes() -> None:
    pick = parse_skill("pick", {"object": "A", "location": "rack"})
    assert POLICY.check_goal(pick, LAYOUT) is None


@pytest.mark.parametrize(
    ("skill", "args", "code", "named"),
    [
        ("pick", {"object": "A", "location": "shelf"}, ErrorCode.WORKSPACE_VIOLATION,
         "pick target 'shelf' at (9.000, 0.000, 0.900) is outside the workspace ['floor']"),
        ("place", {"object": "A", "location": "cabinet"}, ErrorCode.KEEP_OUT_VIOLATION,
         "inside keep-out zone 'cabinet'"),
        ("tighten_screw", {"screw": "M4", "location": "rack", "torque_nm": 12},
         ErrorCode.TORQUE_LIMIT, "tighten_screw asks for torque 12 N m, over the limit 3 N m"),
        ("pick", {"object": "A", "location": "rack", "grip_force_n": 35}, ErrorCode.FORCE_LIMIT,
         "max_grip_force_n"),
        ("pick", {"object": "A", "location": "rack", "payload_kg": 4}, ErrorCode.PAYLOAD_LIMIT,
         "payload 4 kg, over the limit 1 kg"),
        ("move_to", {"location": "rack", "speed_m_s": 1.5}, ErrorCode.SPEED_LIMIT,
         "speed 1.5 m/s"),
    ],
)
def test_before_dispatch_a_goal_breaking_a_rule_is_refused_with_its_code(
    skill: str, args: dict[str, object], code: ErrorCode, named: str
) -> None:
    violation = POLICY.check_goal(parse_skill(skill, args), LAYOUT)  # type: ignore[arg-type]
    assert violation is not None and violation.code is code
    assert named in violation.message and "policy 'bench'" in violation.message


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"tool": (7.0, 0.0, 1.0)}, ErrorCode.WORKSPACE_VIOLATION),
        ({"tool": (2.5, 2.5, 1.0)}, ErrorCode.KEEP_OUT_VIOLATION),
        ({"tool": (0.0, 5.0, 1.0), "speed_m_s": 0.3}, ErrorCode.SPEED_LIMIT),
        ({"speed_m_s": 0.6}, ErrorCode.SPEED_LIMIT),
        ({"grip_force_n": 25.0}, ErrorCode.FORCE_LIMIT),
        ({"torque_nm": 3.5}, ErrorCode.TORQUE_LIMIT),
        ({"payload_kg": 1.2}, ErrorCode.PAYLOAD_LIMIT),
    ],
)
def test_during_execution_each_sample_is_checked(
    values: dict[str, object], code: ErrorCode
) -> None:
    violation = POLICY.check_state(_state(**values))
    assert violation is not None and violation.code is code
    assert "t=1.50 s" in violation.message


def test_a_sample_inside_the_rules_passes_and_zones_lower_the_speed_limit() -> None:
    assert POLICY.check_state(_state(speed_m_s=0.45, grip_force_n=20.0)) is None
    assert POLICY.check_state(_state(tool=(0.0, 5.0, 1.0), speed_m_s=0.2)) is None
    assert POLICY.speed_limit_between((0, 0, 1), (0, 6, 1)) == 0.2  # walks through the door zone
    assert POLICY.speed_limit_between((0, 0, 1), (5, 0, 1)) == 0.5


def test_a_box_crossed_by_a_segment() -> None:
    box = Box(min=(2, 2, 0), max=(3, 3, 2))
    assert box.crossed_by((0, 0, 1), (5, 5, 1))
    assert not box.crossed_by((0, 0, 1), (5, 0, 1))
    assert not box.crossed_by((0, 0, 1), (1, 1, 1))


def test_a_box_with_swapped_bounds_is_refused_with_the_fix() -> None:
    with pytest.raises(SpecError, match=r"box 'b': min.y=3 must be less than max.y=1; swap them"):
        policy_from({"workspace": [{"name": "b", "min": [0, 3, 0], "max": [1, 1, 1]}]},
                    source="lab file")


def test_a_policy_file_is_read_and_a_bad_one_refused(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text("name: from-file\nmax_torque_nm: 1.5\n")
    assert load_policy(good).max_torque_nm == 1.5
    with pytest.raises(SpecError, match=r"cannot read safety policy .*missing\.yaml"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_torque_nm: -1\n")
    with pytest.raises(SpecError, match="max_torque_nm: Input should be greater than 0"):
        load_policy(bad)
