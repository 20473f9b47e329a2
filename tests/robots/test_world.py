"""The world model: changed only by committed goals; a failed goal leaves it exactly as it was."""

from __future__ import annotations

import pytest

from cfl.bench import Bench
from robots.contract import ErrorCode
from robots.skills import parse_skill
from robots.world import WorldModel, WorldObject, lab_world


def _goal(world: WorldModel, goal_id: str, skill: str, **args: object) -> None:
    """Check and stage one skill, then commit it (it succeeded)."""
    tx = world.begin(goal_id)
    parsed = parse_skill(skill, args)  # type: ignore[arg-type]
    assert tx.check(parsed, "kapex-1") is None
    tx.stage(parsed, "kapex-1")
    tx.commit()


def test_a_committed_pick_and_place_moves_the_object() -> None:
    world = WorldModel()
    _goal(world, "g1", "pick", object="S1", location="rack")
    assert world.get("S1") == WorldObject(id="S1", held_by="kapex-1/right")
    assert world.holding("kapex-1/right") == "S1"
    _goal(world, "g2", "place", object="S1", location="reactor-1")
    assert world.get("S1") == WorldObject(id="S1", location="reactor-1")


def test_a_rolled_back_goal_leaves_the_world_exactly_as_before() -> None:
    world = WorldModel()
    _goal(world, "g1", "pick", object="S1", location="rack")
    before = world.snapshot()
    tx = world.begin("g2")
    tx.stage(parse_skill("place", {"object": "S1", "location": "hplc-1"}), "kapex-1")
    assert tx.get("S1") == WorldObject(id="S1", location="hplc-1")  # the goal sees its own change
    assert world.get("S1") == WorldObject(id="S1", held_by="kapex-1/right")  # nobody else does
    tx.rollback()
    assert world.snapshot() == before


def test_a_transaction_closes_once() -> None:
    tx = WorldModel().begin("g1")
    tx.commit()
    with pytest.raises(ValueError, match="goal g1: its transaction was already closed"):
        tx.rollback()


@pytest.mark.parametrize(
    ("skill", "args", "named"),
    [
        ("pick", {"object": "S2", "location": "rack"}, "its right hand holds S1; place that first"),
        ("pick", {"object": "S9", "location": "rack", "hand": "left"},
         "the world model has it at archive"),
        ("place", {"object": "S9", "location": "rack"}, "it is not holding it"),
        ("pour", {"source": "S9", "target": "S1", "location": "rack", "volume_ml": 1},
         "cannot pour from S9: it is not holding it"),
    ],
)
def test_a_skill_the_world_contradicts_is_refused(skill: str, args: dict[str, object],
                                                  named: str) -> None:
    world = WorldModel()
    world.add(WorldObject(id="S9", location="archive"))
    _goal(world, "g1", "pick", object="S1", location="rack")
    problem = world.begin("g2").check(parse_skill(skill, args), "kapex-1")  # type: ignore[arg-type]
    assert problem is not None and problem.code is ErrorCode.PRECONDITION_FAILED
    assert named in problem.message


def test_pouring_moves_known_volumes_and_refuses_more_than_there_is() -> None:
    world = WorldModel()
    world.add(WorldObject(id="bottle", location="rack", volume_ml=50.0))
    world.add(WorldObject(id="flask", location="rack", volume_ml=0.0))
    _goal(world, "g1", "pick", object="bottle", location="rack")
    _goal(world, "g2", "pour", source="bottle", target="flask", location="rack", volume_ml=20)
    assert world.get("bottle").volume_ml == 30.0  # type: ignore[union-attr]
    assert world.get("flask").volume_ml == 20.0  # type: ignore[union-attr]
    too_much = parse_skill("pour", {"source": "bottle", "target": "flask", "location": "rack",
                                    "volume_ml": 40})
    problem = world.begin("g3").check(too_much, "kapex-1")
    assert problem is not None and "holds 30 mL, less than the 40 mL to pour" in problem.message


def test_handover_and_doors_are_tracked() -> None:
    world = WorldModel()
    _goal(world, "g1", "pick", object="S1", location="rack")
    _goal(world, "g2", "handover", object="S1", to="Dr. Kim", location="archive")
    assert world.get("S1") == WorldObject(id="S1", location="archive", with_person="Dr. Kim")
    _goal(world, "g3", "open_door", door="hplc-1/door", location="hplc-1")
    assert world.door_open("hplc-1/door") is True


def test_robots_of_one_lab_share_one_world() -> None:
    bench, other = Bench({}), Bench({})
    assert lab_world(bench) is lab_world(bench)
    assert lab_world(bench) is not lab_world(other)
