"""Each injected fault, end to end: what the campaign and the store hold afterwards.

The demo lab on the virtual clock, 4 experiments in one batch; faults are declared on devices in
the lab file exactly as a lab engineer would. Policy: 2 retries, back-off 30 s then 60 s,
quarantine after 3 failed attempts in a row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from cfl.campaign import Campaign
from cfl.events import DeviceReleased
from cfl.journal import Journal
from cfl.ledger import verify_chain
from cfl.models import DeviceState, ExperimentStatus
from cfl.runner import open_or_create, run_campaign
from cfl.spec import load_spec
from cfl.store import Store
from tests.conftest import demo_spec_data, write_spec


def _run(
    tmp_path: Path, store: Store, faults: dict[str, list[dict[str, Any]]], **changes: Any
) -> Campaign:
    data = demo_spec_data()
    data.update(
        name="faults",
        budget={"experiments": 4},
        batch_size=4,
        initial_design=4,
        stop={},
        coscientist=None,
    )
    data.update(changes)
    for device, fault_list in faults.items():
        data["lab"]["devices"][device]["faults"] = fault_list
    spec = load_spec(write_spec(tmp_path, data))
    return run_campaign(open_or_create(store, spec).journal)


def _records(store: Store, campaign: Campaign, kind: str) -> list[dict[str, Any]]:
    return [r.payload for r in store.records(campaign.id) if r.type == kind]


def _all_done(campaign: Campaign) -> bool:
    return all(e.status == ExperimentStatus.DONE for e in campaign.experiments.values())


def _one_observation_each(store: Store, campaign: Campaign) -> bool:
    counts = Counter(
        p["observation"]["experiment"]  # type: ignore[index]
        for p in _records(store, campaign, "observation.recorded")
    )
    return sorted(counts) == sorted(campaign.experiments) and set(counts.values()) == {1}


def test_a_device_timeout_is_retried_after_the_back_off(tmp_path: Path, store: Store) -> None:
    campaign = _run(tmp_path, store, {"hplc-1": [{"kind": "timeout", "command": "measure"}]})
    assert _all_done(campaign) and _one_observation_each(store, campaign)
    [failed] = _records(store, campaign, "step.failed")
    assert (failed["device"], failed["error"], failed["retry_in_s"]) == (
        "hplc-1",
        "DeviceTimeout",
        30.0,
    )
    assert "timed out inside the device" in str(failed["message"])
    assert campaign.device_state("hplc-1") == DeviceState.IDLE  # a later success clears it
    assert verify_chain(store.records(campaign.id), campaign=campaign.id) > 0


def test_a_hanging_command_is_ended_by_its_deadline_and_retried(
    tmp_path: Path, store: Store
) -> None:
    campaign = _run(tmp_path, store, {"hplc-1": [{"kind": "hang", "command": "measure"}]})
    assert _all_done(campaign) and _one_observation_each(store, campaign)
    [failed] = _records(store, campaign, "step.failed")
    assert failed["error"] == "DeviceTimeout"
    assert "did not finish measure within 1200 s of lab time" in str(failed["message"])
    dispatched = [
        p
        for p in _records(store, campaign, "step.dispatched")
        if p["experiment"] == failed["experiment"] and p["command"] == "measure"
    ]
    assert len(dispatched) == 2
    # the retry went out after the 1200 s deadline plus the 30 s back-off
    assert float(dispatched[1]["lab_time_s"]) - float(dispatched[0]["lab_time_s"]) == 1230.0


def test_a_disconnect_marks_the_device_offline_until_it_works_again(
    tmp_path: Path, store: Store
) -> None:
    campaign = _run(
        tmp_path, store, {"reactor-1": [{"kind": "disconnect", "command": "react", "times": 1}]}
    )
    assert _all_done(campaign) and _one_observation_each(store, campaign)
    [failed] = _records(store, campaign, "step.failed")
    assert (failed["device"], failed["error"]) == ("reactor-1", "DeviceDisconnected")
    replay = Journal.open(store, campaign.id).campaign
    assert replay.device_state("reactor-1") == DeviceState.IDLE


def test_an_out_of_range_reading_is_refused_and_measured_again(
    tmp_path: Path, store: Store
) -> None:
    campaign = _run(tmp_path, store, {"hplc-1": [{"kind": "out_of_range", "after": 1}]})
    assert _all_done(campaign) and _one_observation_each(store, campaign)
    [failed] = _records(store, campaign, "step.failed")
    assert failed["error"] == "ReadingOutOfRange"
    assert "outside the range [-10, 110]" in str(failed["message"])
    values = [o.values for o in campaign.observations.values()]
    assert all(0 < v["yield"] < 110 for v in values)  # no spoiled value was recorded


def test_a_device_that_keeps_failing_is_quarantined_and_the_lab_carries_on(
    tmp_path: Path, store: Store
) -> None:
    data = demo_spec_data()
    lab = data["lab"]
    lab["devices"]["hplc-2"] = dict(lab["devices"]["hplc-1"])
    faults = {"hplc-1": [{"kind": "timeout", "command": "measure", "times": None}]}
    campaign = _run(tmp_path, store, faults, lab=lab)
    assert "3 failed attempts in a row" in campaign.quarantined["hplc-1"]
    [alert] = _records(store, campaign, "device.quarantined")
    assert alert["device"] == "hplc-1"
    statuses = Counter(e.status for e in campaign.experiments.values())
    # the experiment that met hplc-1 three times fails; the others measure on hplc-2
    assert statuses == {ExperimentStatus.DONE: 3, ExperimentStatus.FAILED: 1}
    assert {o.device for o in campaign.observations.values()} == {"hplc-2"}
    assert campaign.finished is not None and campaign.finished.reason == "budget"
    assert campaign.device_state("hplc-1") == DeviceState.QUARANTINED
    failed = [e for e in campaign.experiments.values() if e.status == ExperimentStatus.FAILED]
    assert failed[0].id not in campaign.observations
    assert [p["sample"] for p in _records(store, campaign, "sample.discarded")] == [
        failed[0].sample
    ]


def test_with_every_device_of_a_role_out_the_campaign_pauses_until_a_human_releases_one(
    tmp_path: Path, store: Store
) -> None:
    faults = {"hplc-1": [{"kind": "timeout", "command": "measure", "times": 3}]}
    campaign = _run(tmp_path, store, faults)
    assert campaign.finished is None and campaign.paused is not None
    assert campaign.device_state("hplc-1") == DeviceState.QUARANTINED
    assert "role 'hplc' is quarantined" in campaign.paused.detail
    # one experiment met the failing HPLC three times; the rest wait, their budget intact
    statuses = Counter(e.status for e in campaign.experiments.values())
    assert statuses == {ExperimentStatus.FAILED: 1, ExperimentStatus.QUEUED: 3}
    assert all(
        e.attempt == 2 for e in campaign.experiments.values() if e.status == ExperimentStatus.QUEUED
    )
    journal = Journal.open(store, campaign.id)
    journal.write(
        "human:ada",
        DeviceReleased(
            lab_time_s=journal.campaign.lab_time_s,
            device="hplc-1",
            by="human:ada",
            note="flow cell flushed",
        ),
    )
    assert journal.campaign.device_state("hplc-1") == DeviceState.IDLE
    resumed = run_campaign(journal)  # the fault plan restarts with the run: 3 more timeouts
    released_at = next(r.seq for r in store.records(campaign.id) if r.type == "device.released")
    later = [
        r
        for r in store.records(campaign.id)
        if r.seq > released_at and r.type == "step.dispatched" and r.payload["device"] == "hplc-1"
    ]
    assert later, "the released device was used again"
    assert resumed.paused is not None or resumed.finished is not None


def test_without_a_configured_deadline_the_device_estimate_sets_one(
    tmp_path: Path, store: Store
) -> None:
    data = demo_spec_data()
    del data["lab"]["devices"]["hplc-1"]["step_timeout_s"]
    campaign = _run(tmp_path, store, {"hplc-1": [{"kind": "hang", "command": "measure"}]},
                    lab=data["lab"])
    assert _all_done(campaign) and _one_observation_each(store, campaign)
    [failed] = _records(store, campaign, "step.failed")
    # the HPLC expects 6.5 min (390 s): deadline max(3 x 390, 390 + 300) = 1170 s
    assert "did not finish measure within 1170 s of lab time" in str(failed["message"])


def test_the_report_lists_each_device_with_its_state_and_busy_share(
    tmp_path: Path, store: Store
) -> None:
    from cfl.report import write_report

    data = demo_spec_data()
    lab = data["lab"]
    lab["devices"]["hplc-2"] = dict(lab["devices"]["hplc-1"])
    campaign = _run(tmp_path, store,
                    {"hplc-1": [{"kind": "timeout", "command": "measure", "times": None}]}, lab=lab)
    files = write_report(campaign, tmp_path / "report", head=(1, "0" * 64))
    summary = files.summary.read_text()
    row = next(line for line in summary.splitlines() if line.startswith("| hplc-1 |"))
    assert "| quarantined | 3 failed attempts in a row" in row
    busy = f"{campaign.utilisation('hplc-2'):.0%}"
    assert f"| hplc-2 | hplc | {busy} | idle |" in summary
