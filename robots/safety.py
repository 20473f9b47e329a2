"""The declarative safety policy: where the robot may be, how hard and how fast it may act.

A policy is data (YAML in the lab file, or a file of its own), so the rules a safety officer signs
off are the rules that run, and no model or agent can talk its way past them::

    workspace:                       # the hand stays inside the union of these boxes
      - {name: bench, min: [-1, -1, 0], max: [7, 7, 2]}
    keep_out:                        # and never enters any of these
      - {name: solvent-cabinet, min: [7.5, -1, 0], max: [8.5, 1, 2]}
    shared_zones:                    # where people work next to the robot: slower
      - {name: doorway, min: [-1, 2, 0], max: [0.5, 4, 2.2], max_speed_m_s: 0.25}
    max_grip_force_n: 20
    max_torque_nm: 3
    max_payload_kg: 1
    max_speed_m_s: 0.5

It is checked twice:

* **before dispatch** (:meth:`SafetyPolicy.check_goal`), on what the goal states: each location it
  goes to against the workspace and the keep-out zones, the force, torque and payload it asks for,
  the speed it asks for. A goal that fails is rejected and nothing moves.
* **during execution** (:meth:`SafetyPolicy.check_state`), on what the robot does: every state
  sample's hand position, walking speed (against the limit of any shared zone it is in), measured
  grip force, torque and payload. The robot aborts the goal at the first sample that fails; the
  driver checks the same samples again and e-stops a robot that did not.

Every violation is a :class:`~robots.contract.RobotErrorInfo` with a safety code; CFL turns it
into :class:`~cfl.errors.SafetyInterlock`, which is never retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cfl.errors import SpecError
from robots.contract import ErrorCode, RobotErrorInfo
from robots.layout import Layout, Point
from robots.messages import RobotState
from robots.skills import MoveToArgs, SkillArgs

__all__ = ["Box", "SafetyPolicy", "SharedZone", "load_policy"]

_EPS = 1e-9


class Box(BaseModel):
    """An axis-aligned box in the lab frame (metres)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "box"
    min: Point
    max: Point

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        for axis, low, high in zip("xyz", self.min, self.max, strict=True):
            if not low < high:
                raise ValueError(
                    f"box {self.name!r}: min.{axis}={low:g} must be less than max.{axis}={high:g}; "
                    "swap them"
                )
        return self

    def contains(self, point: Point) -> bool:
        (x0, y0, z0), (x1, y1, z1), (x, y, z) = self.min, self.max, point
        return (
            x0 - _EPS <= x <= x1 + _EPS
            and y0 - _EPS <= y <= y1 + _EPS
            and z0 - _EPS <= z <= z1 + _EPS
        )

    def crossed_by(self, start: Point, end: Point) -> bool:
        """Whether the straight segment from ``start`` to ``end`` passes through the box."""
        enter, leave = 0.0, 1.0
        for p0, p1, low, high in zip(start, end, self.min, self.max, strict=True):
            delta = p1 - p0
            if abs(delta) < _EPS:
                if not low - _EPS <= p0 <= high + _EPS:
                    return False
                continue
            t0, t1 = sorted(((low - p0) / delta, (high - p0) / delta))
            enter, leave = max(enter, t0), min(leave, t1)
            if enter > leave:
                return False
        return True


class SharedZone(Box):
    """A box people work in; the robot walks no faster than ``max_speed_m_s`` inside it."""

    max_speed_m_s: float = Field(gt=0)


def _default_workspace() -> tuple[Box, ...]:
    return (Box(name="default", min=(-5.0, -5.0, 0.0), max=(5.0, 5.0, 2.2)),)


class SafetyPolicy(BaseModel):
    """Limits the robot must keep; see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    workspace: tuple[Box, ...] = Field(default_factory=_default_workspace, min_length=1)
    keep_out: tuple[Box, ...] = ()
    shared_zones: tuple[SharedZone, ...] = ()
    max_grip_force_n: float = Field(default=40.0, gt=0)
    max_torque_nm: float = Field(default=5.0, gt=0)
    max_payload_kg: float = Field(default=2.0, gt=0)
    max_speed_m_s: float = Field(default=1.0, gt=0)
    """Walking speed anywhere; shared zones lower it."""

    def speed_limit_at(self, point: Point) -> float:
        """The highest walking speed allowed at ``point``."""
        limit = self.max_speed_m_s
        for zone in self.shared_zones:
            if zone.max_speed_m_s < limit and zone.contains(point):
                limit = zone.max_speed_m_s
        return limit

    def speed_limit_between(self, start: Point, end: Point) -> float:
        """The highest speed allowed all along the straight walk from ``start`` to ``end``."""
        zones = [z.max_speed_m_s for z in self.shared_zones if z.crossed_by(start, end)]
        return min([self.max_speed_m_s, *zones])

    def check_point(self, point: Point, what: str) -> RobotErrorInfo | None:
        """Whether the hand may be at ``point``; ``what`` names it in the message."""
        where = "(" + ", ".join(f"{c:.3f}" for c in point) + ")"
        if not any(box.contains(point) for box in self.workspace):
            return RobotErrorInfo(
                code=ErrorCode.WORKSPACE_VIOLATION,
                message=(
                    f"{what} at {where} is outside the workspace "
                    f"{[b.name for b in self.workspace]} of policy {self.name!r}; move the "
                    "location or add a workspace box that covers it"
                ),
            )
        for zone in self.keep_out:
            if zone.contains(point):
                return RobotErrorInfo(
                    code=ErrorCode.KEEP_OUT_VIOLATION,
                    message=(
                        f"{what} at {where} is inside keep-out zone {zone.name!r} of policy "
                        f"{self.name!r}; move the location out of it"
                    ),
                )
        return None

    def check_goal(self, args: SkillArgs, layout: Layout) -> RobotErrorInfo | None:
        """The first rule the goal breaks as stated, or ``None``; see the module docstring."""
        for place in args.places:
            violation = self.check_point(layout.position(place), f"{args.skill} target {place!r}")
            if violation is not None:
                return violation
        demands = args.demands()
        speed = args.speed_m_s if isinstance(args, MoveToArgs) else None
        return self._first_excess(
            f"{args.skill} asks for",
            [
                (ErrorCode.FORCE_LIMIT, "grip force", demands.grip_force_n),
                (ErrorCode.TORQUE_LIMIT, "torque", demands.torque_nm),
                (ErrorCode.PAYLOAD_LIMIT, "payload", demands.payload_kg),
                (ErrorCode.SPEED_LIMIT, "speed", speed or 0.0),
            ],
        )

    def check_state(self, state: RobotState) -> RobotErrorInfo | None:
        """The first rule the robot breaks in this sample, or ``None``."""
        if (  # the common case, cheaply: every sample of every goal comes through here
            any(box.contains(state.tool) for box in self.workspace)
            and not any(zone.contains(state.tool) for zone in self.keep_out)
            and state.grip_force_n <= self.max_grip_force_n + _EPS
            and state.torque_nm <= self.max_torque_nm + _EPS
            and state.payload_kg <= self.max_payload_kg + _EPS
            and state.speed_m_s <= self.speed_limit_at(state.tool) + _EPS
        ):
            return None
        violation = self.check_point(state.tool, f"the hand at t={state.t_s:.2f} s")
        if violation is not None:
            return violation
        return self._first_excess(
            f"measured at t={state.t_s:.2f} s:",
            [
                (ErrorCode.SPEED_LIMIT, "speed", state.speed_m_s),
                (ErrorCode.FORCE_LIMIT, "grip force", state.grip_force_n),
                (ErrorCode.TORQUE_LIMIT, "torque", state.torque_nm),
                (ErrorCode.PAYLOAD_LIMIT, "payload", state.payload_kg),
            ],
            at=state.tool,
        )

    def _first_excess(
        self,
        source: str,
        values: list[tuple[ErrorCode, str, float]],
        *,
        at: Point | None = None,
    ) -> RobotErrorInfo | None:
        """The first of ``values`` over its limit (for speed: the limit at ``at``, if given)."""
        for code, quantity, value in values:
            limit, unit, setting = self._limit(code, at)
            if value > limit + _EPS:
                return RobotErrorInfo(
                    code=code,
                    message=(
                        f"{source} {quantity} {value:g} {unit}, over the limit {limit:g} {unit} "
                        f"of policy {self.name!r}; ask for less, or have the safety officer "
                        f"change {setting}"
                    ),
                )
        return None

    def _limit(self, code: ErrorCode, at: Point | None) -> tuple[float, str, str]:
        """The limit a code stands for, its unit, and the policy field that sets it."""
        if code is ErrorCode.FORCE_LIMIT:
            return self.max_grip_force_n, "N", "max_grip_force_n"
        if code is ErrorCode.TORQUE_LIMIT:
            return self.max_torque_nm, "N m", "max_torque_nm"
        if code is ErrorCode.PAYLOAD_LIMIT:
            return self.max_payload_kg, "kg", "max_payload_kg"
        zone_limit = self.max_speed_m_s if at is None else self.speed_limit_at(at)
        if zone_limit < self.max_speed_m_s:
            return zone_limit, "m/s", "the shared zone's max_speed_m_s"
        return self.max_speed_m_s, "m/s", "max_speed_m_s"


def policy_from(data: Mapping[str, object], *, source: str) -> SafetyPolicy:
    """A policy from its mapping (inline in a lab file, or read from a file).

    Raises:
        SpecError: naming ``source``, the field and the problem.
    """
    try:
        return SafetyPolicy.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(policy)'}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise SpecError(f"safety policy in {source} is invalid: {problems}") from exc


def load_policy(path: Path) -> SafetyPolicy:
    """Read a policy file (YAML).

    Raises:
        SpecError: the file is missing, not YAML, or not a valid policy.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"cannot read safety policy {path}: {exc}; check the path") from exc
    if not isinstance(data, dict):
        raise SpecError(f"safety policy {path} must hold a mapping of policy fields")
    return policy_from(data, source=str(path))
