"""The one place a LangChain chat model is built, from :class:`~agents.llm.settings.LLMSettings`.

Every endpoint is spoken to as OpenAI's chat-completions API (``ChatOpenAI``): OpenAI itself,
vLLM, Ollama, LM Studio and most gateways serve it. Two choices keep it portable:

- the Responses API is switched off (``use_responses_api=False``): vLLM and Ollama do not all
  serve it, and LangChain would otherwise pick it by itself for some model names;
- the ``v0`` message format is pinned, so an answer's content is the text the server sent,
  whatever ``LC_OUTPUT_VERSION`` says.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import BaseCallbackHandler
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agents.llm.calls import ModelCallLogger, ModelCallSink
from agents.llm.settings import LLMSettings, load_llm_settings

__all__ = ["NO_KEY", "make_chat_model"]

NO_KEY = "no-key"
"""Sent as the key when none is configured: local vLLM and Ollama ignore it, and the OpenAI
client refuses to start without one."""


def make_chat_model(
    settings: LLMSettings | None = None,
    *,
    sink: ModelCallSink | None = None,
    callbacks: Sequence[BaseCallbackHandler] = (),
) -> ChatOpenAI | None:
    """The configured chat model, or ``None`` when no endpoint is configured (offline).

    Builds no connection: the first request opens one.

    Args:
        settings: Defaults to :func:`~agents.llm.settings.load_llm_settings` (the environment).
        sink: Receives a :class:`~agents.llm.calls.ModelCall` for every call of the model.
        callbacks: Further LangChain handlers attached to the model.

    Raises:
        SpecError: the environment holds a malformed or half-configured endpoint.
    """
    settings = load_llm_settings() if settings is None else settings
    if settings.base_url is None or settings.model is None:
        return None
    handlers = list(callbacks)
    if sink is not None:
        handlers.append(ModelCallLogger(sink, model=settings.model, endpoint=settings.endpoint))
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=settings.api_key or SecretStr(NO_KEY),
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        temperature=settings.temperature,
        use_responses_api=False,
        output_version="v0",
        callbacks=handlers or None,
    )
