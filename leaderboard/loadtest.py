"""Fixtures of the leaderboard load benchmark (``benchmarks/leaderboard_load.py``).

``python -m leaderboard.loadtest build FOLDER PROBLEMS SUBMISSIONS`` makes the database;
``python -m leaderboard.loadtest serve FOLDER PORT`` serves it on 127.0.0.1. The benchmark runs
both as processes (``benchmarks`` may not import ``leaderboard``).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

__all__ = ["build", "serve"]


def build(folder: Path, problems: int, submissions: int) -> None:
    """The database: sealed problems through the service, submissions inserted in bulk."""
    from sqlalchemy import insert

    from leaderboard import db
    from leaderboard.service import Leaderboard

    board = Leaderboard(
        f"sqlite:///{folder / 'lb.db'}", cfl_store_url=f"sqlite:///{folder / 'cfl.db'}"
    )
    families = ("branin", "hartmann6", "ackley5", "snar")
    for i in range(problems):
        board.create_sealed(f"p{i:03d}", families[i % 4], budget=20, seed=i)
    ids = [board.register(f"team-{k:02d}")[0] for k in range(50)]
    rng = random.Random(0)
    rows = []
    for n in range(submissions):
        problem = f"p{n % problems:03d}"
        regret = rng.lognormvariate(0, 1)
        width = regret * rng.uniform(0.1, 0.8)
        curve = [regret * (1 + 3 * (20 - k) / 20) for k in range(20)]
        team = ids[n % len(ids)]
        rows.append(
            {
                "problem_id": problem,
                "participant_id": team,
                "participant": f"team-{team:02d}",
                "name": f"entry-{n}",
                "kind": "strategy",
                "strategy": rng.choice(["random", "skopt-gp", "cfl-gp"]),
                "config": "{}",
                "status": "done",
                "created": "2026-11-24T00:00:00Z",
                "finished": "2026-11-24T00:01:00Z",
                "regret": regret,
                "regret_low": max(0.0, regret - width),
                "regret_high": regret + width,
                "auc": regret * 2.5,
                "auc_low": regret * 2,
                "auc_high": regret * 3,
                "best": -regret,
                "best_low": -regret - width,
                "best_high": -regret + width,
                "p_regret": regret * rng.uniform(0.8, 1.2),
                "experiments": 120,
                "wall_s": rng.uniform(0.5, 40),
                "curve": json.dumps(curve),
                "record": f"problem-{problem}/{3 + n // problems}",
            }
        )
    with board.engine.begin() as conn:
        conn.execute(insert(db.submissions), rows)
    board.close()


def serve(folder: Path, port: int) -> None:
    """Serve the app on 127.0.0.1:``port`` (run in the server process)."""
    import uvicorn

    from leaderboard.app import create_app
    from leaderboard.service import Leaderboard

    board = Leaderboard(
        f"sqlite:///{folder / 'lb.db'}", cfl_store_url=f"sqlite:///{folder / 'cfl.db'}"
    )
    uvicorn.run(
        create_app(board, worker=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    command, folder = sys.argv[1], Path(sys.argv[2])
    if command == "build":
        build(folder, int(sys.argv[3]), int(sys.argv[4]))
    elif command == "serve":
        serve(folder, int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command!r}: build or serve")


if __name__ == "__main__":
    main()
