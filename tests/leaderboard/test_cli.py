"""``cfl web`` is registered as a plug-in command group; create and close work from the shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cfl.cli import _add_plugin_commands, app
from leaderboard.service import Leaderboard


def test_cfl_web_create_and_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFL_LEADERBOARD_URL", f"sqlite:///{tmp_path / 'lb.db'}")
    _add_plugin_commands()
    runner = CliRunner()
    assert "--port" in runner.invoke(app, ["web", "--help"]).output
    made = runner.invoke(app, ["web", "create", "lab-x", "--family", "ackley5", "--budget", "5"])
    assert made.exit_code == 0, made.output
    commitment = made.output.split("commitment ")[1].strip()
    closed = runner.invoke(app, ["web", "close", "lab-x"])
    assert closed.exit_code == 0 and "matches" in closed.output
    board = Leaderboard(f"sqlite:///{tmp_path / 'lb.db'}")
    assert board.problem("lab-x")["commitment"] == commitment
    assert board.verify_problem("lab-x")["reveal_matches"] is True
    assert runner.invoke(app, ["web", "close", "lab-x"]).exit_code == 2
    board.close()
