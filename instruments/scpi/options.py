"""The ``options:`` of an SCPI instrument in a lab file, validated before anything connects.

Every check that can be made without the instrument is made here, so a typo in a lab file is
refused by ``cfl run`` before a campaign starts rather than an hour into it.
"""

from __future__ import annotations

import importlib.util
import string
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CAPABILITIES",
    "Capability",
    "HeatOptions",
    "MeasureOptions",
    "QuantityOptions",
    "ScpiOptions",
]

Capability = Literal["measures", "heats", "stoppable"]
CAPABILITIES: tuple[Capability, ...] = ("measures", "heats", "stoppable")
"""Every capability the driver offers, in the order composed class names list them."""

_SECTION: dict[Capability, str] = {"measures": "measure", "heats": "heat", "stoppable": "stop"}
_EXAMPLE: dict[Capability, str] = {
    "measures": 'measure: {quantities: {absorbance: {query: "MEAS:ABS?", range: [-0.1, 4.0]}}}',
    "heats": 'heat: {set: "SOUR:TEMP {target_c:.2f}", read: "MEAS:TEMP?"}',
    "stoppable": 'stop: ["OUTP OFF"]',
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuantityOptions(_Frozen):
    """One quantity a measuring instrument reports."""

    query: str = Field(min_length=1)
    """The SCPI query whose reply is the value, e.g. ``MEAS:ABS?``."""
    range: tuple[float, float]
    """``[low, high]``: what the quantity can physically take; the dispatcher refuses the rest."""

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not low < high:
            raise ValueError(
                f"low must be less than high, got [{low:g}, {high:g}]; swap the bounds"
            )
        return value


class MeasureOptions(_Frozen):
    """What ``measure`` reads: each quantity by its own query."""

    quantities: dict[str, QuantityOptions] = Field(min_length=1)


class HeatOptions(_Frozen):
    """How ``heat`` sets a temperature and decides it has been reached."""

    set: str
    """Command writing the setpoint; ``{target_c}`` is the target in °C, e.g. ``SOUR:TEMP
    {target_c:.2f}``."""
    read: str = Field(min_length=1)
    """Query answering the measured temperature in °C, e.g. ``MEAS:TEMP?``."""
    tolerance_c: float = Field(default=0.5, gt=0)
    """The temperature counts as reached within this many °C of the target."""
    poll_s: float = Field(default=5.0, gt=0)
    """Lab seconds between temperature reads while waiting."""
    settle_timeout_s: float = Field(default=1800.0, gt=0)
    """Lab seconds to wait for the target before giving up with a timeout."""

    @field_validator("set")
    @classmethod
    def _one_placeholder(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if fields != {"target_c"}:
            raise ValueError(
                f"{value!r} must hold the placeholder {{target_c}} and no other, got "
                f"{sorted(fields) or 'none'}; e.g. 'SOUR:TEMP {{target_c:.2f}}'"
            )
        try:
            value.format(target_c=25.0)
        except (ValueError, IndexError) as exc:  # a bad format spec such as {target_c:.2q}
            raise ValueError(f"{value!r} cannot be formatted with a number: {exc}") from exc
        return value


class ScpiOptions(_Frozen):
    """Options of the ``scpi`` driver; see :mod:`instruments.scpi.driver` for an example."""

    backend: str = "@py"
    """PyVISA backend: ``@py`` (pyvisa-py), ``@ivi`` (a vendor VISA), ``file.yaml@sim``."""
    read_termination: str = "\n"
    write_termination: str = "\n"
    timeout_ms: int = Field(default=2000, gt=0)
    """How long one reply may take; also the connection timeout."""
    error_query: str | None = "SYST:ERR?"
    """Query popping one entry of the error queue; ``null`` for an instrument without one."""
    capabilities: list[Capability] = Field(min_length=1)
    measure: MeasureOptions | None = None
    heat: HeatOptions | None = None
    stop: list[str] | None = Field(default=None, min_length=1)
    """Commands that abort and leave the instrument safe, e.g. ``["ABOR", "OUTP OFF"]``."""

    @field_validator("backend")
    @classmethod
    def _backend_installed(cls, value: str) -> str:
        _, at, name = value.rpartition("@")
        if at and name not in ("ivi", "") and importlib.util.find_spec(f"pyvisa_{name}") is None:
            raise ValueError(
                f"backend {value!r} needs the package pyvisa_{name}, which is not installed; "
                f"install it (pip install pyvisa-{name}) or use '@py'"
            )
        return value

    @field_validator("capabilities")
    @classmethod
    def _unique(cls, value: list[Capability]) -> list[Capability]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value} names a capability twice; list each once")
        return value

    @model_validator(mode="after")
    def _sections_match_capabilities(self) -> Self:
        for capability in CAPABILITIES:
            section = _SECTION[capability]
            declared = capability in self.capabilities
            given = getattr(self, section) is not None
            if declared and not given:
                raise ValueError(
                    f"capability {capability!r} needs a {section!r} section, e.g. "
                    f"{_EXAMPLE[capability]}"
                )
            if given and not declared:
                raise ValueError(
                    f"{section!r} is given but {capability!r} is not in capabilities; add it "
                    f"or remove {section!r}"
                )
        return self
