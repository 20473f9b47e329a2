"""cfl deploy: a process work pool per station, device limits, deployments and schedules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from tests.flows.conftest import PrefectServer
from tests.flows.test_campaign_flow import small_spec_path


def test_cfl_deploy_creates_pools_deployments_and_schedules(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    from cfl.cli import _add_plugin_commands, app
    from flows.deploy import ZOMBIE_AUTOMATION

    _add_plugin_commands()  # `cfl deploy` as the console script has it

    spec = small_spec_path(tmp_path, name="snar-deployed")
    result = CliRunner().invoke(
        app,
        [
            "deploy",
            str(spec),
            "--station",
            "bay-1",
            "--station",
            "bay-2",
            "--cron",
            "0 6 * * 1",
            "--nightly",
        ],
    )
    assert result.exit_code == 0, result.output
    with get_client(sync_client=True) as client:
        for station in ("bay-1", "bay-2"):
            assert client.read_work_pool(f"cfl-{station}").type == "process"
            deployment = client.read_deployment_by_name(f"campaign/snar-deployed-{station}")
            assert deployment.work_pool_name == f"cfl-{station}"
            assert deployment.parameters == {"spec_path": str(spec.resolve())}
            crons = [s.schedule.cron for s in deployment.schedules]  # type: ignore[union-attr]
            assert crons == ["0 6 * * 1"]
        nightly = client.read_deployment_by_name("benchmark/nightly")
        assert [s.schedule.cron for s in nightly.schedules] == ["0 2 * * *"]  # type: ignore[union-attr]
        for device in ("reactor-1", "reactor-2", "hplc-1", "kapex-1"):
            assert client.read_global_concurrency_limit_by_name(f"device:{device}").limit == 1
        heartbeats = {"env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}}
        assert deployment.job_variables == heartbeats == nightly.job_variables
        (zombies,) = client.read_automations_by_name(name=ZOMBIE_AUTOMATION)
        trigger = zombies.trigger
        assert isinstance(trigger, EventTrigger) and trigger.posture == Posture.Proactive
        assert trigger.after == {"prefect.flow-run.heartbeat"}
        assert trigger.within == timedelta(seconds=90) and trigger.for_each == {
            "prefect.resource.id"
        }
        (action,) = zombies.actions
        assert isinstance(action, ChangeFlowRunState) and action.state == StateType.CRASHED
    again = CliRunner().invoke(app, ["deploy", str(spec), "--station", "bay-1", "--no-benchmark"])
    assert again.exit_code == 0, again.output  # idempotent: pools and limits kept
    assert "work pool cfl-bay-1 (process) created" in result.output
    assert f"automation {ZOMBIE_AUTOMATION!r} created" in result.output
    assert "automation" not in again.output  # one automation, whatever is deployed again
    assert "(process) created" not in again.output and "limit device" not in again.output
