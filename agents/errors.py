"""Errors of the co-scientist's model calls, on the one tree of :mod:`cfl.errors`.

Drawn, like the rest of the tree, by what the caller can do::

    CFLError
    └── AgentError (cfl.errors: the loop goes on without the agent this round)
        └── ModelError               a call to the co-scientist's language model failed
        ├── ModelUnavailable         no answer: unreachable, timed out, overloaded (retryable:
        │                            ask again next round, or run offline meanwhile)
        ├── ModelRefused             the endpoint refused the request: wrong key, unknown model,
        │                            request rejected; fix the ``CFL_LLM_*`` settings
        └── ModelOutputInvalid       an answer that is not JSON or not of the asked schema; the
                                     same prompt may do better next time, nothing was used

Errors of ``openai``, the transport under LangChain's ``ChatOpenAI``, are translated once, in
:mod:`agents.llm.structured`, with ``raise ... from exc``. Nothing a failed call returned is used,
so no error here leaves a partial result behind.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfl.errors import AgentError

__all__ = ["ModelError", "ModelOutputInvalid", "ModelRefused", "ModelUnavailable"]


class ModelError(AgentError):
    """A call to the co-scientist's language model failed."""

    retryable = False
    """Whether asking again later, unchanged, may work."""

    def __init__(self, message: str, *, purpose: str, model: str, endpoint: str) -> None:
        super().__init__(message)
        self.purpose = purpose
        """What the call was for: ``generation``, ``reflection``, ``ranking``, ..."""
        self.model = model
        self.endpoint = endpoint
        """Base URL of the endpoint (never the key)."""


class ModelUnavailable(ModelError):
    """The endpoint did not answer: unreachable, timed out, rate-limited or failing (5xx).

    Retry later (the loop asks again next round) or run the offline co-scientist meanwhile.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        purpose: str,
        model: str,
        endpoint: str,
        timeout_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, purpose=purpose, model=model, endpoint=endpoint)
        self.timeout_s = timeout_s
        """The deadline that passed, when the call timed out."""
        self.status = status
        """HTTP status of the answer, when there was one (429, 5xx)."""


class ModelRefused(ModelError):
    """The endpoint answered with a client error: bad key, unknown model, rejected request.

    Asking again will not help; fix ``CFL_LLM_API_KEY``, ``CFL_LLM_MODEL`` or the endpoint.
    """

    def __init__(
        self, message: str, *, purpose: str, model: str, endpoint: str, status: int
    ) -> None:
        super().__init__(message, purpose=purpose, model=model, endpoint=endpoint)
        self.status = status
        """HTTP status of the refusal (400, 401, 403, 404, 422, ...)."""


class ModelOutputInvalid(ModelError):
    """The model answered, but not with JSON of the asked schema; nothing of it was used."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        purpose: str,
        model: str,
        endpoint: str,
        output: str,
        errors: Sequence[str] = (),
    ) -> None:
        super().__init__(message, purpose=purpose, model=model, endpoint=endpoint)
        self.output = output
        """The start of what the model returned (a few lines)."""
        self.errors = tuple(errors)
        """What was wrong: the JSON error, or one line per schema violation."""
