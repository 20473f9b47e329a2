"""Run a campaign from a spec: find or create it, build the lab, and drive the engine."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from cfl.campaign import Campaign
from cfl.clock import LabClock, run_on_clock
from cfl.control import ControlBoard
from cfl.devices import Closeable
from cfl.dispatcher import DispatchHooks
from cfl.engine import Engine
from cfl.errors import SpecError
from cfl.events import ModelCalled
from cfl.hypotheses import HypothesisProposer, LogsModelCalls
from cfl.journal import Journal, Listener, human_actor
from cfl.lab import Lab
from cfl.planner import Planner
from cfl.registry import PluginGroup, load_plugin
from cfl.settings import Settings
from cfl.spec import CampaignSpec
from cfl.store import Store
from cfl.timestamp import TimestampUnavailable, load_tsa_settings
from cfl.tournament import HypothesisJudge

__all__ = ["Started", "open_or_create", "run_campaign"]


@dataclass(frozen=True)
class Started:
    """Which campaign a run is driving and whether it picked up an earlier one."""

    journal: Journal
    resumed: bool


logger = logging.getLogger(__name__)


def _build(group: PluginGroup, name: str, spec: CampaignSpec, field: str) -> object:
    factory = load_plugin(group, name)
    from_spec = getattr(factory, "from_spec", None)
    if from_spec is None:
        raise SpecError(f"{name!r} in {group} has no from_spec(spec) constructor", field=field)
    return from_spec(spec)


def open_or_create(store: Store, spec: CampaignSpec, *, new: bool = False) -> Started:
    """The newest unfinished campaign of this exact spec, or a new one.

    Args:
        new: Start a new campaign even if an unfinished one exists.
    """
    campaign_id = None if new else Journal.find_unfinished(store, spec)
    if campaign_id is not None:
        return Started(Journal.open(store, campaign_id), resumed=True)
    return Started(Journal.create(store, spec, actor=human_actor()), resumed=False)


def run_campaign(
    journal: Journal,
    *,
    listener: Listener | None = None,
    control: ControlBoard | None = None,
    control_poll_s: float = 2.0,
    hooks: DispatchHooks | None = None,
    wait: Callable[[Campaign], Awaitable[None]] | None = None,
) -> Campaign:
    """Drive a campaign to its end on its lab (see :class:`cfl.engine.Engine`).

    Args:
        control: Requests people file while it runs (``cfl chat``); applied at every step.
        hooks: Wrap experiments and steps (``flows``: Prefect subflows and tasks).
        wait: Waits for a person instead of polling ``control`` (``flows``: a paused flow run).

    Raises:
        SpecError: the lab, planner or co-scientist cannot be built.
    """
    spec = journal.campaign.spec
    clock = LabClock(start_s=journal.campaign.lab_time_s)
    planner = _build("cfl.planners", spec.planner, spec, "planner")
    if not isinstance(planner, Planner):
        raise SpecError(f"{spec.planner!r} does not implement Planner", field="planner")
    proposer: HypothesisProposer | None = None
    if spec.coscientist is not None:
        built = _build("cfl.agents", spec.coscientist, spec, "coscientist")
        if not isinstance(built, HypothesisProposer):
            raise SpecError(
                f"{spec.coscientist!r} does not implement HypothesisProposer", field="coscientist"
            )
        proposer = built
    if isinstance(proposer, LogsModelCalls):

        def log_call(call: Mapping[str, JsonValue]) -> None:
            event = ModelCalled.model_validate({**call, "lab_time_s": clock.now()})
            journal.write(f"agent:{event.model}", event)

        proposer.log_calls(log_call)
    if listener is not None:
        journal.subscribe(listener)

    async def main() -> Campaign:
        lab = Lab.build(
            spec.lab,
            clock=clock,
            seed=spec.seed,
            data_dir=Settings().home / "data",
            campaign=journal.campaign.id,
        )
        engine = Engine(
            journal=journal,
            devices=dict(lab.devices),
            planner=planner,
            proposer=proposer,
            judge=proposer if isinstance(proposer, HypothesisJudge) else None,
            clock=clock,
            control=control,
            control_poll_s=control_poll_s,
            hooks=hooks,
            wait=wait,
        )
        try:
            return await engine.run()
        finally:
            for device in lab.devices.values():
                if isinstance(device, Closeable):
                    with contextlib.suppress(Exception):  # closing must not hide the real error
                        await device.close()

    tsa = load_tsa_settings()  # a malformed CFL_TSA_* is bad input: refused before the run
    campaign = run_on_clock(main, clock=clock, kind=spec.lab.clock)
    if campaign.finished is not None and tsa.url is not None:
        try:
            journal.stamp_head()
        except TimestampUnavailable as exc:  # the log stands; a later `cfl ledger head` stamps
            logger.warning("the final tree head of %s was not time-stamped: %s", campaign.id, exc)
    return campaign
