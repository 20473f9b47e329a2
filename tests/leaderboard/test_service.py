"""Submissions run by the server, interactive sessions, open problems scored from the ledger."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from cfl.errors import LedgerTampered, SpecError
from cfl.spec import CampaignSpec
from cfl.store import Store
from leaderboard import db
from leaderboard.config import StrategyConfig
from leaderboard.ledger import ProblemLedger
from leaderboard.runs import SEALED_SCORES
from leaderboard.service import MAX_QUEUED, Leaderboard, hash_token
from tests.leaderboard.conftest import observed


def test_tokens_are_kept_only_as_hashes(board: Leaderboard) -> None:
    pid, token = board.register("alice")
    with board.engine.connect() as conn:
        stored = conn.execute(db.participants.select()).first()
    assert stored is not None and stored.token_hash == hash_token(token) != token
    assert board.authenticate(token) == (pid, "alice")
    assert board.authenticate(token + "x") is None
    assert board.authenticate(None) is None
    with pytest.raises(SpecError, match="taken"):
        board.register("alice")


def test_strategy_submission_runs_public_and_private_seeds(board: Leaderboard) -> None:
    board.create_sealed("h1", "branin", budget=6, public_seeds=2, private_seeds=2, seed=5)
    me = board.register("bob")[0], "bob"
    sid = board.submit("h1", me, StrategyConfig(name="rand", strategy="random"))
    board.run_submission(sid)
    sub = board.submission(sid)
    assert sub["status"] == "done", sub["error"]
    assert sub["experiments"] == 4 * 6
    assert sub["regret_low"] <= sub["regret"] <= sub["regret_high"]
    assert sub["p_regret"] is not None
    assert sub["record"].startswith("problem-h1/")
    rows = board.board("h1")
    assert [r.id for r in rows] == [sid]
    assert board.board("h1", split="private") == []  # private split hidden while open
    board.close_problem("h1")
    assert [r.regret for r in board.board("h1", split="private")] == [sub["p_regret"]]


def test_the_problem_ledger_holds_best_found_and_only_a_hash_of_the_sealed_scores(
    board: Leaderboard,
) -> None:
    board.create_sealed("h1", "branin", budget=8, public_seeds=1, private_seeds=1, seed=5)
    me = board.register("erin")[0], "erin"
    config = StrategyConfig(name="short start", strategy="cfl-gp", initial_design=4)
    sid = board.submit("h1", me, config)
    board.run_submission(sid)
    sub = board.submission(sid)
    assert sub["status"] == "done", sub["error"]
    assert StrategyConfig.model_validate_json(sub["config"]).initial_design == 4
    scored = board.ledger.records("h1")[-1]
    assert scored.type == "submission.scored" and scored.id == sub["record"]
    sealed = {k: sub[k] for k in SEALED_SCORES}
    digest = hashlib.sha256(json.dumps(sealed, separators=(",", ":")).encode()).hexdigest()
    assert scored.payload == {
        "submission": sid,
        "best": sub["best"],
        "sealed_sha256": digest,
        "seeds": 2,
        "experiments": 16,
    }
    curve = json.loads(sub["measured_curve"])
    assert len(curve) == 8 and curve[-1] == sub["best"] and curve == sorted(curve, reverse=True)


def test_queue_limit_per_participant(board: Leaderboard) -> None:
    board.create_sealed("h1", "branin", budget=5)
    me = board.register("carol")[0], "carol"
    for _ in range(MAX_QUEUED):
        board.submit("h1", me, StrategyConfig(name="r", strategy="random"))
    with pytest.raises(SpecError, match="limit"):
        board.submit("h1", me, StrategyConfig(name="r", strategy="random"))


def test_session_budget_and_score(board: Leaderboard) -> None:
    board.create_sealed("h1", "branin", budget=3, seed=9)
    me = board.register("dan")[0], "dan"
    session = board.start_session("h1", me, "by hand")
    with pytest.raises(SpecError):
        board.experiment(session["id"], me, {"x1": 2.0, "x2": 0.5})  # outside the unit cube
    for _ in range(3):
        n, _measured, left = board.experiment(session["id"], me, {"x1": 0.5, "x2": 0.5})
    assert (n, left) == (3, 0)
    with pytest.raises(SpecError, match="budget"):
        board.experiment(session["id"], me, {"x1": 0.5, "x2": 0.5})
    (row,) = board.board("h1")
    assert row.kind == "session" and row.experiments == 3
    assert row.regret is None and row.auc is None  # sealed while the problem is open
    lab = board.lab("h1")
    truth = lab.problem.truth({"x1": 0.5, "x2": 0.5}).values["y"]
    stored = board.submission(row.id)
    assert stored["regret"] == pytest.approx(truth - lab.problem.optimum)  # branin: minimise
    assert stored["auc"] == pytest.approx(stored["regret"])  # the same point three times
    board.close_problem("h1")
    (row,) = board.board("h1")
    assert row.regret == pytest.approx(truth - lab.problem.optimum)


def test_open_problem_scored_from_verified_measurements_with_record_ids(
    board: Leaderboard, snar_spec: CampaignSpec
) -> None:
    store: Store = board.cfl_store
    campaign = observed(store, snar_spec, [40.0, 72.5, 61.0])
    board.create_open("real1", campaign=campaign, objective="yield", direction="maximize")
    me = board.register("lab-team")[0], "lab-team"
    sid = board.score_campaign("real1", me, "first campaign")
    (row,) = board.board("real1")
    assert row.id == sid and row.best == 72.5 and row.kind == "lab"
    records = {r.id: r for r in store.records(campaign)}
    assert len(row.evidence) == 3
    best = records[row.evidence[0]]
    assert best.type == "observation.recorded"
    assert best.payload["observation"]["values"]["yield"] == 72.5  # type: ignore[index,call-overload]
    scored = board.ledger.records("real1")[-1]
    assert scored.type == "submission.scored" and scored.payload["evidence"] == row.evidence


def test_chain_appends_retry_when_another_writer_moved_the_head(
    board: Leaderboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    board.create_sealed("h1", "branin", budget=5)
    other = ProblemLedger(board.store)  # as another process would hold
    original = board.store.append
    raced: list[bool] = []

    def racing(records: Any, **kwargs: Any) -> None:
        if not raced:
            raced.append(True)
            other.append("h1", "note", {"n": 1})  # lands between our read and our write
        original(records, **kwargs)

    monkeypatch.setattr(board.store, "append", racing)
    board.ledger.append("h1", "note", {"n": 2})
    assert [r.payload.get("n") for r in board.ledger.records("h1")[-2:]] == [1, 2]
    assert board.verify_problem("h1")["ok"] is True


def test_open_problem_refuses_a_tampered_campaign(
    board: Leaderboard, snar_spec: CampaignSpec
) -> None:
    store: Store = board.cfl_store
    campaign = observed(store, snar_spec, [40.0, 72.5])
    board.create_open("real2", campaign=campaign, objective="yield")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE record SET payload = replace(payload, '72.5', '99.5') "
            f"WHERE campaign_id = '{campaign}'"
        )
    me = board.register("mallory")[0], "mallory"
    with pytest.raises(LedgerTampered):
        board.score_campaign("real2", me, "forged")
    assert board.board("real2") == []
