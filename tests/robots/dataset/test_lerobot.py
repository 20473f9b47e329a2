"""Exporting episodes: the LeRobot v3.0 files, their types, and values computed by hand.

The day of :func:`lab_day`: g1 picks in 3 frames, g2 fails to place in 2, g3 is rejected with no
frame, g4 picks in 1. So the dataset has 3 episodes (g1, g2, g4), 6 frames and 2 tasks, and g3
lives only in the frameless-goals table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robots.dataset.layout import DatasetError
from robots.dataset.lerobot import PROVENANCE_SCHEMA, export
from robots.dataset.validate import validate
from tests.robots.dataset.factory import JOINTS, PICK, PLACE, episode, lab_day

STATES = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (4.0, -1.0), (6.0, -3.0), (10.0, 20.0)]
ACTIONS = [(0.5, 1.5), (1.5, 2.5), (2.5, 3.5), (4.0, -1.0), (6.0, -3.0), (10.5, 20.5)]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    out = tmp_path / "kapex-site-a"
    written = export(lab_day(), out)
    assert (written.episodes, written.frames, written.tasks, written.frameless) == (3, 6, 2, 1)
    return out


def _episodes(root: Path) -> pa.Table:
    return pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")


def test_the_layout_has_exactly_the_lerobot_files(dataset: Path) -> None:
    files = sorted(str(p.relative_to(dataset)) for p in dataset.rglob("*") if p.is_file())

    assert files == [
        "data/chunk-000/file-000.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/kapex/frameless.parquet",
        "meta/stats.json",
        "meta/tasks.parquet",
    ]
    assert validate(dataset) == []
    assert not list(dataset.parent.glob(".*partial*"))


def test_info_json_holds_only_datasetinfo_fields(dataset: Path) -> None:
    info = json.loads((dataset / "meta/info.json").read_text())
    joints = {"dtype": "float32", "shape": [2], "names": list(JOINTS)}

    assert info == {
        "codebase_version": "v3.0",
        "robot_type": "kapex",
        "total_episodes": 3,
        "total_frames": 6,
        "total_tasks": 2,
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": 10,
        "splits": {"train": "0:3"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": None,
        "features": {
            "observation.state": joints,
            "action": joints,
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            "frame_index": {"dtype": "int64", "shape": [1], "names": None},
            "episode_index": {"dtype": "int64", "shape": [1], "names": None},
            "index": {"dtype": "int64", "shape": [1], "names": None},
            "task_index": {"dtype": "int64", "shape": [1], "names": None},
        },
    }


def test_tasks_are_the_instructions_indexed_by_first_appearance(dataset: Path) -> None:
    table = pq.read_table(dataset / "meta/tasks.parquet")

    assert table.schema.field("task_index").type == pa.int64()
    assert table.to_pylist() == [
        {"task_index": 0, "task": PICK},
        {"task_index": 1, "task": PLACE},
    ]
    assert table.schema.pandas_metadata["index_columns"] == ["task"]


def test_frames_have_lerobot_columns_types_and_indices(dataset: Path) -> None:
    table = pq.read_table(dataset / "data/chunk-000/file-000.parquet")

    assert table.schema == pa.schema(
        [
            ("observation.state", pa.list_(pa.float32())),
            ("action", pa.list_(pa.float32())),
            ("timestamp", pa.float32()),
            ("frame_index", pa.int64()),
            ("episode_index", pa.int64()),
            ("index", pa.int64()),
            ("task_index", pa.int64()),
        ]
    )
    columns = table.to_pydict()
    assert columns["observation.state"] == [list(s) for s in STATES]
    assert columns["action"] == [list(a) for a in ACTIONS]
    assert columns["index"] == [0, 1, 2, 3, 4, 5]
    assert columns["episode_index"] == [0, 0, 0, 1, 1, 2]
    assert columns["frame_index"] == [0, 1, 2, 0, 1, 0]
    assert columns["task_index"] == [0, 0, 0, 1, 1, 0]
    expected_timestamps = np.array([0, 0.1, 0.2, 0, 0.1, 0], dtype=np.float32)
    assert np.array_equal(table["timestamp"].to_numpy(), expected_timestamps)


def test_episode_rows_tile_the_frames(dataset: Path) -> None:
    rows = _episodes(dataset).to_pylist()

    assert [r["episode_index"] for r in rows] == [0, 1, 2]
    assert [r["length"] for r in rows] == [3, 2, 1]
    assert [(r["dataset_from_index"], r["dataset_to_index"]) for r in rows] == [
        (0, 3),
        (3, 5),
        (5, 6),
    ]
    assert [r["tasks"] for r in rows] == [[PICK], [PLACE], [PICK]]
    for row in rows:
        assert (row["data/chunk_index"], row["data/file_index"]) == (0, 0)
        assert (row["meta/episodes/chunk_index"], row["meta/episodes/file_index"]) == (0, 0)


def test_episode_column_types(dataset: Path) -> None:
    schema = _episodes(dataset).schema

    for name in (
        "episode_index",
        "length",
        "dataset_from_index",
        "dataset_to_index",
        "data/chunk_index",
        "data/file_index",
        "meta/episodes/chunk_index",
        "meta/episodes/file_index",
    ):
        assert schema.field(name).type == pa.int64(), name
    assert schema.field("tasks").type == pa.list_(pa.string())
    for feature in (
        "observation.state",
        "action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    ):
        for stat in ("min", "max", "mean", "std"):
            assert schema.field(f"stats/{feature}/{stat}").type == pa.list_(pa.float64())
        assert schema.field(f"stats/{feature}/count").type == pa.list_(pa.int64())
    for field in PROVENANCE_SCHEMA:
        assert schema.field(field.name).type == field.type


def test_per_episode_stats_of_a_known_trajectory(dataset: Path) -> None:
    first = _episodes(dataset).to_pylist()[0]
    third = math.sqrt(2 / 3)  # population std of 0, 1, 2

    assert first["stats/observation.state/min"] == [0.0, 1.0]
    assert first["stats/observation.state/max"] == [2.0, 3.0]
    assert first["stats/observation.state/mean"] == [1.0, 2.0]
    assert first["stats/observation.state/std"] == pytest.approx([third, third])
    assert first["stats/observation.state/count"] == [3]
    assert first["stats/action/mean"] == [1.5, 2.5]
    assert first["stats/frame_index/max"] == [2.0]
    assert first["stats/index/mean"] == [1.0]
    assert first["stats/timestamp/max"] == pytest.approx([0.2])


def test_dataset_stats_pool_every_frame(dataset: Path) -> None:
    stats = json.loads((dataset / "meta/stats.json").read_text())
    states = np.array(STATES)

    assert set(stats) == {
        "observation.state",
        "action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    }
    assert stats["observation.state"]["min"] == [0.0, -3.0]
    assert stats["observation.state"]["max"] == [10.0, 20.0]
    assert stats["observation.state"]["mean"] == pytest.approx([23 / 6, 22 / 6])
    assert stats["observation.state"]["std"] == pytest.approx(states.std(axis=0).tolist())
    assert stats["observation.state"]["count"] == [6]
    assert stats["index"] == {
        "min": [0.0],
        "max": [5.0],
        "mean": [2.5],
        "std": pytest.approx([np.arange(6).std()]),
        "count": [6],
    }
    assert stats["task_index"]["mean"] == pytest.approx([2 / 6])


def test_provenance_columns_hold_every_episode_field(dataset: Path) -> None:
    row = _episodes(dataset).to_pylist()[1]
    provenance = {k: v for k, v in row.items() if k.startswith("kapex/")}

    assert provenance == {
        "kapex/goal_id": "g2",
        "kapex/skill": "place",
        "kapex/args_json": '{"at":"reactor-1","sample":"S1"}',
        "kapex/outcome": "aborted",
        "kapex/success": False,
        "kapex/error": "grasp_failed",
        "kapex/attempts": 2,
        "kapex/started_at": "2026-03-01T09:01:00.000Z",
        "kapex/duration_s": 0.2,
        "kapex/site": "site-a",
        "kapex/team": "team-1",
        "kapex/robot_serial": "KPX-0001",
        "kapex/robot_type": "kapex",
        "kapex/is_sim": False,
        "kapex/campaign": "snar-yield-1",
        "kapex/experiment": "E0001",
    }


def test_a_goal_without_frames_keeps_its_provenance_outside_lerobot_tables(dataset: Path) -> None:
    table = pq.read_table(dataset / "meta/kapex/frameless.parquet")
    (row,) = table.to_pylist()

    assert table.schema.names == ["task", *PROVENANCE_SCHEMA.names]
    assert (row["task"], row["kapex/goal_id"], row["kapex/outcome"], row["kapex/error"]) == (
        PICK,
        "g3",
        "rejected",
        "workspace_violation",
    )
    assert "g3" not in _episodes(dataset)["kapex/goal_id"].to_pylist()


def test_without_frameless_goals_there_is_no_frameless_table(tmp_path: Path) -> None:
    export([episode("g1")], tmp_path / "ds")

    assert not (tmp_path / "ds/meta/kapex").exists()


def test_full_data_files_roll_over_to_the_next_file(tmp_path: Path) -> None:
    written = export(lab_day(), tmp_path / "ds", data_files_size_in_mb=0)
    rows = _episodes(tmp_path / "ds").to_pylist()

    assert written.data_files == 3
    assert [r["data/file_index"] for r in rows] == [0, 1, 2]
    assert pq.read_table(tmp_path / "ds/data/chunk-000/file-002.parquet")["index"].to_pylist() == [
        5
    ]
    assert validate(tmp_path / "ds") == []


def test_simulated_and_real_episodes_name_both_robot_types(tmp_path: Path) -> None:
    export([episode("g1"), episode("g2", robot_type="kapex_sim", is_sim=True)], tmp_path / "ds")

    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    assert info["robot_type"] == "kapex,kapex_sim"


def _refusal(tmp_path: Path, episodes: list[Any]) -> str:
    with pytest.raises(DatasetError) as caught:
        export(episodes, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
    return str(caught.value)


def test_episodes_of_robots_with_different_joints_are_refused(tmp_path: Path) -> None:
    other = episode(
        "h7", joints=("hip", "knee", "ankle"), states=[(0.0, 0.0, 0.0)], robot_serial="KPX-0009"
    )

    message = _refusal(tmp_path, [episode("g1"), other])

    assert "['shoulder', 'elbow']" in message and "['hip', 'knee', 'ankle']" in message
    assert "'g1'" in message and "'h7'" in message and "export each robot" in message


def test_episodes_at_different_rates_are_refused(tmp_path: Path) -> None:
    message = _refusal(tmp_path, [episode("g1"), episode("g2", fps=30.0)])

    assert "fps: 10 (goal 'g1'" in message and "30 (goal 'g2'" in message


def test_a_fractional_rate_is_refused(tmp_path: Path) -> None:
    assert "got 12.5" in _refusal(tmp_path, [episode("g1", fps=12.5)])


def test_a_frame_with_the_wrong_number_of_values_is_refused(tmp_path: Path) -> None:
    bad = episode("g1", states=[(0.0, 1.0), (1.0, 2.0, 3.0)], actions=[(0.0, 1.0), (1.0, 2.0)])

    assert "frame 1 has 3 state values for 2 joints" in _refusal(tmp_path, [bad])


def test_only_frameless_goals_make_no_dataset(tmp_path: Path) -> None:
    rejected = episode("g3", outcome="rejected", states=[])

    assert "none of the 1 episode(s) has frames" in _refusal(tmp_path, [rejected])


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    with pytest.raises(DatasetError, match="already exists and is not an empty folder"):
        export(lab_day(), out)

    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_an_empty_existing_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()

    export(lab_day(), tmp_path / "ds")

    assert validate(tmp_path / "ds") == []


def test_goal_arguments_json_cannot_carry_are_refused(tmp_path: Path) -> None:
    message = _refusal(tmp_path, [episode("g1", args={"force": float("nan")})])

    assert "goal 'g1'" in message and "must record finite numbers" in message
