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
from cfl.errors import NotFound, SpecError
from cfl.events import ModelCalled
from cfl.hypotheses import HypothesisProposer, LogsModelCalls
from cfl.journal import Journal, Listener, human_actor
from cfl.lab import Lab
from cfl.planner import Converges, Evaluation, Planner, WarmStarts, evaluation_of
from cfl.registry import PluginGroup, load_plugin
from cfl.settings import Settings
from cfl.spec import CampaignSpec
from cfl.store import Store
from cfl.timestamp import TimestampUnavailable, load_tsa_settings
from cfl.tournament import HypothesisJudge

__all__ = ["Started", "open_or_create", "prior_evaluations", "run_campaign"]


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


def prior_evaluations(store: Store, spec: CampaignSpec) -> list[Evaluation]:
    """The finished results of the spec's ``warm_start`` campaigns, scored with this spec.

    Observations that lack one of this spec's optimised objectives, or whose conditions lie
    outside this space's bounds, are left out: the planner could not place or score them.

    Raises:
        SpecError: a named campaign is not in the store, or its parameters differ from this
            space's.
    """
    evaluations: list[Evaluation] = []
    optimised = [o.name for o in spec.objectives if o.weight > 0]
    for campaign_id in spec.warm_start:
        try:
            earlier = Journal.open(store, campaign_id).campaign
        except NotFound as exc:
            raise SpecError(
                f"warm_start names {campaign_id!r}, which is not a campaign in this store; "
                "`cfl status` lists the campaigns",
                field="warm_start",
            ) from exc
        if set(earlier.spec.space.names) != set(spec.space.names):
            raise SpecError(
                f"warm_start campaign {campaign_id!r} varies {sorted(earlier.spec.space.names)}, "
                f"this spec {sorted(spec.space.names)}; only campaigns on the same parameters "
                "can warm-start a planner",
                field="warm_start",
            )
        for experiment_id, observation in earlier.observations.items():
            if any(name not in observation.values for name in optimised):
                continue
            try:
                params = spec.space.coerce(earlier.experiments[experiment_id].params)
            except SpecError:
                continue
            evaluations.append(evaluation_of(spec, params, observation.values))
    return evaluations


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
    if spec.stop.converged and not isinstance(planner, Converges):
        raise SpecError(
            f"planner {spec.planner!r} cannot tell when it has converged; use cfl-gp or drop "
            "stop.converged",
            field="stop.converged",
        )
    if spec.warm_start:
        if not isinstance(planner, WarmStarts):
            raise SpecError(
                f"planner {spec.planner!r} cannot learn from earlier campaigns; use cfl-gp or "
                "drop warm_start",
                field="warm_start",
            )
        planner.warm_start(prior_evaluations(journal.store, spec))
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
