"""Pooling datasets from two sites: re-indexing, provenance kept, incompatible sources refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robots.dataset.layout import DatasetError
from robots.dataset.lerobot import export
from robots.dataset.merge import merge
from robots.dataset.validate import validate
from tests.robots.dataset.factory import PICK, PLACE, episode, lab_day

SCAN = "scan the vial's barcode"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


@pytest.fixture
def sites(tmp_path: Path) -> tuple[Path, Path]:
    """Site A's day (tasks pick, place); site B scans first, so its task order is scan, place,
    pick and its indices must be re-mapped."""
    a, b = tmp_path / "site-a", tmp_path / "site-b"
    export(lab_day(), a)
    day_b = lab_day(site="site-b", team="team-2", serial="KPX-0002")
    day_b[0] = day_b[0].model_copy(update={"instruction": SCAN, "skill": "scan"})
    export(day_b, b)
    return a, b


def test_two_sites_pool_into_one_reindexed_dataset(
    sites: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "national"

    written = merge(list(sites), out)

    assert (written.episodes, written.frames, written.tasks, written.frameless) == (6, 12, 3, 2)
    assert validate(out) == []
    info = json.loads((out / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (6, 12, 3)
    assert info["splits"] == {"train": "0:6"}
    assert pq.read_table(out / "meta/tasks.parquet")["task"].to_pylist() == [PICK, PLACE, SCAN]

    rows = pq.read_table(out / EPISODES).to_pylist()
    assert [r["episode_index"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [(r["dataset_from_index"], r["dataset_to_index"]) for r in rows] == [
        (0, 3),
        (3, 5),
        (5, 6),
        (6, 9),
        (9, 11),
        (11, 12),
    ]
    assert [r["tasks"] for r in rows] == [[PICK], [PLACE], [PICK], [SCAN], [PLACE], [PICK]]
    assert [
        (r["kapex/site"], r["kapex/team"], r["kapex/robot_serial"], r["kapex/goal_id"])
        for r in rows
    ] == [
        ("site-a", "team-1", "KPX-0001", "g1"),
        ("site-a", "team-1", "KPX-0001", "g2"),
        ("site-a", "team-1", "KPX-0001", "g4"),
        ("site-b", "team-2", "KPX-0002", "g1"),
        ("site-b", "team-2", "KPX-0002", "g2"),
        ("site-b", "team-2", "KPX-0002", "g4"),
    ]
    assert [r["kapex/outcome"] for r in rows] == ["succeeded", "aborted", "succeeded"] * 2
    assert rows[4]["stats/index/min"] == [9.0] and rows[4]["stats/episode_index/max"] == [4.0]

    frames = pq.read_table(out / "data/chunk-000/file-000.parquet").to_pydict()
    assert frames["index"] == list(range(12))
    assert frames["episode_index"] == [0, 0, 0, 1, 1, 2, 3, 3, 3, 4, 4, 5]
    assert frames["task_index"] == [0, 0, 0, 1, 1, 0, 2, 2, 2, 1, 1, 0]
    assert frames["observation.state"][9] == [4.0, -1.0]


def test_frameless_goals_of_every_site_are_kept(sites: tuple[Path, Path], tmp_path: Path) -> None:
    merge(list(sites), tmp_path / "national")

    rows = pq.read_table(tmp_path / "national/meta/kapex/frameless.parquet").to_pylist()
    assert [(r["kapex/site"], r["kapex/goal_id"], r["kapex/outcome"]) for r in rows] == [
        ("site-a", "g3", "rejected"),
        ("site-b", "g3", "rejected"),
    ]


def test_pooled_stats_cover_every_frame(sites: tuple[Path, Path], tmp_path: Path) -> None:
    merge(list(sites), tmp_path / "national")

    stats = json.loads((tmp_path / "national/meta/stats.json").read_text())
    assert stats["observation.state"]["count"] == [12]
    assert stats["observation.state"]["min"] == [0.0, -3.0]
    assert stats["observation.state"]["mean"] == pytest.approx([23 / 6, 22 / 6])
    assert stats["index"]["max"] == [11.0]


def test_a_column_only_one_site_has_is_kept_with_nulls_elsewhere(
    sites: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = sites
    table = pq.read_table(b / EPISODES)
    table = table.append_column("kapex/operator", pa.array(["ana", "ben", "ana"], pa.string()))
    pq.write_table(table, b / EPISODES)
    assert validate(b) == []

    merge([a, b], tmp_path / "national")

    operators = pq.read_table(tmp_path / "national" / EPISODES)["kapex/operator"].to_pylist()
    assert operators == [None, None, None, "ana", "ben", "ana"]


def test_sources_at_different_rates_are_refused(tmp_path: Path) -> None:
    export([episode("g1")], tmp_path / "slow")
    export([episode("g1", fps=30.0)], tmp_path / "fast")

    with pytest.raises(DatasetError) as caught:
        merge([tmp_path / "slow", tmp_path / "fast"], tmp_path / "out")

    message = str(caught.value)
    assert "fast is recorded at 30 fps" in message and "slow at 10 fps" in message
    assert not (tmp_path / "out").exists()


def test_sources_with_different_joints_are_refused(tmp_path: Path) -> None:
    export([episode("g1")], tmp_path / "arm")
    export([episode("g1", joints=("hip", "knee"))], tmp_path / "leg")

    with pytest.raises(DatasetError, match=r"feature 'observation.state' differs") as caught:
        merge([tmp_path / "arm", tmp_path / "leg"], tmp_path / "out")

    assert "['hip', 'knee']" in str(caught.value) and "['shoulder', 'elbow']" in str(caught.value)


def test_a_source_that_does_not_validate_is_refused(
    sites: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = sites
    info = json.loads((b / "meta/info.json").read_text())
    info["total_frames"] = 99
    (b / "meta/info.json").write_text(json.dumps(info))

    with pytest.raises(DatasetError, match=r"site-b is not a sound LeRobot v3.0 dataset"):
        merge([a, b], tmp_path / "out")


def test_a_dataset_named_twice_is_refused(sites: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="named twice"):
        merge([sites[0], sites[0]], tmp_path / "out")


def test_a_merged_dataset_merges_again(sites: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = sites
    merge([a, b], tmp_path / "ab")

    written = merge([tmp_path / "ab", a], tmp_path / "aba")

    assert (written.episodes, written.frames, written.frameless) == (9, 18, 3)
    assert validate(tmp_path / "aba") == []


def test_sources_spread_over_several_data_files_pool(tmp_path: Path) -> None:
    export(lab_day(), tmp_path / "a", data_files_size_in_mb=0)
    export(lab_day(site="site-b"), tmp_path / "b")

    written = merge([tmp_path / "a", tmp_path / "b"], tmp_path / "out")

    frames = pq.read_table(tmp_path / "out/data/chunk-000/file-000.parquet").to_pydict()
    assert written.data_files == 1
    assert frames["observation.state"][:6] == frames["observation.state"][6:]
    assert validate(tmp_path / "out") == []
