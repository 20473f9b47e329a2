"""Examples run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cfl_env(folder: Path) -> dict[str, str]:
    """The environment with CFL_HOME in ``folder`` and the default (SQLite) store."""
    env = {**os.environ, "CFL_HOME": str(folder / ".cfl")}
    env.pop("CFL_DATABASE_URL", None)
    return env


def run_cfl(spec: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``cfl run SPEC --report`` in ``folder``, as a user runs it (see :func:`cfl_env`)."""
    return subprocess.run(
        [sys.executable, "-m", "cfl", "run", str(spec), "--report"],
        cwd=folder,
        env=cfl_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )
