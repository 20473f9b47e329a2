"""Episodes: frames at a fixed rate from the robot's samples, provenance, and the lab's sink."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import robots.recording as recording
from robots.contract import ErrorCode, GoalStatus, RobotErrorInfo
from robots.messages import RobotInfo, RobotState
from robots.recording import Provenance, episode_of, experiment_of, lab_sink, resample


def _state(t: float, value: float) -> RobotState:
    return RobotState(t_s=t, joints=(value,), command=(value + 1,), tool=(0, 0, 1))


def test_frames_hold_the_latest_sample_at_each_frame_time() -> None:
    states = [_state(0.0, 0.0), _state(0.25, 1.0), _state(0.5, 2.0), _state(1.0, 3.0)]
    frames = resample(states, fps=4, duration_s=1.0)
    assert [f.timestamp_s for f in frames] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [f.state for f in frames] == [(0.0,), (1.0,), (2.0,), (2.0,), (3.0,)]
    assert frames[0].action == (1.0,)
    assert resample([], fps=10, duration_s=1.0) == ()


def test_the_experiment_is_read_from_a_sample_id() -> None:
    assert experiment_of(["S-E0007-1"]) == "E0007"
    assert experiment_of(["bottle", "S-E0123-2"]) == "E0123"
    assert experiment_of(["S1"]) is None


def test_an_episode_carries_outcome_error_and_provenance() -> None:
    robot = RobotInfo(serial="KPX-1", robot_type="kapex_sim", firmware="1", is_sim=True,
                      joint_names=("j",), skills=("pick",), state=_state(0.0, 0.0))
    episode = episode_of(
        provenance=Provenance(site="KIST", team="t7", campaign="c-1", robot=robot),
        goal_id="g1", skill="pick", args={"object": "S-E0007-1"}, objects=["S-E0007-1"],
        instruction="pick it", status=GoalStatus.ABORTED,
        error=RobotErrorInfo(code=ErrorCode.GRASP_FAILED, message="slipped"), attempts=2,
        started_at="2026-01-31T12:00:00.000000Z", duration_s=0.5,
        states=[_state(0.0, 0.0), _state(0.5, 1.0)], fps=10,
    )
    assert (episode.outcome, episode.error, episode.attempts) == ("aborted", "grasp_failed", 2)
    assert (episode.site, episode.team, episode.campaign, episode.experiment) == (
        "KIST", "t7", "c-1", "E0007")
    assert (episode.robot_serial, episode.robot_type) == ("KPX-1", "kapex_sim") and episode.is_sim
    assert len(episode.frames) == 6 and episode.joint_names == ("j",)


def test_no_data_folder_no_sink(tmp_path: Path) -> None:
    assert lab_sink(None) is None


def test_the_lab_sink_is_the_episode_store_under_the_data_folder(tmp_path: Path) -> None:
    pytest.importorskip("robots.dataset.store")
    sink = lab_sink(tmp_path)
    assert sink is not None and type(sink).__name__ == "EpisodeStore"
    assert sink.folder == tmp_path / "episodes"  # type: ignore[attr-defined]


def test_without_the_dataset_package_nothing_is_recorded_and_that_is_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(recording, "_STORE", "robots.no_such_dataset_store")
    monkeypatch.setattr(recording, "_missing_store_logged", False)
    with caplog.at_level(logging.WARNING, logger="robots.recording"):
        assert lab_sink(tmp_path) is None
        assert lab_sink(tmp_path) is None
    [warning] = caplog.records
    assert "robot episodes are not recorded" in warning.getMessage()
