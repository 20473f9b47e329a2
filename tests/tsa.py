"""A local RFC 3161 time-stamping authority for tests, made with the ``openssl`` command.

:func:`make_tsa` creates, in a folder, a CA and a TSA certificate it issued (extended key usage
``critical, timeStamping``, as RFC 3161 requires) and the ``openssl ts`` configuration to sign
with it. :class:`LocalTsa` serves it over HTTP on ``127.0.0.1`` on a free port: each POST of a
DER ``TimeStampReq`` (``application/timestamp-query``) runs ``openssl ts -reply`` and the DER
``TimeStampResp`` comes back (``application/timestamp-reply``). Start and stop it with a fixture.

Nothing here is trusted by anything but the tests: the keys are made fresh, unencrypted, in the
test's temporary folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = [
    "LocalTsa",
    "OpenSSLMissing",
    "TsaIdentity",
    "closed_port",
    "make_tsa",
    "openssl",
    "serving",
]

RSA = ("-newkey", "rsa:2048")
EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")

_TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {folder}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

_TSA_EXTENSIONS = """\
[ tsa_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now: a TSA that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenSSLMissing(Exception):
    """There is no ``openssl`` command here; the message says how to get one."""


def openssl() -> str:
    """Path of the ``openssl`` command.

    Raises:
        OpenSSLMissing: it is not installed.
    """
    path = shutil.which("openssl")
    if path is None:
        raise OpenSSLMissing(
            "the local TSA needs the openssl command (Debian: apt-get install openssl)"
        )
    return path


def _run(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [openssl(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{done.stderr}")


@dataclass(frozen=True)
class TsaIdentity:
    """The files of one test TSA."""

    folder: Path
    name: str
    config: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate (PEM) that issued the TSA's."""
        return self.folder / "ca.crt"

    @property
    def tsa_cert(self) -> Path:
        """The TSA's signing certificate (PEM)."""
        return self.folder / "tsa.crt"


def make_tsa(folder: Path, name: str, *, key: tuple[str, ...] = RSA) -> TsaIdentity:
    """Create a CA, a TSA certificate issued by it, and the ``openssl ts`` config, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _run(
        "req", "-x509", *key, "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", f"/O=CFL tests/CN={name} CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _run(
        "req", "-new", *key, "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", f"/O=CFL tests/CN={name}",
        cwd=folder,
    )  # fmt: skip
    (folder / "tsa_ext.cnf").write_text(_TSA_EXTENSIONS)
    _run(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "tsa_ext.cnf", "-extensions", "tsa_ext",
        "-out", "tsa.crt",
        cwd=folder,
    )  # fmt: skip
    (folder / "serial").write_text("01\n")
    config = folder / "tsa.cnf"
    config.write_text(_TSA_CONFIG.format(folder=folder))
    return TsaIdentity(folder=folder, name=name, config=config)


class LocalTsa:
    """``identity`` served as an RFC 3161 TSA over HTTP on ``127.0.0.1`` (a free port)."""

    def __init__(self, identity: TsaIdentity) -> None:
        self.identity = identity
        self.requests = 0
        self._lock = threading.Lock()  # openssl ts keeps the serial number in a file
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self._answer(415, b"expected application/timestamp-query", "text/plain")
                    return
                try:
                    reply = tsa.reply(body)
                except RuntimeError as exc:
                    self._answer(500, str(exc).encode(), "text/plain")
                    return
                self._answer(200, reply, "application/timestamp-reply")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"tsa-{identity.name}", daemon=True
        )

    @property
    def url(self) -> str:
        """Where to POST time-stamp queries."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def reply(self, query: bytes) -> bytes:
        """The DER ``TimeStampResp`` ``openssl ts -reply`` gives for a DER ``TimeStampReq``."""
        with self._lock, tempfile.TemporaryDirectory(prefix="tsa-") as scratch:
            folder = Path(scratch)
            (folder / "query.tsq").write_bytes(query)
            _run(
                "ts", "-reply", "-config", str(self.identity.config),
                "-queryfile", "query.tsq", "-out", "reply.tsr",
                cwd=folder,
            )  # fmt: skip
            self.requests += 1
            return (folder / "reply.tsr").read_bytes()

    def start(self) -> LocalTsa:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def serving(folder: Path, name: str, *, key: tuple[str, ...] = RSA) -> Iterator[LocalTsa]:
    """A new TSA made in ``folder`` and served while the ``with`` block runs.

    Raises:
        OpenSSLMissing: there is no ``openssl`` command (fixtures skip on it, saying so).
    """
    tsa = LocalTsa(make_tsa(folder, name, key=key)).start()
    try:
        yield tsa
    finally:
        tsa.stop()
