"""Every model call, logged: one :class:`ModelCall` per call, handed to a sink.

The record names what the call was for, which model at which endpoint answered, and hashes of
what was asked and what came back, so a ledger can show that a hypothesis came from exactly this
prompt and this answer without storing either::

    prompt_sha256 = SHA-256( canonical_json([message_dict(m) for m in messages]) )
    output_sha256 = SHA-256( canonical_json(message_dict(answer)) )

with :func:`message_dict` the message in OpenAI chat form: ``{"role", "content"}``, plus
``tool_calls: [{"name", "arguments"}]`` (arguments as parsed JSON, ids left out) when the model
called a tool. For the system and user messages the co-scientist sends, that is exactly the
``messages`` array of the HTTP request. Canonical JSON is the ledger's (:mod:`cfl.canonical`).

:class:`ModelCallLogger` is a LangChain callback handler; the factory attaches it to the chat
model itself, so every call through that model is logged, whichever chain makes it. It runs
inline and re-raises a failing sink: a call that cannot be logged is not used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGeneration, LLMResult
from pydantic import BaseModel, ConfigDict, Field

from cfl.canonical import canonical_json, sha256_hex

__all__ = [
    "PURPOSE_KEY",
    "ModelCall",
    "ModelCallLogger",
    "ModelCallSink",
    "message_dict",
    "messages_sha256",
]

PURPOSE_KEY = "cfl_purpose"
"""Run-config metadata key naming a call's purpose: ``config={"metadata": {PURPOSE_KEY: ...}}``."""

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
_ERROR_CHARS = 500


class ModelCall(BaseModel):
    """One call to a language model, as the ledger records it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    purpose: str
    """What it was for: ``generation``, ``reflection``, ``ranking``, ``evolution``, ...;
    ``unspecified`` when the caller did not say."""
    model: str
    """The model that answered, as the server named it (else the one asked for)."""
    endpoint: str
    """Base URL of the API, without credentials."""
    prompt_sha256: str
    output_sha256: str | None
    """``None`` when no answer came back."""
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    tokens_counted_by: Literal["server", "estimate"]
    """``server``: the usage the endpoint reported; ``estimate``: about 4 characters a token."""
    started_at: datetime
    """Wall-clock start, UTC."""
    duration_s: float = Field(ge=0)
    outcome: Literal["ok", "error"]
    error: str | None = None
    """``ExceptionType: message`` (first 500 characters) when the call failed."""


ModelCallSink = Callable[[ModelCall], None]


def message_dict(message: BaseMessage) -> dict[str, Any]:
    """A message in OpenAI chat form, the unit the hashes are taken over."""
    out: dict[str, Any] = {"role": _ROLES.get(message.type, message.type)}
    out["content"] = message.content
    if isinstance(message, AIMessage) and message.tool_calls:
        out["tool_calls"] = [
            {"name": call["name"], "arguments": call["args"]} for call in message.tool_calls
        ]
    if isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
    return out


def messages_sha256(messages: Sequence[BaseMessage]) -> str:
    """SHA-256 of the canonical JSON of ``messages`` in OpenAI chat form."""
    return sha256_hex(canonical_json([message_dict(m) for m in messages]))


@dataclass
class _Pending:
    purpose: str
    model: str
    prompt_sha256: str
    input_tokens: int
    started_at: datetime
    started: float


class ModelCallLogger(BaseCallbackHandler):
    """Builds one :class:`ModelCall` per chat-model call and hands it to ``sink``.

    Args:
        sink: Receives each record when its call ends, in the calling thread.
        model: The model asked for (recorded when the server does not name one).
        endpoint: Base URL to record; pass it without credentials.
    """

    raise_error = True
    """A sink that fails fails the call: an unlogged answer is never used."""
    run_inline = True
    """Records reach the sink in the caller's thread, in order."""

    def __init__(self, sink: ModelCallSink, *, model: str, endpoint: str) -> None:
        self._sink = sink
        self._model = model
        self._endpoint = endpoint
        self._pending: dict[UUID, _Pending] = {}
        self._lock = threading.Lock()

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = messages[0]
        params = kwargs.get("invocation_params") or {}
        model = params.get("model") or params.get("model_name") or self._model
        pending = _Pending(
            purpose=str((metadata or {}).get(PURPOSE_KEY, "unspecified")),
            model=str(model),
            prompt_sha256=messages_sha256(prompt),
            input_tokens=count_tokens_approximately(prompt),
            started_at=datetime.now(UTC),
            started=time.perf_counter(),
        )
        with self._lock:
            self._pending[run_id] = pending

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        pending = self._pop(run_id)
        if pending is None:
            return
        answer = _answer(response)
        llm_output = response.llm_output or {}
        model = llm_output.get("model_name") or pending.model
        input_tokens, output_tokens = pending.input_tokens, 0
        counted_by: Literal["server", "estimate"] = "estimate"
        output_sha256 = None
        if answer is not None:
            model = answer.response_metadata.get("model_name") or model
            output_sha256 = sha256_hex(canonical_json(message_dict(answer)))
            output_tokens = count_tokens_approximately([answer])
            usage = answer.usage_metadata if isinstance(answer, AIMessage) else None
            if usage is not None:
                input_tokens, output_tokens = usage["input_tokens"], usage["output_tokens"]
                counted_by = "server"
        self._emit(
            pending,
            model=str(model),
            output_sha256=output_sha256,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            counted_by=counted_by,
            error=None,
        )

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        pending = self._pop(run_id)
        if pending is None:
            return
        self._emit(
            pending,
            model=pending.model,
            output_sha256=None,
            input_tokens=pending.input_tokens,
            output_tokens=0,
            counted_by="estimate",
            error=f"{type(error).__name__}: {error}"[:_ERROR_CHARS],
        )

    def _pop(self, run_id: UUID) -> _Pending | None:
        with self._lock:
            return self._pending.pop(run_id, None)

    def _emit(
        self,
        pending: _Pending,
        *,
        model: str,
        output_sha256: str | None,
        input_tokens: int,
        output_tokens: int,
        counted_by: Literal["server", "estimate"],
        error: str | None,
    ) -> None:
        self._sink(
            ModelCall(
                purpose=pending.purpose,
                model=model,
                endpoint=self._endpoint,
                prompt_sha256=pending.prompt_sha256,
                output_sha256=output_sha256,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                tokens_counted_by=counted_by,
                started_at=pending.started_at,
                duration_s=max(0.0, time.perf_counter() - pending.started),
                outcome="ok" if error is None else "error",
                error=error,
            )
        )


def _answer(response: LLMResult) -> BaseMessage | None:
    for generations in response.generations:
        for generation in generations:
            if isinstance(generation, ChatGeneration):
                return generation.message
    return None
