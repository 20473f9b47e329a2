"""The leaderboard's operations: problems, participants, submissions, sessions, scores, boards.

Everything the web app and the CLI do goes through :class:`Leaderboard`; it is the only code that
reads a problem's secret, and it never returns it, or a score computed from it, before the reveal
(:mod:`leaderboard.boards` says what a board shows when). Runs and their scores are
:mod:`leaderboard.runs`'. Limits (documented in README.md, "Leaderboard"):

* strategy submissions: budget up to :data:`MAX_BUDGET` experiments per seed, batch up to
  :data:`MAX_BATCH`, at most :data:`MAX_QUEUED` queued or running per participant;
* interactive sessions: the problem's budget per session, at most :data:`MAX_OPEN_SESSIONS`
  unfinished per participant and problem;
* names up to 80 characters; request bodies up to :data:`leaderboard.config.MAX_BODY` bytes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import JsonValue
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine, RowMapping
from threadpoolctl import threadpool_limits

from benchmarks import strategies
from cfl.errors import LedgerTampered, NotFound, SpecError
from cfl.keys import Keyring, TrustedKeys
from cfl.ledger import utc_stamp
from cfl.settings import Settings
from cfl.store import Store
from cfl.verify import verify_log
from leaderboard import db, sealing
from leaderboard.boards import SORTS, BoardRow, rank_rows, sort_rows, truth_sealed
from leaderboard.config import StrategyConfig
from leaderboard.ledger import ProblemLedger
from leaderboard.runs import SEALED_SCORES, SeedRun, run_seed, score_runs, session_run

__all__ = [
    "MAX_BATCH",
    "MAX_BUDGET",
    "MAX_OPEN_SESSIONS",
    "MAX_QUEUED",
    "Leaderboard",
    "hash_token",
]

MAX_BUDGET = 60
MAX_BATCH = 8
MAX_QUEUED = 3
MAX_OPEN_SESSIONS = 3

VERSION_TTL_S = 1.0
"""How long a page may show a problem's version before asking the database again."""


def hash_token(token: str) -> str:
    """SHA-256 hex of an API token: the only form a token is kept in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Leaderboard:
    """Problems, submissions and scores in the leaderboard database."""

    def __init__(
        self,
        url: str | None = None,
        *,
        cfl_store_url: str | None = None,
        keys: Keyring | None = None,
    ) -> None:
        self.url = url or db.leaderboard_url()
        self.cfl_store_url = cfl_store_url
        self.store = Store.open(self.url)
        self.engine: Engine = self.store.engine
        db.create(self.engine)
        self.ledger = ProblemLedger(self.store, keys)
        self._cfl_store_url = cfl_store_url
        self._cfl_store: Store | None = None
        self._labs: dict[str, sealing.HiddenLab] = {}
        self._lock = threading.Lock()
        self._board_cache: dict[tuple[Any, ...], tuple[int, Any]] = {}
        self._versions: dict[str, tuple[float, int]] = {}

    def close(self) -> None:
        self.store.close()
        if self._cfl_store is not None:
            self._cfl_store.close()

    @property
    def cfl_store(self) -> Store:
        """The CFL store (campaigns): read for open problems and dashboards."""
        if self._cfl_store is None:
            self._cfl_store = Store.open(self._cfl_store_url or Settings().store_url)
        return self._cfl_store

    # --- participants -----------------------------------------------------------------------

    def register(self, name: str) -> tuple[int, str]:
        """A new participant and their API token (shown once; only its SHA-256 is kept).

        Raises:
            SpecError: the name is empty, too long, or taken.
        """
        name = name.strip()
        if not name or len(name) > 80:
            raise SpecError("a participant name has 1 to 80 characters")
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            taken = conn.execute(
                select(db.participants.c.id).where(db.participants.c.name == name)
            ).first()
            if taken is not None:
                raise SpecError(f"participant name {name!r} is taken; choose another")
            result = conn.execute(
                insert(db.participants).values(
                    name=name, token_hash=hash_token(token), created=utc_stamp()
                )
            )
            pid = result.inserted_primary_key
            assert pid is not None
        return int(pid[0]), token

    def authenticate(self, token: str | None) -> tuple[int, str] | None:
        """``(id, name)`` of the participant holding ``token``, or ``None``."""
        if not token or len(token) > 200:
            return None
        digest = hash_token(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    db.participants.c.id, db.participants.c.name, db.participants.c.token_hash
                ).where(db.participants.c.token_hash == digest)
            ).first()
        if row is None or not secrets.compare_digest(row.token_hash, digest):
            return None
        return int(row.id), str(row.name)

    # --- problems ---------------------------------------------------------------------------

    def create_sealed(
        self,
        problem_id: str,
        family: str,
        *,
        title: str | None = None,
        budget: int = 20,
        public_seeds: int = 3,
        private_seeds: int = 3,
        seed: int | None = None,
    ) -> str:
        """Seal a hidden lab, commit to it in the ledger, then open it. Returns the commitment.

        Raises:
            SpecError: a bad id, family or limit, or the id is taken.
        """
        self._check_new(problem_id, budget, public_seeds, private_seeds)
        sealed = sealing.seal(problem_id, family, seed=seed)
        lab = sealing.build(problem_id, sealed.params)
        problem = lab.problem
        card: dict[str, JsonValue] = {
            "space": [
                {"name": p.name, "low": 0.0, "high": 1.0, "type": "continuous"}
                for p in problem.space.parameters
            ],
            "objective": {"name": "y", "direction": problem.objectives[0].direction},
            "noisy": True,
            "text": (
                f"A hidden simulated lab with {len(problem.space.parameters)} continuous "
                "parameters in [0, 1]. Its response, optimum and noise are sealed until it closes."
            ),
        }
        record = self.ledger.append(
            problem_id,
            "problem.sealed",
            {
                "problem": problem_id,
                "commitment": sealed.commitment,
                "scheme": "sha256(canonical_json({problem, params, salt}))",
                "card": card,
                "budget": budget,
                "public_seeds": public_seeds,
                "private_seeds": private_seeds,
            },
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert(db.problems).values(
                    id=problem_id,
                    title=title or f"Hidden lab {problem_id}",
                    kind="sealed",
                    status="open",
                    direction=problem.objectives[0].direction,
                    card=_json(card),
                    budget=budget,
                    public_seeds=public_seeds,
                    private_seeds=private_seeds,
                    commitment=sealed.commitment,
                    secret=_json(
                        {"params": sealed.params, "salt": sealed.salt, "noise": sealed.noise_key}
                    ),
                    created=utc_stamp(),
                    version=0,
                )
            )
        self.ledger.append(
            problem_id, "problem.opened", {"problem": problem_id, "after": record.id}
        )
        return sealed.commitment

    def create_open(
        self,
        problem_id: str,
        *,
        campaign: str,
        objective: str,
        direction: Literal["minimize", "maximize"] = "maximize",
        title: str | None = None,
        text: str = "",
    ) -> None:
        """A real open problem: the answer is unknown; verified lab measurements judge it."""
        self._check_new(problem_id, 1, 1, 0)
        card: dict[str, JsonValue] = {
            "objective": {"name": objective, "direction": direction},
            "campaign": campaign,
            "text": text or "An open problem judged by verified measurements of a CFL campaign.",
        }
        self.ledger.append(problem_id, "problem.opened", {"problem": problem_id, "card": card})
        with self.engine.begin() as conn:
            conn.execute(
                insert(db.problems).values(
                    id=problem_id,
                    title=title or f"Open problem {problem_id}",
                    kind="open",
                    status="open",
                    direction=direction,
                    card=_json(card),
                    budget=0,
                    public_seeds=1,
                    private_seeds=0,
                    campaign=campaign,
                    created=utc_stamp(),
                    version=0,
                )
            )

    def _check_new(self, problem_id: str, budget: int, public: int, private: int) -> None:
        if not problem_id.replace("-", "").isalnum() or len(problem_id) > 40:
            raise SpecError(f"problem id {problem_id!r}: use 1-40 letters, digits and dashes")
        if not (1 <= budget <= MAX_BUDGET) or not (1 <= public <= 20) or not (0 <= private <= 20):
            raise SpecError(
                f"budget 1..{MAX_BUDGET}, 1..20 public and 0..20 private seeds, got {budget}, "
                f"{public}, {private}"
            )
        with self.engine.connect() as conn:
            if conn.execute(select(db.problems.c.id).where(db.problems.c.id == problem_id)).first():
                raise SpecError(f"problem {problem_id!r} exists already")

    def problem(self, problem_id: str) -> RowMapping:
        """A problem's row (the secret column left out).

        Raises:
            NotFound: no such problem.
        """
        columns = [c for c in db.problems.c if c.name != "secret"]
        with self.engine.connect() as conn:
            row = conn.execute(select(*columns).where(db.problems.c.id == problem_id)).first()
        if row is None:
            raise NotFound(f"no problem {problem_id!r}", name=problem_id)
        return row._mapping

    def problems(self, *, status: str | None = None, kind: str | None = None) -> list[RowMapping]:
        """Problems (public columns), with the number of scored submissions each."""
        counts = (
            select(db.submissions.c.problem_id, func.count().label("entries"))
            .where(db.submissions.c.status == "done")
            .group_by(db.submissions.c.problem_id)
            .subquery()
        )
        p = db.problems.c
        query = (
            select(
                p.id, p.title, p.kind, p.status, p.direction, p.budget, p.created, p.closed,
                func.coalesce(counts.c.entries, 0).label("entries"),
            )
            .outerjoin(counts, counts.c.problem_id == p.id)
            .order_by(p.id)
        )  # fmt: skip
        if status:
            query = query.where(p.status == status)
        if kind:
            query = query.where(p.kind == kind)
        with self.engine.connect() as conn:
            return [r._mapping for r in conn.execute(query)]

    def _secret(self, problem_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(db.problems.c.secret).where(db.problems.c.id == problem_id)
            ).first()
        if row is None or row.secret is None:
            raise NotFound(f"no sealed problem {problem_id!r}", name=problem_id)
        secret: dict[str, Any] = json.loads(row.secret)
        return secret

    def lab(self, problem_id: str) -> sealing.HiddenLab:
        """The hidden lab behind a sealed problem (server-side only)."""
        with self._lock:
            found = self._labs.get(problem_id)
        if found is None:
            found = sealing.build(problem_id, self._secret(problem_id)["params"])
            with self._lock:
                self._labs[problem_id] = found
        return found

    def _bump(self, conn: Any, problem_id: str) -> None:
        self._versions.pop(problem_id, None)
        conn.execute(
            update(db.problems)
            .where(db.problems.c.id == problem_id)
            .values(version=db.problems.c.version + 1)
        )

    def close_problem(self, problem_id: str) -> bool:
        """Close a problem and reveal its secret; returns whether the reveal matches the seal."""
        row = self.problem(problem_id)
        if row["status"] == "closed":
            raise SpecError(f"problem {problem_id!r} is closed already")
        self.ledger.append(problem_id, "problem.closed", {"problem": problem_id})
        matches = True
        revealed = None
        if row["kind"] == "sealed":
            secret = self._secret(problem_id)
            matches = sealing.check_reveal(
                problem_id, secret["params"], secret["salt"], row["commitment"]
            )
            lab = self.lab(problem_id)
            revealed = {
                "params": secret["params"],
                "salt": secret["salt"],
                "optimum": lab.problem.optimum,
                "optimum_point": dict(lab.optimum_point),
            }
            self.ledger.append(
                problem_id,
                "problem.revealed",
                {
                    "problem": problem_id,
                    "params": secret["params"],
                    "salt": secret["salt"],
                    "commitment": row["commitment"],
                    "matches": matches,
                },
            )
        with self.engine.begin() as conn:
            conn.execute(
                update(db.problems)
                .where(db.problems.c.id == problem_id)
                .values(
                    status="closed",
                    closed=utc_stamp(),
                    revealed=None if revealed is None else _json(revealed),
                )
            )
            self._bump(conn, problem_id)
        return matches

    def cached_version(self, problem_id: str, ttl_s: float = VERSION_TTL_S) -> int:
        """:meth:`version`, remembered for ``ttl_s`` seconds.

        Changes made by this process are seen at once; by another process within ``ttl_s``.
        """
        now = time.monotonic()
        found = self._versions.get(problem_id)
        if found is not None and now - found[0] < ttl_s:
            return found[1]
        version = self.version(problem_id)
        self._versions[problem_id] = (now, version)
        return version

    def version(self, problem_id: str) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(db.problems.c.version).where(db.problems.c.id == problem_id)
            ).first()
        if row is None:
            raise NotFound(f"no problem {problem_id!r}", name=problem_id)
        return int(row.version)

    # --- strategy submissions ---------------------------------------------------------------

    def submit(self, problem_id: str, participant: tuple[int, str], config: StrategyConfig) -> int:
        """Queue a strategy submission (validated config; run by :meth:`run_submission`).

        Raises:
            SpecError: the problem is not open to strategies, the strategy cannot run here,
                or the participant has too many queued.
        """
        row = self.problem(problem_id)
        if row["kind"] != "sealed" or row["status"] != "open":
            raise SpecError(f"problem {problem_id!r} does not take strategy submissions now")
        reason = strategies.unavailable(config.strategy)
        if reason is not None:
            raise SpecError(reason)
        s = db.submissions.c
        with self.engine.begin() as conn:
            waiting = conn.execute(
                select(func.count()).where(
                    s.participant_id == participant[0], s.status.in_(("queued", "running"))
                )
            ).scalar_one()
            if waiting >= MAX_QUEUED:
                raise SpecError(
                    f"{waiting} of your submissions are still queued or running (limit "
                    f"{MAX_QUEUED}); wait for one to finish"
                )
            result = conn.execute(
                insert(db.submissions).values(
                    problem_id=problem_id,
                    participant_id=participant[0],
                    participant=participant[1],
                    name=config.name,
                    kind="strategy",
                    strategy=config.strategy,
                    config=config.model_dump_json(),
                    status="queued",
                    created=utc_stamp(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
        return int(key[0])

    def queued(self) -> list[int]:
        """Ids of queued submissions, oldest first."""
        with self.engine.connect() as conn:
            return [
                int(r.id)
                for r in conn.execute(
                    select(db.submissions.c.id)
                    .where(db.submissions.c.status == "queued")
                    .order_by(db.submissions.c.id)
                )
            ]

    def submission(self, submission_id: int) -> RowMapping:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(db.submissions).where(db.submissions.c.id == submission_id)
            ).first()
        if row is None:
            raise NotFound(f"no submission {submission_id}", name=str(submission_id))
        return row._mapping

    def run_submission(self, submission_id: int) -> None:
        """Run a queued strategy submission on every seed, score it, and write the score."""
        sub = self.submission(submission_id)
        if sub["status"] != "queued":
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(db.submissions)
                .where(db.submissions.c.id == submission_id)
                .values(status="running")
            )
        try:
            config = StrategyConfig.model_validate_json(sub["config"])
            problem_row = self.problem(sub["problem_id"])
            noise_key = int(self._secret(sub["problem_id"])["noise"])
            problem = self.lab(sub["problem_id"]).problem
            budget = min(config.budget or problem_row["budget"], problem_row["budget"])
            public, private = problem_row["public_seeds"], problem_row["private_seeds"]
            runs: list[SeedRun] = []
            with threadpool_limits(limits=1):
                for seed in range(public + private):
                    noise = np.random.default_rng([noise_key, seed])
                    runs.append(
                        run_seed(
                            problem,
                            config.strategy,
                            seed,
                            budget,
                            config.batch,
                            noise,
                            initial=config.initial_design,
                        )
                    )
        except Exception as exc:  # a strategy failed: the submission says why, the server lives
            with self.engine.begin() as conn:
                conn.execute(
                    update(db.submissions)
                    .where(db.submissions.c.id == submission_id)
                    .values(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
                )
            return
        self._score(submission_id, sub["problem_id"], runs[:public], runs[public:])

    def _score(
        self,
        submission_id: int,
        problem_id: str,
        public: Sequence[SeedRun],
        private: Sequence[SeedRun],
    ) -> None:
        values = score_runs(public, private)
        sealed = {k: values[k] for k in SEALED_SCORES if k in values}
        record = self.ledger.append(
            problem_id,
            "submission.scored",
            {
                "submission": submission_id,
                "best": values["best"],
                "sealed_sha256": hashlib.sha256(_json(sealed).encode()).hexdigest(),
                "seeds": len(public) + len(private),
                "experiments": values["experiments"],
            },
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(db.submissions)
                .where(db.submissions.c.id == submission_id)
                .values(
                    status="done",
                    finished=utc_stamp(),
                    record=record.id,
                    **{
                        **values,
                        "curve": _json(values["curve"]),
                        "measured_curve": _json(values["measured_curve"]),
                    },
                )
            )
            self._bump(conn, problem_id)

    # --- interactive sessions ---------------------------------------------------------------

    def start_session(self, problem_id: str, participant: tuple[int, str], name: str) -> RowMapping:
        """A new experiment session on a sealed, open problem (budget: the problem's)."""
        row = self.problem(problem_id)
        if row["kind"] != "sealed" or row["status"] != "open":
            raise SpecError(f"problem {problem_id!r} does not take sessions now")
        name = name.strip() or "session"
        if len(name) > 80:
            raise SpecError("a session name has at most 80 characters")
        t = db.sessions.c
        with self.engine.begin() as conn:
            unfinished = conn.execute(
                select(func.count()).where(
                    t.problem_id == problem_id,
                    t.participant_id == participant[0],
                    t.submission_id.is_(None),
                )
            ).scalar_one()
            if unfinished >= MAX_OPEN_SESSIONS:
                raise SpecError(
                    f"you have {unfinished} unfinished sessions on {problem_id} (limit "
                    f"{MAX_OPEN_SESSIONS}); finish one first"
                )
            session_id = secrets.token_hex(8)
            conn.execute(
                insert(db.sessions).values(
                    id=session_id,
                    problem_id=problem_id,
                    participant_id=participant[0],
                    name=name,
                    budget=row["budget"],
                    used=0,
                    created=utc_stamp(),
                )
            )
        return self.session(session_id, participant)

    def session(self, session_id: str, participant: tuple[int, str]) -> RowMapping:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(db.sessions).where(
                    db.sessions.c.id == session_id, db.sessions.c.participant_id == participant[0]
                )
            ).first()
        if row is None:
            raise NotFound(f"no session {session_id!r} of yours", name=session_id)
        return row._mapping

    def experiment(
        self, session_id: str, participant: tuple[int, str], params: Mapping[str, object]
    ) -> tuple[int, float, int]:
        """Run one experiment of a session: ``(n, measured value, experiments left)``.

        Raises:
            SpecError: the point is outside the space, or the budget is spent.
        """
        session = self.session(session_id, participant)
        problem_id = session["problem_id"]
        if self.problem(problem_id)["status"] != "open":
            raise SpecError(f"problem {problem_id!r} is closed")
        if session["submission_id"] is not None or session["used"] >= session["budget"]:
            raise SpecError(f"session {session_id} has used its budget of {session['budget']}")
        lab = self.lab(problem_id)
        point = lab.problem.space.coerce(params)
        n = int(session["used"]) + 1
        noise_key = int(self._secret(problem_id)["noise"])
        rng = np.random.default_rng([noise_key, zlib.crc32(session_id.encode()), n])
        objective = lab.problem.objectives[0].name
        measured = float(lab.problem.evaluate(point, rng).values[objective])
        true_value = float(lab.problem.truth(point).values[objective])
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(db.sessions)
                .where(db.sessions.c.id == session_id, db.sessions.c.used == n - 1)
                .values(used=n)
            ).rowcount
            if moved != 1:
                raise SpecError(f"session {session_id}: another experiment was running; retry")
            conn.execute(
                insert(db.experiments).values(
                    session_id=session_id,
                    n=n,
                    params=_json(point),
                    measured=measured,
                    true_value=true_value,
                    ts=utc_stamp(),
                )
            )
        if n >= session["budget"]:
            self.finish_session(session_id, participant)
        return n, measured, int(session["budget"]) - n

    def finish_session(self, session_id: str, participant: tuple[int, str]) -> int:
        """Score a session (one seed; no private split) and put it on the board."""
        session = self.session(session_id, participant)
        if session["submission_id"] is not None:
            return int(session["submission_id"])
        problem = self.lab(session["problem_id"]).problem
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(db.experiments)
                    .where(db.experiments.c.session_id == session_id)
                    .order_by(db.experiments.c.n)
                )
            )
        if not rows:
            raise SpecError(f"session {session_id} has no experiments to score")
        run = session_run(
            problem, [(problem.space.coerce(json.loads(r.params)), r.measured) for r in rows]
        )
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(db.submissions).values(
                    problem_id=session["problem_id"],
                    participant_id=participant[0],
                    participant=participant[1],
                    name=session["name"],
                    kind="session",
                    strategy="http-api",
                    config=_json({"session": session_id}),
                    status="running",
                    created=session["created"],
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            submission_id = int(key[0])
            conn.execute(
                update(db.sessions)
                .where(db.sessions.c.id == session_id)
                .values(submission_id=submission_id)
            )
        self._score(submission_id, session["problem_id"], [run], [])
        return submission_id

    # --- open problems: scored by verified lab measurements ----------------------------------

    def score_campaign(self, problem_id: str, participant: tuple[int, str], name: str) -> int:
        """Score an open problem from its campaign's verified observations.

        The campaign's ledger is verified first (chain, signatures against the keys of
        ``CFL_HOME``, tree heads, the head kept beside it); the score is the best measured
        value of the objective, and the submission lists the ids of the ledger records
        (``observation.recorded``) it was computed from, the best one first.

        Raises:
            SpecError: not an open problem, or the campaign has no measurement of the objective.
            LedgerTampered: the campaign's records do not verify.
        """
        row = self.problem(problem_id)
        if row["kind"] != "open":
            raise SpecError(f"problem {problem_id!r} is not an open problem")
        card = json.loads(row["card"])
        objective, direction = card["objective"]["name"], card["objective"]["direction"]
        store = self.cfl_store
        snapshot = store.snapshot(row["campaign"])
        info = snapshot.info
        verify_log(  # links, signatures (keys of CFL_HOME), tree heads, the head kept beside it
            info.id,
            snapshot.rows,
            snapshot.heads,
            TrustedKeys(self.ledger.keys.public_keys()),
            head=(info.head_seq, info.head_hash),
            workers=1,
        )
        records = snapshot.records
        evidence: list[tuple[float, str]] = []
        for record in records:
            if record.type != "observation.recorded":
                continue
            observation = record.payload.get("observation")
            if not isinstance(observation, dict):
                continue
            values = observation.get("values")
            if isinstance(values, dict) and isinstance(values.get(objective), int | float):
                evidence.append((float(values[objective]), record.id))  # type: ignore[arg-type]
        if not evidence:
            raise SpecError(f"campaign {info.id} has no measurement of {objective!r} yet")
        sign = 1.0 if direction == "maximize" else -1.0
        evidence.sort(key=lambda ve: -sign * ve[0])
        best = evidence[0][0]
        ids = [rid for _, rid in evidence]
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(db.submissions).values(
                    problem_id=problem_id,
                    participant_id=participant[0],
                    participant=participant[1],
                    name=name[:80] or info.id,
                    kind="lab",
                    strategy=f"campaign {info.id}",
                    config=_json({"campaign": info.id, "head": info.head_hash}),
                    status="running",
                    created=utc_stamp(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            submission_id = int(key[0])
        record = self.ledger.append(
            problem_id,
            "submission.scored",
            {
                "submission": submission_id,
                "campaign": info.id,
                "campaign_head": info.head_hash,
                "best": best,
                "evidence": list(ids),
            },
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(db.submissions)
                .where(db.submissions.c.id == submission_id)
                .values(
                    status="done",
                    finished=utc_stamp(),
                    best=best,
                    best_low=best,
                    best_high=best,
                    experiments=len(ids),
                    record=record.id,
                    evidence=_json(ids),
                )
            )
            self._bump(conn, problem_id)
        return submission_id

    # --- boards -----------------------------------------------------------------------------

    def board(
        self,
        problem_id: str,
        *,
        split: Literal["public", "private"] = "public",
        kind: str | None = None,
        participant: str | None = None,
        sort: str = "rank",
        descending: bool = False,
    ) -> list[BoardRow]:
        """The ranked, filtered and sorted rows of a problem (cached per problem version).

        The private split is empty until the problem closes; while a sealed problem is open,
        rows rank by best found and carry no regret or AUC (:mod:`leaderboard.boards`).
        """
        row = self.problem(problem_id)
        if sort not in SORTS:
            raise SpecError(f"sort by one of {', '.join(SORTS)}, not {sort!r}")
        key = (problem_id, split, kind)
        cached = self._board_cache.get(key)
        if cached is not None and cached[0] == row["version"]:
            ranked: list[BoardRow] = cached[1]
        else:
            ranked = self._ranked(row, split, kind)
            self._board_cache[key] = (int(row["version"]), ranked)
        rows = ranked
        if participant:
            needle = participant.lower()
            rows = [r for r in rows if needle in r.participant.lower() or needle in r.name.lower()]
        return sort_rows(rows, sort, descending=descending)

    def _ranked(self, problem: RowMapping, split: str, kind: str | None) -> list[BoardRow]:
        if split == "private" and problem["status"] != "closed":
            return []
        sealed = truth_sealed(problem)
        s = db.submissions.c
        private = split == "private"
        query = select(
            s.id, s.name, s.participant, s.kind, s.strategy, s.experiments, s.wall_s,
            s.created, s.record, s.evidence,
            (s.p_regret if private else s.regret).label("regret"),
            (s.p_regret_low if private else s.regret_low).label("regret_low"),
            (s.p_regret_high if private else s.regret_high).label("regret_high"),
            (s.p_auc if private else s.auc).label("auc"),
            (s.p_best if private else s.best).label("best"),
            s.best_low, s.best_high,
        ).where(s.problem_id == problem["id"], s.status == "done")  # fmt: skip
        if private:
            query = query.where(s.kind == "strategy")
        if kind:
            query = query.where(s.kind == kind)
        with self.engine.connect() as conn:
            rows = [
                BoardRow(
                    id=r.id,
                    name=r.name,
                    participant=r.participant,
                    kind=r.kind,
                    strategy=r.strategy,
                    regret=None if sealed else r.regret,
                    regret_low=None if sealed else r.regret_low,
                    regret_high=None if sealed else r.regret_high,
                    auc=None if sealed else r.auc,
                    best=r.best,
                    best_low=None if private else r.best_low,
                    best_high=None if private else r.best_high,
                    experiments=r.experiments,
                    wall_s=r.wall_s,
                    created=r.created,
                    record=r.record,
                    evidence=json.loads(r.evidence) if r.evidence else [],
                )
                for r in conn.execute(query)
            ]
        return rank_rows(
            rows,
            by_regret=problem["kind"] == "sealed" and not sealed,
            maximise=problem["direction"] == "maximize",
        )

    def curves(self, problem_id: str, limit: int = 8) -> tuple[str, list[tuple[str, list[float]]]]:
        """What the convergence plot shows, and the public curves of the best ``limit`` entries.

        Mean regret after each experiment once the truth may show; while a sealed problem is
        open, the mean best value measured so far (:mod:`leaderboard.boards`).
        """
        problem = self.problem(problem_id)
        if truth_sealed(problem):
            label, column = "best measured so far", db.submissions.c.measured_curve
        else:
            label, column = "regret", db.submissions.c.curve
        top = [r.id for r in self.board(problem_id)[:limit]]
        if not top:
            return label, []
        with self.engine.connect() as conn:
            found = {
                r.id: (r.name, json.loads(r.curve))
                for r in conn.execute(
                    select(db.submissions.c.id, db.submissions.c.name, column.label("curve"))
                    .where(db.submissions.c.id.in_(top))
                    .where(column.is_not(None))
                )
            }
        return label, [found[i] for i in top if i in found]

    def verify_problem(self, problem_id: str) -> dict[str, Any]:
        """The problem chain's verification, and the reveal's check once revealed."""
        row = self.problem(problem_id)
        result: dict[str, Any] = {"problem": problem_id, "commitment": row["commitment"]}
        try:
            report = self.ledger.verify(problem_id)
            result.update(ok=True, records=report.records, signed_by=dict(report.signed_by))
        except LedgerTampered as exc:
            result.update(ok=False, error=str(exc))
        if row["revealed"]:
            revealed = json.loads(row["revealed"])
            result["reveal_matches"] = sealing.check_reveal(
                problem_id, revealed["params"], revealed["salt"], row["commitment"]
            )
        return result
