"""Read a LeRobot v3.0 dataset back into episodes (the in-memory form the writer takes).

Used to pool datasets. The dataset is validated first: reading trusts the indices only once
:func:`robots.dataset.validate.validate` has found them sound. Everything of an episode row that
is not LeRobot's own (no standard column, no statistic, no video column) is provenance and comes
back as such, whoever wrote it, so pooling keeps other teams' extra columns too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from robots.dataset.frames import EpisodeFrames, Feature
from robots.dataset.layout import (
    DEFAULT_FEATURES,
    EPISODE_COLUMNS,
    EPISODES_DIR,
    FRAMELESS_PATH,
    INFO_PATH,
    DatasetError,
)
from robots.dataset.validate import validate

__all__ = ["StoredDataset", "is_provenance", "read_dataset"]


@dataclass(frozen=True)
class StoredDataset:
    """A dataset read back: its declared fps, robot type, features, provenance and episodes."""

    root: Path
    fps: int
    robot_type: str | None
    features: dict[str, Feature]
    """Vector features, without LeRobot's default ones."""
    provenance: pa.Schema
    episodes: list[EpisodeFrames]
    """Episodes with frames, in episode-index order, then the frameless goals."""


def is_provenance(column: str) -> bool:
    """Whether an episodes-table column is extra data rather than LeRobot's own."""
    return not (
        column in EPISODE_COLUMNS or column.startswith(("stats/", "videos/")) or column == "task"
    )


def read_dataset(root: Path) -> StoredDataset:
    """Read the dataset in ``root``.

    Raises:
        DatasetError: the dataset does not validate (the first problems are named), or it has a
            feature this package cannot carry (video, image, non-float vectors).
    """
    problems = validate(root)
    if problems:
        shown = "; ".join(problems[:3])
        raise DatasetError(
            f"{root} is not a sound LeRobot v3.0 dataset ({len(problems)} problem(s): {shown}); "
            "re-export it, or run the validator on it for the full list"
        )
    info = json.loads((root / INFO_PATH).read_text(encoding="utf-8"))
    features = _features(root, info["features"])
    table = pa.concat_tables(
        [pq.read_table(p) for p in sorted((root / EPISODES_DIR).glob("*/*.parquet"))],
        promote_options="permissive",
    ).sort_by("episode_index")
    provenance = pa.schema([f for f in table.schema if is_provenance(f.name)])
    episodes = _framed(root, info["data_path"], features, table, provenance)
    frameless_path = root / FRAMELESS_PATH
    if frameless_path.is_file():
        frameless = pq.read_table(frameless_path)
        extra = [f for f in frameless.schema if is_provenance(f.name)]
        provenance = pa.schema([*provenance, *(f for f in extra if f.name not in provenance.names)])
        episodes += [_frameless(row, features) for row in frameless.to_pylist()]
    return StoredDataset(
        root=root,
        fps=info["fps"],
        robot_type=info["robot_type"],
        features=features,
        provenance=provenance,
        episodes=episodes,
    )


def _features(root: Path, declared: dict[str, Any]) -> dict[str, Feature]:
    features: dict[str, Feature] = {}
    for key, spec in declared.items():
        if key in DEFAULT_FEATURES:
            continue
        if spec["dtype"] != "float32" or len(spec["shape"]) != 1:
            raise DatasetError(
                f"{root}: feature {key!r} is {spec['dtype']} of shape {spec['shape']}; only "
                "float32 vectors (joint states, actions) can be pooled here, not video or images"
            )
        names = spec.get("names")
        features[key] = Feature(
            shape=(int(spec["shape"][0]),),
            names=tuple(names) if isinstance(names, list) else None,
        )
    return features


def _framed(
    root: Path,
    data_path: str,
    features: dict[str, Feature],
    episodes: pa.Table,
    provenance: pa.Schema,
) -> list[EpisodeFrames]:
    files: dict[Path, pa.Table] = {}
    out: list[EpisodeFrames] = []
    for row in episodes.to_pylist():
        if len(row["tasks"]) != 1:
            raise DatasetError(
                f"{root}: episode {row['episode_index']} has {len(row['tasks'])} tasks "
                f"{row['tasks']}; only episodes with one task (one goal, one instruction) can be "
                "pooled here"
            )
        path = root / data_path.format(
            chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
        )
        if path not in files:
            files[path] = pq.read_table(path).sort_by("index")
        data = files[path]
        index = data["index"].to_numpy()
        first = int(np.searchsorted(index, row["dataset_from_index"]))
        frames = data.slice(first, row["length"])
        out.append(
            EpisodeFrames(
                task=row["tasks"][0],
                timestamp=frames["timestamp"].to_numpy().astype(np.float32),
                values={key: _vectors(frames[key], f) for key, f in features.items()},
                provenance={name: row[name] for name in provenance.names},
            )
        )
    return out


def _vectors(column: pa.ChunkedArray, feature: Feature) -> np.ndarray[Any, np.dtype[np.float32]]:
    flat = np.asarray(pc.list_flatten(column).to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat.reshape(len(column), *feature.shape)


def _frameless(row: dict[str, Any], features: dict[str, Feature]) -> EpisodeFrames:
    return EpisodeFrames(
        task=str(row["task"]),
        timestamp=np.zeros(0, dtype=np.float32),
        values={key: np.zeros((0, *f.shape), dtype=np.float32) for key, f in features.items()},
        provenance={k: v for k, v in row.items() if is_provenance(k)},
    )
