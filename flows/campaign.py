"""The campaign as a Prefect flow: the same engine as ``cfl run``, its work as subflows and tasks.

Design. The flow calls the core, :func:`cfl.runner.run_campaign`, which drives the one
:class:`cfl.engine.Engine` loop; nothing of the loop is written again here. The engine stays the
single writer of the ledger (every decision is journaled before it is acted on, and a resumed run
picks up from the store), and Prefect gets the units of work through two seams:

* :class:`PrefectHooks` (``cfl.dispatcher.DispatchHooks``): each experiment runs as an
  ``experiment`` subflow and each protocol step as a ``step`` task inside it. The task holds the
  device's global concurrency slot (``device:<name>``, see :mod:`flows.limits`) while the
  dispatcher runs the step, journaling every attempt and retrying device faults by the lab
  policy. Prefect's own retries (declared on the task) cover only what happens before the step
  reaches the device, taking the slot, so a retry never hides an attempt from the ledger.
* :class:`ApprovalGate` (the engine's ``wait``): with ``approval: true``, a batch waiting for a
  decision pauses the flow run with typed input (:class:`BatchDecision`). A decision from the
  Prefect UI or API becomes the same control request ``cfl approve`` files, so the engine applies
  it as the person who made it; a decision filed by ``cfl approve`` or the copilot while the run
  waits resumes the run by itself.

Prefect runs on a second thread (:mod:`flows.bridge`), since the lab's clock may be virtual.
At the end the run gets two artifacts: the results table and the convergence.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import AsyncClientContext, FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.tasks import Task
from pydantic import Field

from cfl.campaign import Campaign, score
from cfl.control import ControlBoard, ExperimentEdit, check_person
from cfl.devices import Reading
from cfl.dispatcher import StepCall
from cfl.errors import CFLError, DeviceTimeout, SpecError
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus
from cfl.runner import open_or_create, run_campaign
from cfl.settings import Settings
from cfl.spec import load_spec
from cfl.store import Store
from flows.bridge import Bridge
from flows.limits import (
    DeviceLease,
    LeaseRegistry,
    ensure_device_limits,
    limit_name,
)

__all__ = [
    "ApprovalGate",
    "BatchDecision",
    "DeviceSlotUnavailable",
    "DeviceSlots",
    "PrefectHooks",
    "QuietCompletedSteps",
    "campaign",
    "experiment",
    "step",
]

logger = logging.getLogger(__name__)

STEP_TIMEOUT_S = 6 * 3600.0
"""Wall-clock backstop of a step task without a deadline (the dispatcher enforces lab time)."""
SLOT_TIMEOUT_S = 3600.0
"""How long a step waits for its device's slot before the task fails and is retried."""

_work: contextvars.ContextVar[Callable[[], Awaitable[Any]]] = contextvars.ContextVar("cfl_work")
"""The wrapped work of the subflow or task being called (never a flow parameter: not JSON)."""
_plan: contextvars.ContextVar[SlotPlan | None] = contextvars.ContextVar(
    "cfl_slot_plan", default=None
)
"""How the step task being called gets and gives back its device's slot (``None``: on its own)."""


class DeviceSlotUnavailable(Exception):
    """The device's concurrency slot could not be taken; nothing reached the device."""


class DeviceSlots:
    """The ``device:<name>`` slots one campaign run holds, each for a whole device reservation.

    A protocol reserves a device, runs one or more steps on it and releases it (the robot: pick,
    place). Holding the slot per step would let another run take the robot between the pick and
    the place, with a vial in its gripper, and costs a take and a release per step; so the first
    step task of a reservation takes the slot (retried by Prefect if it cannot) and the last one
    lets it go. The local :class:`cfl.pool.DevicePool` already keeps two experiments of this run
    apart, so the slot only guards against other runs.

    Letting go does not wait for the server: the release runs in the background and the next
    :meth:`take` of the device waits for it, so the device is never driven by two runs at once but
    the release's round trip is off the step's critical path. All methods run on one event loop
    (the bridge's).

    Args:
        client: An open client on that loop.
        registry: Where held leases are noted, for the run that resumes after a crash.
    """

    def __init__(self, client: PrefectClient, registry: LeaseRegistry | None = None) -> None:
        self._client = client
        self._registry = registry
        self._held: dict[str, tuple[str, DeviceLease]] = {}
        self._releasing: dict[str, asyncio.Task[None]] = {}

    def holder(self, device: str) -> str | None:
        """Who holds ``device``'s slot in this run (an experiment attempt), if anyone."""
        held = self._held.get(device)
        return None if held is None else held[0]

    async def take(self, device: str, owner: str, *, timeout_s: float | None = None) -> bool:
        """Hold ``device``'s slot for ``owner``; whether a new lease was taken.

        A slot ``owner`` already holds (an earlier step of the same reservation) is kept as is. A
        slot another owner of this run still holds is handed over: that owner's reservation
        ended without its last step (a failed experiment), and the local pool gave the device
        to ``owner``, so the other owner no longer drives it.

        Raises:
            TimeoutError: other runs held the slot for ``timeout_s`` seconds.
            LookupError, httpx.HTTPError: see :meth:`flows.limits.DeviceLease.take`.
        """
        held = self._held.get(device)
        if held is not None:
            if held[0] != owner:
                logger.debug("%s's slot handed over from %s to %s", device, held[0], owner)
                self._held[device] = (owner, held[1])
            return False
        pending = self._releasing.get(device)
        if pending is not None:
            await asyncio.shield(pending)
        lease = await DeviceLease.take(
            device, client=self._client, timeout_s=timeout_s, registry=self._registry
        )
        self._held[device] = (owner, lease)
        return True

    def let_go(self, device: str) -> None:
        """Release ``device``'s slot in the background (nothing if this run does not hold it)."""
        held = self._held.pop(device, None)
        if held is None:
            return
        lease = held[1]

        async def release() -> None:
            try:
                await lease.release()
            except Exception as exc:  # the lease runs out by itself; this run waits for that
                logger.warning("could not release %s (%s)", limit_name(device), exc)
            finally:
                if self._releasing.get(device) is releasing:
                    del self._releasing[device]

        releasing = asyncio.get_running_loop().create_task(release())
        self._releasing[device] = releasing

    def let_go_of(self, owner: str) -> None:
        """Release every slot ``owner`` still holds (its experiment ended), in the background."""
        for device in [d for d, (o, _) in self._held.items() if o == owner]:
            self.let_go(device)

    async def settle(self) -> None:
        """Wait until the releases under way are done."""
        while self._releasing:
            await asyncio.gather(*list(self._releasing.values()))

    async def close(self) -> None:
        """Release every slot the run holds and wait for it."""
        for device in list(self._held):
            self.let_go(device)
        await self.settle()


@dataclass(frozen=True)
class SlotPlan:
    """What a ``step`` task does with its device's slot: whose it is, and whether to keep it."""

    slots: DeviceSlots
    owner: str
    """The experiment attempt the step belongs to, ``<experiment>/<attempt>``."""
    keep: bool
    """The reservation's next step is on the same device: hold the slot after this step."""


class QuietCompletedSteps(logging.Filter):
    """Drop the ``step`` task's "Finished in state Completed()" line, on the console and the API.

    There is one per device step and it repeats the task run's state, which the UI shows anyway;
    formatting it for the console (a terminal check per record) and shipping it took a few ms of
    the bridge thread per step. Failures, retries and other tasks' lines pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.INFO
            and getattr(record, "task_name", None) == "step"
            and isinstance(record.msg, str)
            and record.msg.startswith("Finished in state Completed")
        )


_quiet_steps = QuietCompletedSteps()


def _slot_unavailable(_task: Task[Any, Any], _run: TaskRun, state: State[Any]) -> bool:
    """Retry a step task only if it failed before its step reached the device."""
    return isinstance(state.data, DeviceSlotUnavailable) or "DeviceSlotUnavailable" in (
        state.message or ""
    )


@task(
    name="step",
    task_run_name="{experiment_id}.{index} {command} on {device}",
    retries=3,
    retry_delay_seconds=[1, 5, 30],
    retry_condition_fn=_slot_unavailable,
    timeout_seconds=STEP_TIMEOUT_S,
    cache_policy=NO_CACHE,
    persist_result=False,
)
async def step(
    experiment_id: str, attempt: int, index: int, command: str, role: str, device: str
) -> dict[str, float] | None:
    """One protocol step on ``device``, holding its ``device:<name>`` slot; the values read.

    In a campaign run the slot is held per device reservation (:class:`DeviceSlots`); called on
    its own (no plan), the task takes the slot before the step and releases it after.
    """
    work = _work.get()
    plan = _plan.get()
    if plan is not None:
        return await _on_device(plan, device, work)
    async with get_client() as client:
        slots = DeviceSlots(client)
        try:
            return await _on_device(SlotPlan(slots, experiment_id, keep=False), device, work)
        finally:
            await slots.close()


async def _on_device(
    plan: SlotPlan, device: str, work: Callable[[], Awaitable[Reading | None]]
) -> dict[str, float] | None:
    """Run ``work`` holding ``device``'s slot; let the slot go after unless ``plan.keep``."""
    try:
        await plan.slots.take(device, plan.owner, timeout_s=SLOT_TIMEOUT_S)
    except Exception as exc:
        raise DeviceSlotUnavailable(f"could not take {limit_name(device)}: {exc}") from exc
    try:
        reading = await work()
    except BaseException:
        plan.slots.let_go(device)  # the reservation's next steps are not coming
        raise
    if not plan.keep:
        plan.slots.let_go(device)
    return None if reading is None else dict(reading.values)


@flow(name="experiment", flow_run_name="{experiment_id} attempt {attempt}", persist_result=False)
async def experiment(
    experiment_id: str, attempt: int, round_number: int, params: dict[str, Any]
) -> str:
    """One experiment's protocol, its steps as tasks; the experiment's status at the end."""
    status: str = await _work.get()()
    get_run_logger().info("%s attempt %d: %s", experiment_id, attempt, status)
    return status


class PrefectHooks:
    """The dispatcher's hooks: experiments as ``experiment`` subflows, steps as ``step`` tasks.

    Every subflow and task of the run shares one client, opened by :meth:`open` on the bridge
    loop (otherwise each experiment subflow opens its own: a TLS context, a connection and a CSRF
    token request per experiment), and the run's device slots are held per device reservation
    (:class:`DeviceSlots`).
    """

    def __init__(
        self, bridge: Bridge, journal: Journal, leases: LeaseRegistry | None = None
    ) -> None:
        self._bridge = bridge
        self._journal = journal
        self._leases = leases
        self._clients: AsyncClientContext | None = None
        self._slots: DeviceSlots | None = None
        self._tasks: dict[float | None, Task[..., Any]] = {}

    @property
    def slots(self) -> DeviceSlots | None:
        """The device slots the run holds (after :meth:`open`)."""
        return self._slots

    async def open(self) -> None:
        """Open the run's client and device slots (on the bridge loop)."""
        task_runs = logging.getLogger("prefect.task_runs")
        if _quiet_steps not in task_runs.filters:
            task_runs.addFilter(_quiet_steps)
        clients = AsyncClientContext()
        await clients.client.__aenter__()
        self._clients = clients
        self._slots = DeviceSlots(clients.client, self._leases)

    async def close(self) -> None:
        """Release the slots still held and close the client."""
        if self._slots is not None:
            await self._slots.close()
            self._slots = None
        if self._clients is not None:
            await self._clients.client.__aexit__(None, None, None)
            self._clients = None

    def _share_client(self) -> None:
        """Make the run's client the one Prefect's engines use in the current bridge task."""
        if self._clients is not None:
            AsyncClientContext.__var__.set(self._clients)

    def _step_task(self, budget_s: float | None) -> Task[..., Any]:
        """``step`` with this timeout; made once per budget (``with_options`` costs ~2 ms)."""
        if budget_s not in self._tasks:
            # lab seconds; simulated clocks only run faster
            self._tasks[budget_s] = (
                step if budget_s is None else step.with_options(timeout_seconds=budget_s)
            )
        return self._tasks[budget_s]

    def keeps_slot(self, call: StepCall) -> bool:
        """Whether the step's device slot stays held after the step.

        It does when the experiment's next use of the step's role, before it releases the role, is
        another step: the same device, in the same reservation.
        """
        if call.step < 0:  # moves clearing a failed experiment's vial: one at a time
            return False
        experiment_ = self._journal.campaign.experiments.get(call.experiment)
        if experiment_ is None or call.step >= len(experiment_.protocol):
            return False
        role = experiment_.protocol[call.step].role
        for later in experiment_.protocol[call.step + 1 :]:
            if later.role == role:
                return later.command not in ("release", "reserve")
        return False

    async def experiment(self, experiment_: Experiment, run: Callable[[], Awaitable[None]]) -> None:
        bridge, journal, eid = self._bridge, self._journal, experiment_.id
        owner = f"{eid}/{experiment_.attempt}"

        async def body() -> str:  # on the lab loop
            await run()
            return journal.campaign.experiments[eid].status.value

        async def subflow() -> None:  # on the bridge, inside the campaign flow run
            self._share_client()
            _work.set(lambda: bridge.back(body()))
            try:
                await experiment(
                    experiment_id=eid,
                    attempt=experiment_.attempt,
                    round_number=experiment_.round,
                    params=dict(experiment_.params),
                )
            finally:  # a reservation cut short (a failed step) leaves its slot held
                if self._slots is not None:
                    self._slots.let_go_of(owner)

        await bridge.there(subflow())

    async def step(
        self, call: StepCall, run: Callable[[], Awaitable[Reading | None]]
    ) -> Reading | None:
        bridge = self._bridge
        box: list[Reading | None] = []
        # the step's attempts by the lab policy, each within its deadline, and the back-offs
        policy = self._journal.campaign.spec.lab.policy
        budget_s = (
            None
            if call.deadline_s is None
            else call.deadline_s * (policy.retries + 1)
            + sum(policy.backoff_s * policy.backoff_factor**k for k in range(policy.retries))
            + SLOT_TIMEOUT_S
        )
        keep = self.keeps_slot(call)

        async def body() -> Reading | None:  # on the lab loop
            reading = await run()
            box.append(reading)
            return reading

        async def in_task() -> None:  # on the bridge, inside the experiment subflow run
            self._share_client()
            _work.set(lambda: bridge.back(body()))
            if self._slots is not None:
                _plan.set(SlotPlan(self._slots, f"{call.experiment}/{call.attempt}", keep))
            await self._step_task(budget_s)(
                experiment_id=call.experiment,
                attempt=call.attempt,
                index=call.step,
                command=call.command,
                role=call.role,
                device=call.device,
            )

        try:
            await bridge.there(in_task())
        except TimeoutError as exc:  # the backstop fired: the step is lost, the experiment fails
            raise DeviceTimeout(
                f"{call.device} did not finish {call.command} within the step task's timeout",
                device=call.device,
                command=call.command,
                timeout_s=call.deadline_s or STEP_TIMEOUT_S,
            ) from exc
        except DeviceSlotUnavailable as exc:
            raise DeviceTimeout(
                f"{call.device} stayed busy with other runs: {exc}",
                device=call.device,
                command=call.command,
                timeout_s=SLOT_TIMEOUT_S,
            ) from exc
        return box[-1]


# -- human approval --------------------------------------------------------------------------------


class BatchDecision(RunInput):
    """A person's decision on the batch a paused campaign run waits for."""

    decision: Literal["approve", "reject", "edit", "defer"] = Field(
        description="approve or reject the whole batch; edit: run only the experiments listed "
        "below, with the changes given, and reject the rest; defer: decided elsewhere "
        "(cfl approve, the copilot)"
    )
    by: str = Field(description="who decides, as human:<name>; recorded in the ledger")
    experiments: list[str] = Field(
        default_factory=list, description="for edit: the experiments to run"
    )
    changes: dict[str, dict[str, float | int | str]] = Field(
        default_factory=dict,
        description='for edit: new conditions of listed experiments, e.g. {"E0012": '
        '{"temperature": 100}}; inside the spec\'s bounds',
    )
    note: str = ""


def _conditions(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


class ApprovalGate:
    """The engine's ``wait`` when a person must decide: pause the flow run for a decision.

    Args:
        board: Where decisions become control requests.
        poll_s: Seconds between looks at the board (and at the paused run).
        timeout_s: How long one pause lasts before the run pauses again.
    """

    def __init__(self, board: ControlBoard, *, poll_s: float = 1.0, timeout_s: int = 3600) -> None:
        self._board = board
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._pauses = 0

    async def __call__(self, campaign: Campaign) -> None:
        proposed = [e.id for e in campaign.with_status(ExperimentStatus.PROPOSED)]
        if not proposed or campaign.paused is not None or self._board.pending(campaign.id):
            await asyncio.to_thread(time.sleep, self._poll_s)
            return
        await asyncio.to_thread(self._ask, campaign, proposed)

    def _ask(self, campaign: Campaign, proposed: list[str]) -> None:
        context = FlowRunContext.get()
        assert context is not None and context.flow_run is not None
        run_id = context.flow_run.id
        self._pauses += 1
        done = threading.Event()
        watcher = threading.Thread(  # in this context: Prefect's settings and run
            target=contextvars.copy_context().run,
            args=(self._watch, campaign.id, run_id, done),
            daemon=True,
        )
        watcher.start()
        rows = "\n".join(
            f"| {eid} | "
            + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items()
            )
            + " |"
            for eid in proposed
            for p in [campaign.experiments[eid].params]
        )
        description = (
            f"### Campaign {campaign.id}: {len(proposed)} experiments await a decision\n\n"
            f"| experiment | conditions |\n|---|---|\n{rows}\n\n"
            "Approve or reject the batch, or *edit* it: list the experiments to run and, under "
            "*changes*, new conditions for any of them. Sign as `human:<name>`."
        )
        try:
            decision = pause_flow_run(
                wait_for_input=BatchDecision.with_initial_data(
                    description=description, experiments=proposed
                ),
                timeout=self._timeout_s,
                poll_interval=max(1, round(self._poll_s)),
                key=f"approval-{proposed[0].lower()}-{self._pauses}",
            )
        except FlowPauseTimeout:
            logger.warning("nobody decided on %s; asking again", ", ".join(proposed))
            return
        finally:
            done.set()
            watcher.join(timeout=30)
        if decision is not None:
            self._file(campaign, proposed, decision)

    def _file(self, campaign: Campaign, proposed: list[str], decision: BatchDecision) -> None:
        """Turn the decision into control requests the engine applies as ``decision.by``.

        Every part is checked before any is filed, so a bad edit leaves the batch undecided
        (it waits again) rather than half decided.
        """
        if decision.decision == "defer":
            return
        try:
            check_person(decision.by)
            note = decision.note or "decided in Prefect"
            edits: list[ExperimentEdit] = []
            if decision.decision == "edit":
                chosen = [e for e in proposed if e in set(decision.experiments)]
                stray = sorted(set(decision.changes) - set(chosen))
                if stray:
                    raise SpecError(f"changes for {stray}, not among the experiments to run")
                for eid, params in decision.changes.items():
                    edit = ExperimentEdit(experiment=eid, params=params, note=note)
                    edit.conditions(campaign.experiments[eid].params, campaign.spec)
                    edits.append(edit)
                run = [e for e in chosen if e not in decision.changes]
                drop = [e for e in proposed if e not in set(chosen)]
            else:
                run = proposed if decision.decision == "approve" else []
                drop = [] if run else proposed
            for edit in edits:
                self._board.submit(campaign.id, "edit", edit, by=decision.by)
            if run:
                self._board.submit(
                    campaign.id, "approve", {"experiments": run, "note": note}, by=decision.by
                )
            if drop:
                self._board.submit(
                    campaign.id, "reject", {"experiments": drop, "note": note}, by=decision.by
                )
        except CFLError as exc:  # bad input: ask again rather than fail the run
            logger.warning("decision not taken (%s); the batch waits again", exc)

    def _watch(self, campaign_id: str, run_id: Any, done: threading.Event) -> None:
        """Resume the paused run when someone decides with ``cfl approve`` or the copilot."""
        while not done.wait(self._poll_s):
            pending = self._board.pending(campaign_id)
            if not pending:
                continue
            try:
                resume_flow_run(
                    run_id,
                    run_input={"decision": "defer", "by": pending[0].by, "note": "control board"},
                )
                return
            except Exception:  # not paused yet, or just resumed from the UI: look again
                continue


# -- the campaign flow -----------------------------------------------------------------------------


def _convergence(campaign: Campaign) -> list[dict[str, Any]]:
    rows = []
    best: float | None = None
    for e in sorted(campaign.experiments.values(), key=lambda e: e.index):
        observation = campaign.observations.get(e.id)
        value = None if observation is None else score(campaign.spec, observation.values)
        if value is not None and (best is None or value > best):
            best = value
        rows.append({"experiment": e.id, "score": value, "best_so_far": best})
    return rows


def _publish(campaign: Campaign) -> None:
    """Attach the results table and the convergence to the flow run."""
    key = "".join(c if c.isalnum() else "-" for c in campaign.id.lower())
    objectives = [o.name for o in campaign.spec.objectives]
    table = []
    for e in sorted(campaign.experiments.values(), key=lambda e: e.index):
        observation = campaign.observations.get(e.id)
        row: dict[str, Any] = {"experiment": e.id, "round": e.round, "status": e.status.value}
        row.update({k: v for k, v in e.params.items()})
        for name in objectives:
            row[name] = None if observation is None else observation.values.get(name)
        table.append(row)
    create_table_artifact(
        table=table, key=f"{key}-results", description=f"Experiments of campaign {campaign.id}"
    )
    lines = [
        f"# Campaign {campaign.id}",
        "",
        f"{len(campaign.observations)} of {len(campaign.experiments)} experiments measured; "
        + (
            f"finished: {campaign.finished.reason} ({campaign.finished.detail})"
            if campaign.finished is not None
            else "not finished"
        ),
        "",
        "## Convergence (score of each experiment, best so far)",
        "",
        "| experiment | score | best so far |",
        "|---|---|---|",
    ]
    for row in _convergence(campaign):
        score_text = "-" if row["score"] is None else f"{row['score']:.4g}"
        best_text = "-" if row["best_so_far"] is None else f"{row['best_so_far']:.4g}"
        lines.append(f"| {row['experiment']} | {score_text} | {best_text} |")
    lines += ["", "## Best score after each round", ""]
    lines += [
        f"- round {i}: {'-' if s is None else f'{s:.4g}'}"
        for i, s in enumerate(campaign.best_scores, 1)
    ]
    create_markdown_artifact(
        markdown="\n".join(lines), key=f"{key}-convergence", description="Convergence"
    )


@flow(name="campaign", flow_run_name="{spec_path}", persist_result=False)
def campaign(
    spec_path: str,
    new: bool = False,
    store_url: str | None = None,
    control_poll_s: float = 1.0,
    approval_timeout_s: int = 3600,
) -> dict[str, Any]:
    """Run (or resume) the campaign of a spec, as ``cfl run`` does, in Prefect.

    Args:
        spec_path: Campaign spec (YAML) on the worker's machine.
        new: Start a new campaign even if an unfinished one of this spec exists.
        store_url: The CFL store; default ``CFL_DATABASE_URL`` (or the SQLite file in CFL_HOME).
        control_poll_s: Seconds between looks at control requests while the campaign waits.
        approval_timeout_s: How long one pause for a decision lasts before it is asked again.

    Returns:
        The campaign id, whether it finished (and why), and its experiment counts.
    """
    log = get_run_logger()
    spec = load_spec(Path(spec_path))
    store = Store.open(store_url or Settings().store_url)
    try:
        started = open_or_create(store, spec, new=new)
        journal = started.journal
        log.info(
            "%s campaign %s", "Resuming" if started.resumed else "Started", journal.campaign.id
        )
        created = ensure_device_limits(spec.lab.devices)
        if created:
            log.info("created concurrency limits %s", ", ".join(created))
        leases = LeaseRegistry(Settings().home / "prefect-leases" / journal.campaign.id)
        freed = leases.release_stale()
        if freed:
            log.warning("released device slots of a run that died: %s", ", ".join(freed))
        board = ControlBoard(store)

        def listen(state: Campaign, record: Any) -> None:
            if record.type in ("round.completed", "campaign.finished", "campaign.paused"):
                log.info("%s: %s", record.type, state.best_scores[-1:] or "-")

        with Bridge() as bridge:
            hooks = PrefectHooks(bridge, journal, leases)
            bridge.call(hooks.open())
            try:
                final = run_campaign(
                    journal,
                    listener=listen,
                    control=board,
                    control_poll_s=control_poll_s,
                    hooks=hooks,
                    wait=ApprovalGate(board, poll_s=control_poll_s, timeout_s=approval_timeout_s)
                    if spec.approval
                    else None,
                )
            finally:
                bridge.call(hooks.close())
        _publish(final)
    finally:
        store.close()
    statuses = [e.status.value for e in final.experiments.values()]
    return {
        "campaign": final.id,
        "finished": None if final.finished is None else final.finished.reason,
        "paused": None if final.paused is None else final.paused.detail,
        "experiments": len(statuses),
        "done": statuses.count("done"),
        "failed": statuses.count("failed"),
    }
