"""Ask a chat model for an answer of a pydantic schema, and turn every failure into one CFL error.

How JSON is asked for (``CFL_LLM_STRUCTURED_OUTPUT``):

- ``json_schema`` (default): ``response_format={"type": "json_schema", ...}``. OpenAI's structured
  outputs, vLLM (guided decoding for any model, no tool parser needed) and Ollama (its
  ``format``) all constrain the answer to the schema with it, so it works with most models;
- ``function_calling``: one tool with the schema as parameters, and ``tool_choice`` naming it;
  for servers without ``response_format`` (vLLM needs a tool parser for the model, Ollama does
  not honour ``tool_choice``, so it is not the default);
- ``json_mode``: ``response_format={"type": "json_object"}`` with the schema written into the
  system message; the last resort.

Whatever was asked, the answer is read the same way: the first tool call's arguments if the model
called a tool, else the message text (a Markdown code fence around it is tolerated); then it is
validated here, locally, against the pydantic schema. The server's constraint is an aid, this
validation the guarantee.

The schema sent is pydantic's, made portable (:func:`portable_schema`): ``oneOf`` becomes
``anyOf`` and OpenAPI's ``discriminator`` is dropped (neither is in the subset OpenAI and the
vLLM/Ollama grammar engines share), every property is required and no other is allowed.
``strict`` is not sent: the servers that honour it reject some valid schemas with it.

Errors are translated once, here (see :mod:`agents.errors`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar, cast

import openai
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from pydantic import BaseModel, ValidationError

from agents.errors import ModelError, ModelOutputInvalid, ModelRefused, ModelUnavailable
from agents.llm.calls import PURPOSE_KEY
from agents.llm.settings import StructuredMethod, public_url

__all__ = ["parse_answer", "portable_schema", "translate_error", "with_schema"]

T = TypeVar("T", bound=BaseModel)

_EXCERPT_LINES = 5
_EXCERPT_CHARS = 400
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)
_SETTINGS_HINT = "unset CFL_LLM_BASE_URL to run the offline co-scientist"


def portable_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``schema`` in the subset every structured-output server accepts."""
    return cast(dict[str, Any], _portable(schema.model_json_schema()))


def _portable(node: Any) -> Any:
    if isinstance(node, list):
        return [_portable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("discriminator", "default"):
            continue
        if key in ("properties", "$defs"):  # maps of names to schemas, not keywords
            out[key] = {name: _portable(sub) for name, sub in value.items()}
        elif key == "oneOf":
            out["anyOf"] = _portable(value)
        else:
            out[key] = _portable(value)
    if "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def with_schema(
    model: BaseChatModel, schema: type[T], *, method: StructuredMethod = "json_schema"
) -> Runnable[LanguageModelInput, T]:
    """A runnable that asks ``model`` for a ``schema`` answer and returns it validated.

    Pass the call's purpose as run metadata, ``config={"metadata": {PURPOSE_KEY: "..."}}``: it
    names the call in the :class:`~agents.llm.calls.ModelCall` record and in errors.

    The runnable raises:
        ModelUnavailable: no answer (unreachable, timed out, 429 or 5xx).
        ModelRefused: the endpoint refused the request (key, model name, request).
        ModelOutputInvalid: the answer is not JSON or not a valid ``schema``.
    """
    name = schema.__name__
    json_schema = portable_schema(schema)
    description = (schema.__doc__ or name).strip().splitlines()[0]
    instruction: str | None = None
    if method == "json_schema":
        bound = model.bind(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": name, "description": description, "schema": json_schema},
            }
        )
    elif method == "function_calling":
        tool = {
            "type": "function",
            "function": {"name": name, "description": description, "parameters": json_schema},
        }
        bound = model.bind(
            tools=[tool], tool_choice={"type": "function", "function": {"name": name}}
        )
    else:
        bound = model.bind(response_format={"type": "json_object"})
        instruction = (
            "Answer with one JSON object, nothing else, valid against this JSON schema:\n"
            + json.dumps(json_schema, ensure_ascii=False)
        )
    model_name, endpoint, timeout_s = _identity(model)

    def call(value: LanguageModelInput, config: RunnableConfig) -> T:
        purpose = str((config.get("metadata") or {}).get(PURPOSE_KEY, "unspecified"))
        messages = _messages(value)
        if instruction is not None:
            messages = _with_instruction(messages, instruction)
        try:
            answer = bound.invoke(messages, config=config)
        except openai.OpenAIError as exc:
            raise translate_error(
                exc, purpose=purpose, model=model_name, endpoint=endpoint, timeout_s=timeout_s
            ) from exc
        return parse_answer(answer, schema, purpose=purpose, model=model_name, endpoint=endpoint)

    return RunnableLambda(call, name=f"with_schema[{name}]")


def parse_answer(
    answer: BaseMessage, schema: type[T], *, purpose: str, model: str, endpoint: str
) -> T:
    """The ``schema`` value in a model's answer.

    Raises:
        ModelOutputInvalid: naming what was wrong and quoting the start of the answer.
    """

    def invalid(problem: str, text: str, errors: Sequence[str]) -> ModelOutputInvalid:
        excerpt = _excerpt(text)
        return ModelOutputInvalid(
            f"{purpose}: {model} did not answer with a valid {schema.__name__}: {problem}; "
            f"its answer began: {excerpt!r}. Asking again may work; if it keeps failing, try "
            "another CFL_LLM_STRUCTURED_OUTPUT or model",
            purpose=purpose,
            model=model,
            endpoint=endpoint,
            output=excerpt,
            errors=errors,
        )

    data: Any
    if isinstance(answer, AIMessage) and answer.tool_calls:
        data = answer.tool_calls[0]["args"]
        text = json.dumps(data, ensure_ascii=False)
    elif isinstance(answer, AIMessage) and answer.invalid_tool_calls:
        bad = answer.invalid_tool_calls[0]
        text = bad.get("args") or ""
        error = f"tool-call arguments are not JSON ({bad.get('error') or 'unparseable'})"
        raise invalid(error, text, [error])
    else:
        text = answer.text
        refusal = answer.additional_kwargs.get("refusal")
        if not text.strip() and refusal:
            raise invalid(f"the model refused: {refusal}", str(refusal), [str(refusal)])
        fenced = _FENCE.match(text)
        try:
            data = json.loads(fenced.group(1) if fenced else text)
        except json.JSONDecodeError as exc:
            error = f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            raise invalid(error, text, [error]) from exc
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors = [
            f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        ]
        shown = "; ".join(errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
        raise invalid(f"schema violations: {shown}", text, errors) from exc


def translate_error(
    exc: openai.OpenAIError,
    *,
    purpose: str,
    model: str,
    endpoint: str,
    timeout_s: float | None,
) -> ModelError:
    """The CFL error for a failed request (the caller raises it ``from exc``)."""
    if isinstance(exc, openai.APITimeoutError):
        limit = f"within {timeout_s:g} s" if timeout_s is not None else "in time"
        return ModelUnavailable(
            f"{purpose}: {endpoint} did not answer {limit} (model {model}); check that the "
            f"server is up and not overloaded, raise CFL_LLM_TIMEOUT_S, or {_SETTINGS_HINT}",
            purpose=purpose,
            model=model,
            endpoint=endpoint,
            timeout_s=timeout_s,
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelUnavailable(
            f"{purpose}: cannot reach {endpoint} ({exc}); check CFL_LLM_BASE_URL and that the "
            f"server is running, or {_SETTINGS_HINT}",
            purpose=purpose,
            model=model,
            endpoint=endpoint,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ModelOutputInvalid(
            f"{purpose}: {endpoint} answered with something that is not a chat completion "
            f"({exc.message}); check that CFL_LLM_BASE_URL is an OpenAI-compatible API",
            purpose=purpose,
            model=model,
            endpoint=endpoint,
            output="",
            errors=[exc.message],
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _excerpt(exc.message)
        if status in (408, 409, 429) or status >= 500:
            return ModelUnavailable(
                f"{purpose}: {endpoint} is busy or failing (HTTP {status}: {detail}); "
                f"the loop asks again next round, or {_SETTINGS_HINT}",
                purpose=purpose,
                model=model,
                endpoint=endpoint,
                status=status,
            )
        fix = {
            401: "set CFL_LLM_API_KEY to a key this endpoint accepts",
            403: "set CFL_LLM_API_KEY to a key allowed to use this model",
            404: f"set CFL_LLM_MODEL to a model the server serves (GET {endpoint}/models)",
        }.get(status, "check CFL_LLM_MODEL and CFL_LLM_STRUCTURED_OUTPUT against the server")
        return ModelRefused(
            f"{purpose}: {endpoint} refused the request (HTTP {status}: {detail}); {fix}",
            purpose=purpose,
            model=model,
            endpoint=endpoint,
            status=status,
        )
    if isinstance(exc, openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError):
        reason = (
            "was cut off at the token limit"
            if isinstance(exc, openai.LengthFinishReasonError)
            else "was stopped by the server's content filter"
        )
        return ModelOutputInvalid(
            f"{purpose}: the answer of {model} {reason}; asking again may work",
            purpose=purpose,
            model=model,
            endpoint=endpoint,
            output="",
            errors=[reason],
        )
    return ModelError(
        f"{purpose}: the call to {model} at {endpoint} failed: {exc}",
        purpose=purpose,
        model=model,
        endpoint=endpoint,
    )


def _identity(model: BaseChatModel) -> tuple[str, str, float | None]:
    """Model name, public endpoint and timeout of a chat model, for records and messages."""
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    base_url = getattr(model, "openai_api_base", None)
    timeout = getattr(model, "request_timeout", None)
    return (
        str(name or type(model).__name__),
        public_url(base_url) if isinstance(base_url, str) else "",
        float(timeout) if isinstance(timeout, int | float) else None,
    )


def _messages(value: LanguageModelInput) -> list[BaseMessage]:
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, str):
        return convert_to_messages([("human", value)])
    return convert_to_messages(value)


def _with_instruction(messages: list[BaseMessage], instruction: str) -> list[BaseMessage]:
    """``instruction`` appended to the first system message (one is added if there is none)."""
    for i, message in enumerate(messages):
        if isinstance(message, SystemMessage) and isinstance(message.content, str):
            merged = SystemMessage(content=f"{message.content}\n\n{instruction}")
            return [*messages[:i], merged, *messages[i + 1 :]]
    return [SystemMessage(content=instruction), *messages]


def _excerpt(text: str) -> str:
    lines = text.strip().splitlines()
    excerpt = "\n".join(lines[:_EXCERPT_LINES])
    if len(excerpt) > _EXCERPT_CHARS:
        excerpt = excerpt[:_EXCERPT_CHARS]
    if len(excerpt) < len(text.strip()):
        excerpt += " ..."
    return excerpt
