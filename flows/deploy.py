"""Work pools, deployments and device limits for lab stations (``cfl deploy``).

A *station* is a machine next to devices; each gets a process work pool, ``cfl-<station>``, and
workers started there (``cfl worker STATION``) run the flows of that pool. The campaign
deployment of a spec is created on each station's pool; the benchmark deployment (when the
benchmark harness is installed) on the first, optionally on a nightly schedule.

Runs that die without a word (a killed worker, a lost machine) would stay *Running* in Prefect
for ever: the deployments' runs send a heartbeat every :data:`HEARTBEAT_S` seconds, and the
automation :data:`ZOMBIE_AUTOMATION` marks a run *Crashed* once :data:`SILENCE_S` seconds pass
without one (Prefect's recipe, "How to detect and respond to zombie flows"). The heartbeat comes
from a thread of its own, so a run waiting for an approval keeps sending it. The campaign itself
is safe either way: the next run of the spec resumes it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists

from cfl.spec import CampaignSpec
from flows.limits import ensure_device_limits

__all__ = [
    "HEARTBEAT_S",
    "NIGHTLY",
    "REPO",
    "SILENCE_S",
    "ZOMBIE_AUTOMATION",
    "Deployed",
    "deploy",
    "ensure_zombie_automation",
    "pool_name",
    "stations_of",
]

REPO = Path(__file__).resolve().parent.parent
"""Where the flows' code lives; workers run it from here (the deployments' working directory)."""
NIGHTLY = "0 2 * * *"
HEARTBEAT_S = 30
"""Seconds between a deployed run's heartbeats (Prefect's minimum is 30)."""
SILENCE_S = 3 * HEARTBEAT_S
"""Seconds without a heartbeat after which a run is marked Crashed (three missed beats)."""
ZOMBIE_AUTOMATION = "cfl: crash runs that stopped sending heartbeats"
_RUN_ENV = {"env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S)}}


def pool_name(station: str) -> str:
    """The work pool of a station."""
    return f"cfl-{station}"


def stations_of(spec: CampaignSpec) -> list[str]:
    """Stations named by the lab file: its site, else the lab's name."""
    return [spec.lab.site or spec.lab.name]


@dataclass
class Deployed:
    """What :func:`deploy` created or updated."""

    pools: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    automations: list[str] = field(default_factory=list)


def _ensure_pool(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        except ObjectAlreadyExists:
            return False
    return True


def ensure_zombie_automation() -> bool:
    """Create :data:`ZOMBIE_AUTOMATION` unless it exists; whether it was created."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    with get_client(sync_client=True) as client:
        if client.read_automations_by_name(name=ZOMBIE_AUTOMATION):
            return False
    Automation(
        name=ZOMBIE_AUTOMATION,
        description=f"A flow run that sent heartbeats and then none for {SILENCE_S} s (its "
        "process or machine died) is marked Crashed. Created by `cfl deploy`.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=SILENCE_S),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {SILENCE_S} s: the run's process or machine died. "
                "Run the campaign again to resume it.",
            )
        ],
    ).create()
    return True


def deploy(
    spec: CampaignSpec,
    spec_path: Path,
    *,
    stations: list[str] | None = None,
    cron: str | None = None,
    benchmark: bool = True,
    benchmark_cron: str | None = None,
) -> Deployed:
    """Create pools, device limits and deployments; existing ones are kept or updated.

    Args:
        spec: The campaign spec to deploy.
        spec_path: Its file, as the workers will read it.
        stations: Stations to deploy on; default :func:`stations_of`.
        cron: Schedule of the campaign deployments (none: run on demand).
        benchmark: Also deploy the benchmark flow, if the harness is installed.
        benchmark_cron: Its schedule, e.g. :data:`NIGHTLY`.
    """
    from flows.campaign import campaign

    done = Deployed()
    chosen = stations or stations_of(spec)
    done.limits = ensure_device_limits(spec.lab.devices)
    if ensure_zombie_automation():
        done.automations.append(ZOMBIE_AUTOMATION)
    for station in chosen:
        pool = pool_name(station)
        if _ensure_pool(pool):
            done.pools.append(pool)
        source = campaign.from_source(source=str(REPO), entrypoint="flows/campaign.py:campaign")
        source.deploy(  # type: ignore[union-attr]
            name=f"{spec.name}-{station}",
            work_pool_name=pool,
            parameters={"spec_path": str(spec_path.resolve())},
            job_variables=_RUN_ENV,
            cron=cron,
            tags=["cfl", f"station:{station}", f"lab:{spec.lab.name}"],
            description=f"Campaign {spec.name} on station {station}",
            print_next_steps=False,
            build=False,
            push=False,
        )
        done.deployments.append(f"campaign/{spec.name}-{station}")
    if benchmark and importlib.util.find_spec("benchmarks.harness") is not None:
        from flows.benchmark import benchmark as benchmark_flow

        source = benchmark_flow.from_source(
            source=str(REPO), entrypoint="flows/benchmark.py:benchmark"
        )
        source.deploy(  # type: ignore[union-attr]
            name="nightly" if benchmark_cron else "on-demand",
            work_pool_name=pool_name(chosen[0]),
            job_variables=_RUN_ENV,
            cron=benchmark_cron,
            tags=["cfl", "benchmark"],
            print_next_steps=False,
            build=False,
            push=False,
        )
        done.deployments.append(f"benchmark/{'nightly' if benchmark_cron else 'on-demand'}")
    return done
