"""The leaderboard database: an older database gains the columns added since, keeping its rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from leaderboard import db


def test_create_adds_new_nullable_columns_to_an_existing_table(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    db.METADATA.create_all(engine)
    with engine.begin() as conn:  # a database from before measured_curve existed
        conn.execute(text("ALTER TABLE lb_submission DROP COLUMN measured_curve"))
        conn.execute(
            text(
                "INSERT INTO lb_problem (id, title, kind, status, direction, card, budget,"
                " public_seeds, private_seeds, created, version)"
                " VALUES ('p', 't', 'sealed', 'open', 'minimize', '{}', 5, 1, 0, 'now', 0)"
            )
        )
    assert "measured_curve" not in {c["name"] for c in inspect(engine).get_columns("lb_submission")}
    db.create(engine)
    assert "measured_curve" in {c["name"] for c in inspect(engine).get_columns("lb_submission")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM lb_problem")).scalar_one() == "p"
    db.create(engine)  # a second time changes nothing
    engine.dispose()
