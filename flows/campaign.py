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
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.tasks import Task
from pydantic import Field

from cfl.campaign import Campaign, score
from cfl.control import ControlBoard, check_person
from cfl.devices import Reading
from cfl.dispatcher import StepCall
from cfl.errors import CFLError, DeviceTimeout
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus
from cfl.runner import open_or_create, run_campaign
from cfl.settings import Settings
from cfl.spec import load_spec
from cfl.store import Store
from flows.bridge import Bridge
from flows.limits import LeaseRegistry, device_slot, ensure_device_limits, limit_name

__all__ = [
    "ApprovalGate",
    "BatchDecision",
    "DeviceSlotUnavailable",
    "PrefectHooks",
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
_client: contextvars.ContextVar[PrefectClient | None] = contextvars.ContextVar(
    "cfl_client", default=None
)
"""An open client on the bridge loop, for the device slots."""
_leases: contextvars.ContextVar[LeaseRegistry | None] = contextvars.ContextVar(
    "cfl_leases", default=None
)
"""Where the campaign run notes the device slots it holds."""


class DeviceSlotUnavailable(Exception):
    """The device's concurrency slot could not be taken; nothing reached the device."""


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
    """One protocol step on ``device``, holding its ``device:<name>`` slot; the values read."""
    work = _work.get()
    slot = device_slot(
        device, timeout_s=SLOT_TIMEOUT_S, client=_client.get(), registry=_leases.get()
    )
    try:
        await slot.__aenter__()
    except Exception as exc:
        raise DeviceSlotUnavailable(f"could not take {limit_name(device)}: {exc}") from exc
    try:
        reading = await work()
    except BaseException as exc:
        await slot.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    await slot.__aexit__(None, None, None)
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
    """The dispatcher's hooks: experiments as ``experiment`` subflows, steps as ``step`` tasks."""

    def __init__(
        self, bridge: Bridge, journal: Journal, leases: LeaseRegistry | None = None
    ) -> None:
        self._bridge = bridge
        self._journal = journal
        self._leases = leases
        self._client: PrefectClient | None = None

    async def open(self) -> None:
        """Open the client the step tasks take device slots with (on the bridge loop)."""
        self._client = await get_client().__aenter__()

    async def close(self) -> None:
        """Close it again."""
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None

    async def experiment(self, experiment_: Experiment, run: Callable[[], Awaitable[None]]) -> None:
        bridge, journal, eid = self._bridge, self._journal, experiment_.id

        async def body() -> str:  # on the lab loop
            await run()
            return journal.campaign.experiments[eid].status.value

        async def subflow() -> None:  # on the bridge, inside the campaign flow run
            _work.set(lambda: bridge.back(body()))
            await experiment(
                experiment_id=eid,
                attempt=experiment_.attempt,
                round_number=experiment_.round,
                params=dict(experiment_.params),
            )

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
        )

        async def body() -> Reading | None:  # on the lab loop
            reading = await run()
            box.append(reading)
            return reading

        async def in_task() -> None:  # on the bridge, inside the experiment subflow run
            _work.set(lambda: bridge.back(body()))
            _client.set(self._client)
            _leases.set(self._leases)
            options: dict[str, Any] = {}
            if budget_s is not None:  # lab seconds; simulated clocks only run faster
                options["timeout_seconds"] = budget_s + SLOT_TIMEOUT_S
            await step.with_options(**options)(
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
        "below and reject the rest; defer: decided elsewhere (cfl approve, the copilot)"
    )
    by: str = Field(description="who decides, as human:<name>; recorded in the ledger")
    experiments: list[str] = Field(
        default_factory=list, description="for edit: the experiments to run"
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
            "Approve or reject the batch, or *edit* it: list the experiments to run. Sign as "
            "`human:<name>`."
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
            self._file(campaign.id, proposed, decision)

    def _file(self, campaign_id: str, proposed: list[str], decision: BatchDecision) -> None:
        """Turn the decision into control requests the engine applies as ``decision.by``."""
        if decision.decision == "defer":
            return
        try:
            check_person(decision.by)
            if decision.decision == "edit":
                run = [e for e in proposed if e in set(decision.experiments)]
                drop = [e for e in proposed if e not in set(run)]
            else:
                run = proposed if decision.decision == "approve" else []
                drop = [] if run else proposed
            note = decision.note or "decided in Prefect"
            if run:
                self._board.submit(
                    campaign_id, "approve", {"experiments": run, "note": note}, by=decision.by
                )
            if drop:
                self._board.submit(
                    campaign_id, "reject", {"experiments": drop, "note": note}, by=decision.by
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
