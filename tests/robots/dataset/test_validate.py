"""The validator finds what would break LeRobot's reader, or lie about the data, and names it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robots.dataset.lerobot import export
from robots.dataset.validate import MAX_PROBLEMS, validate
from tests.robots.dataset.factory import lab_day

DATA = "data/chunk-000/file-000.parquet"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    export(lab_day(), tmp_path / "ds")
    return tmp_path / "ds"


def _edit_info(root: Path, **changes: Any) -> None:
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    info.update(changes)
    path.write_text(json.dumps(info))


def _edit_table(root: Path, name: str, edit: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(edit(pq.read_table(root / name)), root / name)


def _set(table: pa.Table, column: str, values: list[Any]) -> pa.Table:
    i = table.schema.get_field_index(column)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


def gap_in_index(root: Path) -> None:
    _edit_table(root, DATA, lambda t: _set(t, "index", [0, 1, 2, 3, 4, 6]))


def wrong_total_frames(root: Path) -> None:
    _edit_info(root, total_frames=7)


def wrong_total_episodes(root: Path) -> None:
    _edit_info(root, total_episodes=4)


def wrong_total_tasks(root: Path) -> None:
    _edit_info(root, total_tasks=3)


def provenance_in_info(root: Path) -> None:
    _edit_info(root, site="site-a")


def old_version(root: Path) -> None:
    _edit_info(root, codebase_version="v2.1")


def episode_overlaps_the_next(root: Path) -> None:
    _edit_table(root, EPISODES, lambda t: _set(t, "dataset_to_index", [4, 5, 6]))


def zero_length_episode(root: Path) -> None:
    def edit(t: pa.Table) -> pa.Table:
        t = _set(t, "length", [3, 0, 1])
        t = _set(t, "dataset_to_index", [3, 3, 6])
        return t

    _edit_table(root, EPISODES, edit)


def frame_of_another_episode(root: Path) -> None:
    _edit_table(root, DATA, lambda t: _set(t, "episode_index", [0, 0, 0, 1, 2, 2]))


def frame_index_restarts_wrongly(root: Path) -> None:
    _edit_table(root, DATA, lambda t: _set(t, "frame_index", [0, 1, 2, 1, 2, 0]))


def task_index_of_another_task(root: Path) -> None:
    _edit_table(root, DATA, lambda t: _set(t, "task_index", [0, 0, 0, 0, 1, 0]))


def unknown_task(root: Path) -> None:
    _edit_table(root, EPISODES, lambda t: _set(t, "tasks", [["dance"], ["dance"], ["dance"]]))


def task_as_plain_column(root: Path) -> None:
    _edit_table(root, "meta/tasks.parquet", lambda t: t.replace_schema_metadata(None))


def state_as_float64(root: Path) -> None:
    _edit_table(
        root,
        DATA,
        lambda t: t.set_column(
            0, "observation.state", t["observation.state"].cast(pa.list_(pa.float64()))
        ),
    )


def state_one_value_short(root: Path) -> None:
    _edit_table(
        root,
        DATA,
        lambda t: _set(
            t,
            "observation.state",
            [[0.0, 1.0], [1.0], [2.0, 3.0], [4.0, -1.0], [6.0, -3.0], [10.0, 20.0]],
        ),
    )


def extra_data_column(root: Path) -> None:
    _edit_table(root, DATA, lambda t: t.append_column("kapex/site", pa.array(["a"] * 6)))


def orphan_data_file(root: Path) -> None:
    (root / "data/chunk-000/file-001.parquet").write_bytes((root / DATA).read_bytes())


def unreadable_data_file(root: Path) -> None:
    (root / DATA).write_bytes(b"not parquet")


def missing_stats_json(root: Path) -> None:
    (root / "meta/stats.json").unlink()


def episode_stats_count_wrong(root: Path) -> None:
    _edit_table(root, EPISODES, lambda t: _set(t, "stats/action/count", [[3], [3], [1]]))


def missing_episode_stats(root: Path) -> None:
    _edit_table(root, EPISODES, lambda t: t.drop_columns(["stats/action/std"]))


def chunk_index_as_text(root: Path) -> None:
    def edit(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("data/chunk_index")
        return t.set_column(i, "data/chunk_index", t["data/chunk_index"].cast(pa.string()))

    _edit_table(root, EPISODES, edit)


def empty_from_index(root: Path) -> None:
    _edit_table(root, EPISODES, lambda t: _set(t, "dataset_from_index", [0, None, 5]))


def data_path_without_placeholders(root: Path) -> None:
    _edit_info(root, data_path="data/{chunk}/{file_index}.parquet")


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (gap_in_index, "index column must be 0..5 (total_frames) exactly once each"),
        (wrong_total_frames, "total_frames is 7, but the episodes cover 6 frame(s)"),
        (wrong_total_episodes, "total_episodes is 4, but the episodes table has 3 row(s)"),
        (wrong_total_tasks, "total_tasks is 3, but meta/tasks.parquet has 2 task(s)"),
        (provenance_in_info, "unknown key 'site', which LeRobot drops"),
        (old_version, "codebase_version is 'v2.1', expected 'v3.0'"),
        (episode_overlaps_the_next, "episode 0 spans frames 0..3 (4) but has length 3"),
        (zero_length_episode, "episode 1 has length 0; LeRobot needs frames in every episode"),
        (frame_of_another_episode, "episode 1 (frames 3..4): rows carry another episode_index"),
        (frame_index_restarts_wrongly, "episode 1 (frames 3..4): frame_index must count 0..1"),
        (task_index_of_another_task, "episode 1 (frames 3..4): task_index is not that of its"),
        (unknown_task, "episode 0 has tasks ['dance'] not in meta/tasks.parquet"),
        (task_as_plain_column, "'task' must be the pandas index"),
        (state_as_float64, "column observation.state has type list<element: double>"),
        (state_one_value_short, "column observation.state has 1 values in row 1"),
        (extra_data_column, "extra ['kapex/site']"),
        (orphan_data_file, "file-001.parquet: no episode names this file"),
        (unreadable_data_file, "file-000.parquet: not a readable parquet file"),
        (missing_stats_json, "meta/stats.json: missing"),
        (episode_stats_count_wrong, "episode 1 stats/action/count is [3], its length is 2"),
        (missing_episode_stats, "no stats/action/{std} column(s)"),
        (chunk_index_as_text, "wrong type: data/chunk_index (string)"),
        (empty_from_index, "['dataset_from_index'] have empty (null) values"),
        (data_path_without_placeholders, "is not a file-name template"),
    ],
)
def test_a_corruption_is_named(
    dataset: Path, corrupt: Callable[[Path], None], expected: str
) -> None:
    assert validate(dataset) == []

    corrupt(dataset)

    problems = validate(dataset)
    assert any(expected in p for p in problems), problems


def test_a_folder_without_info_is_not_a_dataset(tmp_path: Path) -> None:
    assert validate(tmp_path) == [
        f"meta/info.json: missing; {tmp_path} is not a LeRobot v3.0 dataset"
    ]


def test_problems_beyond_the_limit_are_counted_not_listed(dataset: Path) -> None:
    _edit_info(dataset, **{f"extra_{i}": i for i in range(MAX_PROBLEMS + 5)})

    problems = validate(dataset)

    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == "... and 5 more problem(s)"
