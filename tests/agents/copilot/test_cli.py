"""``cfl chat`` as the researcher runs it: one message, or a conversation on standard input."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner, Result

from agents.copilot.calllog import ACTOR, CHAIN
from agents.copilot.offline import OFFLINE_NOTICE
from cfl.cli import _add_plugin_commands, app
from cfl.control import ControlBoard
from cfl.settings import Settings
from cfl.sidechains import SignedChains
from cfl.store import Store
from tests.agents.copilot.conftest import ALICE, CAMPAIGN, Lab
from tests.agents.copilot.stub import MODEL, Stub, serve, text, tool_calls


def chat(*args: str, input: str | None = None) -> Result:
    _add_plugin_commands()  # what `cfl` does at start: mounts `chat` from its entry point
    return CliRunner().invoke(app, ["chat", *args], input=input)


def test_one_message(lab: Lab) -> None:
    result = chat("--message", "best result")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(OFFLINE_NOTICE)
    assert f"at {lab.best}" in result.stdout


def test_a_conversation_on_stdin_without_a_terminal(lab: Lab) -> None:
    script = "status of snar-small-1\n\nexplain H01\nexit\nlist campaigns\n"
    result = chat("--as", "alice", input=script)
    assert result.exit_code == 0, result.output
    assert result.stdout.count(OFFLINE_NOTICE) == 1
    assert "12 done (budget 16)" in result.stdout
    assert f"log10 BF = {lab.h01_log10_bf:.2f}" in result.stdout
    assert "Campaigns, newest first" not in result.stdout  # after `exit`


def test_acting_needs_as_and_records_it(lab: Lab) -> None:
    result = chat("--message", "pause snar-small-1")
    assert result.exit_code == 0 and "cfl chat --as NAME" in result.stdout
    assert ControlBoard(lab.store).history(CAMPAIGN) == []
    result = chat("--as", "alice", "--message", "pause snar-small-1 because lunch")
    assert result.exit_code == 0, result.output
    (request,) = ControlBoard(lab.store).pending(CAMPAIGN)
    assert (request.kind, request.by, request.payload) == ("pause", ALICE, {"note": "lunch"})


@pytest.mark.parametrize("name", ["al ice", "agent:copilot", ""])
def test_a_bad_identity_is_bad_input(lab: Lab, name: str) -> None:
    result = chat("--as", name, "--message", "status")
    assert result.exit_code == 2
    assert "by: control requests are filed by a person" in result.stderr


def test_with_a_model_configured(lab: Lab, stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFL_LLM_BASE_URL", stub.base_url)
    monkeypatch.setenv("CFL_LLM_MODEL", MODEL)
    stub.load([tool_calls(("best_result", {"campaign": CAMPAIGN})), text(f"It is {lab.best}.")])
    result = chat("--as", "alice", "--message", "what is the best so far?")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"It is {lab.best}."
    store = Store.open(f"sqlite:///{Settings().home / 'copilot.db'}")
    records = SignedChains(store).records(CHAIN)
    store.close()
    assert [(r.type, r.actor) for r in records] == [("model.called", ACTOR)] * 2
    calls = [r.payload for r in records]
    assert [(c["purpose"], c["model"], c["outcome"], c["on_behalf_of"]) for c in calls] == [
        ("copilot", MODEL, "ok", "human:alice")
    ] * 2
    assert all(len(str(c["prompt_sha256"])) == 64 for c in calls)
    verified = chat("--verify-log")
    assert verified.exit_code == 0 and "2 records verified" in verified.stdout
    connection = sqlite3.connect(Settings().home / "copilot.db")  # edit the log behind its back
    with connection:
        connection.execute("UPDATE record SET payload = replace(payload, 'copilot', 'x')")
    connection.close()
    tampered = chat("--verify-log")
    assert tampered.exit_code == 3 and "TAMPERED" in tampered.stderr


def test_model_settings_and_failures(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFL_LLM_MODEL", MODEL)
    result = chat("--message", "status")
    assert result.exit_code == 2 and "CFL_LLM_BASE_URL" in result.stderr
    result = chat("--offline", "--message", "status")  # the offline reader needs no settings
    assert result.exit_code == 0 and "12 done" in result.stdout
    with serve([]) as gone:
        url = gone.base_url
    monkeypatch.setenv("CFL_LLM_BASE_URL", url)
    result = chat("--message", "status")
    assert result.exit_code == 1 and f"cannot reach {url}" in result.stderr
    result = chat(input="status\nbest\n")  # in a conversation, a failed turn is not the end
    assert result.exit_code == 0 and result.stderr.count("cannot reach") == 2
