"""A simulated flow-reactor station running the SnAr coupling.

Physics: the outlet composition is the kinetic model of :mod:`instruments.sim.snar` (Hone et al.
2017, as used by Summit). Timing follows how a flow chemist runs a steady-state point: change the
temperature at ``ramp_c_per_min``, hold ``equilibration_min``, flush ``steady_state_volumes``
reactor volumes so the outlet reflects the new conditions, then collect one reactor volume into the
sample vial. At 1 min residence time and a 30 °C change that is 3 + 1 + 3 + 1 = 8 minutes.

The vial must sit at the station (placed by a robot) before ``react``; afterwards it holds the
outlet composition and the conditions it was made under, for the HPLC to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.devices import DeviceContext, parse_options
from cfl.errors import DeviceFault
from cfl.space import ParamValue
from instruments.sim.snar import SnarConditions, simulate_snar

__all__ = ["FlowReactorOptions", "SimFlowReactor"]

_SPECIES = ("dfnb", "pyrrolidine", "ortho", "para", "bis")
_CONDITIONS = {
    "residence_time": "residence_time_min",
    "equivalents": "equivalents",
    "concentration": "concentration_m",
    "temperature": "temperature_c",
}


class FlowReactorOptions(BaseModel):
    """Options of ``sim-flow-reactor`` in a lab file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ramp_c_per_min: float = Field(default=10.0, gt=0)
    equilibration_min: float = Field(default=1.0, ge=0)
    steady_state_volumes: float = Field(default=3.0, ge=0)
    start_temperature_c: float = 25.0


class SimFlowReactor:
    """Simulated SnAr flow reactor; see the module docstring.

    The experiment's parameters must be named ``residence_time`` (min), ``equivalents``,
    ``concentration`` (M) and ``temperature`` (°C).
    """

    measurands: ClassVar[Mapping[str, tuple[float, float]]] = {}

    def __init__(self, name: str, options: FlowReactorOptions, context: DeviceContext) -> None:
        self.name = name
        self._options = options
        self._context = context
        self._faults = context.injector(name)
        self.temperature_c = options.start_temperature_c

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SimFlowReactor:
        return cls(name, parse_options(FlowReactorOptions, options, device=name), context)

    def _duration_s(self, snar: SnarConditions) -> float:
        """Ramp from the present temperature, hold, flush, collect (see the module docstring)."""
        o = self._options
        minutes = (
            abs(snar.temperature_c - self.temperature_c) / o.ramp_c_per_min
            + o.equilibration_min
            + (o.steady_state_volumes + 1.0) * snar.residence_time_min
        )
        return 60.0 * minutes

    def expected_duration_s(self, command: str, args: Mapping[str, ParamValue]) -> float | None:
        if command != "react" or not set(_CONDITIONS) <= set(args):
            return None
        return self._duration_s(
            SnarConditions(**{_CONDITIONS[k]: float(args[k]) for k in _CONDITIONS})
        )

    async def react(self, sample: str, conditions: Mapping[str, ParamValue]) -> None:
        bench = self._context.bench
        vial = bench.require_at(sample, self.name, device=self.name, command="react")
        missing = sorted(set(_CONDITIONS) - set(conditions))
        unknown = sorted(set(conditions) - set(_CONDITIONS))
        if missing or unknown:
            raise DeviceFault(
                f"{self.name} runs the SnAr model and needs parameters {sorted(_CONDITIONS)}; "
                f"missing {missing}, unknown {unknown}",
                device=self.name,
                command="react",
            )
        snar = SnarConditions(**{_CONDITIONS[k]: float(v) for k, v in conditions.items()})
        await self._faults.run("react", self._duration_s(snar), self._context.clock.sleep)
        self.temperature_c = snar.temperature_c
        vial.charge = dict(conditions)
        vial.contents = dict(zip(_SPECIES, simulate_snar(snar), strict=True))
