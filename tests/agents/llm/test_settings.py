"""Settings and the factory: offline with nothing set, a SpecError naming what is missing."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agents.llm.calls import ModelCall
from agents.llm.coscientist import LLMCoScientist
from agents.llm.factory import NO_KEY, make_chat_model
from agents.llm.roles import Verdict
from agents.llm.settings import OFFLINE, LLMSettings, coscientist_status, load_llm_settings
from agents.llm.structured import with_schema
from cfl.errors import SpecError
from cfl.spec import CampaignSpec
from tests.agents.llm.stub_server import StubServer, json_reply


def test_nothing_set_is_offline(spec: CampaignSpec, calls: list[ModelCall]) -> None:
    settings = load_llm_settings()
    assert not settings.configured
    assert make_chat_model(settings) is None
    assert make_chat_model() is None
    assert coscientist_status(settings) == OFFLINE
    assert OFFLINE == "Co-scientist: offline, data-driven (no LLM endpoint is configured)."
    assert LLMCoScientist.from_settings(spec=spec, sink=calls.append) is None


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFL_LLM_BASE_URL", "")
    monkeypatch.setenv("CFL_LLM_MODEL", "")
    assert not load_llm_settings().configured


def test_url_without_model_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFL_LLM_BASE_URL", "http://localhost:8000/v1")
    with pytest.raises(SpecError) as caught:
        load_llm_settings()
    assert caught.value.field == "CFL_LLM_MODEL"
    assert "set CFL_LLM_MODEL" in str(caught.value)
    with pytest.raises(SpecError, match="CFL_LLM_MODEL"):
        make_chat_model()


def test_model_without_url_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFL_LLM_MODEL", "qwen2.5:7b")
    with pytest.raises(SpecError) as caught:
        load_llm_settings()
    assert caught.value.field == "CFL_LLM_BASE_URL"
    assert "http://localhost:11434/v1 (Ollama)" in str(caught.value)


def test_key_without_endpoint_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFL_LLM_API_KEY", "sk-secret-1234")
    with pytest.raises(SpecError) as caught:
        load_llm_settings()
    assert caught.value.field == "CFL_LLM_BASE_URL"
    assert "sk-secret-1234" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CFL_LLM_TIMEOUT_S", "soon", "'soon'"),
        ("CFL_LLM_TIMEOUT_S", "0", "greater than 0"),
        ("CFL_LLM_BASE_URL", "localhost:8000", "not an http(s) URL"),
        ("CFL_LLM_STRUCTURED_OUTPUT", "xml", "'xml'"),
    ],
)
def test_a_malformed_value_is_a_spec_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv("CFL_LLM_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("CFL_LLM_MODEL", "m")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SpecError) as caught:
        load_llm_settings()
    assert caught.value.field == variable
    assert expected in str(caught.value)


def test_the_logged_endpoint_carries_no_credentials() -> None:
    settings = LLMSettings(
        base_url="https://user:secret@gw.example.org:8443/v1/?token=abc#x", model="m"
    )
    assert settings.endpoint == "https://gw.example.org:8443/v1"
    assert "secret" not in coscientist_status(settings)
    assert coscientist_status(settings) == "Co-scientist: LLM m at https://gw.example.org:8443/v1."


def test_the_factory_builds_a_chat_model_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CFL_LLM_BASE_URL", "http://gpu-1:8000/v1/")
    monkeypatch.setenv("CFL_LLM_MODEL", "LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct")
    monkeypatch.setenv("CFL_LLM_API_KEY", "sk-abc")
    monkeypatch.setenv("CFL_LLM_TIMEOUT_S", "12.5")
    monkeypatch.setenv("CFL_LLM_MAX_RETRIES", "2")
    model = make_chat_model()
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct"
    assert model.openai_api_base == "http://gpu-1:8000/v1"
    assert model.request_timeout == 12.5
    assert model.max_retries == 2
    assert model.use_responses_api is False
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == "sk-abc"


def test_without_a_key_a_placeholder_is_sent_never_openai_api_key(
    monkeypatch: pytest.MonkeyPatch, stub: StubServer
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-meant-for-openai")
    model = make_chat_model(LLMSettings(base_url=stub.base_url, model="m", max_retries=0))
    assert model is not None
    stub.script(json_reply({"reason": "r", "winner": "A"}))
    with_schema(model, Verdict).invoke("which?")
    assert stub.headers[0]["authorization"] == f"Bearer {NO_KEY}"
