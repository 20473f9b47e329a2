"""The leaderboard database: its own tables, beside the problem chains (:mod:`leaderboard.ledger`).

A separate database from the CFL store (default ``$CFL_HOME/leaderboard.db``; set
``CFL_LEADERBOARD_URL`` for PostgreSQL), because participants, tokens, sessions and tens of
thousands of submissions are not campaigns: the CFL store's readers (``cfl status``, the copilot,
the dashboards) replay every chain there as a campaign. The leaderboard reads the CFL store
(campaigns, for open problems and dashboards) but never writes it.

Tables use their own SQLAlchemy ``MetaData`` so that :meth:`cfl.store.Store.open` (which creates
everything in SQLModel's metadata) never creates them in a campaign store. Scores are computed
once, when a submission finishes, and stored in columns the leaderboard page sorts on; the
``problems.version`` counter moves with every change a page shows, and keys the page cache.
"""

from __future__ import annotations

import os

from sqlalchemy import (
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)

from cfl.settings import Settings

__all__ = [
    "METADATA",
    "create",
    "experiments",
    "leaderboard_url",
    "participants",
    "problems",
    "sessions",
    "submissions",
]

METADATA = MetaData()

participants = Table(
    "lb_participant",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created", String(32), nullable=False),
)

problems = Table(
    "lb_problem",
    METADATA,
    Column("id", String(40), primary_key=True),
    Column("title", String(120), nullable=False),
    Column("kind", String(10), nullable=False),  # sealed | open
    Column("status", String(10), nullable=False),  # open | closed
    Column("direction", String(10), nullable=False),
    Column("card", Text, nullable=False),  # public JSON: space, objective, budget, text
    Column("budget", Integer, nullable=False),
    Column("public_seeds", Integer, nullable=False),
    Column("private_seeds", Integer, nullable=False),
    Column("commitment", String(64), nullable=True),
    Column("secret", Text, nullable=True),  # sealed: params, salt, noise key; never served
    Column("revealed", Text, nullable=True),  # after close: params and salt
    Column("campaign", String(80), nullable=True),  # open problems: the CFL campaign judging
    Column("created", String(32), nullable=False),
    Column("closed", String(32), nullable=True),
    Column("version", Integer, nullable=False, default=0),
)

submissions = Table(
    "lb_submission",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("problem_id", String(40), ForeignKey("lb_problem.id"), nullable=False),
    Column("participant_id", Integer, ForeignKey("lb_participant.id"), nullable=True),
    Column("participant", String(80), nullable=False),
    Column("name", String(80), nullable=False),
    Column("kind", String(10), nullable=False),  # strategy | session | lab
    Column("strategy", String(40), nullable=False),
    Column("config", Text, nullable=False),
    Column("status", String(10), nullable=False),  # queued | running | done | failed
    Column("error", Text, nullable=True),
    Column("created", String(32), nullable=False),
    Column("finished", String(32), nullable=True),
    # public split (seeds 0..public_seeds-1): best found shown while open, the rest (computed
    # from the sealed truth) once a sealed problem closes (leaderboard.boards)
    Column("regret", Float, nullable=True),
    Column("regret_low", Float, nullable=True),
    Column("regret_high", Float, nullable=True),
    Column("auc", Float, nullable=True),
    Column("auc_low", Float, nullable=True),
    Column("auc_high", Float, nullable=True),
    Column("best", Float, nullable=True),
    Column("best_low", Float, nullable=True),
    Column("best_high", Float, nullable=True),
    # private split: scored at once, shown only after close
    Column("p_regret", Float, nullable=True),
    Column("p_regret_low", Float, nullable=True),
    Column("p_regret_high", Float, nullable=True),
    Column("p_auc", Float, nullable=True),
    Column("p_best", Float, nullable=True),
    Column("experiments", Integer, nullable=True),
    Column("wall_s", Float, nullable=True),
    Column("curve", Text, nullable=True),  # public split: mean regret after each experiment
    Column("measured_curve", Text, nullable=True),  # public split: mean best measured so far
    Column("record", String(120), nullable=True),  # the submission.scored ledger record
    Column("evidence", Text, nullable=True),  # open problems: ledger record ids scored
)
Index("ix_lb_submission_board", submissions.c.problem_id, submissions.c.status)

sessions = Table(
    "lb_session",
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("problem_id", String(40), ForeignKey("lb_problem.id"), nullable=False),
    Column("participant_id", Integer, ForeignKey("lb_participant.id"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("budget", Integer, nullable=False),
    Column("used", Integer, nullable=False),
    Column("created", String(32), nullable=False),
    Column("submission_id", Integer, nullable=True),
)

experiments = Table(
    "lb_experiment",
    METADATA,
    Column("session_id", String(32), ForeignKey("lb_session.id"), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("params", Text, nullable=False),
    Column("measured", Float, nullable=False),
    Column("true_value", Float, nullable=False),  # server-side only (regret)
    Column("ts", String(32), nullable=False),
)


def leaderboard_url() -> str:
    """``CFL_LEADERBOARD_URL``, else a SQLite file next to the CFL store in ``CFL_HOME``."""
    url = os.environ.get("CFL_LEADERBOARD_URL")
    if url:
        return url
    return f"sqlite:///{Settings().home / 'leaderboard.db'}"


def create(engine: Engine) -> None:
    """Create the tables, and add the nullable columns newer versions added to existing ones.

    A leaderboard database outlives releases: a column added since (e.g. ``measured_curve``)
    is added in place, empty, so older submissions keep their scores.
    """
    METADATA.create_all(engine)
    inspector = inspect(engine)
    with engine.begin() as conn:
        for table in METADATA.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
