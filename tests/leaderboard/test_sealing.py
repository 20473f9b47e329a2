"""Hidden labs: sealed parameters, the commitment in the ledger before opening, the reveal."""

from __future__ import annotations

import json

import pytest

from cfl.canonical import canonical_json, sha256_hex
from leaderboard import sealing
from leaderboard.service import Leaderboard


@pytest.mark.parametrize("family", sealing.FAMILIES)
def test_hidden_lab_keeps_the_base_optimum_inside_the_unit_cube(family: str) -> None:
    sealed = sealing.seal("p", family, seed=7)
    lab = sealing.build("p", sealed.params)
    assert all(0.0 <= v <= 1.0 for v in lab.optimum_point.values())
    truth = lab.problem.truth(lab.optimum_point).values["y"]
    assert truth == pytest.approx(lab.problem.optimum, rel=1e-6, abs=1e-6)
    assert all(p.low == 0.0 and p.high == 1.0 for p in lab.problem.space.parameters)


def test_same_seed_same_lab_other_seed_other_lab() -> None:
    assert sealing.draw_params("branin", 1) == sealing.draw_params("branin", 1)
    assert sealing.draw_params("branin", 1) != sealing.draw_params("branin", 2)


def test_commitment_is_sha256_of_canonical_json_and_checks_the_reveal() -> None:
    sealed = sealing.seal("p1", "hartmann6", seed=3)
    expected = sha256_hex(
        canonical_json({"problem": "p1", "params": sealed.params, "salt": sealed.salt})
    )
    assert sealed.commitment == expected
    assert sealing.check_reveal("p1", sealed.params, sealed.salt, sealed.commitment)
    forged = dict(sealed.params, scale=float(sealed.params["scale"]) + 1e-9)  # type: ignore[arg-type]
    assert not sealing.check_reveal("p1", forged, sealed.salt, sealed.commitment)
    assert not sealing.check_reveal("p1", sealed.params, "00" * 32, sealed.commitment)
    assert not sealing.check_reveal("p2", sealed.params, sealed.salt, sealed.commitment)


def test_commitment_is_in_the_ledger_before_opening_and_the_reveal_matches(
    board: Leaderboard,
) -> None:
    commitment = board.create_sealed("h1", "branin", budget=5, public_seeds=2, private_seeds=1)
    records = board.ledger.records("h1")
    assert [r.type for r in records] == ["problem.sealed", "problem.opened"]
    assert records[0].payload["commitment"] == commitment
    assert "window_start" not in json.dumps(records[0].payload)
    assert board.verify_problem("h1")["ok"] is True
    assert board.close_problem("h1") is True
    records = board.ledger.records("h1")
    assert [r.type for r in records][-2:] == ["problem.closed", "problem.revealed"]
    reveal = records[-1].payload
    assert reveal["matches"] is True
    assert sealing.check_reveal("h1", reveal["params"], reveal["salt"], commitment)  # type: ignore[arg-type]
    checked = board.verify_problem("h1")
    assert checked["ok"] and checked["reveal_matches"] and checked["records"] == 4


def test_tampered_problem_chain_fails_verification(board: Leaderboard) -> None:
    board.create_sealed("h2", "branin", budget=5)
    with board.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE record SET payload = replace(payload, '\"budget\":5', '\"budget\":6') "
            "WHERE campaign_id = 'problem-h2' AND seq = 1"
        )
    assert board.verify_problem("h2")["ok"] is False
