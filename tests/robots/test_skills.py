"""The skill catalogue: ten skills, arguments validated before anything moves."""

from __future__ import annotations

import pytest

from robots.contract import ErrorCode, RobotError
from robots.skills import SKILLS, PickArgs, RunPolicyArgs, catalogue, dump_args, parse_skill


def test_the_catalogue_has_the_ten_skills_and_no_way_to_clear_an_estop() -> None:
    assert set(SKILLS) == {
        "move_to", "pick", "place", "pour", "pipette", "open_door", "press", "tighten_screw",
        "handover", "run_policy",
    }
    shown = catalogue()
    assert set(shown) == set(SKILLS)
    assert not any("estop" in name or "clear" in name for name in shown)
    schema = shown["pick"]["args"]
    assert isinstance(schema, dict) and schema["required"] == ["object", "location"]


def test_arguments_are_validated_and_defaults_filled() -> None:
    args = parse_skill("pick", {"object": "S-E0001-1", "location": "rack"})
    assert isinstance(args, PickArgs)
    assert (args.hand, args.grasp, args.grip_force_n) == ("right", "pinch", 8.0)
    assert args.places == ("rack",) and args.objects == ("S-E0001-1",)
    assert args.default_instruction() == "pick up the object at rack with the right hand"
    assert dump_args(args)["grip_force_n"] == 8.0


def test_a_bad_argument_is_refused_naming_the_field() -> None:
    with pytest.raises(RobotError) as error:
        parse_skill("pour", {"source": "A", "target": "B", "location": "rack", "volume_ml": -1})
    assert error.value.code is ErrorCode.BAD_ARGS
    assert "volume_ml: Input should be greater than 0" in str(error.value)
    with pytest.raises(RobotError, match="pick: speed: Extra inputs are not permitted"):
        parse_skill("pick", {"object": "A", "location": "rack", "speed": 2})


def test_an_unknown_skill_is_refused_naming_the_catalogue() -> None:
    with pytest.raises(RobotError, match=r"no skill 'juggle'; the catalogue has \['handover'"):
        parse_skill("juggle", {})


def test_run_policy_takes_the_instruction_as_its_task() -> None:
    args = parse_skill("run_policy", {"instruction": "wipe the bench"})
    assert isinstance(args, RunPolicyArgs)
    assert args.default_instruction() == "wipe the bench" and args.places == ()


def test_skills_state_the_forces_they_ask_for() -> None:
    screw = parse_skill("tighten_screw", {"screw": "M3", "location": "rack", "torque_nm": 2})
    assert screw.demands().torque_nm == 2.0
    press = parse_skill("press", {"button": "start", "location": "rack", "force_n": 12})
    assert press.demands().grip_force_n == 12.0
