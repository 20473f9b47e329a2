"""Robot errors become CFL errors here, once, by code.

=====================================================  ======================================
robot error code                                        CFL error (``retryable``)
=====================================================  ======================================
``estopped`` and every safety code (workspace,          :class:`~cfl.errors.SafetyInterlock`
keep-out, force, torque, payload, speed limits)         (never retried)
``grasp_failed``, ``object_not_found``                  :class:`~cfl.errors.DeviceFault` (yes)
``timeout`` (the goal's deadline; the robot did not     :class:`~cfl.errors.DeviceTimeout` (no)
answer)
``transport_lost`` (the link dropped)                   :class:`~cfl.errors.DeviceDisconnected`
                                                        (no: what the robot did is not known)
anything else (lease, busy, bad arguments,              :class:`~cfl.errors.DeviceFault` (no)
preconditions, cancelled, preempted, task failed)
=====================================================  ======================================

``retryable`` is the code's own (:attr:`robots.contract.ErrorCode.retryable`), so CFL's dispatcher
retries exactly the perception and grasp errors, never a safety stop, and a timeout or a lost link
on a robot that may be holding a vial is left to a person.
"""

from __future__ import annotations

from cfl.errors import (
    CFLError,
    DeviceDisconnected,
    DeviceFault,
    DeviceTimeout,
    SafetyInterlock,
)
from robots.contract import ErrorCode, RobotErrorInfo
from robots.kapex.transport import TransportError, TransportTimeout

__all__ = ["from_robot", "from_transport"]


def from_robot(
    error: RobotErrorInfo, *, device: str, command: str, timeout_s: float = 0.0
) -> CFLError:
    """The CFL error for a robot error; see the module docstring."""
    code = error.code
    message = f"{error.message} [{code.value}]"
    if code.safety:
        return SafetyInterlock(message, device=device, rule=code.value)
    if code is ErrorCode.TIMEOUT:
        return DeviceTimeout(
            message, device=device, command=command, timeout_s=timeout_s, retryable=False
        )
    if code is ErrorCode.TRANSPORT_LOST:
        return DeviceDisconnected(message, device=device, command=command, retryable=False)
    return DeviceFault(message, device=device, command=command, retryable=code.retryable)


def from_transport(exc: TransportError, *, device: str, command: str) -> CFLError:
    """The CFL error for a transport that could not carry a call (raise it ``from exc``)."""
    code = ErrorCode.TIMEOUT if isinstance(exc, TransportTimeout) else ErrorCode.TRANSPORT_LOST
    info = RobotErrorInfo(code=code, message=f"{device}: {exc}")
    return from_robot(info, device=device, command=command)
