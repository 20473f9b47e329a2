"""The skill catalogue: what KAPEX can be asked to do, with validated arguments.

Each skill's arguments are a frozen pydantic model, so a goal with a missing, unknown or
out-of-range argument is rejected (``bad_args``) before it reaches the robot, with the field and
the problem named. The catalogue is also what an agent is shown (:func:`catalogue`: name,
description, JSON schema): clearing an e-stop is not a skill and never appears in it.

What the safety policy needs from a skill is read off its arguments the same way for every skill:
:attr:`SkillArgs.places` (the named locations it goes to) and :meth:`SkillArgs.demands` (the grip
force, torque and payload it asks for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from robots.contract import ErrorCode, RobotError

__all__ = [
    "SKILLS",
    "Demands",
    "HandoverArgs",
    "MoveToArgs",
    "OpenDoorArgs",
    "PickArgs",
    "PipetteArgs",
    "PlaceArgs",
    "PourArgs",
    "PressArgs",
    "RunPolicyArgs",
    "SkillArgs",
    "TightenScrewArgs",
    "catalogue",
    "dump_args",
    "parse_skill",
]

Hand = Literal["right", "left"]


Ident = Annotated[str, Field(min_length=1, max_length=200)]
"""A name: of an object, a location, a person."""


@dataclass(frozen=True)
class Demands:
    """What a skill asks of the robot's limits; the safety policy compares it with its own."""

    grip_force_n: float = 0.0
    torque_nm: float = 0.0
    payload_kg: float = 0.0


class SkillArgs(BaseModel):
    """Arguments of one skill; subclasses name the skill in :attr:`skill`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    skill: ClassVar[str]
    description: ClassVar[str]

    @property
    def places(self) -> tuple[str, ...]:
        """Named locations the robot works at, in order; the safety policy checks each."""
        location = getattr(self, "location", None)
        return () if location is None else (str(location),)

    def demands(self) -> Demands:
        """The grip force, torque and payload the skill asks of the robot."""
        return Demands()

    @property
    def objects(self) -> tuple[str, ...]:
        """Ids of the samples or labware the skill handles (for the world model and episodes)."""
        return ()

    def default_instruction(self) -> str:
        """The task in words, when the caller gives none.

        It becomes the episode's task in the dataset (LeRobot ``meta/tasks``), which a
        language-conditioned policy is trained on, so it names locations and actions but never a
        sample id: every pick from the rack is one task, not one task per vial. The ids stay in
        the episode's arguments (``kapex/args_json``).
        """
        raise NotImplementedError  # every concrete skill overrides it


class MoveToArgs(SkillArgs):
    skill: ClassVar[str] = "move_to"
    description: ClassVar[str] = "Walk to a named location and stand there."

    location: Ident
    speed_m_s: float | None = Field(default=None, gt=0, le=2.0)
    """Walking speed; ``None`` for the robot's own (always capped by the safety policy)."""

    def default_instruction(self) -> str:
        return f"walk to {self.location}"


class _Grasping(SkillArgs):
    object: Ident
    location: Ident
    hand: Hand = "right"
    grip_force_n: float = Field(default=8.0, gt=0, le=200)
    payload_kg: float = Field(default=0.05, ge=0, le=50)
    """The object's mass as the caller expects it; the wrist weighs the real one."""

    def demands(self) -> Demands:
        return Demands(grip_force_n=self.grip_force_n, payload_kg=self.payload_kg)

    @property
    def objects(self) -> tuple[str, ...]:
        return (self.object,)


class PickArgs(_Grasping):
    skill: ClassVar[str] = "pick"
    description: ClassVar[str] = "Walk to a location and pick an object up into the hand."

    grasp: Literal["pinch", "tripod", "power"] = "pinch"

    def default_instruction(self) -> str:
        return f"pick up the object at {self.location} with the {self.hand} hand"


class PlaceArgs(_Grasping):
    skill: ClassVar[str] = "place"
    description: ClassVar[str] = "Carry the held object to a location and set it down there."

    pose_tolerance_m: float = Field(default=0.005, gt=0, le=0.1)

    def default_instruction(self) -> str:
        return f"place the held object at {self.location}"


class PourArgs(SkillArgs):
    skill: ClassVar[str] = "pour"
    description: ClassVar[str] = "Pour from the held container into another at a location."

    source: Ident
    """The held container."""
    target: Ident
    location: Ident
    volume_ml: float = Field(gt=0, le=2000)
    rate_ml_s: float = Field(default=2.0, gt=0, le=100)
    payload_kg: float = Field(default=0.2, ge=0, le=50)
    """Mass of the full source container."""

    def demands(self) -> Demands:
        return Demands(grip_force_n=10.0, payload_kg=self.payload_kg)

    @property
    def objects(self) -> tuple[str, ...]:
        return (self.source, self.target)

    def default_instruction(self) -> str:
        return f"pour {self.volume_ml:g} mL from {self.source} into {self.target}"


class PipetteArgs(SkillArgs):
    skill: ClassVar[str] = "pipette"
    description: ClassVar[str] = (
        "Transfer a small volume with a hand-held pipette; prefer a liquid handler for precision."
    )

    source: Ident
    target: Ident
    location: Ident
    volume_ul: float = Field(gt=0, le=10_000)
    pipette: str = "p1000"

    def demands(self) -> Demands:
        return Demands(grip_force_n=6.0)

    @property
    def objects(self) -> tuple[str, ...]:
        return (self.source, self.target)

    def default_instruction(self) -> str:
        return f"pipette {self.volume_ul:g} uL from {self.source} into {self.target}"


class OpenDoorArgs(SkillArgs):
    skill: ClassVar[str] = "open_door"
    description: ClassVar[str] = "Open (or close) an instrument or cabinet door."

    door: Ident
    location: Ident
    close: bool = False
    torque_nm: float = Field(default=1.5, gt=0, le=100)
    """Torque on the handle."""

    def demands(self) -> Demands:
        return Demands(grip_force_n=15.0, torque_nm=self.torque_nm)

    def default_instruction(self) -> str:
        return f"{'close' if self.close else 'open'} the door {self.door} at {self.location}"


class PressArgs(SkillArgs):
    skill: ClassVar[str] = "press"
    description: ClassVar[str] = "Press a button or key with a fingertip."

    button: Ident
    location: Ident
    force_n: float = Field(default=5.0, gt=0, le=100)

    def demands(self) -> Demands:
        return Demands(grip_force_n=self.force_n)

    def default_instruction(self) -> str:
        return f"press {self.button} at {self.location}"


class TightenScrewArgs(SkillArgs):
    skill: ClassVar[str] = "tighten_screw"
    description: ClassVar[str] = "Tighten a screw or cap to a torque with a tool."

    screw: Ident
    location: Ident
    torque_nm: float = Field(gt=0, le=100)
    tool: str = "hex-2.5"

    def demands(self) -> Demands:
        return Demands(grip_force_n=12.0, torque_nm=self.torque_nm)

    def default_instruction(self) -> str:
        return f"tighten {self.screw} at {self.location} to {self.torque_nm:g} N m"


class HandoverArgs(SkillArgs):
    skill: ClassVar[str] = "handover"
    description: ClassVar[str] = "Hand the held object to a person at a location."

    object: Ident
    to: Ident
    """The person's name."""
    location: Ident

    @property
    def objects(self) -> tuple[str, ...]:
        return (self.object,)

    def default_instruction(self) -> str:
        return f"hand the held object to {self.to} at {self.location}"


class RunPolicyArgs(SkillArgs):
    skill: ClassVar[str] = "run_policy"
    description: ClassVar[str] = (
        "Run KAPEX's language-conditioned policy on an instruction, for at most max_duration_s."
    )

    instruction: str = Field(min_length=1, max_length=2000)
    """What the policy is asked to do, in words; it is conditioned on this text."""
    policy_id: str = "kapex-vla"
    location: str | None = None
    """Where to run it; ``None``: where the robot stands."""
    max_duration_s: float = Field(default=60.0, gt=0, le=3600)

    def default_instruction(self) -> str:
        return self.instruction


SKILLS: Mapping[str, type[SkillArgs]] = {
    model.skill: model
    for model in (
        MoveToArgs,
        PickArgs,
        PlaceArgs,
        PourArgs,
        PipetteArgs,
        OpenDoorArgs,
        PressArgs,
        TightenScrewArgs,
        HandoverArgs,
        RunPolicyArgs,
    )
}


def parse_skill(skill: str, args: Mapping[str, JsonValue]) -> SkillArgs:
    """The validated arguments of ``skill``.

    Raises:
        RobotError: ``unsupported_skill`` naming the catalogue, or ``bad_args`` naming each bad
            field and the problem.
    """
    model = SKILLS.get(skill)
    if model is None:
        raise RobotError(
            ErrorCode.UNSUPPORTED_SKILL,
            f"no skill {skill!r}; the catalogue has {sorted(SKILLS)}",
        )
    try:
        return model.model_validate(dict(args))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(args)'}: {e['msg']}" for e in exc.errors()
        )
        raise RobotError(ErrorCode.BAD_ARGS, f"{skill}: {problems}") from exc


def dump_args(args: SkillArgs) -> dict[str, JsonValue]:
    """The arguments as they travel in a goal: JSON, field names as the caller writes them."""
    dumped: dict[str, JsonValue] = args.model_dump(mode="json")
    return dumped


def catalogue() -> dict[str, dict[str, JsonValue]]:
    """Every skill with its description and argument schema, as an agent or a UI is shown it."""
    return {
        name: {
            "description": model.description,
            "args": model.model_json_schema(),
        }
        for name, model in SKILLS.items()
    }
