"""ModelCall records: one per call, with hashes recomputed here from what crossed the wire."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.errors import ModelOutputInvalid, ModelUnavailable
from agents.llm.calls import PURPOSE_KEY, ModelCall
from agents.llm.factory import make_chat_model
from agents.llm.roles import Review, Verdict
from agents.llm.settings import LLMSettings
from agents.llm.structured import with_schema
from tests.agents.llm.stub_server import Reply, StubServer, json_reply

REVIEW = {"notes": "checked the bounds", "novel": True, "testable": True, "safe": True}
PROMPT = [("system", "You review hypotheses."), ("human", "Is this one novel? Ünïcode too.")]


def sha256_canonical(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_one_record_per_call_with_the_hashes_of_what_was_sent_and_received(
    stub: StubServer, settings: LLMSettings, calls: list[ModelCall]
) -> None:
    model = make_chat_model(settings, sink=calls.append)
    assert model is not None
    first = json.dumps(REVIEW)
    second = json.dumps({**REVIEW, "novel": False})
    stub.script(
        Reply(content=first, model="stub-model-2025-01", usage=(321, 17)),
        Reply(content=second),
    )
    before = datetime.now(UTC)
    review = with_schema(model, Review)
    review.invoke(PROMPT, {"metadata": {PURPOSE_KEY: "reflection"}})
    review.invoke([*PROMPT, ("human", "And again.")])

    assert len(calls) == 2 == len(stub.requests)
    one, two = calls
    assert one.prompt_sha256 == sha256_canonical(stub.requests[0]["messages"])
    assert two.prompt_sha256 == sha256_canonical(stub.requests[1]["messages"])
    assert one.prompt_sha256 != two.prompt_sha256
    assert one.output_sha256 == sha256_canonical({"role": "assistant", "content": first})
    assert two.output_sha256 == sha256_canonical({"role": "assistant", "content": second})
    assert (one.purpose, two.purpose) == ("reflection", "unspecified")
    assert one.model == "stub-model-2025-01"  # the server's name for what answered
    assert two.model == "stub-model"
    assert one.endpoint == two.endpoint == stub.base_url
    assert (one.input_tokens, one.output_tokens, one.tokens_counted_by) == (321, 17, "server")
    assert two.tokens_counted_by == "estimate"
    assert two.input_tokens > 10 and two.output_tokens > 5
    assert one.outcome == two.outcome == "ok" and one.error is None
    assert before <= one.started_at <= two.started_at
    assert 0 <= one.duration_s < 5


def test_a_tool_call_answer_is_hashed_by_name_and_parsed_arguments(
    stub: StubServer, calls: list[ModelCall], settings: LLMSettings
) -> None:
    model = make_chat_model(settings, sink=calls.append)
    assert model is not None
    arguments = {"reason": "B covers the data", "winner": "B"}
    stub.script(Reply(content=None, tool_calls=(("Verdict", arguments),)))
    verdict = with_schema(model, Verdict, method="function_calling").invoke("A or B?")
    assert verdict == Verdict(reason="B covers the data", winner="B")
    assert len(calls) == 1
    expected = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"name": "Verdict", "arguments": arguments}],
    }
    assert calls[0].output_sha256 == sha256_canonical(expected)
    assert calls[0].prompt_sha256 == sha256_canonical(stub.requests[0]["messages"])


def test_a_failed_call_is_recorded_once_as_an_error(
    stub: StubServer, calls: list[ModelCall], settings: LLMSettings
) -> None:
    model = make_chat_model(settings, sink=calls.append)
    assert model is not None
    stub.script(Reply(status=503, error="overloaded"))
    with pytest.raises(ModelUnavailable):
        with_schema(model, Review).invoke(PROMPT, {"metadata": {PURPOSE_KEY: "reflection"}})
    assert len(calls) == 1
    (call,) = calls
    assert call.outcome == "error" and call.output_sha256 is None
    assert call.error is not None and "503" in call.error and "overloaded" in call.error
    assert call.prompt_sha256 == sha256_canonical(stub.requests[0]["messages"])
    assert call.purpose == "reflection"


def test_an_invalid_answer_is_still_a_completed_call(
    stub: StubServer, calls: list[ModelCall], settings: LLMSettings
) -> None:
    """The call worked; what it returned is unusable: the record has the output's hash."""
    model = make_chat_model(settings, sink=calls.append)
    assert model is not None
    stub.script(Reply(content="no JSON here"))
    with pytest.raises(ModelOutputInvalid, match="not JSON"):
        with_schema(model, Review).invoke(PROMPT)
    assert [c.outcome for c in calls] == ["ok"]
    assert calls[0].output_sha256 == sha256_canonical(
        {"role": "assistant", "content": "no JSON here"}
    )


def test_a_failing_sink_fails_the_call(stub: StubServer, settings: LLMSettings) -> None:
    """An answer that could not be logged is not used."""

    def sink(call: ModelCall) -> None:
        raise RuntimeError("ledger unavailable")

    model = make_chat_model(settings, sink=sink)
    assert model is not None
    stub.script(json_reply(REVIEW))
    with pytest.raises(RuntimeError, match="ledger unavailable"):
        with_schema(model, Review).invoke(PROMPT)
