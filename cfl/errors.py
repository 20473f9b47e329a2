"""The one error tree of CFL.

Callers choose what to do by the branch they catch, so the tree is drawn by what the caller can do::

    CFLError
    ├── SpecError            bad input: fix the spec, lab file or argument and run again
    ├── NotFound             the named campaign or record does not exist
    ├── DeviceError          a device could not do what it was asked
    │   ├── DeviceTimeout    it did not answer in time; the step may be retried
    │   └── DeviceFault      it answered with a fault
    ├── SafetyInterlock      a safety rule stopped the step; never retried automatically
    └── LedgerTampered       the record chain does not verify; stop and investigate

Context travels as keyword-only attributes so a handler never parses a message. Errors from
third-party libraries are translated once, where they enter CFL, with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "CFLError",
    "DeviceError",
    "DeviceFault",
    "DeviceTimeout",
    "LedgerTampered",
    "NotFound",
    "SafetyInterlock",
    "SpecError",
]


class CFLError(Exception):
    """Root of every error CFL raises on purpose."""


class SpecError(CFLError):
    """Bad input from a user: a spec, a lab file, a command-line argument.

    Bad input never writes to the store, so fixing the input and running again is always safe.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message if field is None else f"{field}: {message}")
        self.field = field
        """Dotted path of the offending field, e.g. ``space.parameters[1].high``."""


class NotFound(CFLError):
    """A campaign, device or record named by the caller does not exist."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class DeviceError(CFLError):
    """A device could not carry out a step."""

    def __init__(self, message: str, *, device: str, command: str | None = None) -> None:
        super().__init__(message)
        self.device = device
        self.command = command


class DeviceTimeout(DeviceError):
    """The device did not finish within the step's deadline."""

    def __init__(
        self, message: str, *, device: str, command: str | None = None, timeout_s: float
    ) -> None:
        super().__init__(message, device=device, command=command)
        self.timeout_s = timeout_s


class DeviceFault(DeviceError):
    """The device reported a fault (bad reading, mechanical failure, lost sample)."""


class SafetyInterlock(CFLError):
    """A safety rule stopped a step. Clearing it needs a human; it is never retried."""

    def __init__(self, message: str, *, device: str, rule: str) -> None:
        super().__init__(message)
        self.device = device
        self.rule = rule


class LedgerTampered(CFLError):
    """The ledger does not verify: a record was edited, removed, reordered or truncated."""

    def __init__(self, message: str, *, campaign: str, seq: int) -> None:
        super().__init__(message)
        self.campaign = campaign
        self.seq = seq
        """Sequence number of the first record that fails verification."""
