"""Per-feature statistics: one episode's, and many episodes' pooled without re-reading frames.

Policies normalise their inputs with these numbers, so they follow LeRobot's definitions
(``lerobot/datasets/compute_stats.py``): min, max, mean and the population standard deviation
(``ddof=0``) over the frames, per vector component, and the frame count. Pooling uses the same
parallel-variance formula as LeRobot's ``aggregate_stats``, so ``meta/stats.json`` equals the stats
of all frames taken together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FeatureStats", "pool", "stats_of"]


@dataclass(frozen=True)
class FeatureStats:
    """Statistics of one feature; each array has one entry per vector component."""

    min: NDArray[np.float64]
    max: NDArray[np.float64]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    count: int

    def as_lists(self) -> dict[str, list[float] | list[int]]:
        """JSON- and parquet-ready lists, ``count`` as a one-element list like LeRobot's."""
        return {
            "min": self.min.tolist(),
            "max": self.max.tolist(),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "count": [self.count],
        }


def stats_of(values: NDArray[np.generic]) -> FeatureStats:
    """Statistics of ``values``: shape ``(frames,)`` for a scalar feature, ``(frames, n)`` else.

    Computed in float64 whatever the stored dtype, so a float32 feature's mean is not rounded
    twice.

    Raises:
        ValueError: ``values`` has no frame (statistics of nothing are undefined; episodes without
            frames are not LeRobot episodes).
    """
    data = np.asarray(values, dtype=np.float64)
    if data.shape[0] == 0:
        raise ValueError("statistics need at least one frame")
    if data.ndim == 1:
        data = data[:, None]
    return FeatureStats(
        min=data.min(axis=0),
        max=data.max(axis=0),
        mean=data.mean(axis=0),
        std=data.std(axis=0),
        count=int(data.shape[0]),
    )


def pool(parts: Sequence[FeatureStats]) -> FeatureStats:
    """The statistics of the union of the frames ``parts`` describe.

    Raises:
        ValueError: ``parts`` is empty.
    """
    if not parts:
        raise ValueError("nothing to pool")
    counts = np.array([p.count for p in parts], dtype=np.float64)[:, None]
    means = np.stack([p.mean for p in parts])
    total = float(counts.sum())
    mean = (means * counts).sum(axis=0) / total
    variances = np.stack([p.std**2 for p in parts])
    variance = ((variances + (means - mean) ** 2) * counts).sum(axis=0) / total
    return FeatureStats(
        min=np.min(np.stack([p.min for p in parts]), axis=0),
        max=np.max(np.stack([p.max for p in parts]), axis=0),
        mean=mean,
        std=np.sqrt(np.maximum(variance, 0.0)),
        count=int(total),
    )
