"""One Prefect server for the whole session, on PostgreSQL where it can run here (else SQLite).

The server (``flows.localserver``) runs on 127.0.0.1 on a free port with a private PREFECT_HOME
and is stopped by its PID at the end, with the PostgreSQL server it used. The tests' process talks
to it through PREFECT_API_URL, set in the environment too, so workers and ``cfl`` subprocesses
started by a test find it. The flow heartbeat is off: it costs about a second per sync flow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from flows.localserver import LocalPrefectServer, start_local_server
from tests.postgres import PostgresServer, PostgresUnavailable, start_server


@dataclass
class PrefectServer:
    server: LocalPrefectServer
    postgres: PostgresServer | None

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses (workers, ``cfl``) that use this server."""
        return {**os.environ, **self.server.env}

    @property
    def database(self) -> str:
        return "postgresql" if self.postgres is not None else "sqlite"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[PrefectServer]:
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_HOME,
        temporary_settings,
    )

    folder = Path(tempfile.mkdtemp(prefix="cfl-prefect-"))
    postgres: PostgresServer | None = None
    try:
        postgres = start_server()
    except (PostgresUnavailable, RuntimeError):
        postgres = None  # Prefect on SQLite, then
    try:
        database_url = None
        if postgres is not None:
            url = make_url(postgres.create_database("prefect"))
            database_url = url.set(drivername="postgresql+asyncpg").render_as_string(False)
        try:
            server = start_local_server(folder / "home", database_url=database_url)
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        saved = {k: os.environ.get(k) for k in server.env}
        os.environ.update(server.env)
        try:
            with temporary_settings(
                updates={
                    PREFECT_API_URL: server.api_url,
                    PREFECT_HOME: str(server.home),
                    PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
                }
            ):
                yield PrefectServer(server, postgres)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            server.stop()
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
