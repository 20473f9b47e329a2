"""The in-memory form of a dataset between its sources and the files: features and episodes.

Both ways into a dataset (exporting recorded :class:`~robots.episodes.Episode` objects, and pooling
existing datasets) produce these, and one writer turns them into files, so indices, statistics and
file layout are decided in a single place (:mod:`robots.dataset.writer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

__all__ = ["DatasetPlan", "EpisodeFrames", "Feature"]


@dataclass(frozen=True)
class Feature:
    """One per-frame vector feature as ``info.json`` declares it (``dtype``, ``shape``, ``names``).

    Only 1-D float32 vectors, the kind joint states and actions are: video and image features
    need an encoder this package does not have.
    """

    shape: tuple[int, ...]
    names: tuple[str, ...] | None
    dtype: str = "float32"

    def as_info(self) -> dict[str, Any]:
        """The ``features`` entry of ``info.json``."""
        return {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "names": None if self.names is None else list(self.names),
        }


@dataclass(frozen=True)
class EpisodeFrames:
    """One episode before it has indices: its task, its frames and where it came from.

    ``values`` maps each feature key to a ``(frames, size)`` float32 array. An episode with no
    frame (a rejected goal) is kept for its provenance but never becomes a LeRobot episode.
    """

    task: str
    timestamp: NDArray[np.float32]
    values: Mapping[str, NDArray[np.float32]]
    provenance: Mapping[str, Any] = field(default_factory=dict)
    """Values of the plan's provenance columns; a missing key is written as null."""

    @property
    def length(self) -> int:
        """Number of frames."""
        return int(self.timestamp.shape[0])


@dataclass(frozen=True)
class DatasetPlan:
    """What is common to every episode of a dataset."""

    fps: int
    robot_type: str | None
    features: Mapping[str, Feature]
    """Vector features in column order, without LeRobot's default ones (timestamp, indices)."""
    provenance: pa.Schema
    """Extra columns of the episodes table (``kapex/...``) and their types."""
    data_files_size_in_mb: int = 100
    """A data file is closed once it holds about this much; LeRobot's default is 100."""
