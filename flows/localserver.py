"""Start and stop a local ``prefect server`` on 127.0.0.1 (tests, the overhead figure).

The server gets its own PREFECT_HOME, analytics and the UI off, :data:`SERVER_SETTINGS`, and
optionally a PostgreSQL database (``postgresql+asyncpg://...``); it is stopped by its PID (its
process group).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["SERVER_SETTINGS", "LocalPrefectServer", "client_env", "free_port", "start_local_server"]

_SERVER = (sys.executable, "-m", "prefect", "server", "start")

SERVER_SETTINGS: Mapping[str, str] = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "20",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}
"""Server settings for runs with many small tasks; a production server should set them too.

Prefect 3.8.8's task run recorder writes each task-run event (three per task: pending, running,
completed) in a transaction of its own by default: about 50 ms of server CPU per task on
PostgreSQL on a 2-core machine, the largest part of a ``step`` task's cost, and the server's one
event loop answers the flows' API calls late while it does. In batches of 20 it is about 20 ms;
a task run's latest state reaches the UI up to a second later (the flush interval). The
interval is cut to whole seconds by Prefect, and 0 makes the recorder spin at 100 % CPU, so it
must stay at 1 or more.
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_env(api_url: str, home: Path) -> dict[str, str]:
    """Settings for processes that use the server (this one, workers, ``cfl``)."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.5",
    }


@dataclass
class LocalPrefectServer:
    """A running ``prefect server start``; :meth:`stop` ends it."""

    api_url: str
    home: Path
    log: Path
    database_url: str | None
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def env(self) -> dict[str, str]:
        """Client settings for this server (see :func:`client_env`)."""
        return client_env(self.api_url, self.home)

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM to its group, SIGKILL after 15 s)."""
        process = self.process
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def start_local_server(
    home: Path,
    *,
    database_url: str | None = None,
    timeout_s: float = 120.0,
    extra_env: Mapping[str, str] | None = None,
) -> LocalPrefectServer:
    """Start a server on a free port and wait until ``/api/health`` answers.

    Args:
        home: PREFECT_HOME of the server (its SQLite database lives there by default).
        database_url: ``postgresql+asyncpg://...`` to keep Prefect's data in PostgreSQL.

    Raises:
        RuntimeError: the server exited or did not answer in ``timeout_s``; the log's tail.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **client_env(api_url, home), **SERVER_SETTINGS, **(extra_env or {})}
    env.pop("PREFECT_API_URL")
    if database_url is not None:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_SERVER, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LocalPrefectServer(api_url, home, log, database_url, process)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"prefect server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
