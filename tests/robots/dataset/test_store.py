"""The raw episode store: exact round trip, recording order, idempotence and crash safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robots.dataset.store import EpisodeStore
from robots.episodes import EpisodeSink
from tests.robots.dataset.factory import episode, lab_day


def test_an_episode_comes_back_exactly_as_written(tmp_path: Path) -> None:
    store = EpisodeStore(tmp_path / "episodes")
    original = episode("g1", states=[(0.1, 1 / 3), (2e-9, -7.25)])

    store.write(original)

    (path,) = store.paths()
    assert path.name.startswith("20260301T090000000000Z-") and path.suffix == ".json"
    assert list(store) == [original]
    assert isinstance(store, EpisodeSink)


def test_episodes_come_back_in_recording_order_whatever_the_write_order(tmp_path: Path) -> None:
    store = EpisodeStore(tmp_path)
    day = lab_day()

    for e in reversed(day):
        store.write(e)

    assert [e.goal_id for e in store] == ["g1", "g2", "g3", "g4"]
    assert len(store) == 4


def test_writing_the_same_episode_again_replaces_it(tmp_path: Path) -> None:
    store = EpisodeStore(tmp_path)
    e = episode("g1")

    store.write(e)
    store.write(e)

    assert len(store) == 1


def test_same_goal_id_on_two_robots_are_two_episodes(tmp_path: Path) -> None:
    store = EpisodeStore(tmp_path)

    store.write(episode("g1", robot_serial="KPX-0001"))
    store.write(episode("g1", robot_serial="KPX-0002"))

    assert sorted(e.robot_serial for e in store) == ["KPX-0001", "KPX-0002"]


def test_a_leftover_temporary_file_from_a_crash_is_ignored(tmp_path: Path) -> None:
    store = EpisodeStore(tmp_path)
    store.write(episode("g1"))
    # What a crash between open and rename leaves: a hidden, partly written file.
    (tmp_path / f".{EpisodeStore.file_name(episode('g2'))}.tmp-x1y2").write_text('{"goal_id": "g')

    assert [e.goal_id for e in store] == ["g1"]
    assert len(store) == 1


def test_a_write_that_fails_before_the_rename_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EpisodeStore(tmp_path)
    store.write(episode("g1"))

    def power_cut(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="disk gone"):
        store.write(episode("g2", started_at="2026-03-01T10:00:00Z"))

    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in store.paths()]
    assert [e.goal_id for e in store] == ["g1"]


def test_filter_selects_episodes(tmp_path: Path) -> None:
    store = EpisodeStore(tmp_path)
    for e in lab_day():
        store.write(e)

    failed = [e.goal_id for e in store.episodes(lambda e: e.outcome != "succeeded")]

    assert failed == ["g2", "g3"]


def test_a_damaged_file_is_named_with_the_fix(tmp_path: Path) -> None:
    store = EpisodeStore(tmp_path)
    (tmp_path / "20260301T090000000000Z-0000.json").write_text('{"goal_id": 3}')

    with pytest.raises(
        ValueError, match=r"20260301T090000000000Z-0000\.json is not a valid episode"
    ):
        list(store)


def test_a_start_time_that_is_not_iso_8601_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"started_at 'yesterday' is not an ISO 8601 time"):
        EpisodeStore(tmp_path).write(episode("g1", started_at="yesterday"))


def test_a_missing_folder_holds_no_episode(tmp_path: Path) -> None:
    assert list(EpisodeStore(tmp_path / "nowhere")) == []
