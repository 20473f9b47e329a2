"""A seeded leaderboard served on 127.0.0.1 for the browser tests: ``python -m ... DIR PORT``."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from leaderboard.app import create_app
from leaderboard.service import Leaderboard


def main() -> None:
    folder, port = Path(sys.argv[1]), int(sys.argv[2])
    board = Leaderboard(
        f"sqlite:///{folder / 'lb.db'}", cfl_store_url=f"sqlite:///{folder / 'cfl.db'}"
    )
    if not board.problems():
        board.create_sealed("lab-a", "branin", title="Hidden lab A", budget=6, public_seeds=2,
                            private_seeds=1, seed=1)  # fmt: skip
        board.create_sealed("lab-b", "hartmann6", title="Hidden lab B", budget=6, seed=2)
        me = board.register("seed-team")
        from leaderboard.config import StrategyConfig

        for name in ("alpha", "zulu"):
            sid = board.submit(
                "lab-a", (me[0], "seed-team"), StrategyConfig(name=name, strategy="random")
            )
            board.run_submission(sid)
    app = create_app(board, worker_process=True)  # as `cfl web` runs it
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
