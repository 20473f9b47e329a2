"""The one error tree of CFL.

Callers choose what to do by the branch they catch, so the tree is drawn by what the caller can do::

    CFLError
    ├── SpecError            bad input: fix the spec, lab file or argument and run again
    ├── NotFound             the named campaign or record does not exist
    ├── DeviceError          a device could not do what it was asked (``retryable`` says if
    │   │                    trying the same step again may work)
    │   ├── DeviceTimeout        it did not finish in time (retryable)
    │   ├── DeviceDisconnected   the connection dropped mid-command (retryable)
    │   ├── DeviceUnavailable    no device of the role can take work (all quarantined)
    │   └── DeviceFault          it answered with a fault
    │       └── ReadingOutOfRange    a value outside what the quantity can be (retryable)
    ├── SafetyInterlock      a safety rule stopped the step; never retried automatically
    ├── AgentError           a co-scientist or judge could not do its part this round; the
    │                        loop goes on without it (``agents.errors`` has the model errors)
    └── LedgerTampered       the ledger does not verify (``seq``, ``tree_size`` and ``kind`` say
                             where and what); stop and investigate

Context travels as keyword-only attributes so a handler never parses a message. Errors from
third-party libraries are translated once, where they enter CFL, with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AgentError",
    "CFLError",
    "DeviceDisconnected",
    "DeviceError",
    "DeviceFault",
    "DeviceTimeout",
    "DeviceUnavailable",
    "LedgerTampered",
    "NotFound",
    "ReadingOutOfRange",
    "SafetyInterlock",
    "SpecError",
]


class CFLError(Exception):
    """Root of every error CFL raises on purpose."""


class AgentError(CFLError):
    """An agent (co-scientist, judge) could not do its part this round; the loop goes on."""

    retryable = False


class SpecError(CFLError):
    """Bad input from a user: a spec, a lab file, a command-line argument.

    Bad input never writes to the store, so fixing the input and running again is always safe.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message if field is None else f"{field}: {message}")
        self.message = message
        """The problem and the fix, without the field (for re-raising under a longer path)."""
        self.field = field
        """Dotted path of the offending field, e.g. ``space.parameters[1].high``."""


class NotFound(CFLError):
    """A campaign, device or record named by the caller does not exist."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class DeviceError(CFLError):
    """A device could not carry out a step."""

    retryable_by_default = False

    def __init__(
        self,
        message: str,
        *,
        device: str,
        command: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.device = device
        self.command = command
        self.retryable = self.retryable_by_default if retryable is None else retryable
        """Whether the same step may succeed if tried again (after a back-off)."""


class DeviceTimeout(DeviceError):
    """The device did not finish within the step's deadline."""

    retryable_by_default = True

    def __init__(
        self,
        message: str,
        *,
        device: str,
        command: str | None = None,
        timeout_s: float,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, device=device, command=command, retryable=retryable)
        self.timeout_s = timeout_s


class DeviceDisconnected(DeviceError):
    """The connection to the device dropped while a command was running."""

    retryable_by_default = True


class DeviceUnavailable(DeviceError):
    """No device of a role can take work: every one is quarantined or offline."""


class DeviceFault(DeviceError):
    """The device reported a fault (bad reading, mechanical failure, lost sample)."""


class ReadingOutOfRange(DeviceFault):
    """A reading outside the range its quantity can physically take; measuring again may help."""

    retryable_by_default = True


class SafetyInterlock(CFLError):
    """A safety rule stopped a step. Clearing it needs a human; it is never retried."""

    def __init__(self, message: str, *, device: str, rule: str) -> None:
        super().__init__(message)
        self.device = device
        self.rule = rule


class LedgerTampered(CFLError):
    """The ledger does not verify: stop and investigate.

    A record was edited, removed, reordered or cut, a signature does not match, two logs fork
    from one head, or a timestamp is forged.
    """

    def __init__(
        self,
        message: str,
        *,
        campaign: str,
        seq: int,
        tree_size: int | None = None,
        kind: str = "tampered",
    ) -> None:
        super().__init__(message)
        self.campaign = campaign
        self.seq = seq
        """Sequence number of the first record that fails verification (for a tree head: the
        last record it covers)."""
        self.tree_size = tree_size
        """Size of the signed tree head that fails, when the problem is with a tree head."""
        self.kind = kind
        """What was found: ``edited``, ``removed``, ``reordered``, ``truncated``, ``forked``,
        ``bad-signature``, ``unknown-key``, ``timestamp``, ... (``tampered`` when unsaid)."""
