"""Reading SCPI replies: error-queue entries and numbers.

SCPI-99 (vol. 2, ch. 21) fixes the error-queue entry as ``<code>,"<description>"``, code 0 meaning
the queue is empty, and reserves 9.9E37 for a value over range (infinity) and 9.91E37 for "not a
number". Instruments differ in small ways (``+0,"No error"`` or ``0,"No error"``, description
quoted or not), so the parser accepts both.
"""

from __future__ import annotations

import math
import re

from cfl.errors import DeviceFault

__all__ = ["ScpiError", "parse_error_entry", "parse_number"]

_ENTRY = re.compile(r'^\s*([+-]?\d+)\s*(?:,\s*"?(.*?)"?)?\s*$', re.DOTALL)
_OVERLOAD = 9.9e37
_NOT_A_NUMBER = 9.91e37


class ScpiError(DeviceFault):
    """The instrument's error queue held entries after a command: it refused or failed it.

    Args:
        message: What happened and what to check.
        device: The lab device name.
        command: The command after which the entries were read.
        errors: The entries, as ``(code, description)``, oldest first.
    """

    def __init__(
        self, message: str, *, device: str, command: str, errors: tuple[tuple[int, str], ...]
    ) -> None:
        super().__init__(message, device=device, command=command)
        self.errors = errors
        """``(code, description)`` pairs, e.g. ``((-222, "Data out of range"),)``."""


def parse_error_entry(reply: str) -> tuple[int, str]:
    """``(code, description)`` from one error-queue reply; code 0 means no error.

    Raises:
        ValueError: the reply is not an error-queue entry.
    """
    match = _ENTRY.match(reply)
    if match is None:
        raise ValueError(f"{reply!r} is not an error-queue entry '<code>,\"<description>\"'")
    return int(match.group(1)), (match.group(2) or "").strip()


def parse_number(reply: str) -> float:
    """A numeric reply as a float, with SCPI's reserved values made explicit.

    Raises:
        ValueError: the reply is not a number, or is SCPI's over-range or not-a-number marker
            (the message says which).
    """
    try:
        value = float(reply.strip())
    except ValueError:
        raise ValueError(f"{reply!r} is not a number") from None
    if math.isclose(abs(value), _OVERLOAD, rel_tol=1e-6):
        raise ValueError(f"{reply!r} is SCPI's over-range marker: the signal exceeds the range")
    if math.isclose(value, _NOT_A_NUMBER, rel_tol=1e-6):
        raise ValueError(f"{reply!r} is SCPI's not-a-number marker: no valid value")
    if not math.isfinite(value):
        raise ValueError(f"{reply!r} is not a finite number")
    return value
