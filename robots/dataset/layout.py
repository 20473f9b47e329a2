"""Names, paths and fixed values of the LeRobot v3.0 layout, in one place.

Every name here is the one ``lerobot`` 0.4.4 / 0.6.1 reads (``lerobot/datasets/utils.py``); the
writer, the reader, the merger and the validator all take them from this module, so a spelling
can only be wrong once. What LeRobot does not define is ours and carries the ``kapex/`` prefix:
the provenance columns of the episodes table and the table of goals that produced no frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from cfl.errors import SpecError

__all__ = [
    "ACTION",
    "CHUNKS_SIZE",
    "CODEBASE_VERSION",
    "DATA_FILES_SIZE_IN_MB",
    "DATA_PATH",
    "DEFAULT_FEATURES",
    "EPISODES_DIR",
    "EPISODE_COLUMNS",
    "FRAMELESS_PATH",
    "INFO_KEYS",
    "INFO_PATH",
    "PROVENANCE_PREFIX",
    "STATE",
    "STATS_KEYS",
    "STATS_PATH",
    "TASKS_PATH",
    "VIDEO_FILES_SIZE_IN_MB",
    "DatasetError",
    "data_file",
    "episodes_file",
    "next_chunk_file",
    "relative",
    "whole_fps",
]

CODEBASE_VERSION: Final = "v3.0"
CHUNKS_SIZE: Final = 1000
"""Files per chunk folder before the chunk index moves on (LeRobot's ``DEFAULT_CHUNK_SIZE``)."""
DATA_FILES_SIZE_IN_MB: Final = 100
VIDEO_FILES_SIZE_IN_MB: Final = 200

INFO_PATH: Final = "meta/info.json"
STATS_PATH: Final = "meta/stats.json"
TASKS_PATH: Final = "meta/tasks.parquet"
EPISODES_DIR: Final = "meta/episodes"
EPISODES_PATH: Final = EPISODES_DIR + "/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
DATA_PATH: Final = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
FRAMELESS_PATH: Final = "meta/kapex/frameless.parquet"
"""Goals that produced no frame (rejected ones): provenance only, outside LeRobot's tables.

It sits outside ``meta/episodes/`` because LeRobot reads every parquet file under that folder as
episode rows, and an episode without frames makes its reader fall back to downloading the
"missing" episode from the Hub (``_check_cached_episodes_sufficient``), which fails for a local
dataset.
"""

STATE: Final = "observation.state"
ACTION: Final = "action"
PROVENANCE_PREFIX: Final = "kapex/"

DEFAULT_FEATURES: Final[dict[str, dict[str, Any]]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
"""The per-frame columns every LeRobot dataset has (``DEFAULT_FEATURES``)."""

INFO_KEYS: Final = frozenset(
    {
        "codebase_version",
        "robot_type",
        "total_episodes",
        "total_frames",
        "total_tasks",
        "chunks_size",
        "data_files_size_in_mb",
        "video_files_size_in_mb",
        "fps",
        "splits",
        "data_path",
        "video_path",
        "features",
    }
)
"""The ``DatasetInfo`` fields we write; LeRobot drops any other key of ``info.json``."""

EPISODE_COLUMNS: Final = (
    "episode_index",
    "tasks",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
    "meta/episodes/chunk_index",
    "meta/episodes/file_index",
)
"""LeRobot's own columns of the episodes table (no video: no ``videos/<key>/...`` columns)."""

STATS_KEYS: Final = ("min", "max", "mean", "std", "count")


class DatasetError(SpecError):
    """Episodes or datasets that cannot be written or pooled as asked.

    The message says why and what to do. A :class:`~cfl.errors.SpecError`, so the command line
    exits 2, and nothing has been written.
    """


def data_file(chunk_index: int, file_index: int) -> str:
    """The data file of a chunk and file index, relative to the dataset root."""
    return DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)


def episodes_file(chunk_index: int, file_index: int) -> str:
    """The episodes-table file of a chunk and file index, relative to the dataset root."""
    return EPISODES_PATH.format(chunk_index=chunk_index, file_index=file_index)


def next_chunk_file(chunk_index: int, file_index: int) -> tuple[int, int]:
    """The file after ``(chunk_index, file_index)``: a new chunk every :data:`CHUNKS_SIZE` files.

    The same stepping as LeRobot's ``update_chunk_file_indices``, so our files sit where LeRobot
    would put them.
    """
    if file_index == CHUNKS_SIZE - 1:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


def whole_fps(fps: float, where: str) -> int:
    """``fps`` as the integer LeRobot's ``info.json`` holds.

    Raises:
        DatasetError: ``fps`` is not a whole number (LeRobot has no fractional rates).
    """
    if fps != int(fps) or fps <= 0:
        raise DatasetError(
            f"{where}: fps must be a whole positive number for LeRobot, got {fps}; record "
            "episodes at an integer rate"
        )
    return int(fps)


def relative(root: Path, path: Path) -> str:
    """``path`` relative to ``root``, for messages."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
