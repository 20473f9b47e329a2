"""CFL values and errors to SiLA 2 values and back: the wire shapes of :mod:`.features`.

Server and client both convert here, so the two ends cannot disagree on a shape.

Errors: a SiLA 2 Defined Execution Error carries only an identifier and a free-text message (SiLA 2
Part A, "Defined Execution Error"). CFL errors also carry keyword context (``command``,
``retryable``, ``timeout_s``, ``rule``) that handlers read instead of parsing text, so the message
on the wire is the CFL message, a blank line, and ``[cfl] {json context}``. A person reading the
error in any SiLA 2 client sees the CFL message first; :func:`error_from_wire` restores the exact
class, message and context. A message without the tail (a vendor's server implementing these
features) is taken as it is, with the class's defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from cfl.devices import Reading
from cfl.errors import (
    CFLError,
    DeviceError,
    DeviceFault,
    DeviceTimeout,
    ReadingOutOfRange,
    SafetyInterlock,
)
from cfl.space import ParamValue

__all__ = [
    "ERROR_CLASSES",
    "conditions_from_wire",
    "conditions_to_wire",
    "error_from_wire",
    "error_identifier",
    "error_to_wire",
    "measurands_from_wire",
    "measurands_to_wire",
    "reading_from_wire",
    "reading_to_wire",
]

ERROR_CLASSES: Mapping[str, type[CFLError]] = {
    cls.__name__: cls for cls in (DeviceFault, ReadingOutOfRange, DeviceTimeout, SafetyInterlock)
}
"""Defined Execution Error identifier to the CFL error it stands for."""

_CONTEXT_MARK = "\n\n[cfl] "


def conditions_to_wire(conditions: Mapping[str, ParamValue]) -> list[dict[str, Any]]:
    """``{"temperature": 90.0, "solvent": "EtOH"}`` as ``Condition`` structures."""
    items: list[dict[str, Any]] = []
    for name, value in conditions.items():
        item: dict[str, Any] = {"Name": name, "Kind": "Real", "Real": 0.0, "Integer": 0, "Text": ""}
        if isinstance(value, str):
            item.update(Kind="Text", Text=value)
        elif isinstance(value, int):
            item.update(Kind="Integer", Integer=int(value))
        else:
            item.update(Real=float(value))
        items.append(item)
    return items


def conditions_from_wire(items: Sequence[Any]) -> dict[str, ParamValue]:
    """``Condition`` structures (as ``sila2`` hands them over) back to a parameter mapping."""
    conditions: dict[str, ParamValue] = {}
    for item in items:
        kind = str(item.Kind)
        value: ParamValue
        if kind == "Text":
            value = str(item.Text)
        elif kind == "Integer":
            value = int(item.Integer)
        else:
            value = float(item.Real)
        conditions[str(item.Name)] = value
    return conditions


def reading_to_wire(reading: Reading) -> dict[str, Any]:
    """A reading as the ``Measure`` responses ``Values`` and ``Raw``."""
    return {
        "Values": [{"Name": k, "Value": float(v)} for k, v in reading.values.items()],
        "Raw": json.dumps(dict(reading.raw), sort_keys=True, allow_nan=False),
    }


def reading_from_wire(values: Sequence[Any], raw: str) -> Reading:
    """The ``Measure`` responses back to a :class:`~cfl.devices.Reading`.

    Raises:
        ValueError: ``raw`` is not the text of a JSON object.
    """
    data = json.loads(raw) if raw else {}
    if not isinstance(data, dict):
        raise ValueError(f"Raw must be the text of a JSON object, got {type(data).__name__}")
    primary: dict[str, JsonValue] = data
    return Reading(values={str(q.Name): float(q.Value) for q in values}, raw=primary)


def measurands_to_wire(measurands: Mapping[str, tuple[float, float]]) -> list[dict[str, Any]]:
    """A device's ``measurands`` as ``Measurand`` structures."""
    return [
        {"Name": name, "Low": float(low), "High": float(high)}
        for name, (low, high) in measurands.items()
    ]


def measurands_from_wire(items: Sequence[Any]) -> dict[str, tuple[float, float]]:
    """``Measurand`` structures back to ``{name: (low, high)}``."""
    return {str(m.Name): (float(m.Low), float(m.High)) for m in items}


def error_identifier(exc: BaseException, allowed: Collection[str]) -> str | None:
    """The Defined Execution Error that stands for ``exc`` among ``allowed``, if any.

    The most specific one wins: a ``ReadingOutOfRange`` is sent as such where the command defines
    it, and as ``DeviceFault`` (its base class) where it does not.
    """
    for cls in type(exc).__mro__:
        if cls.__name__ in allowed and cls.__name__ in ERROR_CLASSES:
            return cls.__name__
    return None


def error_to_wire(exc: CFLError) -> str:
    """The message of the Defined Execution Error for ``exc``: text, then its context."""
    context: dict[str, JsonValue] = {}
    if isinstance(exc, DeviceError):
        context.update(device=exc.device, command=exc.command, retryable=exc.retryable)
    if isinstance(exc, DeviceTimeout):
        context["timeout_s"] = exc.timeout_s if math.isfinite(exc.timeout_s) else None
    if isinstance(exc, SafetyInterlock):
        context.update(device=exc.device, rule=exc.rule)
    return f"{exc}{_CONTEXT_MARK}{json.dumps(context, sort_keys=True)}"


def error_from_wire(identifier: str, message: str, *, device: str, command: str) -> CFLError:
    """The CFL error a Defined Execution Error stands for.

    Args:
        identifier: The error's identifier, e.g. ``DeviceTimeout`` (a key of ``ERROR_CLASSES``).
        message: The error's message, as :func:`error_to_wire` wrote it or plain text.
        device: The device's name on the client side: errors name the device as the
            orchestrator knows it, whatever the server calls it.
        command: The CFL command that failed, used when the message does not say.

    Raises:
        KeyError: ``identifier`` is not one of CFL's errors.
    """
    cls = ERROR_CLASSES[identifier]
    text, _, tail = message.partition(_CONTEXT_MARK)
    try:
        parsed = json.loads(tail) if tail else {}
    except json.JSONDecodeError:
        text, parsed = message, {}
    context: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    if cls is SafetyInterlock:
        return SafetyInterlock(text, device=device, rule=str(context.get("rule") or "unspecified"))
    retryable = context.get("retryable")
    common: dict[str, Any] = {
        "device": device,
        "command": context.get("command") or command,
        "retryable": retryable if isinstance(retryable, bool) else None,
    }
    if cls is DeviceTimeout:
        timeout_s = context.get("timeout_s")
        return DeviceTimeout(
            text,
            timeout_s=float(timeout_s) if isinstance(timeout_s, int | float) else math.nan,
            **common,
        )
    assert issubclass(cls, DeviceError)
    return cls(text, **common)
