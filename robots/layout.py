"""Where the lab's named locations are, so distances give travel times and zones apply to places.

A lab file names locations (``rack``, ``reactor-1``, ``archive``); the robot needs positions. Each
location is the point the hand works at: ``x``, ``y`` on the floor (where the robot stands, in
front of it) and ``z`` the working height. Locations given in the lab file (``options.locations``)
are used as given; any other name gets a default position, so a lab file works without a map:
defaults lie on a ring of ``ring_radius_m`` around the origin, at an angle drawn from the name's
hash (stable across runs and independent of the order names are first used), at bench height.
Give positions for any lab where travel time or the safety zones matter.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

__all__ = ["BENCH_HEIGHT_M", "Layout", "Point"]

Point = tuple[float, float, float]
BENCH_HEIGHT_M = 0.9


class Layout:
    """Positions of named locations; see the module docstring.

    Args:
        positions: Configured positions by location name.
        ring_radius_m: Radius of the ring unconfigured locations are placed on.
    """

    def __init__(self, positions: Mapping[str, Point], ring_radius_m: float = 3.0) -> None:
        self._positions = dict(positions)
        self._radius = ring_radius_m

    def position(self, location: str) -> Point:
        """The position of ``location``: configured, or its default on the ring."""
        configured = self._positions.get(location)
        if configured is not None:
            return configured
        digest = hashlib.sha256(location.encode()).digest()
        angle = 2 * math.pi * int.from_bytes(digest[:8], "big") / 2**64
        return (self._radius * math.cos(angle), self._radius * math.sin(angle), BENCH_HEIGHT_M)

    def configured(self, location: str) -> bool:
        """Whether the lab file gives this location's position."""
        return location in self._positions

    def farthest_m(self) -> float:
        """The longest walk between two configured locations, in metres.

        A bound for estimating a walk whose start is unknown; the ring's diameter when fewer than
        two locations are configured.
        """
        points = list(self._positions.values())
        longest = max(
            (math.dist(a[:2], b[:2]) for i, a in enumerate(points) for b in points[i + 1 :]),
            default=0.0,
        )
        return max(longest, 2 * self._radius if len(points) < 2 else 0.0)
