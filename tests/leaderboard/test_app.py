"""The web app: every route, escaping, sorting, limits, the experiment API, dashboards and chat."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from cfl.spec import CampaignSpec
from leaderboard.app import create_app
from leaderboard.config import StrategyConfig
from leaderboard.security import Limits, RateLimiter
from leaderboard.service import Leaderboard
from tests.leaderboard.conftest import observed

XSS = "<script>alert('x')</script>"


@pytest.fixture
def world(board: Leaderboard, snar_spec: CampaignSpec) -> dict[str, Any]:
    """A sealed open problem with scored entries and a session, an open problem, a campaign."""
    board.create_sealed("h1", "branin", budget=6, public_seeds=2, private_seeds=2, seed=11)
    alice = board.register(XSS)
    bob = board.register("bob")
    me = (alice[0], XSS)
    first = board.submit("h1", me, StrategyConfig(name=f"entry {XSS}", strategy="random"))
    board.run_submission(first)
    second = board.submit("h1", (bob[0], "bob"), StrategyConfig(name="bob-rs", strategy="random"))
    board.run_submission(second)
    session = board.start_session("h1", (bob[0], "bob"), "bob-session")
    board.experiment(session["id"], (bob[0], "bob"), {"x1": 0.2, "x2": 0.9})
    campaign = observed(board.cfl_store, snar_spec, [50.0, 65.0])
    board.create_open("real1", campaign=campaign, objective="yield")
    board.score_campaign("real1", (bob[0], "bob"), "lab run")
    return {
        "alice": alice[1],
        "bob": bob[1],
        "session": session["id"],
        "campaign": campaign,
        "submission": first,
    }


@pytest.fixture
def client(board: Leaderboard) -> Iterator[TestClient]:
    with TestClient(create_app(board, worker=False)) as c:
        yield c


def _secrets(board: Leaderboard, problem_id: str) -> list[str]:
    """Strings that would give the sealed answer away."""
    secret = board._secret(problem_id)
    lab = board.lab(problem_id)
    found = [secret["salt"], str(secret["noise"]), "window_start", "optimum_point"]
    found.append(secret["params"]["family"])  # which base problem is secret too
    for value in secret["params"].values():
        values = value if isinstance(value, list) else [value]
        found += [repr(v) for v in values if isinstance(v, float)]
    for value in lab.optimum_point.values():
        found += [repr(value), f"{value:.6f}", f"{value:.4g}"]
    found += [repr(lab.problem.optimum), f"{lab.problem.optimum:.4g}"]
    return [s for s in found if len(s) >= 5]


def _truth_scores(board: Leaderboard, problem_id: str) -> list[str]:
    """Scores computed from the sealed truth: with best found they would give the optimum away."""
    found = []
    for row in board.board(problem_id):
        scored = board.submission(row.id)
        for column in ("regret", "regret_low", "regret_high", "auc", "p_regret", "p_auc"):
            value = scored[column]
            if value is not None:
                found += [repr(value), f"{value:.4g}", f"{value:.6f}"]
    return [s for s in found if len(s) >= 4]


def _leaks(secret: str, text: str) -> bool:
    """Whether ``text`` shows ``secret``; a number only where it starts a number of its own.

    ``4.688`` (a regret to 4 significant digits) must be caught in ``4.68812`` but not in the
    timestamp ``12:58:34.688212`` that a page happened to show.
    """
    if not re.fullmatch(r"-?\d[\d.e+-]*", secret):
        return secret in text
    return re.search(r"(?<![\d.])" + re.escape(secret), text) is not None


def _fill(path: str, world: dict[str, Any], problem: str) -> str:
    return (
        path.replace("{problem_id}", problem)
        .replace("{submission_id}", str(world["submission"]))
        .replace("{campaign_id}", world["campaign"])
        .replace("{session_id}", world["session"])
    )


_BODIES: dict[str, list[Any]] = {
    "/api/participants": [{"name": "carol"}],
    "/api/problems/{problem_id}/submissions": [{"name": "n", "strategy": "random"}],
    "/api/problems/{problem_id}/sessions": [{"name": "s"}],
    "/api/problems/{problem_id}/sessions/{session_id}/experiments": [
        {"params": {"x1": 0.5, "x2": 0.5}}
    ],
    "/api/problems/{problem_id}/sessions/{session_id}/finish": [None],
}
_FORMS: dict[str, dict[str, str]] = {
    "/submit": {"problem": "h1", "name": "form", "strategy": "random", "batch": "1"},
    "/register": {"name": "dave"},
    "/chat": {"message": "best result"},
}


def test_no_route_reveals_a_sealed_answer_before_the_reveal(
    board: Leaderboard, client: TestClient, world: dict[str, Any]
) -> None:
    scores = _truth_scores(board, "h1")
    assert len(scores) >= 12  # two scored entries
    secrets = _secrets(board, "h1") + scores
    app_routes = client.app.routes  # type: ignore[attr-defined]
    routes = [r for r in app_routes if isinstance(r, Route)]  # FastAPI's and Starlette's alike
    assert len(routes) == len(app_routes) >= 28  # nothing mounted that escapes the loop
    assert any(not isinstance(r, APIRoute) for r in routes)  # e.g. /api/openapi.json
    seen = 0
    for route in routes:
        for problem in ("h1", "real1"):
            path = _fill(route.path, world, problem)
            for method in sorted(route.methods or ()):
                if method == "HEAD":
                    continue
                responses = []
                if method == "GET":
                    responses.append(client.get(path))
                    responses.append(client.get(path, params={"split": "private", "sort": "best"}))
                elif route.path in _FORMS:
                    form = dict(_FORMS[route.path], token=world["bob"])
                    responses.append(client.post(path, data=form))
                else:
                    for body in _BODIES[route.path]:
                        for token in (world["bob"], "wrong"):
                            responses.append(
                                client.post(
                                    path, json=body, headers={"Authorization": f"Bearer {token}"}
                                )
                            )
                for response in responses:
                    seen += 1
                    assert response.status_code < 500, (method, path, response.text[:300])
                    for secret in secrets:
                        assert not _leaks(secret, response.text), (method, path, secret)
    assert seen > 80
    # and after the reveal, the problem page shows it, and ranks by regret on the truth
    board.close_problem("h1")
    page = client.get("/problems/h1").text
    assert "matches" in page and repr(board.lab("h1").problem.optimum) in page
    rows = client.get("/api/problems/h1/leaderboard").json()
    assert rows and all(r["regret"] is not None for r in rows)
    assert f"{rows[0]['regret']:.4g}" in page and 'data-sort="regret"' in page
    one = client.get(f"/api/submissions/{world['submission']}").json()
    assert one["regret"] == board.submission(world["submission"])["regret"]
    assert one["p_regret"] == board.submission(world["submission"])["p_regret"] is not None


def test_the_leak_check_finds_numbers_not_digits_inside_other_numbers() -> None:
    assert _leaks("4.688", "regret 4.68812") and _leaks("-3.322", "<td>-3.32237</td>")
    assert not _leaks("4.688", "created 2026-11-24 12:58:34.688212+00:00")
    assert not _leaks("0.1234", "x = 10.1234") and _leaks("a1f0c9", "salt a1f0c9e")


def test_html_is_escaped(client: TestClient, world: dict[str, Any]) -> None:
    page = client.get("/problems/h1").text
    assert XSS not in page
    assert "&lt;script&gt;" in page
    for path in ("/submissions/1", "/problems/h1?q=%3Cscript%3E"):
        assert "<script>" not in client.get(path).text
    chat = client.post("/chat", data={"message": XSS}).text
    assert XSS not in chat and "&lt;script&gt;" in chat


def test_sort_and_filter_by_query_parameters(client: TestClient, world: dict[str, Any]) -> None:
    def names(**params: str) -> list[str]:
        rows = client.get("/api/problems/h1/leaderboard", params=params).json()
        return [r["name"] for r in rows]

    ascending = names(sort="name")
    assert ascending == sorted(ascending, key=str.lower)
    assert names(sort="name", order="desc") == ascending[::-1]
    assert names(kind="session") == ["bob-session"] or names(kind="session") == []
    assert names(q="bob") and all("bob" in n for n in names(q="bob"))
    html = client.get("/problems/h1", params={"sort": "name", "order": "desc"}).text
    order = [html.index(n) for n in ["entry &lt;script&gt;", "bob-rs"]]
    assert order == sorted(order)
    assert 'data-sort="best"' in html and 'data-sort="regret"' not in html  # sealed while open
    assert client.get("/problems/h1", params={"sort": "nonsense"}).status_code == 400


def test_experiment_api_returns_measurements_only_within_budget(
    client: TestClient, world: dict[str, Any]
) -> None:
    auth = {"Authorization": f"Bearer {world['alice']}"}
    started = client.post("/api/problems/h1/sessions", json={"name": "api"}, headers=auth)
    assert started.status_code == 201, started.text
    sid, budget = started.json()["session"], started.json()["budget"]
    url = f"/api/problems/h1/sessions/{sid}/experiments"
    for i in range(budget):
        r = client.post(url, json={"params": {"x1": 0.1 * i, "x2": 0.5}}, headers=auth)
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"n", "measured", "remaining"}
    over = client.post(url, json={"params": {"x1": 0.1, "x2": 0.5}}, headers=auth)
    assert over.status_code == 400 and "budget" in over.text
    assert client.post(url, json={"params": {"x1": 0.1}}, headers={}).status_code == 401
    other = {"Authorization": f"Bearer {world['bob']}"}
    assert (
        client.post(url, json={"params": {"x1": 0.1, "x2": 0.5}}, headers=other).status_code == 404
    )


def test_configs_are_validated_and_bodies_limited(
    client: TestClient, world: dict[str, Any]
) -> None:
    auth = {"Authorization": f"Bearer {world['alice']}"}
    url = "/api/problems/h1/submissions"
    code = {"name": "x", "strategy": "random", "code": "import os; os.system('rm -rf /')"}
    assert client.post(url, json=code, headers=auth).status_code == 422
    unknown = {"name": "x", "strategy": "__import__('os')"}
    assert client.post(url, json=unknown, headers=auth).status_code == 422
    assert (
        client.post(
            url, json={"name": "x", "strategy": "random", "batch": 99}, headers=auth
        ).status_code
        == 422
    )
    huge = {"name": "x" * 20_000, "strategy": "random"}
    assert client.post(url, json=huge, headers=auth).status_code == 413
    assert client.post(url, json={"name": "x", "strategy": "random"}).status_code == 401


def test_rate_limit_per_token(board: Leaderboard, world: dict[str, Any]) -> None:
    limits = Limits()
    limits.experiments = RateLimiter(3, 0.001)
    with TestClient(create_app(board, worker=False, limits=limits)) as c:
        auth = {"Authorization": f"Bearer {world['bob']}"}
        url = f"/api/problems/h1/sessions/{world['session']}/experiments"
        codes = [
            c.post(url, json={"params": {"x1": 0.5, "x2": 0.5}}, headers=auth).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        refused = c.post(url, json={"params": {"x1": 0.5, "x2": 0.5}}, headers=auth)
        assert int(refused.headers["Retry-After"]) >= 1
        alice = {"Authorization": f"Bearer {world['alice']}"}
        s = c.post("/api/problems/h1/sessions", json={}, headers=alice).json()["session"]
        ok = c.post(
            f"/api/problems/h1/sessions/{s}/experiments",
            json={"params": {"x1": 0.5, "x2": 0.5}},
            headers=alice,
        )
        assert ok.status_code == 200  # another token has its own bucket


def test_token_bucket_refills() -> None:
    now = [0.0]
    bucket = RateLimiter(2, 1.0, clock=lambda: now[0])
    assert [bucket.take("k"), bucket.take("k")] == [0.0, 0.0]
    assert bucket.take("k") == pytest.approx(1.0)
    now[0] = 1.0
    assert bucket.take("k") == 0.0


def test_form_submission_then_new_row_via_the_worker(
    board: Leaderboard, world: dict[str, Any]
) -> None:
    with TestClient(create_app(board, worker=True)) as c:
        r = c.post(
            "/submit",
            data={
                "problem": "h1",
                "token": world["bob"],
                "name": "via-form",
                "strategy": "random",
                "batch": "2",
                "initial_design": "4",
                "budget": "5",
            },
        )
        assert r.status_code == 200 and "queued" in r.text
        too_big = dict(problem="h1", token=world["bob"], name="x", strategy="random")
        refused = c.post("/submit", data={**too_big, "initial_design": "61"})
        assert refused.status_code == 400 and "initial_design" in refused.text
        bad = c.post(
            "/submit", data={"problem": "h1", "token": "nope", "name": "x", "strategy": "random"}
        )
        assert bad.status_code == 401
        deadline = time.monotonic() + 30
        while "via-form" not in c.get("/problems/h1").text:
            assert time.monotonic() < deadline, "the worker did not score the submission"
            time.sleep(0.2)
        (row,) = [r for r in board.board("h1") if r.name == "via-form"]
        config = json.loads(board.submission(row.id)["config"])
        assert (config["initial_design"], config["budget"], config["batch"]) == (4, 5, 2)
        assert row.experiments == 4 * 5  # four seeds of five experiments


def test_campaign_dashboard_verify_and_chat(client: TestClient, world: dict[str, Any]) -> None:
    campaign = world["campaign"]
    listing = client.get("/campaigns").text
    assert campaign in listing
    page = client.get(f"/campaigns/{campaign}").text
    assert "Hypotheses" in page and "Devices" in page and "done 2" in page.replace("\n", " ")
    assert (
        client.get(f"/campaigns/{campaign}/progress.svg")
        .headers["content-type"]
        .startswith("image/svg")
    )
    verify = client.get(f"/campaigns/{campaign}/verify").text
    assert "Verified." in verify
    ledger = client.get("/problems/h1/ledger").text
    assert "Verified." in ledger and "problem.sealed" in ledger
    reply = client.post("/chat", data={"message": "list campaigns"}).text
    assert campaign in reply
    open_board = client.get("/problems/real1").text
    assert "lab run" in open_board and f"{campaign}/" in client.get("/api/submissions/3").text


def test_plots_are_svg(client: TestClient, world: dict[str, Any]) -> None:
    for name in ("convergence", "budget"):
        r = client.get(f"/problems/h1/{name}.svg")
        assert (
            r.status_code == 200 and r.text.startswith("<svg") and "polyline" in r.text
        ) or "circle" in r.text


def test_open_api_lists_problems_without_secrets(client: TestClient, world: dict[str, Any]) -> None:
    cards = {p["id"]: p for p in client.get("/api/problems").json()}
    assert set(cards) == {"h1", "real1"}
    one = client.get("/api/problems/h1").json()
    assert one["commitment"] and "secret" not in one and one["revealed"] is None
    assert json.dumps(one).count("window") == 0
