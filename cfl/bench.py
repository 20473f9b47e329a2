"""The physical truth of a simulated lab: which sample sits where, and what is in it.

Simulated devices share one bench, as real devices share one room: the robot moves a vial, the
reactor fills it, the HPLC reads what the reactor put there. Each simulator checks the bench before
it acts, so a protocol that would place a vial on an occupied station, or measure a sample that is
not in the instrument, fails in simulation the way it would fail on the bench. Real drivers never
touch it; the orchestrator's own belief of where things are is kept elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cfl.errors import DeviceFault

__all__ = ["Bench", "BenchSample"]


@dataclass
class BenchSample:
    """One vial on the simulated bench."""

    id: str
    location: str
    held_by: str | None = None
    """Name of the robot holding it, when it is in a gripper rather than at a location."""
    charge: dict[str, float | int | str] = field(default_factory=dict)
    """What was put in: the conditions the vial was made under."""
    contents: dict[str, float] = field(default_factory=dict)
    """What is in it now (species to concentration, mol/L)."""


class Bench:
    """Sample positions and contents of a simulated lab.

    Args:
        locations: Location name to capacity (``None`` for unlimited, e.g. a rack). Devices that
            hold samples register their own location with capacity 1.
        supplies: Locations that hand out a fresh empty vial whenever one is picked there.
    """

    def __init__(
        self, locations: Mapping[str, int | None], supplies: frozenset[str] = frozenset()
    ) -> None:
        self._capacity: dict[str, int | None] = dict(locations)
        self._supplies = supplies
        self._samples: dict[str, BenchSample] = {}

    def add_location(self, name: str, capacity: int | None) -> None:
        """Register a place samples can sit (a device registers its own station)."""
        self._capacity[name] = capacity

    def sample(
        self, sample_id: str, *, device: str = "bench", command: str | None = None
    ) -> BenchSample:
        """The sample with this id.

        Raises:
            DeviceFault: there is none; attributed to ``device`` and ``command`` when a device
                asked for it as part of a command.
        """
        try:
            return self._samples[sample_id]
        except KeyError:
            raise DeviceFault(
                f"no sample {sample_id!r} on the bench", device=device, command=command
            ) from None

    def occupants(self, location: str) -> list[str]:
        """Ids of the samples at ``location``."""
        return [s.id for s in self._samples.values() if s.location == location and not s.held_by]

    def take(self, sample_id: str, location: str, *, robot: str) -> BenchSample:
        """A robot lifts ``sample_id`` from ``location``.

        Raises:
            DeviceFault: the sample is not there (a supply location makes a fresh vial instead).
        """
        if sample_id not in self._samples and location in self._supplies:
            self._samples[sample_id] = BenchSample(id=sample_id, location=location)
        sample = self.sample(sample_id, device=robot, command="pick")
        if sample.held_by is not None or sample.location != location:
            where = f"held by {sample.held_by}" if sample.held_by else f"at {sample.location}"
            raise DeviceFault(
                f"{robot} cannot pick {sample_id} at {location}: the sample is {where}",
                device=robot,
                command="pick",
            )
        sample.held_by = robot
        return sample

    def put(self, sample_id: str, location: str, *, robot: str) -> None:
        """A robot sets down the sample it holds at ``location``.

        Raises:
            DeviceFault: the robot does not hold it, the location is unknown, or it is full.
        """
        sample = self.sample(sample_id, device=robot, command="place")
        if sample.held_by != robot:
            raise DeviceFault(
                f"{robot} cannot place {sample_id}: it is not holding it",
                device=robot,
                command="place",
            )
        if location not in self._capacity:
            raise DeviceFault(
                f"{robot} cannot place {sample_id} at unknown location {location!r}",
                device=robot,
                command="place",
            )
        capacity = self._capacity[location]
        if capacity is not None and len(self.occupants(location)) >= capacity:
            raise DeviceFault(
                f"{robot} cannot place {sample_id} at {location}: it already holds "
                f"{self.occupants(location)}",
                device=robot,
                command="place",
            )
        sample.held_by = None
        sample.location = location

    def require_at(
        self, sample_id: str, location: str, *, device: str, command: str
    ) -> BenchSample:
        """The sample, after checking it sits at ``location`` (an instrument's own station)."""
        sample = self.sample(sample_id, device=device, command=command)
        if sample.held_by is not None or sample.location != location:
            raise DeviceFault(
                f"{device} cannot {command} {sample_id}: it is not in the instrument "
                f"(it is at {sample.held_by or sample.location})",
                device=device,
                command=command,
            )
        return sample
