r"""The ``scpi`` driver: a benchtop SCPI instrument over PyVISA, configured in the lab file alone.

A heating block, thermostat, photometer or balance that speaks SCPI joins a lab without code::

    devices:
      block-1:
        driver: scpi
        role: heater
        address: "TCPIP0::192.168.0.40::5025::SOCKET"   # any VISA resource string
        options:
          backend: "@py"            # pyvisa-py; "@ivi" for a vendor VISA; "file.yaml@sim" in tests
          read_termination: "\n"
          write_termination: "\n"
          timeout_ms: 2000          # per reply
          error_query: "SYST:ERR?"  # the default; null for an instrument without an error queue
          capabilities: [heats, measures, stoppable]
          heat: {set: "SOUR:TEMP {target_c:.2f}", read: "MEAS:TEMP?", tolerance_c: 0.5,
                 poll_s: 5, settle_timeout_s: 1800}
          measure: {quantities: {absorbance: {query: "MEAS:ABS?", range: [-0.1, 4.0]}}}
          stop: ["OUTP OFF"]        # sent in order when a step overruns its deadline

Capabilities. The built device implements exactly the capabilities listed (``measures``,
``heats``, ``stoppable``), each needing its section: CFL checks a protocol against the devices'
capability protocols before a campaign starts, so a block that cannot measure must not look as if
it could. Each capability is a small mixin; :func:`instrument_class` composes one class per set,
named after it (``ScpiMeasuresHeats``) so error messages say what the device is.

* ``measure`` sends each quantity's query and parses the reply as a number; the reading keeps the
  raw replies. ``range`` is declared as the device's ``measurands``: the dispatcher, not the
  driver, refuses a value outside it, so the same rule holds for every instrument. SCPI's
  over-range and not-a-number markers (9.9E37, 9.91E37) are refused here, as faults.
* ``heat`` writes the setpoint, then reads the temperature every ``poll_s`` lab seconds until it
  is within ``tolerance_c``, and times out after ``settle_timeout_s``.
* ``stop`` sends the ``stop`` commands.

The ``sample`` argument is accepted and ignored: the robot has already placed the vial in the
instrument, and an SCPI instrument has no notion of which vial it holds, so there is nothing to
tell it.

Error-queue discipline. After every command and every query, the driver reads the error queue
(``error_query``) until it answers code 0 (``0,"No error"`` or ``+0,...``). Any entries raise
:class:`~instruments.scpi.replies.ScpiError` (a :class:`~cfl.errors.DeviceFault`) carrying their
codes and texts and the command that caused them, so an instrument that silently rejected a
setpoint never lets a campaign go on as if it had been set, and the next command starts from an
empty queue. Entries already queued when a session opens predate it and are only logged. No reply
within ``timeout_ms`` is a :class:`~cfl.errors.DeviceTimeout`, a failed connection a
:class:`~cfl.errors.DeviceDisconnected` (both retryable); after either the session is reopened on
the next command. Details in :mod:`instruments.scpi.session`.

Connections open on first use, never in :meth:`ScpiInstrument.from_config`, which CFL also calls
to validate lab files. Commands to one instrument run one at a time.

Examples: ``tests/instruments/scpi/benchtop.yaml`` simulates a heating block and a photometer with
pyvisa-sim (point ``backend`` at it with ``@sim`` to try a lab file without hardware), and
``tests/instruments/scpi/wire.py`` is a small SCPI server on a TCP socket.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import cast

from pydantic import JsonValue
from pyvisa.rname import InvalidResourceName, parse_resource_name

from cfl.clock import LabClock
from cfl.devices import DeviceContext, Reading, parse_options
from cfl.errors import DeviceFault, DeviceTimeout, SpecError
from instruments.scpi.options import CAPABILITIES, Capability, ScpiOptions
from instruments.scpi.replies import parse_number
from instruments.scpi.session import ScpiSession

__all__ = ["ScpiInstrument", "instrument_class"]


class ScpiInstrument:
    """An SCPI instrument; what it can do is composed from its options (module docstring).

    Build it with :meth:`from_config`; the object returned is of a subclass that adds the
    configured capabilities.
    """

    def __init__(
        self, name: str, options: ScpiOptions, context: DeviceContext, address: str
    ) -> None:
        self.name = name
        self.options = options
        self._clock: LabClock = context.clock
        self._session = ScpiSession(name, address, options)
        quantities = options.measure.quantities if options.measure is not None else {}
        self.measurands: Mapping[str, tuple[float, float]] = MappingProxyType(
            {quantity: q.range for quantity, q in quantities.items()}
        )
        """Each measured quantity's physical range, from ``measure.quantities``."""

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> ScpiInstrument:
        """Validate the lab-file entry and build the device, without touching the instrument.

        Raises:
            SpecError: an option is missing, unknown or invalid, or the address is missing or
                not a VISA resource string.
        """
        parsed = parse_options(ScpiOptions, options, device=name)
        address = _checked_address(name, context.address)
        return instrument_class(frozenset(parsed.capabilities))(name, parsed, context, address)

    @property
    def address(self) -> str:
        """The VISA resource string the instrument is reached at."""
        return self._session.address

    async def close(self) -> None:
        """Close the VISA session; the next command would open it again."""
        await self._session.close()


class _Measures(ScpiInstrument):
    async def measure(self, sample: str) -> Reading:
        """Query every configured quantity of the sample sitting in the instrument.

        ``sample`` is ignored: see the module docstring.

        Raises:
            DeviceFault: a reply is not a number (or is SCPI's over-range marker), or the error
                queue reported a fault; DeviceTimeout, DeviceDisconnected as for any command.
        """
        config = self.options.measure
        assert config is not None  # ScpiOptions requires it with "measures"
        values: dict[str, float] = {}
        raw: dict[str, JsonValue] = {}
        for quantity, spec in config.quantities.items():
            reply = await self._session.query(spec.query)
            raw[quantity] = reply
            try:
                values[quantity] = parse_number(reply)
            except ValueError as exc:
                raise DeviceFault(
                    f"{self.name}: {quantity}: {exc} (reply to {spec.query!r}); check that the "
                    "query returns a single number, and the sample and measurement range",
                    device=self.name,
                    command=spec.query,
                ) from exc
        return Reading(values=values, raw=raw)


class _Heats(ScpiInstrument):
    async def heat(self, sample: str, target_c: float) -> float:
        """Set ``target_c`` and wait on the lab clock until the temperature is within tolerance.

        ``sample`` is ignored: see the module docstring.

        Returns:
            The temperature read within tolerance of the target.

        Raises:
            DeviceTimeout: not within tolerance after ``settle_timeout_s`` lab seconds.
            DeviceFault: the instrument refused the setpoint (error queue) or sent a non-number.
        """
        config = self.options.heat
        assert config is not None  # ScpiOptions requires it with "heats"
        await self._session.write(config.set.format(target_c=target_c))
        deadline = self._clock.now() + config.settle_timeout_s
        while True:
            reply = await self._session.query(config.read)
            try:
                temperature = parse_number(reply)
            except ValueError as exc:
                raise DeviceFault(
                    f"{self.name}: temperature: {exc} (reply to {config.read!r}); check "
                    "options.heat.read",
                    device=self.name,
                    command=config.read,
                ) from exc
            if abs(temperature - target_c) <= config.tolerance_c:
                return temperature
            remaining = deadline - self._clock.now()
            if remaining <= 0:
                raise DeviceTimeout(
                    f"{self.name}: at {temperature:g} °C, not within {config.tolerance_c:g} °C "
                    f"of {target_c:g} °C after {config.settle_timeout_s:g} s; check that the "
                    "instrument can reach that temperature (its limits, heater, lid), or raise "
                    "options.heat.settle_timeout_s",
                    device=self.name,
                    command="heat",
                    timeout_s=config.settle_timeout_s,
                )
            await self._clock.sleep(min(config.poll_s, remaining))


class _Stoppable(ScpiInstrument):
    async def stop(self) -> None:
        """Send the ``stop`` commands in order, each checked against the error queue."""
        assert self.options.stop is not None  # ScpiOptions requires it with "stoppable"
        for command in self.options.stop:
            await self._session.write(command)


_MIXINS: Mapping[Capability, type[ScpiInstrument]] = {
    "measures": _Measures,
    "heats": _Heats,
    "stoppable": _Stoppable,
}


@functools.cache
def instrument_class(capabilities: frozenset[Capability]) -> type[ScpiInstrument]:
    """The class implementing exactly ``capabilities``, built once per set.

    One class per set, rather than one class with every method, because CFL reads what a device
    can do from the protocols it satisfies (``isinstance(device, Heats)``).
    """
    ordered = [c for c in CAPABILITIES if c in capabilities]
    name = "Scpi" + "".join(c.capitalize() for c in ordered)
    bases = tuple(_MIXINS[c] for c in ordered)
    namespace = {"__module__": __name__, "__doc__": f"SCPI instrument that {', '.join(ordered)}."}
    return cast(type[ScpiInstrument], type(name, bases, namespace))


def _checked_address(name: str, address: str | None) -> str:
    """The device's VISA resource string, checked for syntax only (no I/O)."""
    if not address:
        raise SpecError(
            f"device {name!r} has no address; give its VISA resource string, e.g. "
            'address: "TCPIP0::192.168.0.40::5025::SOCKET"'
        )
    try:
        parse_resource_name(address)
    except InvalidResourceName as exc:
        raise SpecError(
            f"device {name!r} has a bad address {address!r}: {exc}; e.g. "
            '"TCPIP0::192.168.0.40::5025::SOCKET", "USB0::0x1234::0x5678::SN1::INSTR"'
        ) from exc
    return address
