"""The copilot with a language model: a tool-calling loop over :mod:`agents.copilot.tools`.

One turn: the model reads the conversation and may call tools; each call runs through the
:class:`~agents.copilot.tools.Toolbox` (which validates it and enforces the rules, whatever the
model says), its result goes back as a tool message, and the model is asked again, until it
answers in text or ``max_steps`` model calls have been made. Every call of the model is logged as
a :class:`~agents.llm.calls.ModelCall` by the callback the factory attached to it.

:func:`build_copilot` picks this copilot when a model is configured and the offline one
(:mod:`agents.copilot.offline`) otherwise.
"""

from __future__ import annotations

from typing import Any, Protocol

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable

from agents.copilot.offline import OfflineCopilot, Turn
from agents.copilot.tools import OPERATOR_PROCEDURE, Toolbox, ToolCall, ToolResult
from agents.llm.calls import PURPOSE_KEY, ModelCallSink
from agents.llm.factory import make_chat_model
from agents.llm.settings import LLMSettings, load_llm_settings, public_url
from agents.llm.structured import translate_error

__all__ = ["PURPOSE", "SYSTEM_PROMPT", "Copilot", "LLMCopilot", "build_copilot"]

PURPOSE = "copilot"
"""The purpose every model call of the copilot is logged under."""

DEFAULT_MAX_STEPS = 8
HISTORY_MESSAGES = 40
"""Earlier messages kept as context, cut at the start of a turn."""

SYSTEM_PROMPT = """\
You are CFL's copilot: you help a researcher follow and steer self-driving-lab campaigns run by
CFL (a closed loop of hypotheses, Bayesian-optimised experiments, a KAPEX robot and instruments,
and a tamper-evident ledger).

You act for {identity}. That identity is fixed for this session; tools never take one.

Rules:
- Answer from tool results only; never invent campaigns, numbers or ids. Call list_campaigns or
  campaign_status when you need ids, bounds or objectives.
- Acting tools (add_hypothesis, approve_experiments, reject_experiments, pause_campaign,
  resume_campaign) file control requests; the running engine applies them at its next step and
  records them in the ledger. Say so; do not claim an action already took effect.
- Only proposed experiments can be approved or rejected, exactly as designed: nobody edits an
  experiment's parameters. Hypothesis predictions must lie inside the campaign's search space.
- If a tool refuses, tell the researcher why, quoting the reason, and what they can do.
- {operator}
Be brief and concrete: ids, values with units."""


class Copilot(Protocol):
    """Answers a researcher's messages, one turn at a time."""

    offline: bool

    def respond(self, text: str) -> Turn:
        """The answer to ``text``, with the tool calls made for it."""
        ...


class LLMCopilot:
    """The tool-calling copilot.

    Args:
        model: A LangChain chat model that supports tool calling (``bind_tools``).
        toolbox: The tools, bound to the store and the session's identity.
        max_steps: Model calls allowed per turn.
        model_name: For error messages (defaults to the model's own name).
        endpoint: For error messages, without credentials.
        timeout_s: For error messages.
    """

    offline = False

    def __init__(
        self,
        model: BaseChatModel,
        toolbox: Toolbox,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        model_name: str | None = None,
        endpoint: str = "",
        timeout_s: float | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self._toolbox = toolbox
        self._bound: Runnable[Any, BaseMessage] = model.bind_tools(toolbox.schemas())
        self._max_steps = max_steps
        self._model_name = model_name or str(
            getattr(model, "model_name", None) or type(model).__name__
        )
        self._endpoint = endpoint
        self._timeout_s = timeout_s
        self._history: list[BaseMessage] = []
        identity = toolbox.actor or "nobody: this session is read-only (acting tools will refuse)"
        self._system = SystemMessage(
            content=SYSTEM_PROMPT.format(
                identity=identity,
                operator="You cannot clear an e-stop, handle leases, release devices or move "
                f"the robot, and you have no tool for it. {OPERATOR_PROCEDURE}",
            )
        )

    def respond(self, text: str) -> Turn:
        """Run the loop for one message.

        Raises:
            ModelError: the model could not be reached or refused the request (nothing of this
                turn is kept in the conversation).
        """
        turn: list[BaseMessage] = [HumanMessage(content=text)]
        calls: list[ToolCall] = []
        for _ in range(self._max_steps):
            answer = self._ask([self._system, *self._history, *turn])
            turn.append(answer)
            requests = _tool_requests(answer)
            if not requests:
                self._remember(turn)
                return Turn(answer.text, calls)
            for call_id, name, args, problem in requests:
                if problem is not None:
                    content = ToolResult(False, problem).for_model()
                else:
                    result = self._toolbox.call(name, args)
                    calls.append(self._toolbox.calls[-1])
                    content = result.for_model()
                turn.append(ToolMessage(content=content, tool_call_id=call_id, name=name))
        self._remember(turn)
        return Turn(
            f"I stopped after {self._max_steps} model calls without a final answer; the tool "
            "results so far are above. Ask again, more narrowly.",
            calls,
        )

    def _ask(self, messages: list[BaseMessage]) -> AIMessage:
        try:
            answer = self._bound.invoke(messages, config={"metadata": {PURPOSE_KEY: PURPOSE}})
        except openai.OpenAIError as exc:
            raise translate_error(
                exc,
                purpose=PURPOSE,
                model=self._model_name,
                endpoint=self._endpoint,
                timeout_s=self._timeout_s,
            ) from exc
        if not isinstance(answer, AIMessage):  # a chat model always answers with one
            return AIMessage(content=str(answer.content))
        return answer

    def _remember(self, turn: list[BaseMessage]) -> None:
        history = [*self._history, *turn]
        if len(history) > HISTORY_MESSAGES:
            # Cut at a researcher's message, so no tool result loses the call it answers.
            starts = [i for i, m in enumerate(history) if isinstance(m, HumanMessage)]
            keep = [i for i in starts if len(history) - i <= HISTORY_MESSAGES]
            history = history[keep[0] :] if keep else turn
        self._history = history


def _tool_requests(answer: AIMessage) -> list[tuple[str, str, dict[str, Any], str | None]]:
    """``(id, name, args, problem)`` of each tool call, valid or not: each needs an answer."""
    requests: list[tuple[str, str, dict[str, Any], str | None]] = [
        (call.get("id") or f"call_{i}", call["name"], dict(call["args"]), None)
        for i, call in enumerate(answer.tool_calls)
    ]
    for i, bad in enumerate(answer.invalid_tool_calls):
        problem = "the arguments are not valid JSON; call the tool again with a JSON object"
        name = bad.get("name") or "unknown"
        requests.append((bad.get("id") or f"invalid_{i}", name, {}, problem))
    return requests


def build_copilot(
    toolbox: Toolbox,
    *,
    settings: LLMSettings | None = None,
    sink: ModelCallSink | None = None,
    model: BaseChatModel | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> Copilot:
    """The LLM copilot if a model is given or configured, else the offline one.

    Raises:
        SpecError: the ``CFL_LLM_*`` settings are malformed or half set.
    """
    if model is None:
        settings = load_llm_settings() if settings is None else settings
        model = make_chat_model(settings, sink=sink)
        if model is None:
            return OfflineCopilot(toolbox)
        return LLMCopilot(
            model,
            toolbox,
            max_steps=max_steps,
            model_name=settings.model,
            endpoint=settings.endpoint,
            timeout_s=settings.timeout_s,
        )
    base_url = getattr(model, "openai_api_base", None)
    endpoint = public_url(base_url) if isinstance(base_url, str) else ""
    return LLMCopilot(model, toolbox, max_steps=max_steps, endpoint=endpoint)
