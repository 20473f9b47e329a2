"""``cfl sim serve LAB``: serve a lab file's simulated devices as SiLA 2 servers.

Registered under the ``cfl.cli`` entry-point group as ``sim``, so the core CLI picks it up without
importing it. The lab's devices are built as a campaign would build them (``Lab.build``: one
bench, one clock, the lab file's ``faults:``), on the wall clock sped up ``--speed`` times, and each
device with an ``address: HOST:PORT`` is served on that port. A campaign whose lab file reaches
the same names and addresses with ``driver: sila`` then runs on these simulators over the wire;
the device names must match, because a robot is told to place a vial "at reactor-1", and the
served bench knows its stations by those names.

A simulated KAPEX (``driver: kapex`` on ``transport: sim``) is served as the robot it simulates,
not as the generic ``Transfers`` feature: leases, e-stop, goals with streamed feedback
(:mod:`robots.sila.server`), so a client lab file reaches it with ``driver: kapex`` and
``transport: sila`` as it would the real robot; when the server stops it prints how many goals it
served. ``instruments`` does not import ``robots`` (the layering rule), so the robot's server is
found by name, as a lab file's ``module:Class`` driver is: :data:`SERVER_HOOKS`.

Exit codes: 0 stopped by SIGINT or SIGTERM; 2 bad input (lab file, address, port in use).
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Protocol, runtime_checkable

import typer

from cfl.errors import SpecError
from cfl.lab import Lab
from cfl.spec import load_lab
from cfl.wire.address import split_address
from cfl.wire.loop import DeviceLoop
from instruments.sila.progress import TrackingClock
from instruments.sila.server import DeviceServer

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Simulated labs: serve a lab file's simulated devices over SiLA 2.",
)

EXIT_BAD_INPUT = 2

SERVER_HOOKS = ("robots.sila.server:serve_device",)
"""``module:function`` of each hook that serves devices of its own kind, tried in order before the
generic :class:`~instruments.sila.server.DeviceServer`. A hook is called as
``hook(device, name=name, loop=loop)`` and returns a :class:`ServedDevice`, or ``None`` for a
device it does not serve."""


@runtime_checkable
class ServedDevice(Protocol):
    """A device served by a hook: started and stopped like a ``DeviceServer``."""

    features: tuple[str, ...]
    """The SiLA 2 features it implements, for the log."""

    def start(self, host: str, port: int) -> Any: ...

    def stop(self) -> None: ...

    def report(self) -> str:
        """One line on what it served, printed when the server stops."""
        ...


def _by_hook(device: object, name: str, loop: DeviceLoop) -> ServedDevice | None:
    """The first hook's server for ``device``, if a hook serves it."""
    for path in SERVER_HOOKS:
        module_name, _, attribute = path.partition(":")
        hook: Callable[..., object] = getattr(importlib.import_module(module_name), attribute)
        served = hook(device, name=name, loop=loop)
        if served is not None:
            if not isinstance(served, ServedDevice):
                raise TypeError(f"{path} returned {served!r}, not a served device")
            return served
    return None


@app.callback()
def main() -> None:
    """Simulated labs: serve a lab file's simulated devices over SiLA 2."""
    # A callback keeps ``serve`` a sub-command even when this app is run on its own.


def _configure_logging(verbose: bool) -> None:
    """Warnings from CFL; ``sila2``'s own log (a traceback per error it relays) only if verbose."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(lambda record: "sila2" not in Path(record.pathname).parts)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


@app.command()
def serve(
    lab_path: Annotated[Path, typer.Argument(metavar="LAB", help="Lab file (YAML).")],
    speed: Annotated[
        float, typer.Option(min=1e-3, help="Lab seconds per wall second (60: an hour a minute).")
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulators' noise and faults.")] = 0,
    reconnect_after: Annotated[
        float,
        typer.Option(min=0, help="Wall seconds a device stays away after a disconnect fault."),
    ] = 0.5,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every SiLA 2 call.")] = False,
) -> None:
    """Serve each device of LAB that has an address as a SiLA 2 server, until stopped."""
    _configure_logging(verbose)
    try:
        spec = load_lab(lab_path)
        addresses: dict[str, tuple[str, int]] = {}
        for name, entry in spec.devices.items():
            if entry.address is None:
                continue
            try:
                addresses[name] = split_address(entry.address)
            except ValueError as exc:
                raise SpecError(str(exc), field=f"lab.devices.{name}.address") from exc
        if not addresses:
            raise SpecError(
                f"no device of {lab_path} has an address, so there is nothing to serve; give "
                "each device to serve an address: 127.0.0.1:PORT"
            )
        clock = TrackingClock(speed=speed)
        lab = Lab.build(spec, clock=clock, seed=seed)
    except SpecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc

    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    loop = DeviceLoop(clock).start()
    servers: list[DeviceServer | ServedDevice] = []
    hooked: list[ServedDevice] = []
    try:
        for name, (host, port) in addresses.items():
            device = lab.devices[name]
            special = _by_hook(device, name, loop)
            if special is not None:
                special.start(host, port)
                servers.append(special)
                hooked.append(special)
                features = ", ".join(special.features)
            else:
                server = DeviceServer(
                    device, name=name, loop=loop, reconnect_after_s=reconnect_after
                )
                servers.append(server.start(host, port))
                features = ", ".join(c.protocol.__name__ for c in server.capabilities)
            typer.echo(f"serving {name} ({type(device).__name__}: {features}) on {host}:{port}")
        skipped = sorted(set(spec.devices) - set(addresses))
        if skipped:
            typer.echo(f"not served (no address): {', '.join(skipped)}")
        typer.echo(
            f"lab {spec.name}: {len(servers)} SiLA 2 servers at {speed:g} lab seconds per second, "
            f"seed {seed}; stop with Ctrl-C or SIGTERM"
        )
        while not stop.wait(0.2):
            pass
    except SpecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    finally:
        for running in reversed(servers):
            running.stop()
        for served in hooked:
            typer.echo(served.report())
        loop.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("stopped")
