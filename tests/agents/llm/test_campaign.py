"""The LLM co-scientist in a campaign: every model call in the ledger, a dead model harmless."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cfl.journal import Journal
from cfl.ledger import verify_chain
from cfl.runner import open_or_create, run_campaign
from cfl.spec import load_spec
from cfl.store import Store
from tests.agents.llm.stub_server import Reply, StubServer, json_reply
from tests.conftest import demo_spec_data, write_spec

RISES = {
    "statement": "Yield falls with temperature over 60-120 degC.",
    "kind": "effect",
    "prediction": {
        "type": "trend",
        "objective": "yield",
        "variable": "temperature",
        "sign": -1,
        "low": 60.0,
        "high": 120.0,
    },
    "rationale": "Side products form faster when it is hot.",
}
SECOND = {
    **RISES,
    "statement": "Yield rises with residence time over 0.5-2 min.",
    "prediction": {
        "type": "trend",
        "objective": "yield",
        "variable": "residence_time",
        "sign": 1,
        "low": 0.5,
        "high": 2.0,
    },
}


def _answer(request: dict[str, Any]) -> Reply:
    schema = request["response_format"]["json_schema"]["name"]
    if schema == "Drafts":
        return json_reply({"hypotheses": [RISES, SECOND]})
    if schema == "Review":
        return json_reply({"notes": "fine", "novel": True, "testable": True, "safe": True})
    if schema == "MetaReview":
        return json_reply({"summary": "Heat hurts.", "next_steps": ["Run cooler."]})
    return json_reply({"reason": "it names a mechanism", "winner": "A"})


def _spec(tmp_path: Path, coscientist: str) -> Path:
    data = demo_spec_data()
    data.update(
        name="snar-llm", budget={"experiments": 8}, initial_design=4, coscientist=coscientist
    )
    return write_spec(tmp_path, data)


@pytest.fixture
def endpoint(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> StubServer:
    monkeypatch.setenv("CFL_LLM_BASE_URL", stub.base_url)
    monkeypatch.setenv("CFL_LLM_MODEL", "stub-model")
    monkeypatch.setenv("CFL_LLM_TIMEOUT_S", "2")
    return stub


def test_auto_runs_the_model_and_every_call_is_in_the_ledger(
    tmp_path: Path, store: Store, endpoint: StubServer
) -> None:
    endpoint.always(_answer)
    journal = open_or_create(store, load_spec(_spec(tmp_path, "auto"))).journal
    campaign = run_campaign(journal)
    assert campaign.finished is not None and len(campaign.observations) == 8
    assert [h.author for h in campaign.hypotheses.values()] == ["agent:stub-model@0.1"] * 2
    records = store.records(campaign.id)
    calls = [r for r in records if r.type == "model.called"]
    # generation, two reviews, the newcomer H02 against H01 in both orders; at the end, a review
    assert [r.payload["purpose"] for r in calls] == [
        "generation",
        "reflection",
        "reflection",
        "ranking",
        "ranking",
        "meta-review",
    ]
    assert campaign.review is not None
    assert (campaign.review.summary, campaign.review.next_steps) == (
        "Heat hurts.",
        ("Run cooler.",),
    )
    assert campaign.review.author == "agent:stub-model@0.1"
    assert len(endpoint.requests) == len(calls)
    assert all(r.actor == "agent:stub-model" and r.payload["outcome"] == "ok" for r in calls)
    proposed = [r.seq for r in records if r.type == "hypothesis.proposed"]
    assert max(r.seq for r in calls[:3]) < min(proposed)  # the calls are logged before use
    ranked = next(r for r in records if r.type == "hypotheses.ranked")
    # "A" whatever the order: a draw, so the ratings do not move
    assert ranked.payload["elo"] == {}
    assert verify_chain(records, campaign=campaign.id) == len(records)


def test_a_model_that_is_down_costs_hypotheses_not_the_campaign(
    tmp_path: Path, store: Store, endpoint: StubServer
) -> None:
    endpoint.always(lambda request: Reply(status=503, error="overloaded"))
    journal = open_or_create(store, load_spec(_spec(tmp_path, "llm"))).journal
    campaign = run_campaign(journal)
    assert campaign.finished is not None and len(campaign.observations) == 8
    assert campaign.hypotheses == {}
    calls = [r for r in store.records(campaign.id) if r.type == "model.called"]
    assert calls and all(r.payload["outcome"] == "error" for r in calls)
    assert Journal.open(store, campaign.id).campaign.finished is not None
