"""Robot messages and refusals to the SiLA 2 wire and back; server and client both convert here.

Messages are the JSON of the pydantic models of :mod:`robots.messages` (see
:mod:`robots.sila.features` for why). A refusal, :class:`~robots.contract.RobotError`, travels as
the ``RobotRefused`` Defined Execution Error, whose message is the JSON of its
:class:`~robots.contract.RobotErrorInfo`. A refusal whose message is not that JSON (another
vendor's server implementing these features) is kept as a ``hardware_fault`` with the text, so a
person reads it.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from robots.contract import ErrorCode, RobotError, RobotErrorInfo

__all__ = ["from_wire", "refusal_from_wire", "refusal_to_wire", "to_wire"]

M = TypeVar("M", bound=BaseModel)


def to_wire(message: BaseModel) -> str:
    """A message as the text of its JSON."""
    return message.model_dump_json()


def from_wire(model: type[M], text: str, *, what: str) -> M:
    """The message ``text`` holds.

    Args:
        model: The message's model.
        text: Its JSON.
        what: What it is, for the error (``Request of SubmitGoal``).

    Raises:
        RobotError: ``bad_args``, naming ``what`` and the first problem.
    """
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the message"
        raise RobotError(
            ErrorCode.BAD_ARGS,
            f"{what} is not the JSON of a {model.__name__} ({where}: {first['msg']}); send "
            f"{model.__name__}.model_dump_json()",
        ) from exc


def refusal_to_wire(error: RobotError) -> str:
    """The message of the ``RobotRefused`` error for ``error``."""
    return error.info.model_dump_json()


def refusal_from_wire(message: str) -> RobotError:
    """The :class:`~robots.contract.RobotError` a ``RobotRefused`` message stands for."""
    try:
        info = RobotErrorInfo.model_validate_json(message)
    except ValidationError:
        return RobotError(ErrorCode.HARDWARE_FAULT, f"the robot refused the call: {message}")
    return RobotError(info.code, info.message)
