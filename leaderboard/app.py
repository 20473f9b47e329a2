"""The leaderboard web app (FastAPI): boards, submissions, the experiment API, dashboards, chat.

Pages are server-rendered Jinja2 (autoescaped) with server-rendered SVG plots, so everything
works without JavaScript and without a build step; sorting and filtering are query parameters.
:func:`create_app` builds the app around a :class:`~leaderboard.service.Leaderboard`; ``cfl web``
serves it with uvicorn.

No route returns a sealed problem's secret: pages and the API read problems through
:meth:`Leaderboard.problem` (which leaves the secret column out) and show only scores; the reveal
(parameters, salt, optimum) is shown once the problem is closed.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from benchmarks import strategies
from cfl.errors import CFLError, LedgerTampered, NotFound, SpecError
from cfl.journal import load_campaign
from cfl.keys import Keyring, TrustedKeys
from cfl.models import ExperimentStatus
from cfl.verify import report_lines, verify_log
from leaderboard import plots
from leaderboard.boards import SORTS, BoardRow, truth_sealed
from leaderboard.config import (
    MAX_BODY,
    ExperimentRequest,
    RegisterRequest,
    SessionRequest,
    StrategyConfig,
)
from leaderboard.security import Limits, retry_after
from leaderboard.service import Leaderboard
from leaderboard.templates import environment

__all__ = ["BodyLimit", "PageCache", "PageStore", "Worker", "create_app", "page_key"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_COLUMNS_SEALED = (
    ("rank", "Rank"),
    ("name", "Entry"),
    ("participant", "Participant"),
    ("kind", "Kind"),
    ("strategy", "Strategy"),
    ("regret", "Regret [95 % CI]"),
    ("auc", "AUC"),
    ("best", "Best found"),
    ("experiments", "Experiments"),
    ("wall_s", "Wall time (s)"),
)
_COLUMNS_OPEN = tuple(c for c in _COLUMNS_SEALED if c[0] not in ("regret", "auc"))
_PAGE_CACHE_SIZE = 4096


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _too_large(send: Send) -> None:
    body = json.dumps({"detail": f"request body over {MAX_BODY} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class PageCache:
    """ASGI middleware: answer ``GET /problems/<id>`` from the page cache without routing.

    The route renders a page and stores it under :func:`page_key`; this layer answers the next
    identical request straight from memory (the problem's version read from memory too, see
    :meth:`Leaderboard.cached_version`), which skips FastAPI's routing and parameter handling:
    the leaderboard page is the hot path. Anything else, or a miss, goes to the app.
    """

    def __init__(self, app: ASGIApp, board: Leaderboard, cache: PageStore) -> None:
        self.app, self.board, self.cache = app, board, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "GET" and path.startswith("/problems/"):
            problem_id = path[len("/problems/") :]
            if problem_id and "/" not in problem_id:
                query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode()))
                try:
                    version = self.board.cached_version(problem_id)
                except CFLError:
                    version = -1
                if version >= 0:
                    body = self.cache.get(page_key(problem_id, version, query))
                    if body is not None:
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                "headers": [
                                    (b"content-type", b"text/html; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode()),
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
        await self.app(scope, receive, send)


class PageStore:
    """Rendered pages by key, least recently stored dropped first (thread-safe)."""

    def __init__(self, size: int = _PAGE_CACHE_SIZE) -> None:
        self._pages: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        return self._pages.get(key)

    def put(self, key: tuple[Any, ...], body: bytes) -> None:
        with self._lock:
            self._pages[key] = body
            while len(self._pages) > self._size:
                self._pages.popitem(last=False)


def page_key(problem_id: str, version: int, query: dict[str, str]) -> tuple[Any, ...]:
    """The cache key of a problem page for its query parameters (defaults filled in)."""
    return (
        problem_id,
        version,
        query.get("split", "public"),
        query.get("kind", ""),
        query.get("q", "")[:80],
        query.get("sort", "rank"),
        query.get("order", "asc"),
    )


def _run_elsewhere(url: str, cfl_store_url: str | None, submission_id: int) -> None:
    """Run one submission in a worker process (its own connections)."""
    board = Leaderboard(url, cfl_store_url=cfl_store_url)
    try:
        board.run_submission(submission_id)
    finally:
        board.close()


class Worker:
    """Runs queued strategy submissions one at a time, from a background thread.

    With ``process=True`` each run happens in a separate process (one at a time), so a CPU-heavy
    strategy does not hold the web server's interpreter; the board sees the new score within
    :data:`leaderboard.service.VERSION_TTL_S`.
    """

    def __init__(self, board: Leaderboard, *, poll_s: float = 0.5, process: bool = False) -> None:
        self.board, self.poll_s, self.process = board, poll_s, process
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="leaderboard-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        pool = None
        if self.process:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            while not self._stop.is_set():
                for submission_id in self.board.queued():
                    if self._stop.is_set():
                        return
                    if pool is None:
                        self.board.run_submission(submission_id)
                    else:
                        args = (self.board.url, self.board.cfl_store_url, submission_id)
                        pool.submit(_run_elsewhere, *args).result()
                self._wake.wait(self.poll_s)
                self._wake.clear()
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"request body over {MAX_BODY} bytes")
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {k: v[0] for k, v in parsed.items()}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(
    board: Leaderboard,
    *,
    worker: bool = True,
    worker_process: bool = False,
    keys: Keyring | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """The web app around ``board``.

    Args:
        worker: Run queued submissions (from a background thread).
        worker_process: Run each in a separate process (``cfl web`` does).
        keys: Keys the campaign verification page trusts (default: ``CFL_HOME``'s).
        limits: Rate limits (default: :class:`~leaderboard.security.Limits`).
    """
    templates = environment()
    templates.globals["fmt"] = _fmt
    limiter = limits or Limits()
    runner = Worker(board, process=worker_process) if worker else None
    pages = PageStore()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    app = FastAPI(
        title="CFL leaderboard",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.board = board
    app.state.worker = runner

    def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("title", "Leaderboard")
        context.setdefault("refresh", None)
        return HTMLResponse(templates.get_template(name).render(**context), status_code)

    def limit(limiter_: Any, key: str) -> None:
        wait = limiter_.take(key)
        if wait:
            raise HTTPException(429, "rate limit", headers={"Retry-After": retry_after(wait)})

    def participant(request: Request, token: str | None = None) -> tuple[int, str]:
        found = board.authenticate(token if token is not None else _bearer(request))
        if found is None:
            raise HTTPException(401, "a valid API token is needed (Authorization: Bearer TOKEN)")
        return found

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, 404)
        return render("error.html", 404, status="Not found", message=str(exc))

    @app.exception_handler(SpecError)
    async def _bad_input(request: Request, exc: SpecError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, 400)
        return render("error.html", 400, status="Bad request", message=str(exc))

    # --- pages ------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def index(status: str = "", kind: str = "") -> HTMLResponse:
        problems = board.problems(status=status or None, kind=kind or None)
        return render("index.html", problems=problems, status=status, kind=kind, title="Problems")

    @app.get("/problems/{problem_id}", response_class=HTMLResponse)
    async def problem_page(
        problem_id: str,
        split: str = "public",
        kind: str = "",
        q: str = "",
        sort: str = "rank",
        order: str = "asc",
    ) -> HTMLResponse:
        # The hot path: a cached page is served from memory on the event loop; a page not
        # cached is rendered in the thread pool (it reads the database).
        if split not in ("public", "private") or sort not in SORTS or order not in ("asc", "desc"):
            raise SpecError(f"split public|private, sort one of {', '.join(SORTS)}, order asc|desc")
        version = board.cached_version(problem_id)
        query = {"split": split, "kind": kind, "q": q, "sort": sort, "order": order}
        key = page_key(problem_id, version, query)
        body = pages.get(key)
        if body is None:
            html = await run_in_threadpool(
                _problem_html, problem_id, split, kind, q[:80], sort, order
            )
            body = html.encode("utf-8")
            pages.put(key, body)
        return HTMLResponse(body)

    def _problem_html(problem_id: str, split: str, kind: str, q: str, sort: str, order: str) -> str:
        problem = board.problem(problem_id)
        rows = board.board(
            problem_id,
            split="private" if split == "private" else "public",
            kind=kind or None,
            participant=q or None,
            sort=sort,
            descending=order == "desc",
        )
        show_truth = problem["kind"] == "sealed" and not truth_sealed(problem)
        columns = _COLUMNS_SEALED if show_truth else _COLUMNS_OPEN
        links = {}
        for column, _ in columns:
            next_order = "desc" if sort == column and order == "asc" else "asc"
            query = urllib.parse.urlencode(
                {"split": split, "kind": kind, "q": q, "sort": column, "order": next_order}
            )
            links[column] = f"/problems/{problem_id}?{query}"
        revealed = json.loads(problem["revealed"]) if problem["revealed"] else None
        reveal_ok = False
        if revealed is not None:
            reveal_ok = bool(board.verify_problem(problem_id).get("reveal_matches"))
        return templates.get_template("problem.html").render(
            title=problem["title"],
            refresh=None,
            problem=problem,
            card=json.loads(problem["card"]),
            rows=rows,
            columns=columns,
            sort_links=links,
            split=split,
            kind=kind,
            q=q,
            sort=sort,
            order=order,
            revealed=revealed,
            reveal_ok=reveal_ok,
            show_truth=show_truth,
        )

    @app.get("/problems/{problem_id}/convergence.svg")
    def convergence_svg(problem_id: str) -> Response:
        label, curves = board.curves(problem_id)
        svg = plots.line_chart(
            curves,
            title=f"{problem_id}: mean {label} (public seeds)",
            xlabel="experiments",
            ylabel=label,
        )
        return Response(svg, media_type="image/svg+xml")

    @app.get("/problems/{problem_id}/budget.svg")
    def budget_svg(problem_id: str) -> Response:
        # Regret once the truth may show; the best measured value while it is sealed.
        score = "best" if truth_sealed(board.problem(problem_id)) else "regret"
        label = "best found" if score == "best" else "final regret"
        seeds = max(1, _seeds(problem_id))
        points = [
            (r.name, (r.experiments or 0) / seeds, getattr(r, score))
            for r in board.board(problem_id)
            if r.kind == "strategy"
        ]
        svg = plots.scatter_chart(
            [(n, float(x), float(y)) for n, x, y in points if y is not None],
            title=f"{problem_id}: {label} against budget",
            xlabel="experiments per seed",
            ylabel=label,
        )
        return Response(svg, media_type="image/svg+xml")

    def _seeds(problem_id: str) -> int:
        p = board.problem(problem_id)
        return int(p["public_seeds"]) + int(p["private_seeds"])

    @app.get("/problems/{problem_id}/ledger", response_class=HTMLResponse)
    def problem_ledger(problem_id: str) -> HTMLResponse:
        result = board.verify_problem(problem_id)
        lines = [f"commitment: {result['commitment']}"]
        if result["ok"]:
            lines.append(f"chain problem-{problem_id}: {result['records']} records verified")
        else:
            lines.append(f"chain problem-{problem_id}: {result['error']}")
        if "reveal_matches" in result:
            lines.append(f"reveal matches the commitment: {result['reveal_matches']}")
        return render(
            "verify.html",
            title=f"Ledger of {problem_id}",
            subject=f"problem {problem_id}",
            ok=result["ok"],
            lines=lines,
            records=board.ledger.records(problem_id),
        )

    @app.get("/submit", response_class=HTMLResponse)
    def submit_form(problem: str = "") -> HTMLResponse:
        return _submit_page(problem)

    @app.get("/problems/{problem_id}/submit", response_class=HTMLResponse)
    def submit_form_for(problem_id: str) -> HTMLResponse:
        board.problem(problem_id)
        return _submit_page(problem_id)

    def _submit_page(
        problem_id: str, *, error: str = "", done: int | None = None, status: int = 200
    ) -> HTMLResponse:
        problems = board.problems(status="open", kind="sealed")
        return render(
            "submit.html",
            status,
            title="Submit",
            problems=problems,
            problem_id=problem_id,
            strategies=[s for s in strategies.names() if strategies.unavailable(s) is None],
            initial_design=strategies.INITIAL_DESIGN,
            error=error,
            done=done,
        )

    @app.post("/submit", response_class=HTMLResponse)
    async def submit_post(request: Request) -> HTMLResponse:
        form = await _form(request)
        problem_id = form.get("problem", "")
        found = board.authenticate(form.get("token"))
        if found is None:
            limit(limiter.anonymous, _client(request))
            return _submit_page(problem_id, error="That API token is not valid.", status=401)
        limit(limiter.submissions, f"p{found[0]}")
        try:
            config = StrategyConfig(
                name=form.get("name", ""),
                strategy=form.get("strategy", ""),
                batch=int(form.get("batch") or 1),
                budget=int(form["budget"]) if form.get("budget") else None,
                initial_design=int(form.get("initial_design") or strategies.INITIAL_DESIGN),
            )
            submission_id = board.submit(problem_id, found, config)
        except (ValidationError, ValueError) as exc:
            return _submit_page(problem_id, error=f"Invalid submission: {exc}", status=400)
        except CFLError as exc:
            return _submit_page(problem_id, error=str(exc), status=400)
        if runner is not None:
            runner.wake()
        return _submit_page(problem_id, done=submission_id)

    @app.get("/register", response_class=HTMLResponse)
    def register_form() -> HTMLResponse:
        return render("register.html", title="Register", token=None, error="")

    @app.post("/register", response_class=HTMLResponse)
    async def register_post(request: Request) -> HTMLResponse:
        limit(limiter.anonymous, _client(request))
        form = await _form(request)
        try:
            _, token = board.register(form.get("name", ""))
        except SpecError as exc:
            return render("register.html", 400, title="Register", token=None, error=str(exc))
        return render("register.html", title="Register", token=token, error="")

    @app.get("/submissions/{submission_id}", response_class=HTMLResponse)
    def submission_page(submission_id: int) -> HTMLResponse:
        s = board.submission(submission_id)
        problem = board.problem(s["problem_id"])
        evidence = json.loads(s["evidence"]) if s["evidence"] else []
        return render(
            "submission.html",
            title=f"Submission {submission_id}",
            s=s,
            private=problem["status"] == "closed",
            truth=problem["kind"] == "sealed" and not truth_sealed(problem),
            sealed=truth_sealed(problem),
            evidence=evidence,
            refresh=5 if s["status"] in ("queued", "running") else None,
        )

    @app.get("/campaigns", response_class=HTMLResponse)
    def campaigns_page() -> HTMLResponse:
        return render("campaigns.html", title="Campaigns", campaigns=board.cfl_store.campaigns())

    @app.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
    def campaign_page(campaign_id: str) -> HTMLResponse:
        try:
            campaign = load_campaign(board.cfl_store, campaign_id)
        except LedgerTampered as exc:
            return render("error.html", 409, status="Ledger does not verify", message=str(exc))
        statuses = Counter(e.status.value for e in campaign.experiments.values())
        order = [s.value for s in ExperimentStatus]
        devices = []
        for name in sorted(campaign.spec.lab.devices):
            if name in campaign.quarantined:
                state, detail = "quarantined", campaign.quarantined[name]
            elif name in campaign.offline:
                state, detail = "offline", ""
            elif name in campaign.device_faults:
                state, detail = "fault", campaign.device_faults[name]
            elif name in campaign.busy_devices:
                state, detail = "busy", f"running {campaign.busy_devices[name]}"
            else:
                state, detail = "idle", ""
            devices.append({"name": name, "state": state, "detail": detail})
        return render(
            "campaign.html",
            title=f"Campaign {campaign_id}",
            refresh=None if campaign.finished else 10,
            c=campaign,
            statuses=[(s, statuses[s]) for s in order if statuses[s]],
            hypotheses=sorted(campaign.hypotheses.values(), key=lambda h: h.id),
            devices=devices,
        )

    @app.get("/campaigns/{campaign_id}/progress.svg")
    def campaign_progress(campaign_id: str) -> Response:
        campaign = load_campaign(board.cfl_store, campaign_id)
        best = [b for b in campaign.best_scores if b is not None]
        svg = plots.line_chart(
            [("best score", best)] if best else [],
            title=f"{campaign_id}: best score after each round",
            xlabel="round",
            ylabel="score",
        )
        return Response(svg, media_type="image/svg+xml")

    @app.get("/campaigns/{campaign_id}/verify", response_class=HTMLResponse)
    def campaign_verify(campaign_id: str) -> HTMLResponse:
        snapshot = board.cfl_store.snapshot(campaign_id)
        trusted = TrustedKeys((keys or Keyring.default()).public_keys())
        try:
            report = verify_log(
                campaign_id,
                snapshot.rows,
                snapshot.heads,
                trusted,
                head=(snapshot.info.head_seq, snapshot.info.head_hash),
                workers=1,
            )
            ok, lines = True, report_lines(report)
        except LedgerTampered as exc:
            ok, lines = False, [str(exc)]
        return render(
            "verify.html",
            title=f"Verify {campaign_id}",
            subject=f"campaign {campaign_id}",
            ok=ok,
            lines=lines,
            records=None,
        )

    @app.get("/chat", response_class=HTMLResponse)
    def chat_page() -> HTMLResponse:
        return render("chat.html", title="Copilot", message=None, reply=None)

    @app.post("/chat", response_class=HTMLResponse)
    async def chat_post(request: Request) -> HTMLResponse:
        limit(limiter.anonymous, _client(request))
        form = await _form(request)
        message = form.get("message", "").strip()[:2000]
        from agents.copilot.offline import OfflineCopilot
        from agents.copilot.tools import Toolbox

        copilot = OfflineCopilot(Toolbox(board.cfl_store, actor=None))
        try:
            reply = copilot.respond(message).text if message else "Say something."
        except Exception as exc:  # the copilot failed: say so on the page, keep serving
            reply = f"error: {type(exc).__name__}: {exc}"
        return render("chat.html", title="Copilot", message=message, reply=reply)

    @app.get("/docs-api", response_class=HTMLResponse)
    def api_page() -> HTMLResponse:
        return render("api.html", title="API", strategies=strategies.names())

    @app.get("/problems/{problem_id}/", include_in_schema=False)
    def problem_slash(problem_id: str) -> RedirectResponse:
        return RedirectResponse(f"/problems/{urllib.parse.quote(problem_id)}")

    # --- JSON API ---------------------------------------------------------------------------

    def _card(row: Any) -> dict[str, Any]:
        public = {
            k: row[k]
            for k in ("id", "title", "kind", "status", "direction", "budget", "created", "closed")
        }
        if "public_seeds" in row:
            public.update(
                public_seeds=row["public_seeds"],
                private_seeds=row["private_seeds"],
                commitment=row["commitment"],
                campaign=row["campaign"],
                card=json.loads(row["card"]),
                revealed=json.loads(row["revealed"]) if row["revealed"] else None,
            )
        return public

    @app.get("/api/problems")
    def api_problems() -> list[dict[str, Any]]:
        return [_card(p) for p in board.problems()]

    @app.get("/api/problems/{problem_id}")
    def api_problem(problem_id: str) -> dict[str, Any]:
        return _card(board.problem(problem_id))

    @app.get("/api/problems/{problem_id}/leaderboard")
    def api_board(
        problem_id: str,
        split: str = "public",
        kind: str = "",
        q: str = "",
        sort: str = "rank",
        order: str = "asc",
    ) -> list[dict[str, Any]]:
        rows: list[BoardRow] = board.board(
            problem_id,
            split="private" if split == "private" else "public",
            kind=kind or None,
            participant=q or None,
            sort=sort,
            descending=order == "desc",
        )
        return [vars(r) for r in rows]

    @app.post("/api/participants", status_code=201)
    def api_register(body: RegisterRequest, request: Request) -> dict[str, Any]:
        limit(limiter.anonymous, _client(request))
        pid, token = board.register(body.name)
        return {"id": pid, "name": body.name, "token": token}

    @app.post("/api/problems/{problem_id}/submissions", status_code=202)
    def api_submit(problem_id: str, body: StrategyConfig, request: Request) -> dict[str, Any]:
        who = participant(request)
        limit(limiter.submissions, f"p{who[0]}")
        submission_id = board.submit(problem_id, who, body)
        if runner is not None:
            runner.wake()
        return {"submission": submission_id, "status": "queued"}

    @app.get("/api/submissions/{submission_id}")
    def api_submission(submission_id: int) -> dict[str, Any]:
        s = board.submission(submission_id)
        problem = board.problem(s["problem_id"])
        public = {
            k: s[k]
            for k in (
                "id", "problem_id", "participant", "name", "kind", "strategy", "status",
                "error", "created", "finished", "regret", "regret_low", "regret_high", "auc",
                "best", "experiments", "wall_s", "record",
            )
        }  # fmt: skip
        public["evidence"] = json.loads(s["evidence"]) if s["evidence"] else []
        if truth_sealed(problem):  # withheld until the reveal (leaderboard.boards)
            public.update(regret=None, regret_low=None, regret_high=None, auc=None)
        if problem["status"] == "closed":
            public.update(p_regret=s["p_regret"], p_auc=s["p_auc"], p_best=s["p_best"])
        return public

    @app.post("/api/problems/{problem_id}/sessions", status_code=201)
    def api_session(problem_id: str, body: SessionRequest, request: Request) -> dict[str, Any]:
        who = participant(request)
        limit(limiter.submissions, f"p{who[0]}")
        session = board.start_session(problem_id, who, body.name)
        card = json.loads(board.problem(problem_id)["card"])
        return {
            "session": session["id"],
            "budget": session["budget"],
            "space": card["space"],
            "objective": card["objective"],
        }

    @app.post("/api/problems/{problem_id}/sessions/{session_id}/experiments")
    def api_experiment(
        problem_id: str, session_id: str, body: ExperimentRequest, request: Request
    ) -> dict[str, Any]:
        who = participant(request)
        limit(limiter.experiments, f"p{who[0]}")
        if board.session(session_id, who)["problem_id"] != problem_id:
            raise NotFound(f"no session {session_id!r} of yours on {problem_id}", name=session_id)
        n, measured, remaining = board.experiment(session_id, who, body.params)
        return {"n": n, "measured": measured, "remaining": remaining}

    @app.post("/api/problems/{problem_id}/sessions/{session_id}/finish")
    def api_finish(problem_id: str, session_id: str, request: Request) -> dict[str, Any]:
        who = participant(request)
        if board.session(session_id, who)["problem_id"] != problem_id:
            raise NotFound(f"no session {session_id!r} of yours on {problem_id}", name=session_id)
        return {"submission": board.finish_session(session_id, who)}

    app.add_middleware(PageCache, board=board, cache=pages)
    app.add_middleware(BodyLimit)
    return app
