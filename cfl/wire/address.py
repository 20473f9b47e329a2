"""Where a wire device is (``host:port``), and the lock SiLA 2 clients are built under."""

from __future__ import annotations

import threading

__all__ = ["DIALLING", "split_address"]

DIALLING = threading.Lock()
"""Held while a ``SilaClient`` is built. ``sila2`` 0.14 compiles each feature's protobuf module
per client, through ``sys.modules`` and not thread-safely: two clients built at once fail with
``KeyError('<Feature>_pb2')``. Every SiLA 2 client in the process (instruments, robots) takes it."""


def split_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:50052"`` -> ``("127.0.0.1", 50052)``; ``"[::1]:50052"`` works too.

    Raises:
        ValueError: not ``host:port`` with a port from 1 to 65535.
    """
    host, sep, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port (e.g. 127.0.0.1:50052)")
    return host, int(port)
