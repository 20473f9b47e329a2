"""Protocols as data: the frozen steps one experiment runs, and the commands they may use.

A campaign spec holds a protocol template, a list of :class:`Step`. Each experiment runs it with
its own sample and parameters. Steps name *roles* (``reactor``, ``robot``), not devices; the
dispatcher binds a role to a free device at ``reserve`` and frees it at ``release``, so a station
stays with an experiment while its sample sits there and a robot is held only while it carries one::

    - {command: reserve, role: reactor}
    - {command: reserve, role: robot}
    - {command: pick,  role: robot, at: rack}       # ``at`` is a location or a reserved role
    - {command: place, role: robot, at: reactor}
    - {command: release, role: robot}
    - {command: react, role: reactor}
    ...

:func:`validate_protocol` checks a template against a lab before anything runs: known commands and
roles, reservations balanced and held when used, a robot never released or re-used while holding a
sample, each device able to do its steps, and every objective measured by some measuring step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cfl.devices import Doses, Heats, Measures, Reacts, Transfers
from cfl.errors import SpecError
from cfl.lab import LabSpec

__all__ = ["COMMANDS", "CommandInfo", "Step", "validate_protocol"]


class Step(BaseModel):
    """One protocol step: a command for the device bound to ``role``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: str
    role: str
    at: str | None = None
    """Where a transfer happens: a location name or a role reserved by this experiment."""
    args: dict[str, float | int | str] = Field(default_factory=dict)
    """The command's arguments; a string ``"$name"`` stands for the experiment's parameter."""
    timeout_s: float | None = Field(default=None, gt=0)
    """Lab seconds this step may take; overrides the device's ``step_timeout_s``."""

    def resolved_args(
        self, params: Mapping[str, float | int | str]
    ) -> dict[str, float | int | str]:
        """``args`` with every ``"$name"`` replaced by the parameter's value."""
        return {
            key: params[value[1:]] if isinstance(value, str) and value.startswith("$") else value
            for key, value in self.args.items()
        }


@dataclass(frozen=True)
class CommandInfo:
    """What a command needs from the device that runs it."""

    capability: type | None
    """Protocol the device must satisfy; ``None`` for reservations, which the dispatcher does."""
    site: Literal["required", "forbidden"]
    args: frozenset[str] = frozenset()
    """Arguments the command takes, all required."""


COMMANDS: Mapping[str, CommandInfo] = {
    "reserve": CommandInfo(None, "forbidden"),
    "release": CommandInfo(None, "forbidden"),
    "pick": CommandInfo(Transfers, "required"),
    "place": CommandInfo(Transfers, "required"),
    "react": CommandInfo(Reacts, "forbidden"),
    "measure": CommandInfo(Measures, "forbidden"),
    "dose": CommandInfo(Doses, "forbidden", frozenset({"reagent", "amount"})),
    "heat": CommandInfo(Heats, "forbidden", frozenset({"target_c"})),
}


def validate_protocol(
    steps: Sequence[Step],
    lab: LabSpec,
    devices: Mapping[str, object],
    objectives: Sequence[str],
    parameters: Sequence[str],
) -> None:
    """Check a protocol template against a lab, the campaign's objectives and its parameters.

    ``devices`` are the lab's built devices: capabilities and measurands are read off them, so a
    driver whose abilities depend on its options (a SiLA 2 client) is checked as configured.

    Raises:
        SpecError: naming the step (``protocol[i]``) and the fix.
    """
    if not steps:
        raise SpecError("a protocol needs at least one step", field="protocol")
    roles = lab.roles
    held: set[str] = set()
    holding: dict[str, bool] = {}
    measuring_roles: set[str] = set()
    for i, step in enumerate(steps):
        where = f"protocol[{i}]"
        info = COMMANDS.get(step.command)
        if info is None:
            raise SpecError(
                f"unknown command {step.command!r}; commands: {sorted(COMMANDS)}", field=where
            )
        if step.role not in roles:
            raise SpecError(
                f"no device in the lab has role {step.role!r}; roles: {sorted(roles)}. "
                "Add a device with that role to the lab file or fix the role",
                field=f"{where}.role",
            )
        if info.site == "required" and step.at is None:
            raise SpecError(f"{step.command} needs 'at': a location or a role", field=where)
        if info.site == "forbidden" and step.at is not None:
            raise SpecError(f"{step.command} takes no 'at'; remove it", field=f"{where}.at")
        if set(step.args) != info.args:
            raise SpecError(
                f"{step.command} takes arguments {sorted(info.args) or 'none'}, got "
                f"{sorted(step.args) or 'none'}",
                field=f"{where}.args",
            )
        for key, value in step.args.items():
            if isinstance(value, str) and value.startswith("$") and value[1:] not in parameters:
                raise SpecError(
                    f"{value!r} names no parameter of the space ({list(parameters)})",
                    field=f"{where}.args.{key}",
                )
        if step.at is not None and step.at not in lab.locations and step.at not in held:
            raise SpecError(
                f"{step.at!r} is neither a location of the lab ({sorted(lab.locations)}) nor a "
                "role this protocol has reserved at this point; reserve it first",
                field=f"{where}.at",
            )
        if step.command == "reserve":
            if step.role in held:
                raise SpecError(f"role {step.role!r} is already reserved", field=where)
            held.add(step.role)
            continue
        if step.role not in held:
            raise SpecError(
                f"role {step.role!r} is used before it is reserved; add "
                f"{{command: reserve, role: {step.role}}} before this step",
                field=where,
            )
        if step.command == "release":
            if holding.get(step.role):
                raise SpecError(
                    f"role {step.role!r} is released while holding a sample; place it first",
                    field=where,
                )
            held.discard(step.role)
            continue
        if step.command == "pick":
            if holding.get(step.role):
                raise SpecError(f"{step.role!r} picks while already holding a sample", field=where)
            holding[step.role] = True
        elif step.command == "place":
            if not holding.get(step.role):
                raise SpecError(f"{step.role!r} places without holding a sample", field=where)
            holding[step.role] = False
        elif step.command == "measure":
            measuring_roles.add(step.role)
        for device in roles[step.role]:
            assert info.capability is not None
            if not isinstance(devices[device], info.capability):
                raise SpecError(
                    f"device {device!r} ({lab.devices[device].driver}) in role {step.role!r} "
                    f"cannot {step.command}: it does not implement {info.capability.__name__}",
                    field=where,
                )
    if held:
        raise SpecError(
            f"roles still reserved at the end: {sorted(held)}; release them", field="protocol"
        )
    if not measuring_roles:
        raise SpecError("the protocol never measures; add a measure step", field="protocol")
    measured: set[str] = set()
    for role in measuring_roles:
        for device in roles[role]:
            measured.update(getattr(devices[device], "measurands", {}))
    missing = [name for name in objectives if name not in measured]
    if missing:
        raise SpecError(
            f"objectives {missing} are not measured by any device of the measuring roles "
            f"{sorted(measuring_roles)} (they measure {sorted(measured)}); fix the objective "
            "name or add an instrument that measures it",
            field="objectives",
        )
