"""The orchestrator's belief of where each sample and piece of labware is, in step with the bench.

Robot skills move things. The world model holds where every known object is (at a location, in a
robot's hand, with a person) and, where known, how much liquid it holds, plus which doors are open.
It changes only through a :class:`Transaction` a goal opens when the robot accepts it: the skill's
effects are staged, committed when the goal succeeds and rolled back otherwise. A failed, cancelled
or aborted goal therefore leaves the model exactly as it was, which is what the bench shows too:
the robot's skills are built so that a goal that does not succeed leaves its objects where they
were (a slipped vial falls back into its slot; a cancelled pick sets the vial back down).

Objects the model has never seen are taken on trust the first time a skill names them (a rack
hands out fresh vials); after that, a skill that contradicts the model (pick a vial that is known to
be elsewhere, place one the hand does not hold) is refused before the robot moves
(``precondition_failed``). All robots of one lab share one model (:func:`lab_world`), so a vial one
robot moved is where the next robot looks for it.

Like PyLabRobot's volume trackers (``commit``/``rollback``), but over whole skills.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from robots.contract import ErrorCode, RobotErrorInfo
from robots.skills import (
    HandoverArgs,
    OpenDoorArgs,
    PickArgs,
    PipetteArgs,
    PlaceArgs,
    PourArgs,
    SkillArgs,
)

__all__ = ["Transaction", "WorldModel", "WorldObject", "WorldSnapshot", "lab_world"]


class WorldObject(BaseModel):
    """Where one object is: at a ``location`` (with a person, after a handover), or in a hand."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    location: str | None = None
    held_by: str | None = None
    """``<robot>/<hand>``, e.g. ``kapex-1/right``."""
    with_person: str | None = None
    """Who took it, when it was handed over (at ``location``)."""
    volume_ml: float | None = Field(default=None, ge=0)
    """Liquid in it, when known."""

    @property
    def where(self) -> str:
        """Where it is, in words."""
        if self.held_by is not None:
            return f"in the hand {self.held_by}"
        if self.with_person is not None:
            return f"with {self.with_person} at {self.location}"
        return f"at {self.location}"


class WorldSnapshot(BaseModel):
    """The whole model at one moment; two snapshots are equal when the worlds are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objects: dict[str, WorldObject]
    doors_open: dict[str, bool]


class WorldModel:
    """Objects and doors, changed only by committed transactions; see the module docstring."""

    def __init__(self) -> None:
        self._objects: dict[str, WorldObject] = {}
        self._doors: dict[str, bool] = {}
        self._open: set[str] = set()

    def get(self, object_id: str) -> WorldObject | None:
        """What the model knows of ``object_id``."""
        return self._objects.get(object_id)

    def holding(self, holder: str) -> str | None:
        """The object in the hand ``holder`` (``<robot>/<hand>``), if any."""
        return next((o.id for o in self._objects.values() if o.held_by == holder), None)

    def door_open(self, door: str) -> bool | None:
        """Whether ``door`` is open; ``None`` if the model has not seen it."""
        return self._doors.get(door)

    def snapshot(self) -> WorldSnapshot:
        return WorldSnapshot(objects=dict(self._objects), doors_open=dict(self._doors))

    def add(self, obj: WorldObject) -> None:
        """Record an object placed by a person (seeding the model, or after a manual fix)."""
        self._objects[obj.id] = obj

    def begin(self, goal_id: str) -> Transaction:
        """Open the transaction of goal ``goal_id``; stage the skill's effects on it."""
        if goal_id in self._open:
            raise ValueError(f"goal {goal_id} already has an open transaction")
        self._open.add(goal_id)
        return Transaction(self, goal_id)

    def _apply(
        self, goal_id: str, objects: Mapping[str, WorldObject], doors: Mapping[str, bool]
    ) -> None:
        self._objects.update(objects)
        self._doors.update(doors)
        self._open.discard(goal_id)

    def _discard(self, goal_id: str) -> None:
        self._open.discard(goal_id)


class Transaction:
    """The staged effects of one goal: committed on success, rolled back otherwise, once."""

    def __init__(self, world: WorldModel, goal_id: str) -> None:
        self._world = world
        self.goal_id = goal_id
        self._objects: dict[str, WorldObject] = {}
        self._doors: dict[str, bool] = {}
        self.closed = False

    def get(self, object_id: str) -> WorldObject | None:
        """The object as this transaction sees it (its own staged change first)."""
        staged = self._objects.get(object_id)
        return staged if staged is not None else self._world.get(object_id)

    def check(self, args: SkillArgs, robot: str) -> RobotErrorInfo | None:
        """Why the world does not allow ``args`` for ``robot``, or ``None`` if it does."""
        holder = _holder(robot, getattr(args, "hand", "right"))
        if isinstance(args, PickArgs):
            held = self._world.holding(holder)
            if held is not None:
                return _refuse(f"{robot} cannot pick {args.object}: its {args.hand} hand holds "
                               f"{held}; place that first")
            known = self.get(args.object)
            if known is not None and known.location != args.location:
                return _refuse(f"{robot} cannot pick {args.object} at {args.location}: the "
                               f"world model has it {known.where}")
        elif isinstance(args, (PlaceArgs, HandoverArgs)):
            known = self.get(args.object)
            if known is None or not _held_by_robot(known, robot):
                where = "nowhere known" if known is None else known.where
                return _refuse(f"{robot} cannot {args.skill} {args.object}: it is not holding it "
                               f"(the world model has it {where})")
        elif isinstance(args, PourArgs):
            source = self.get(args.source)
            if source is None or not _held_by_robot(source, robot):
                return _refuse(f"{robot} cannot pour from {args.source}: it is not holding it; "
                               "pick it first")
            if source.volume_ml is not None and source.volume_ml < args.volume_ml:
                return _refuse(f"{args.source} holds {source.volume_ml:g} mL, less than the "
                               f"{args.volume_ml:g} mL to pour")
        elif isinstance(args, PipetteArgs):
            source = self.get(args.source)
            wanted_ml = args.volume_ul / 1000
            if source is not None and source.volume_ml is not None and source.volume_ml < wanted_ml:
                return _refuse(f"{args.source} holds {source.volume_ml:g} mL, less than the "
                               f"{wanted_ml:g} mL to pipette")
        return None

    def stage(self, args: SkillArgs, robot: str) -> None:
        """Stage what ``args`` changes if the goal succeeds (call :meth:`check` first)."""
        holder = _holder(robot, getattr(args, "hand", "right"))
        if isinstance(args, PickArgs):
            self._move(args.object, held_by=holder)
        elif isinstance(args, PlaceArgs):
            self._move(args.object, location=args.location)
        elif isinstance(args, HandoverArgs):
            self._move(args.object, location=args.location, with_person=args.to)
        elif isinstance(args, (PourArgs, PipetteArgs)):
            moved = args.volume_ml if isinstance(args, PourArgs) else args.volume_ul / 1000
            self._move_liquid(args.source, args.target, args.location, moved)
        elif isinstance(args, OpenDoorArgs):
            self._doors[args.door] = not args.close

    def commit(self) -> None:
        """Make the staged effects the world's; the goal succeeded."""
        self._close()
        self._world._apply(self.goal_id, self._objects, self._doors)

    def rollback(self) -> None:
        """Drop the staged effects; the goal did not succeed, so nothing moved."""
        self._close()
        self._world._discard(self.goal_id)

    def _close(self) -> None:
        if self.closed:
            raise ValueError(f"goal {self.goal_id}: its transaction was already closed")
        self.closed = True

    def _put(self, obj: WorldObject) -> None:
        self._objects[obj.id] = obj

    def _move(
        self,
        object_id: str,
        *,
        location: str | None = None,
        held_by: str | None = None,
        with_person: str | None = None,
    ) -> None:
        known = self.get(object_id)
        self._put(
            WorldObject(
                id=object_id,
                location=location,
                held_by=held_by,
                with_person=with_person,
                volume_ml=None if known is None else known.volume_ml,
            )
        )

    def _move_liquid(self, source: str, target: str, location: str, volume_ml: float) -> None:
        for object_id, delta in ((source, -volume_ml), (target, volume_ml)):
            known = self.get(object_id) or WorldObject(id=object_id, location=location)
            if known.volume_ml is not None:
                known = known.model_copy(update={"volume_ml": max(0.0, known.volume_ml + delta)})
            self._put(known)


def _held_by_robot(obj: WorldObject, robot: str) -> bool:
    return obj.held_by is not None and obj.held_by.partition("/")[0] == robot


def _holder(robot: str, hand: str) -> str:
    return f"{robot}/{hand}"


def _refuse(message: str) -> RobotErrorInfo:
    return RobotErrorInfo(code=ErrorCode.PRECONDITION_FAILED, message=message)


_LAB_WORLDS: weakref.WeakKeyDictionary[object, WorldModel] = weakref.WeakKeyDictionary()


def lab_world(lab_key: object) -> WorldModel:
    """The one world model of the lab identified by ``lab_key`` (its bench), made on first use.

    Keyed weakly, so a lab that is thrown away (a validated lab file) takes its model with it.
    """
    world = _LAB_WORLDS.get(lab_key)
    if world is None:
        world = _LAB_WORLDS[lab_key] = WorldModel()
    return world
