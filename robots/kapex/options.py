"""Options of the ``kapex`` driver in a lab file.

::

    kapex-1:
      driver: kapex
      role: robot
      step_timeout_s: 300
      options:
        transport: sim               # sila (a served robot), or module:callable for a real one
        serial: KPX-0001             # the robot must report this serial, or the driver refuses it
        home: rack
        locations:                   # where the named locations are (x, y, working height z)
          rack: [0, 0, 0.9]
          reactor-1: [5.7, 0, 1.0]
        safety:                      # inline policy (robots.safety), or safety_file: path
          workspace: [{name: lab, min: [-1, -1, 0], max: [7, 7, 2]}]
          max_grip_force_n: 20
        grasp_failure_rate: 0.05     # simulator only: seeded slips, retried by CFL

Driver options apply to any transport. Timing (walking speed, grasp and release times) is what the
simulator does and, for a real robot, what the driver expects when it estimates durations. The
simulator's failure model, sampling and masses apply only to ``transport: sim``; naming one for
another transport is refused, so a lab file cannot suggest that a real robot slips on purpose.

``transport: sila`` reaches a robot served over SiLA 2 at the device's ``address``
(:mod:`robots.sila.transport`), such as the simulator that ``cfl sim serve`` serves for a served
lab file's ``driver: kapex`` device. To the client that is a real robot: the simulator's options
belong in the served lab file, the client's lab file gives a safety policy and runs on the wall
clock, and its durations (``goal_deadline_s``, ``lease_ttl_s``) are real seconds.
``transport_options`` for it are checked with the lab file (``connect_timeout_s``,
``call_timeout_s``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, JsonValue, ValidationError, model_validator

from robots.layout import Point
from robots.safety import SafetyPolicy
from robots.sim.plans import FailureModel, Timing

__all__ = ["KapexOptions", "SimOptions"]


class SimOptions(Timing, FailureModel):
    """What the simulated robot does: its timing, its failures, its sampling."""

    state_hz: float = Field(default=10.0, gt=0, le=1000)
    """How often the simulator samples its joints."""
    feedback_period_s: float = Field(default=1.0, gt=0)
    """How often the simulator sends feedback."""


_SIM_ONLY = set(FailureModel.model_fields) | {"state_hz", "feedback_period_s", "settle_s"}


class KapexOptions(SimOptions):
    """Options of the ``kapex`` driver; see the module docstring."""

    transport: str = "sim"
    """``sim``, ``sila``, or ``module:callable`` building a transport
    (:mod:`robots.kapex.transport`)."""
    transport_options: dict[str, JsonValue] = Field(default_factory=dict)
    """Passed to a real transport as they are (ports, certificates, robot namespace)."""
    serial: str = Field(default="KPX-SIM-0001", min_length=1)
    owner: str | None = None
    """Who holds the lease; default ``cfl/<site>/<team>/<device>``."""
    home: str | None = None
    """Where the robot stands at the start (simulator); ``None``: the origin."""
    locations: dict[str, Point] = Field(default_factory=dict)
    """Positions of named locations; others get defaults (:mod:`robots.layout`)."""
    ring_radius_m: float = Field(default=3.0, gt=0)
    safety: SafetyPolicy | None = None
    safety_file: Path | None = None
    """A YAML policy file, read when the driver connects (``from_config`` reads no files)."""
    hand: Literal["right", "left"] = "right"
    """The hand CFL's pick and place use."""
    grip_force_n: float = Field(default=8.0, gt=0)
    """Grip force CFL's pick asks for (a vial)."""
    payload_kg: float = Field(default=0.05, ge=0)
    """Mass CFL's pick declares (a vial, with margin)."""
    goal_deadline_s: float = Field(default=240.0, gt=0)
    """Deadline sent with every goal CFL submits; the robot aborts a goal still running then."""
    deadline_grace_s: float = Field(default=10.0, ge=0)
    """How long after a goal's deadline the driver waits for the robot's result before it gives
    the goal up as timed out itself (a robot that stopped answering)."""
    lease_ttl_s: float = Field(default=10.0, gt=0)
    """A lease not renewed for this long goes stale and the robot stops; renewed every third."""
    lease_idle_release_s: float = Field(default=900.0, gt=0)
    """With no goal for this long the driver gives the lease up (other teams share the robot)
    and takes it again for its next goal."""
    record: bool = True
    """Hand every goal's episode to the episode store (when the lab keeps data)."""
    record_fps: float = Field(default=10.0, gt=0, le=1000)

    @model_validator(mode="after")
    def _consistent(self) -> KapexOptions:
        if self.safety is not None and self.safety_file is not None:
            raise ValueError("give safety (inline) or safety_file, not both")
        if self.transport != "sim":
            simulated = sorted(self.model_fields_set & _SIM_ONLY)
            if simulated:
                raise ValueError(
                    f"{simulated} apply only to the simulator (transport: sim); remove them for "
                    f"transport {self.transport!r}"
                )
            if self.safety is None and self.safety_file is None:
                raise ValueError(
                    f"transport {self.transport!r} drives a real robot: give it a safety policy "
                    "(safety: {...} or safety_file: path)"
                )
        if self.transport == "sila":
            from robots.sila.transport import SilaTransportOptions  # sila2 only for sila labs

            try:
                SilaTransportOptions.model_validate(self.transport_options)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                raise ValueError(
                    f"transport_options of transport 'sila': {problems} (it takes "
                    f"{', '.join(SilaTransportOptions.model_fields)})"
                ) from exc
        return self
