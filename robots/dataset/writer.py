"""Write episodes as a LeRobot v3.0 dataset: indices, statistics and every file of the layout.

The dataset is built in a hidden sibling folder and renamed into place at the end, so a crash or
an error leaves either no dataset or a whole one, never a half-written folder that looks valid.

Decisions, each for LeRobot's reader:

- Episode, frame and task indices are assigned here, in the order the episodes come: episode ``i``
  holds frames ``dataset_from_index .. dataset_to_index - 1`` and tasks are numbered by first
  appearance.
- An episode never spans two data files; a data file is closed once it holds about
  ``data_files_size_in_mb``. The episodes table is a single file (a row is a few hundred bytes).
- Episodes without frames go to ``meta/kapex/frameless.parquet`` (``task`` plus the provenance
  columns), not into LeRobot's tables: LeRobot's reader requires every episode index to have
  frames and otherwise tries to download the "missing" ones from the Hub.
- Statistics are written per episode (``stats/<feature>/<stat>`` columns) and pooled in
  ``meta/stats.json``, for every feature including the default ones, as LeRobot does.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robots.dataset.frames import DatasetPlan, EpisodeFrames
from robots.dataset.layout import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_PATH,
    DEFAULT_FEATURES,
    FRAMELESS_PATH,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_FILES_SIZE_IN_MB,
    DatasetError,
    data_file,
    episodes_file,
    next_chunk_file,
)
from robots.dataset.stats import FeatureStats, pool, stats_of
from robots.dataset.tasks import write_tasks

__all__ = ["Written", "write_dataset"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class Written:
    """What :func:`write_dataset` wrote."""

    root: Path
    episodes: int
    frames: int
    tasks: int
    frameless: int
    """Goals without frames, kept in ``meta/kapex/frameless.parquet``."""
    data_files: int


def write_dataset(out: Path, plan: DatasetPlan, episodes: Iterable[EpisodeFrames]) -> Written:
    """Write ``episodes`` under ``out`` in the LeRobot v3.0 layout.

    Raises:
        DatasetError: ``out`` exists and is not an empty folder, or no episode has a frame.
    """
    _check_target(out)
    all_episodes = list(episodes)
    framed = [e for e in all_episodes if e.length > 0]
    frameless = [e for e in all_episodes if e.length == 0]
    if not framed:
        raise DatasetError(
            f"nothing to write to {out}: none of the {len(all_episodes)} episode(s) has a frame; "
            "LeRobot needs at least one episode with frames"
        )
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        written = _write(staging, plan, framed, frameless)
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return replace(written, root=out)


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(
            f"{out} already exists and is not an empty folder; choose a new folder or remove it"
        )


class _DataFiles:
    """Data-file buffer: collects episode tables and rolls over to the next file when full."""

    def __init__(self, root: Path, limit_mb: int) -> None:
        self._root, self._limit = root, limit_mb * _MB
        self.chunk, self.file = 0, 0
        self._tables: list[pa.Table] = []
        self._bytes = 0
        self.count = 0

    def add(self, table: pa.Table) -> tuple[int, int]:
        """Buffer one episode's frames; the chunk and file index they will be in."""
        if self._tables and self._bytes + table.nbytes > self._limit:
            self.flush()
            self.chunk, self.file = next_chunk_file(self.chunk, self.file)
        self._tables.append(table)
        self._bytes += table.nbytes
        return self.chunk, self.file

    def flush(self) -> None:
        """Write the buffered episodes as one parquet file."""
        if not self._tables:
            return
        path = self._root / data_file(self.chunk, self.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(self._tables), path)
        self._tables, self._bytes = [], 0
        self.count += 1


def _write(
    root: Path,
    plan: DatasetPlan,
    framed: Sequence[EpisodeFrames],
    frameless: Sequence[EpisodeFrames],
) -> Written:
    tasks: dict[str, int] = {}
    for episode in framed:
        tasks.setdefault(episode.task, len(tasks))
    data = _DataFiles(root, plan.data_files_size_in_mb)
    rows: list[dict[str, Any]] = []
    per_episode: list[dict[str, FeatureStats]] = []
    start = 0
    for episode_index, episode in enumerate(framed):
        table, stats = _frames_table(plan, episode, episode_index, start, tasks[episode.task])
        chunk, file = data.add(table)
        end = start + episode.length
        rows.append(
            {
                "episode_index": episode_index,
                "tasks": [episode.task],
                "length": episode.length,
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": start,
                "dataset_to_index": end,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                **{
                    f"stats/{key}/{name}": value
                    for key, feature_stats in stats.items()
                    for name, value in feature_stats.as_lists().items()
                },
            }
        )
        per_episode.append(stats)
        start = end
    data.flush()
    _write_episodes(root, plan, framed, rows)
    write_tasks(root / TASKS_PATH, list(tasks))
    pooled = {key: pool([s[key] for s in per_episode]) for key in per_episode[0]}
    _write_json(root / STATS_PATH, {key: s.as_lists() for key, s in pooled.items()})
    _write_json(root / INFO_PATH, _info(plan, len(framed), start, len(tasks)))
    if frameless:
        _write_frameless(root, plan, frameless)
    return Written(root, len(framed), start, len(tasks), len(frameless), data.count)


def _frames_table(
    plan: DatasetPlan, episode: EpisodeFrames, episode_index: int, start: int, task_index: int
) -> tuple[pa.Table, dict[str, FeatureStats]]:
    """One episode's data rows, with their indices, and the statistics of every column."""
    n = episode.length
    columns: dict[str, np.ndarray[Any, Any]] = {}
    arrays: dict[str, pa.Array] = {}
    for key, feature in plan.features.items():
        values = np.ascontiguousarray(episode.values[key], dtype=np.float32)
        if values.shape != (n, *feature.shape):
            raise DatasetError(
                f"episode {episode_index} ({episode.task!r}): {key} has shape {values.shape}, "
                f"expected {(n, *feature.shape)}; every frame needs {feature.shape[0]} values"
            )
        width = feature.shape[0]
        offsets = pa.array(np.arange(0, n * width + 1, width, dtype=np.int32))
        arrays[key] = pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))
        columns[key] = values
    columns["timestamp"] = np.asarray(episode.timestamp, dtype=np.float32)
    columns["frame_index"] = np.arange(n, dtype=np.int64)
    columns["episode_index"] = np.full(n, episode_index, dtype=np.int64)
    columns["index"] = np.arange(start, start + n, dtype=np.int64)
    columns["task_index"] = np.full(n, task_index, dtype=np.int64)
    for key in DEFAULT_FEATURES:
        arrays[key] = pa.array(columns[key])
    return pa.table(arrays), {key: stats_of(values) for key, values in columns.items()}


def _write_episodes(
    root: Path, plan: DatasetPlan, episodes: Sequence[EpisodeFrames], rows: list[dict[str, Any]]
) -> None:
    fields: list[pa.Field] = [
        pa.field("episode_index", pa.int64()),
        pa.field("tasks", pa.list_(pa.string())),
        pa.field("length", pa.int64()),
        pa.field("data/chunk_index", pa.int64()),
        pa.field("data/file_index", pa.int64()),
        pa.field("dataset_from_index", pa.int64()),
        pa.field("dataset_to_index", pa.int64()),
        pa.field("meta/episodes/chunk_index", pa.int64()),
        pa.field("meta/episodes/file_index", pa.int64()),
    ]
    for key in rows[0]:
        if key.startswith("stats/"):
            kind = pa.int64() if key.endswith("/count") else pa.float64()
            fields.append(pa.field(key, pa.list_(kind)))
    columns = {f.name: pa.array([row[f.name] for row in rows], type=f.type) for f in fields}
    columns.update(_provenance_columns(plan, episodes))
    path = root / episodes_file(0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def _provenance_columns(
    plan: DatasetPlan, episodes: Sequence[EpisodeFrames]
) -> dict[str, pa.Array]:
    return {
        f.name: pa.array([e.provenance.get(f.name) for e in episodes], type=f.type)
        for f in plan.provenance
    }


def _write_frameless(root: Path, plan: DatasetPlan, episodes: Sequence[EpisodeFrames]) -> None:
    columns: dict[str, pa.Array] = {"task": pa.array([e.task for e in episodes], pa.string())}
    columns.update(_provenance_columns(plan, episodes))
    path = root / FRAMELESS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def _info(plan: DatasetPlan, episodes: int, frames: int, tasks: int) -> dict[str, Any]:
    features: dict[str, Any] = {key: f.as_info() for key, f in plan.features.items()}
    features.update(DEFAULT_FEATURES)
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": plan.robot_type,
        "total_episodes": episodes,
        "total_frames": frames,
        "total_tasks": tasks,
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": plan.data_files_size_in_mb,
        "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
        "fps": plan.fps,
        "splits": {"train": f"0:{episodes}"},
        "data_path": DATA_PATH,
        "video_path": None,
        "features": features,
    }


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
