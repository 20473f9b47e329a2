"""Structured answers over HTTP: how JSON is asked for, how answers are read, how failures read."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from agents.errors import ModelOutputInvalid, ModelRefused, ModelUnavailable
from agents.llm.calls import PURPOSE_KEY, ModelCall
from agents.llm.factory import make_chat_model
from agents.llm.roles import Drafts, Verdict
from agents.llm.settings import LLMSettings, StructuredMethod
from agents.llm.structured import portable_schema, with_schema
from tests.agents.llm.stub_server import Reply, StubServer, json_reply

PROMPT = [("system", "You judge hypotheses."), ("human", "A or B?")]
VERDICT = {"reason": "A explains more of the data", "winner": "A"}
TREND = {
    "type": "trend",
    "objective": "yield",
    "variable": "temperature",
    "sign": 1,
    "low": 40.0,
    "high": 100.0,
}


def chat(settings: LLMSettings, **changes: Any) -> ChatOpenAI:
    model = make_chat_model(settings.model_copy(update=changes))
    assert model is not None
    return model


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _walk(item)]
    if not isinstance(node, dict):
        return []
    return [node, *(found for value in node.values() for found in _walk(value))]


def test_the_schema_sent_is_in_the_portable_subset() -> None:
    schema = portable_schema(Drafts)
    objects = [n for n in _walk(schema) if "properties" in n]
    assert {n.get("title") for n in objects} >= {"Drafts", "DraftOut", "Trend", "Optimum"}
    for node in objects:
        assert node["required"] == list(node["properties"])
        assert node["additionalProperties"] is False
    text = json.dumps(schema)
    assert "oneOf" not in text and "discriminator" not in text and '"default"' not in text
    prediction = schema["$defs"]["DraftOut"]["properties"]["prediction"]
    assert len(prediction["anyOf"]) == 4


def test_json_schema_is_asked_as_response_format(stub: StubServer, settings: LLMSettings) -> None:
    stub.script(json_reply(VERDICT))
    verdict = with_schema(chat(settings), Verdict).invoke(PROMPT)
    assert verdict == Verdict.model_validate(VERDICT)
    (request,) = stub.requests
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Verdict",
            "description": "Which of two hypotheses, A or B, is more worth testing.",
            "schema": portable_schema(Verdict),
        },
    }
    assert "tools" not in request
    assert request["messages"] == [
        {"role": "system", "content": "You judge hypotheses."},
        {"role": "user", "content": "A or B?"},
    ]


def test_function_calling_forces_the_one_tool(stub: StubServer, settings: LLMSettings) -> None:
    stub.script(Reply(tool_calls=(("Verdict", VERDICT),)))
    verdict = with_schema(chat(settings), Verdict, method="function_calling").invoke(PROMPT)
    assert verdict.winner == "A"
    (request,) = stub.requests
    assert request["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Verdict",
                "description": "Which of two hypotheses, A or B, is more worth testing.",
                "parameters": portable_schema(Verdict),
            },
        }
    ]
    assert request["tool_choice"] == {"type": "function", "function": {"name": "Verdict"}}
    assert "response_format" not in request


def test_json_mode_writes_the_schema_into_the_system_message(
    stub: StubServer, settings: LLMSettings
) -> None:
    stub.script(Reply(content="```json\n" + json.dumps(VERDICT) + "\n```"))  # a fence is read
    verdict = with_schema(chat(settings), Verdict, method="json_mode").invoke(PROMPT)
    assert verdict.winner == "A"
    (request,) = stub.requests
    assert request["response_format"] == {"type": "json_object"}
    system = request["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You judge hypotheses.")
    assert json.dumps(portable_schema(Verdict), ensure_ascii=False) in system["content"]
    assert len(request["messages"]) == 2


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_a_tool_call_answer_is_read_whatever_was_asked(
    stub: StubServer, settings: LLMSettings, method: StructuredMethod
) -> None:
    stub.script(Reply(tool_calls=(("Verdict", {**VERDICT, "winner": "B"}),)))
    assert with_schema(chat(settings), Verdict, method=method).invoke(PROMPT).winner == "B"


def test_invalid_json_names_the_problem_and_quotes_the_start(
    stub: StubServer, settings: LLMSettings
) -> None:
    answer = "Sure! Here are my hypotheses:\n1. yield rises\n2. MeCN best\n3.\n4.\n5.\n6. hidden"
    stub.script(Reply(content=answer))
    runnable = with_schema(chat(settings), Drafts)
    with pytest.raises(ModelOutputInvalid) as caught:
        runnable.invoke(PROMPT, {"metadata": {PURPOSE_KEY: "generation"}})
    error = caught.value
    message = str(error)
    assert message.startswith("generation: stub-model did not answer with a valid Drafts: not JSON")
    assert "line 1 column 1" in message
    assert error.output == "Sure! Here are my hypotheses:\n1. yield rises\n2. MeCN best\n3.\n4. ..."
    assert "hidden" not in message
    assert error.errors == ("not JSON (Expecting value at line 1 column 1)",)
    assert (error.purpose, error.model, error.endpoint) == (
        "generation",
        "stub-model",
        stub.base_url,
    )


def test_json_of_the_wrong_shape_lists_the_violations(
    stub: StubServer, settings: LLMSettings
) -> None:
    wrong = {
        "hypotheses": [
            {
                "statement": "Yield rises with temperature.",
                "kind": "effect",
                "prediction": {**TREND, "sign": 2},
                "rationale": "data",
                "author": "agent:me@1",
            }
        ]
    }
    stub.script(json_reply(wrong))
    with pytest.raises(ModelOutputInvalid) as caught:
        with_schema(chat(settings), Drafts).invoke(PROMPT)
    errors = caught.value.errors
    assert "hypotheses.0.prediction.trend.sign: Input should be 1 or -1" in errors
    assert "hypotheses.0.author: Extra inputs are not permitted" in errors
    assert "schema violations: " in str(caught.value)


def test_tool_call_arguments_that_are_not_json(stub: StubServer, settings: LLMSettings) -> None:
    stub.script(Reply(tool_calls=(("Verdict", '{"winner": "A", '),)))
    with pytest.raises(ModelOutputInvalid, match="tool-call arguments are not JSON") as caught:
        with_schema(chat(settings), Verdict, method="function_calling").invoke(PROMPT)
    assert caught.value.output == '{"winner": "A",'


def test_an_answer_cut_off_at_the_token_limit(stub: StubServer, settings: LLMSettings) -> None:
    stub.script(Reply(content='{"reason": "A expl', finish_reason="length"))
    with pytest.raises(ModelOutputInvalid, match="cut off at the token limit"):
        with_schema(chat(settings), Verdict).invoke(PROMPT)


def test_a_timeout_is_model_unavailable_within_the_timeout(
    stub: StubServer, settings: LLMSettings
) -> None:
    calls: list[ModelCall] = []
    model = make_chat_model(settings.model_copy(update={"timeout_s": 0.4}), sink=calls.append)
    assert model is not None
    stub.script(Reply(delay_s=30, content=json.dumps(VERDICT)))
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable) as caught:
        with_schema(model, Verdict).invoke(PROMPT, {"metadata": {PURPOSE_KEY: "ranking"}})
    elapsed = time.perf_counter() - started
    assert 0.4 <= elapsed < 0.4 + 0.6
    assert caught.value.timeout_s == 0.4 and caught.value.retryable
    assert f"ranking: {stub.base_url} did not answer within 0.4 s" in str(caught.value)
    assert "CFL_LLM_TIMEOUT_S" in str(caught.value)
    assert [(c.outcome, c.purpose) for c in calls] == [("error", "ranking")]


def test_an_unreachable_endpoint_is_model_unavailable(settings: LLMSettings) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ModelUnavailable, match=f"cannot reach {url}") as caught:
        with_schema(chat(settings, base_url=url), Verdict).invoke(PROMPT)
    assert caught.value.endpoint == url and caught.value.status is None


@pytest.mark.parametrize(
    ("status", "error", "fix"),
    [
        (401, ModelRefused, "set CFL_LLM_API_KEY"),
        (404, ModelRefused, "set CFL_LLM_MODEL to a model the server serves"),
        (400, ModelRefused, "check CFL_LLM_MODEL and CFL_LLM_STRUCTURED_OUTPUT"),
        (429, ModelUnavailable, "busy or failing (HTTP 429"),
        (502, ModelUnavailable, "busy or failing (HTTP 502"),
    ],
)
def test_http_errors_by_what_the_caller_can_do(
    stub: StubServer,
    settings: LLMSettings,
    status: int,
    error: type[ModelRefused | ModelUnavailable],
    fix: str,
) -> None:
    stub.script(Reply(status=status, error="stub says no"))
    with pytest.raises(error) as caught:
        with_schema(chat(settings), Verdict).invoke(PROMPT)
    assert fix in str(caught.value) and "stub says no" in str(caught.value)
    assert isinstance(caught.value, ModelRefused | ModelUnavailable)
    assert caught.value.status == status
    assert len(stub.requests) == 1  # max_retries=0: asked once
