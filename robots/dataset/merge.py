"""Pool several LeRobot v3.0 datasets (one per site, say) into one.

Episodes keep their order (the first dataset's, then the second's, ...), and get new episode,
frame and task indices: tasks with the same text become one task. Every provenance column of
every source is kept; an episode from a source without that column has null there. Statistics
are computed again from the frames, since the indices they include have changed.

Pooling refuses what would make a dataset whose vectors mean different things: sources that
differ in fps, in the set of features, or in a feature's dtype, shape or joint names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from robots.dataset.frames import DatasetPlan, EpisodeFrames
from robots.dataset.layout import DATA_FILES_SIZE_IN_MB, DatasetError
from robots.dataset.reader import StoredDataset, read_dataset
from robots.dataset.writer import Written, write_dataset

__all__ = ["merge"]


def merge(
    datasets: Sequence[Path], out: Path, *, data_files_size_in_mb: int = DATA_FILES_SIZE_IN_MB
) -> Written:
    """Write the datasets in ``datasets`` pooled into the new folder ``out``.

    Raises:
        DatasetError: no dataset given, one is not sound, or they differ in fps or features;
            ``out`` is not new.
    """
    if not datasets:
        raise DatasetError("no dataset to merge; name at least one dataset folder")
    if len({p.resolve() for p in datasets}) != len(datasets):
        raise DatasetError("a dataset is named twice; its episodes would be pooled twice")
    sources = [read_dataset(p) for p in datasets]
    first = sources[0]
    for other in sources[1:]:
        _check_compatible(first, other)
    robot_types = sorted({t for s in sources if s.robot_type for t in s.robot_type.split(",") if t})
    plan = DatasetPlan(
        fps=first.fps,
        robot_type=",".join(robot_types) or None,
        features=first.features,
        provenance=_union(sources),
        data_files_size_in_mb=data_files_size_in_mb,
    )
    episodes: list[EpisodeFrames] = [e for s in sources for e in s.episodes]
    return write_dataset(out, plan, episodes)


def _check_compatible(first: StoredDataset, other: StoredDataset) -> None:
    if other.fps != first.fps:
        raise DatasetError(
            f"{other.root} is recorded at {other.fps} fps but {first.root} at {first.fps} fps; "
            "pool only datasets of the same rate"
        )
    keys, other_keys = set(first.features), set(other.features)
    if keys != other_keys:
        raise DatasetError(
            f"{other.root} and {first.root} have different features: only in {other.root}: "
            f"{sorted(other_keys - keys)}, only in {first.root}: {sorted(keys - other_keys)}; "
            "pool only datasets with the same features"
        )
    for key, feature in first.features.items():
        theirs = other.features[key]
        if theirs != feature:
            raise DatasetError(
                f"feature {key!r} differs: {theirs.dtype}{list(theirs.shape)} names "
                f"{_names(theirs.names)} in {other.root}, {feature.dtype}{list(feature.shape)} "
                f"names {_names(feature.names)} in {first.root}; pool only datasets of robots "
                "with the same joints in the same order"
            )


def _names(names: tuple[str, ...] | None) -> str:
    return "none" if names is None else str(list(names))


def _union(sources: Sequence[StoredDataset]) -> pa.Schema:
    """Every provenance column of every source, in first-seen order, with one type each."""
    fields: dict[str, pa.Field] = {}
    origin: dict[str, Path] = {}
    for source in sources:
        for field in source.provenance:
            known = fields.get(field.name)
            if known is None or pa.types.is_null(known.type):
                fields[field.name], origin[field.name] = field, source.root
            elif field.type != known.type and not pa.types.is_null(field.type):
                raise DatasetError(
                    f"provenance column {field.name!r} is {field.type} in {source.root} but "
                    f"{known.type} in {origin[field.name]}; make the column's type agree"
                )
    return pa.schema(list(fields.values()))
