"""A throwaway local PostgreSQL server for tests.

:func:`start_server` runs ``initdb`` and ``pg_ctl`` on a fresh data directory and starts the
server on ``127.0.0.1`` on a free port with trust authentication; :meth:`PostgresServer.stop`
shuts it down by its postmaster PID and removes the directory. PostgreSQL refuses to run as
root, so as root every server command runs as the ``postgres`` system user via ``runuser``.

The pytest fixtures built on this live in ``tests/cfl/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

__all__ = ["PostgresServer", "PostgresUnavailable", "find_bindir", "free_port", "start_server"]

SUPERUSER = "postgres"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be run on this machine; the message says why and what to do."""


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``.

    ``PATH`` comes first, then Debian's ``/usr/lib/postgresql/<version>/bin`` (newest version).
    """
    initdb = shutil.which("initdb")
    if initdb is not None:
        folder = Path(initdb).parent
        if all((folder / tool).exists() for tool in ("pg_ctl", "postgres")):
            return folder
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1,
        reverse=True,
    )
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state != "Z"


@dataclass
class PostgresServer:
    """A running server: connect as ``postgres`` without a password on ``127.0.0.1:port``."""

    bindir: Path
    root: Path
    """Temporary folder holding the data directory, the log and the Unix socket."""
    port: int
    run_as: str | None
    """System user the server runs as (``postgres`` when the tests run as root)."""
    host: str = "127.0.0.1"
    _stopped: bool = field(default=False, repr=False)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def log(self) -> str:
        """The server log so far (for failure messages)."""
        try:
            return self.logfile.read_text(errors="replace")
        except OSError as exc:
            return f"<no server log: {exc}>"

    def url(self, database: str = "postgres") -> str:
        """``postgresql://postgres@127.0.0.1:PORT/<database>``."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit admin connection (CREATE/DROP DATABASE cannot run in a transaction)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=SUPERUSER,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (default: a unique ``cfl_<hex>`` name) and return its URL."""
        name = name or f"cfl_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            # FILE_COPY (PostgreSQL 15+) skips WAL-logging the template: several times faster.
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(sql.SQL("CREATE DATABASE {}" + strategy).format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        with self.connect() as conn:
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(name)))

    def postmaster_pid(self) -> int | None:
        """PID from the first line of ``postmaster.pid``, if the server wrote one."""
        try:
            return int((self.datadir / "postmaster.pid").read_text().splitlines()[0].strip())
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``, then SIGKILL) and delete its folder."""
        if self._stopped:
            return
        self._stopped = True
        pid = self.postmaster_pid()
        try:
            if pid is not None and _alive(pid):
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    _run(
                        [
                            str(self.bindir / "pg_ctl"),
                            "-D",
                            str(self.datadir),
                            "-m",
                            "fast",
                            "-w",
                            "-t",
                            str(int(STOP_TIMEOUT_S)),
                            "stop",
                        ],
                        run_as=self.run_as,
                        timeout=STOP_TIMEOUT_S + 5,
                        check=False,
                    )
                deadline = time.monotonic() + 5.0
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if _alive(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    deadline = time.monotonic() + 5.0
                    while _alive(pid) and time.monotonic() < deadline:
                        time.sleep(0.1)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _run(
    args: Sequence[str],
    *,
    run_as: str | None,
    timeout: float,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    command = list(args) if run_as is None else ["runuser", "-u", run_as, "--", *args]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "LC_ALL": "C", "LANG": "C"},
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def _server_user() -> str | None:
    """``None`` to run as ourselves, else the system user to run the server as.

    Raises:
        PostgresUnavailable: running as root without a ``postgres`` user or ``runuser``.
    """
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(
            "PostgreSQL refuses to run as root and there is no 'postgres' system user to run it "
            "as: run the tests as a normal user or install Debian's postgresql package"
        ) from None
    if shutil.which("runuser") is None:
        raise PostgresUnavailable(
            "PostgreSQL refuses to run as root and 'runuser' (util-linux) is not available to "
            "run it as the 'postgres' user: run the tests as a normal user"
        )
    return SUPERUSER


def start_server() -> PostgresServer:
    """Initialise and start a private server; the caller must :meth:`~PostgresServer.stop` it.

    Raises:
        PostgresUnavailable: no PostgreSQL binaries, or no way to run them (see the message).
        RuntimeError: ``initdb`` or ``pg_ctl start`` failed, or the server never accepted
            connections within ``START_TIMEOUT_S``; the message carries the output and log.
    """
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's postgresql "
            "package to run the PostgreSQL tests"
        )
    run_as = _server_user()
    # Under /tmp with 0755, not pytest's 0700 tmp folders, so the postgres user can reach it.
    root = Path(tempfile.mkdtemp(prefix="cfl-pg-", dir="/tmp"))
    root.chmod(0o755)
    if run_as is not None:
        user = pwd.getpwnam(run_as)
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PostgresServer(bindir=bindir, root=root, port=free_port(), run_as=run_as)
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(server.datadir),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            run_as=run_as,
            timeout=120,
        )
        options = (
            f"-p {server.port} -c listen_addresses={server.host} "
            f"-c unix_socket_directories={root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            _run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(server.datadir),
                    "-o",
                    options,
                    "-l",
                    str(server.logfile),
                    "-w",
                    "-t",
                    str(int(START_TIMEOUT_S)),
                    "start",
                ],
                run_as=run_as,
                timeout=START_TIMEOUT_S + 10,
            )
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nserver log:\n{server.log()}") from exc
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: PostgresServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with server.connect() as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL on port {server.port} did not accept connections within "
                    f"{START_TIMEOUT_S:.0f} s ({exc}); server log:\n{server.log()}"
                ) from exc
            time.sleep(0.2)
