"""A simulated KAPEX humanoid that carries sample vials between stations.

Timing: walking to a different location takes ``travel_s``; a grasp ``grasp_s``, a release
``release_s`` (defaults: 20 s, 8 s, 6 s, in the range a mobile manipulator needs for a vial). The
robot acts on the shared simulated bench: it picks only a sample that is where it is told, and
places only on a location with room, so a protocol that would collide fails in simulation first.
The full KAPEX contract (leases, e-stop, goals with feedback, safety policy) is a later layer; this
twin implements the ``Transfers`` capability the dispatcher needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.devices import DeviceContext, parse_options
from cfl.errors import DeviceFault
from cfl.space import ParamValue

__all__ = ["KapexOptions", "SimKapex"]


class KapexOptions(BaseModel):
    """Options of ``sim-kapex`` in a lab file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    travel_s: float = Field(default=20.0, ge=0)
    grasp_s: float = Field(default=8.0, ge=0)
    release_s: float = Field(default=6.0, ge=0)
    home: str | None = None
    """Where the robot starts; ``None`` means nowhere in particular (first move costs travel)."""


class SimKapex:
    """Simulated KAPEX with pick and place skills; see the module docstring."""

    measurands: ClassVar[Mapping[str, tuple[float, float]]] = {}

    def __init__(self, name: str, options: KapexOptions, context: DeviceContext) -> None:
        self.name = name
        self._options = options
        self._context = context
        self._faults = context.injector(name)
        self.location = options.home
        self.holding: str | None = None

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SimKapex:
        return cls(name, parse_options(KapexOptions, options, device=name), context)

    def expected_duration_s(self, command: str, args: Mapping[str, ParamValue]) -> float | None:
        """A walk and a grasp or release; where the walk starts is not known in advance."""
        o = self._options
        return {"pick": o.travel_s + o.grasp_s, "place": o.travel_s + o.release_s}.get(command)

    async def _go(self, location: str) -> None:
        if self.location != location:
            await self._context.clock.sleep(self._options.travel_s)
            self.location = location

    async def pick(self, sample: str, location: str) -> None:
        if self.holding is not None:
            raise DeviceFault(
                f"{self.name} cannot pick {sample}: already holding {self.holding}",
                device=self.name,
                command="pick",
            )
        await self._go(location)
        await self._faults.run("pick", self._options.grasp_s, self._context.clock.sleep)
        self._context.bench.take(sample, location, robot=self.name)  # a failed grasp moves nothing
        self.holding = sample

    async def place(self, sample: str, location: str) -> None:
        await self._go(location)
        await self._faults.run("place", self._options.release_s, self._context.clock.sleep)
        self._context.bench.put(sample, location, robot=self.name)  # a failed release keeps it
        self.holding = None
