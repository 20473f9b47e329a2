"""``driver: kapex``: the KAPEX humanoid as a CFL device.

CFL asks a robot to ``pick(sample, location)`` and ``place(sample, location)``
(:class:`~cfl.devices.Transfers`); this adapter turns each call into one ``pick`` or ``place``
skill goal on a :class:`~robots.kapex.client.KapexClient`, over the transport the lab file names
(``transport: sim`` for the simulated robot on the lab's bench), and also implements
:class:`~cfl.devices.Stoppable` (``stop()`` cancels the running goal),
:class:`~cfl.devices.Estimates` (walk plus grasp or release) and :class:`~cfl.devices.Closeable`
(cancel, release the lease, disconnect).

Decisions:

* **Retries are CFL's, not the driver's.** A slipped grasp or an object not seen raises
  :class:`~cfl.errors.DeviceFault` with ``retryable=True`` and the dispatcher tries the step again
  after the lab's back-off. One retry policy for the whole lab, set in the lab file; every failed
  attempt is an alert in the ledger and counts towards quarantine, so a robot that keeps dropping
  vials is taken out of service like any instrument; every attempt is its own goal, so its own
  episode (with ``attempts`` counting the tries), and each try gets its own deadline. Retrying in
  the driver too would multiply the attempts and hide them from the ledger.
* **The lease is held for the run.** Taken at the first goal and kept alive while goals run; given
  up when the run closes the device, or after ``lease_idle_release_s`` without goals, so a stalled
  run neither blocks the teams sharing the robot nor keeps a virtual clock turning.
* **Errors are translated once**, by code (:mod:`robots.kapex.errors`): safety and e-stop to
  :class:`~cfl.errors.SafetyInterlock` (never retried), grasp and perception to a retryable
  :class:`~cfl.errors.DeviceFault`, deadlines to :class:`~cfl.errors.DeviceTimeout`, a lost link
  to :class:`~cfl.errors.DeviceDisconnected`.
* **No I/O in** ``from_config``: options are validated and the transport's module imported; the
  connection, a ``safety_file`` and the episode store are opened at the first goal.
* **Episodes** of every goal go to ``robots.dataset.store.EpisodeStore(<data_dir>/episodes)`` when
  the lab keeps data (:func:`robots.recording.lab_sink`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import ClassVar

from pydantic import JsonValue

from cfl.devices import DeviceContext, parse_options
from cfl.errors import SpecError
from cfl.space import ParamValue
from robots.contract import GoalStatus, RobotError
from robots.episodes import EpisodeSink
from robots.kapex.client import KapexClient
from robots.kapex.errors import from_robot, from_transport
from robots.kapex.goals import GoalHandle
from robots.kapex.options import KapexOptions
from robots.kapex.transport import TransportError, TransportFactory, resolve_transport
from robots.layout import Layout
from robots.recording import lab_sink
from robots.safety import SafetyPolicy, load_policy
from robots.sim.motion import walk_time_s
from robots.world import lab_world

__all__ = ["KapexDriver"]


class KapexDriver:
    """KAPEX as a CFL device; see the module docstring."""

    measurands: ClassVar[Mapping[str, tuple[float, float]]] = {}

    def __init__(
        self,
        name: str,
        options: KapexOptions,
        context: DeviceContext,
        factory: TransportFactory,
        *,
        sink: EpisodeSink | None = None,
    ) -> None:
        self.name = name
        self.options = options
        self._context = context
        self._factory = factory
        self.requires_wall_clock = options.transport != "sim"
        """A real robot works in real time; CFL refuses it in a lab on the virtual clock."""
        self.layout = Layout(options.locations, options.ring_radius_m)
        self._sink = sink
        """Where episodes go instead of the lab's store (a test's, a tool's)."""
        self._client: KapexClient | None = None
        self._abandoned: set[asyncio.Task[None]] = set()

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> KapexDriver:
        parsed = parse_options(KapexOptions, options, device=name)
        try:
            factory = resolve_transport(parsed.transport)
        except SpecError as exc:
            raise SpecError(f"device {name!r}: {exc.message}", field="options.transport") from exc
        return cls(name, parsed, context, factory)

    @property
    def client(self) -> KapexClient:
        """The session with the robot, made on first use (the contract's full API)."""
        if self._client is None:
            o, context = self.options, self._context
            transport = self._factory(self.name, o, context)
            self._client = KapexClient(
                self.name,
                transport=transport,
                serial=o.serial,
                policy=self._policy(),
                layout=self.layout,
                world=lab_world(context.bench),
                clock=context.clock,
                owner=o.owner or self._default_owner(),
                lease_ttl_s=o.lease_ttl_s,
                lease_idle_release_s=o.lease_idle_release_s,
                goal_deadline_s=o.goal_deadline_s,
                deadline_grace_s=o.deadline_grace_s,
                sink=self._episode_sink(),
                provenance=(context.site, context.team, context.campaign),
                record_fps=o.record_fps,
            )
        return self._client

    def _episode_sink(self) -> EpisodeSink | None:
        if not self.options.record:
            return None
        return self._sink if self._sink is not None else lab_sink(self._context.data_dir)

    def _default_owner(self) -> str:
        context = self._context
        return f"cfl/{context.site or 'lab'}/{context.team or 'team'}/{self.name}"

    def _policy(self) -> SafetyPolicy:
        if self.options.safety is not None:
            return self.options.safety
        if self.options.safety_file is not None:
            return load_policy(self.options.safety_file)
        return SafetyPolicy()

    # ----------------------------------------------------------------------- Transfers

    async def pick(self, sample: str, location: str) -> None:
        """Pick ``sample`` up at ``location`` (one ``pick`` goal)."""
        await self._transfer("pick", sample, location)

    async def place(self, sample: str, location: str) -> None:
        """Set the held ``sample`` down at ``location`` (one ``place`` goal)."""
        await self._transfer("place", sample, location)

    async def _transfer(self, skill: str, sample: str, location: str) -> None:
        o = self.options
        args: dict[str, JsonValue] = {
            "object": sample,
            "location": location,
            "hand": o.hand,
            "grip_force_n": o.grip_force_n,
            "payload_kg": o.payload_kg,
        }
        client = self.client
        try:
            await client.acquire_lease()
            handle = await client.submit(skill, args)
        except RobotError as exc:
            raise from_robot(exc.info, device=self.name, command=skill) from exc
        except TransportError as exc:
            raise from_transport(exc, device=self.name, command=skill) from exc
        try:
            result = await handle.result()
        except asyncio.CancelledError:
            # CFL gave up on the step (its deadline): the goal must not run on unobserved.
            task = asyncio.get_running_loop().create_task(self._cancel_quietly(handle))
            self._abandoned.add(task)
            task.add_done_callback(self._abandoned.discard)
            raise
        if result.status is not GoalStatus.SUCCEEDED:
            assert result.error is not None
            raise from_robot(
                result.error,
                device=self.name,
                command=skill,
                timeout_s=handle.request.deadline_s,
            )

    @staticmethod
    async def _cancel_quietly(handle: GoalHandle) -> None:
        with contextlib.suppress(RobotError, TransportError):
            await handle.cancel()

    # ------------------------------------------------------------- Stoppable, Estimates

    async def stop(self) -> None:
        """Cancel the running goal and wait until the robot has ended it."""
        client = self._client
        active = None if client is None else client.active
        if active is None:
            return
        try:
            await active.cancel()
        except RobotError as exc:
            raise from_robot(exc.info, device=self.name, command="stop") from exc
        except TransportError as exc:
            raise from_transport(exc, device=self.name, command="stop") from exc
        await active.result()

    def expected_duration_s(self, command: str, args: Mapping[str, ParamValue]) -> float | None:
        """The longest walk between known locations, then the grasp or the release."""
        o = self.options
        walk = o.stow_s + walk_time_s(self.layout.farthest_m(), o.walk_speed_m_s, o.accel_m_s2)
        return {"pick": walk + o.grasp_s, "place": walk + o.release_s}.get(command)

    # ------------------------------------------------------------------------ Closeable

    async def close(self) -> None:
        """Cancel what runs, give the lease up, disconnect; the next goal reconnects."""
        if self._client is not None:
            await self._client.disconnect()
        await asyncio.gather(*self._abandoned, return_exceptions=True)
