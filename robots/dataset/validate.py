"""Check a LeRobot v3.0 dataset with pyarrow alone: what LeRobot's reader relies on, and more.

:func:`validate` returns the problems it finds, each naming the file, the value and what is
expected; an empty list means the dataset is sound. It checks:

- ``meta/info.json``: the ``DatasetInfo`` keys (unknown ones are reported, since LeRobot drops
  them), version ``v3.0``, a whole fps, the default features with their dtypes and shapes, the
  totals against the files, the splits;
- ``meta/tasks.parquet``: tasks indexed ``0..n-1``, unique, with ``task`` as the pandas index;
- the episodes table: columns and types, episode indices ``0..n-1``, every episode with at least
  one frame, ``dataset_from_index``/``dataset_to_index`` tiling ``0..total_frames`` exactly,
  tasks that exist, the data file each row names, statistics for every feature;
- the data files: one column per feature with its dtype and vector length, the global ``index``
  ``0..N-1`` without gap or repeat, each episode's frames in its own file with
  ``frame_index`` ``0..length-1``, its own ``task_index`` and non-decreasing timestamps;
- ``meta/stats.json``: every feature, with a count of all frames.

Video is not checked (this package writes none).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from robots.dataset.layout import (
    CODEBASE_VERSION,
    DEFAULT_FEATURES,
    EPISODE_COLUMNS,
    EPISODES_DIR,
    FRAMELESS_PATH,
    INFO_KEYS,
    INFO_PATH,
    STATS_KEYS,
    STATS_PATH,
    TASKS_PATH,
    relative,
)

__all__ = ["MAX_PROBLEMS", "validate"]

MAX_PROBLEMS = 50
"""Problems listed before the rest are only counted: one bad column can repeat on every row."""

_OPTIONAL_INFO_KEYS = frozenset({"tools"})
_SCALAR_TYPES = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64()}


def _read(root: Path, path: Path, problems: _Problems) -> pa.Table | None:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        problems.add(f"{relative(root, path)}: not a readable parquet file ({exc})")
        return None


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.hidden = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(text)
        else:
            self.hidden += 1

    def result(self) -> list[str]:
        if self.hidden:
            return [*self.items, f"... and {self.hidden} more problem(s)"]
        return list(self.items)


def validate(root: Path) -> list[str]:
    """The problems of the dataset in ``root``; empty if LeRobot can read it as it stands."""
    problems = _Problems()
    info = _check_info(root, problems)
    if info is None:
        return problems.result()
    tasks = _check_tasks(root, info, problems)
    episodes = _check_episodes(root, info, tasks, problems)
    if episodes is not None:
        _check_data(root, info, tasks, episodes, problems)
    _check_stats(root, info, problems)
    _check_frameless(root, problems)
    return problems.result()


# -- meta/info.json --------------------------------------------------------------------------------


def _check_info(root: Path, problems: _Problems) -> dict[str, Any] | None:
    path = root / INFO_PATH
    if not path.is_file():
        problems.add(f"{INFO_PATH}: missing; {root} is not a LeRobot v3.0 dataset")
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        problems.add(f"{INFO_PATH}: not JSON ({exc})")
        return None
    if not isinstance(info, dict):
        problems.add(f"{INFO_PATH}: must hold a JSON object, got {type(info).__name__}")
        return None
    missing = sorted(INFO_KEYS - info.keys())
    if missing:
        problems.add(f"{INFO_PATH}: missing key(s) {missing}")
        return None
    for key in sorted(info.keys() - INFO_KEYS - _OPTIONAL_INFO_KEYS):
        problems.add(
            f"{INFO_PATH}: unknown key {key!r}, which LeRobot drops; keep such data in the "
            "episodes table (kapex/ columns)"
        )
    if info["codebase_version"] != CODEBASE_VERSION:
        problems.add(
            f"{INFO_PATH}: codebase_version is {info['codebase_version']!r}, expected "
            f"{CODEBASE_VERSION!r}"
        )
    if not (isinstance(info["fps"], int) and info["fps"] > 0):
        problems.add(f"{INFO_PATH}: fps must be a positive integer, got {info['fps']!r}")
    for key in ("total_episodes", "total_frames", "total_tasks", "chunks_size"):
        if not (isinstance(info[key], int) and info[key] >= 0):
            problems.add(f"{INFO_PATH}: {key} must be a non-negative integer, got {info[key]!r}")
            return None
    if not _is_template(info["data_path"]):
        problems.add(
            f"{INFO_PATH}: data_path {info['data_path']!r} is not a file-name template with "
            "{chunk_index} and {file_index}"
        )
        return None
    if not _check_features(info, problems):
        return None
    _check_splits(info, problems)
    return info


def _is_template(path: object) -> bool:
    if not isinstance(path, str) or "{file_index" not in path:
        return False
    try:
        path.format(chunk_index=0, file_index=0)
    except (KeyError, IndexError, ValueError):
        return False
    return True


def _check_features(info: dict[str, Any], problems: _Problems) -> bool:
    features = info["features"]
    if not isinstance(features, dict):
        problems.add(f"{INFO_PATH}: features must be an object, got {type(features).__name__}")
        return False
    sound = True
    for key, default in DEFAULT_FEATURES.items():
        got = features.get(key)
        if not isinstance(got, dict) or (got.get("dtype"), got.get("shape")) != (
            default["dtype"],
            default["shape"],
        ):
            problems.add(
                f"{INFO_PATH}: feature {key!r} must be dtype {default['dtype']} shape "
                f"{default['shape']}, got {got!r}"
            )
            sound = False
    for key, feature in features.items():
        if not isinstance(feature, dict) or not {"dtype", "shape"} <= feature.keys():
            problems.add(f"{INFO_PATH}: feature {key!r} needs dtype and shape, got {feature!r}")
            sound = False
            continue
        shape, names = feature["shape"], feature.get("names")
        if not (isinstance(shape, list) and shape and all(isinstance(n, int) for n in shape)):
            problems.add(f"{INFO_PATH}: feature {key!r} shape must be a list of ints: {shape!r}")
            sound = False
        elif isinstance(names, list) and len(shape) == 1 and len(names) != shape[0]:
            problems.add(f"{INFO_PATH}: feature {key!r} has {len(names)} names for shape {shape}")
        if "/" in key:
            problems.add(f"{INFO_PATH}: feature name {key!r} must not contain '/'")
    has_video = any(f.get("dtype") == "video" for f in features.values() if isinstance(f, dict))
    if not has_video and info["video_path"] is not None:
        problems.add(f"{INFO_PATH}: video_path must be null without video features")
    return sound


def _check_splits(info: dict[str, Any], problems: _Problems) -> None:
    splits, total = info["splits"], info["total_episodes"]
    if not isinstance(splits, dict):
        problems.add(f"{INFO_PATH}: splits must be an object, got {splits!r}")
        return
    for name, span in splits.items():
        try:
            start, end = (int(x) for x in str(span).split(":"))
        except ValueError:
            problems.add(f"{INFO_PATH}: split {name!r} is {span!r}, expected 'start:end'")
            continue
        if not 0 <= start <= end <= total:
            problems.add(
                f"{INFO_PATH}: split {name!r} {span!r} is outside 0:{total} (total_episodes)"
            )


# -- meta/tasks.parquet ----------------------------------------------------------------------------


def _check_tasks(root: Path, info: dict[str, Any], problems: _Problems) -> list[str]:
    path = root / TASKS_PATH
    if not path.is_file():
        problems.add(f"{TASKS_PATH}: missing")
        return []
    table = _read(root, path, problems)
    if table is None:
        return []
    if {"task", "task_index"} - set(table.column_names):
        problems.add(f"{TASKS_PATH}: needs columns task and task_index, has {table.column_names}")
        return []
    pandas = table.schema.pandas_metadata or {}
    if pandas.get("index_columns") != ["task"]:
        problems.add(
            f"{TASKS_PATH}: 'task' must be the pandas index (index_columns ['task'], got "
            f"{pandas.get('index_columns')}); otherwise LeRobot returns task numbers, not text"
        )
    if not pa.types.is_integer(table.schema.field("task_index").type):
        problems.add(f"{TASKS_PATH}: task_index must be int64")
    indices = table["task_index"].to_pylist()
    tasks = [str(t) for t in table["task"].to_pylist()]
    if indices != list(range(len(indices))):
        problems.add(f"{TASKS_PATH}: task_index must be 0..{len(indices) - 1} in order")
    if len(set(tasks)) != len(tasks):
        problems.add(f"{TASKS_PATH}: tasks repeat; each task must appear once")
    if len(tasks) != info["total_tasks"]:
        problems.add(
            f"{INFO_PATH}: total_tasks is {info['total_tasks']}, but {TASKS_PATH} has "
            f"{len(tasks)} task(s)"
        )
    return tasks


# -- meta/episodes ---------------------------------------------------------------------------------


def _check_episodes(
    root: Path, info: dict[str, Any], tasks: Sequence[str], problems: _Problems
) -> list[dict[str, Any]] | None:
    files = sorted((root / EPISODES_DIR).glob("*/*.parquet"))
    if not files:
        problems.add(f"{EPISODES_DIR}: no episodes file (chunk-000/file-000.parquet)")
        return None
    rows: list[dict[str, Any]] = []
    for path in files:
        table = _read(root, path, problems)
        if table is None:
            return None
        name = relative(root, path)
        missing = [c for c in EPISODE_COLUMNS if c not in table.column_names]
        if missing:
            problems.add(f"{name}: missing column(s) {missing}")
            return None
        nulls = [c for c in EPISODE_COLUMNS if table[c].null_count]
        if nulls:
            problems.add(f"{name}: column(s) {nulls} have empty (null) values")
            return None
        mistyped = [
            f"{c} ({table.schema.field(c).type})"
            for c in EPISODE_COLUMNS
            if not (_is_string_list if c == "tasks" else pa.types.is_integer)(
                table.schema.field(c).type
            )
        ]
        if mistyped:
            problems.add(
                f"{name}: column(s) of the wrong type: {', '.join(mistyped)}; tasks is "
                "list<string>, the others int64"
            )
            return None
        _check_stats_columns(name, info, table, problems)
        for row in table.select(EPISODE_COLUMNS).to_pylist():
            place = (row["meta/episodes/chunk_index"], row["meta/episodes/file_index"])
            if path.parent.name != f"chunk-{place[0]:03d}" or path.stem != f"file-{place[1]:03d}":
                problems.add(
                    f"{name}: episode {row['episode_index']} says it is in "
                    f"meta/episodes chunk {place[0]} file {place[1]}"
                )
            rows.append(row)
    rows.sort(key=lambda r: r["episode_index"])
    _check_episode_rows(root, info, tasks, rows, problems)
    return rows


def _is_string_list(kind: pa.DataType) -> bool:
    return bool(
        (pa.types.is_list(kind) or pa.types.is_large_list(kind))
        and (pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type))
    )


def _check_stats_columns(
    name: str, info: dict[str, Any], table: pa.Table, problems: _Problems
) -> None:
    for key, feature in info["features"].items():
        if feature.get("dtype") == "video":
            continue
        absent = [s for s in STATS_KEYS if f"stats/{key}/{s}" not in table.column_names]
        if absent:
            problems.add(f"{name}: no stats/{key}/{{{','.join(absent)}}} column(s)")
            continue
        counts = table[f"stats/{key}/count"].to_pylist()
        for length, count, episode in zip(
            table["length"].to_pylist(), counts, table["episode_index"].to_pylist(), strict=True
        ):
            if count != [length]:
                problems.add(
                    f"{name}: episode {episode} stats/{key}/count is {count}, its length is "
                    f"{length}"
                )


def _check_episode_rows(
    root: Path,
    info: dict[str, Any],
    tasks: Sequence[str],
    rows: list[dict[str, Any]],
    problems: _Problems,
) -> None:
    indices = [r["episode_index"] for r in rows]
    if indices != list(range(len(rows))):
        problems.add(f"{EPISODES_DIR}: episode_index must be 0..{len(rows) - 1} without gaps")
    if len(rows) != info["total_episodes"]:
        problems.add(
            f"{INFO_PATH}: total_episodes is {info['total_episodes']}, but the episodes table "
            f"has {len(rows)} row(s)"
        )
    expected_from = 0
    for row in rows:
        episode, length = row["episode_index"], row["length"]
        start, end = row["dataset_from_index"], row["dataset_to_index"]
        if length < 1:
            problems.add(
                f"{EPISODES_DIR}: episode {episode} has length {length}; LeRobot needs frames in "
                f"every episode (keep frameless goals in {FRAMELESS_PATH})"
            )
        if start != expected_from:
            problems.add(
                f"{EPISODES_DIR}: episode {episode} starts at frame {start}, expected "
                f"{expected_from} (the previous episode's dataset_to_index)"
            )
        if end - start != length:
            problems.add(
                f"{EPISODES_DIR}: episode {episode} spans frames {start}..{end - 1} "
                f"({end - start}) but has length {length}"
            )
        expected_from = end
        unknown = [t for t in row["tasks"] or [] if t not in tasks]
        if unknown or not row["tasks"]:
            problems.add(
                f"{EPISODES_DIR}: episode {episode} has tasks {row['tasks']} not in {TASKS_PATH}"
            )
        data = root / info["data_path"].format(
            chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
        )
        if not data.is_file():
            problems.add(
                f"{EPISODES_DIR}: episode {episode} names data file {relative(root, data)}, "
                "which does not exist"
            )
    if expected_from != info["total_frames"]:
        problems.add(
            f"{INFO_PATH}: total_frames is {info['total_frames']}, but the episodes cover "
            f"{expected_from} frame(s)"
        )


# -- data/ -----------------------------------------------------------------------------------------


def _check_data(
    root: Path,
    info: dict[str, Any],
    tasks: Sequence[str],
    episodes: list[dict[str, Any]],
    problems: _Problems,
) -> None:
    features = {k: f for k, f in info["features"].items() if f.get("dtype") != "video"}
    named = {
        root
        / info["data_path"].format(
            chunk_index=r["data/chunk_index"], file_index=r["data/file_index"]
        )
        for r in episodes
    }
    files = sorted((root / "data").glob("*/*.parquet"))
    parts: list[dict[str, np.ndarray[Any, Any]]] = []
    for number, path in enumerate(files):
        name = relative(root, path)
        if path not in named:
            problems.add(f"{name}: no episode names this file, yet LeRobot loads its frames")
        table = _read(root, path, problems)
        if table is None or not _check_data_columns(name, features, table, problems):
            continue
        part = {
            key: table[key].to_numpy()
            for key in ("index", "episode_index", "frame_index", "task_index", "timestamp")
        }
        part["file"] = np.full(table.num_rows, number)
        parts.append(part)
    if len(parts) != len(files):
        return
    _check_frames(root, info, tasks, episodes, files, parts, problems)


def _check_data_columns(
    name: str, features: dict[str, Any], table: pa.Table, problems: _Problems
) -> bool:
    columns = set(table.column_names)
    if columns != set(features):
        problems.add(
            f"{name}: columns must be the features of info.json; missing "
            f"{sorted(set(features) - columns)}, extra {sorted(columns - set(features))}"
        )
        return False
    sound = True
    for key, feature in features.items():
        kind, dtype, shape = table.schema.field(key).type, feature["dtype"], feature["shape"]
        expected = _SCALAR_TYPES.get(dtype)
        if shape == [1] and kind != expected:
            problems.add(f"{name}: column {key} has type {kind}, expected {dtype}")
            sound = False
        elif shape != [1]:
            listed = (
                pa.types.is_list(kind)
                or pa.types.is_fixed_size_list(kind)
                or (pa.types.is_large_list(kind))
            )
            if not listed or kind.value_type != expected:
                problems.add(f"{name}: column {key} has type {kind}, expected list<{dtype}>")
                sound = False
                continue
            lengths = pc.list_value_length(table[key]).to_numpy(zero_copy_only=False)
            wrong = np.flatnonzero(lengths != shape[0])
            if wrong.size:
                problems.add(
                    f"{name}: column {key} has {lengths[wrong[0]]} values in row {wrong[0]} "
                    f"({wrong.size} row(s) wrong), expected {shape[0]}"
                )
                sound = False
    return sound


def _check_frames(
    root: Path,
    info: dict[str, Any],
    tasks: Sequence[str],
    episodes: list[dict[str, Any]],
    files: list[Path],
    parts: list[dict[str, np.ndarray[Any, Any]]],
    problems: _Problems,
) -> None:
    frames = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(frames["index"], kind="stable")
    frames = {key: values[order] for key, values in frames.items()}
    total = info["total_frames"]
    if frames["index"].size != total or not np.array_equal(frames["index"], np.arange(total)):
        problems.add(
            f"data: the index column must be 0..{total - 1} (total_frames) exactly once each; "
            f"found {frames['index'].size} frame(s){_first_gap(frames['index'])}"
        )
        return
    task_of = {task: i for i, task in enumerate(tasks)}
    file_of = {path: number for number, path in enumerate(files)}
    for row in episodes:
        episode, start, end = (
            row["episode_index"],
            row["dataset_from_index"],
            row["dataset_to_index"],
        )
        if not 0 <= start <= end <= total:
            continue  # already reported against total_frames
        span = slice(start, end)
        where = f"data: episode {episode} (frames {start}..{end - 1})"
        if not np.all(frames["episode_index"][span] == episode):
            problems.add(f"{where}: rows carry another episode_index")
        if not np.array_equal(frames["frame_index"][span], np.arange(end - start)):
            problems.add(f"{where}: frame_index must count 0..{end - start - 1}")
        allowed = [task_of[t] for t in row["tasks"] or [] if t in task_of]
        if not np.all(np.isin(frames["task_index"][span], allowed)):
            problems.add(f"{where}: task_index is not that of its task(s) {allowed}")
        if np.any(np.diff(frames["timestamp"][span]) < 0):
            problems.add(f"{where}: timestamps go backwards")
        data = root / info["data_path"].format(
            chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
        )
        if data in file_of and not np.all(frames["file"][span] == file_of[data]):
            problems.add(
                f"{where}: frames are not all in {relative(root, data)}, the file it names"
            )


def _first_gap(index: np.ndarray[Any, Any]) -> str:
    expected = np.arange(index.size)
    wrong = np.flatnonzero(index != expected)
    if wrong.size == 0:
        return ""
    at = int(wrong[0])
    return f"; first mismatch at position {at}: index {int(index[at])}, expected {at}"


# -- meta/stats.json and the frameless goals -------------------------------------------------------


def _check_stats(root: Path, info: dict[str, Any], problems: _Problems) -> None:
    path = root / STATS_PATH
    if not path.is_file():
        problems.add(f"{STATS_PATH}: missing")
        return
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        problems.add(f"{STATS_PATH}: not JSON ({exc})")
        return
    for key, feature in info["features"].items():
        entry = stats.get(key) if isinstance(stats, dict) else None
        if not isinstance(entry, dict) or set(STATS_KEYS) - entry.keys():
            problems.add(f"{STATS_PATH}: feature {key!r} needs {list(STATS_KEYS)}")
            continue
        if feature.get("dtype") != "video" and entry["count"] != [info["total_frames"]]:
            problems.add(
                f"{STATS_PATH}: {key} count is {entry['count']}, expected "
                f"[{info['total_frames']}] (total_frames)"
            )


def _check_frameless(root: Path, problems: _Problems) -> None:
    path = root / FRAMELESS_PATH
    if not path.exists():
        return
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        problems.add(f"{FRAMELESS_PATH}: unreadable ({exc})")
        return
    if "task" not in schema.names:
        problems.add(f"{FRAMELESS_PATH}: needs a task column")
