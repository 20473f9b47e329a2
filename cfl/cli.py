"""The ``cfl`` command line.

Exit codes: 0 success; 1 a run failed; 2 bad input (spec, lab file, arguments: nothing was
written); 3 the ledger does not verify; 4 the named campaign does not exist; 5 the run paused
because it needs a human (every device of a role is quarantined).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cfl.campaign import Campaign
from cfl.control import ControlBoard
from cfl.errors import CFLError, LedgerTampered, NotFound, SpecError
from cfl.events import DeviceReleased
from cfl.journal import Journal
from cfl.ledger import Record, verify_chain
from cfl.models import DeviceState, ExperimentStatus, HypothesisStatus
from cfl.settings import Settings
from cfl.spec import load_spec
from cfl.store import Store

__all__ = ["app", "main"]

app = typer.Typer(
    name="cfl",
    no_args_is_help=True,
    add_completion=False,
    help="CFL: a self-driving-lab orchestrator with an AI co-scientist in the loop.",
)
ledger_app = typer.Typer(no_args_is_help=True, help="Inspect the tamper-evident record.")
app.add_typer(ledger_app, name="ledger")
devices_app = typer.Typer(no_args_is_help=True, help="Look after a campaign's devices.")
app.add_typer(devices_app, name="devices")

console = Console()
errors = Console(stderr=True)

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TAMPERED, EXIT_NOT_FOUND, EXIT_PAUSED = 1, 2, 3, 4, 5


def _fail(exc: CFLError) -> NoReturn:
    code = {SpecError: EXIT_BAD_INPUT, LedgerTampered: EXIT_TAMPERED, NotFound: EXIT_NOT_FOUND}
    errors.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
    raise typer.Exit(code.get(type(exc), EXIT_FAILED))


def _store() -> Store:
    return Store.open(Settings().store_url)


def _best_text(campaign: Campaign) -> str:
    best = campaign.best()
    if best is None:
        return "-"
    weighted = [o for o in campaign.spec.objectives if o.weight > 0]
    objective = weighted[0]
    unit = objective.unit or ""
    return f"{objective.name} {best[1].values[objective.name]:.4g}{unit}"


def _round_text(campaign: Campaign) -> str:
    if campaign.finished is not None:
        return str(campaign.rounds_completed)
    return str(campaign.current_round)


class _ProgressView:
    """Keeps a rich progress bar in step with the journal."""

    _RESULTS = frozenset(
        {
            "observation.recorded",
            "experiment.failed",
            "round.completed",
            "campaign.finished",
            "experiment.requeued",
        }
    )

    def __init__(self, progress: Progress, task: TaskID, devices: int) -> None:
        self._progress, self._task, self._devices = progress, task, devices

    def __call__(self, campaign: Campaign, record: Record) -> None:
        busy = f"{len(campaign.busy_devices)}/{self._devices}"
        if record.type not in self._RESULTS:  # most records are steps: only the device count moves
            self._progress.update(self._task, busy=busy)
            return
        finished = sum(1 for e in campaign.experiments.values() if e.status.finished)
        self._progress.update(
            self._task,
            completed=finished,
            round=_round_text(campaign),
            best=_best_text(campaign),
            busy=busy,
        )


@app.command()
def run(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="Campaign spec (YAML).")],
    new: Annotated[
        bool,
        typer.Option(
            "--new", help="Start a new campaign even if an unfinished one of this spec exists."
        ),
    ] = False,
    report_after: Annotated[
        bool,
        typer.Option("--report", help="Write the report to reports/CAMPAIGN when the run ends."),
    ] = False,
) -> None:
    """Run a campaign; running the same spec again resumes it where it stopped."""
    # The planner's scientific stack takes seconds to import: only `run` and `report` pay it.
    from cfl.report import write_report
    from cfl.runner import open_or_create, run_campaign

    try:
        spec = load_spec(spec_path)
        store = _store()
        started = open_or_create(store, spec, new=new)
    except CFLError as exc:
        _fail(exc)
    campaign = started.journal.campaign
    verb = "Resuming" if started.resumed else "Started"
    done = sum(1 for e in campaign.experiments.values() if e.status.finished)
    console.print(
        f"{verb} campaign [bold]{campaign.id}[/] ({done}/{spec.budget.experiments} experiments "
        f"done) on lab {spec.lab.name}, {spec.lab.clock} clock; store "
        f"{store.engine.url.render_as_string(hide_password=True)}"
    )
    settings = Settings()
    if spec.coscientist == "offline" or (
        spec.coscientist == "auto" and not (settings.llm_base_url or settings.llm_model)
    ):
        console.print("Co-scientist: offline, data-driven (no LLM endpoint is configured).")
    elif spec.coscientist in ("auto", "llm"):
        console.print(f"Co-scientist: {settings.llm_model} at {settings.llm_base_url}.")
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TextColumn(
            "round {task.fields[round]} | best {task.fields[best]} | "
            "devices busy {task.fields[busy]}"
        ),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task(
        "experiments",
        total=spec.budget.experiments,
        completed=done,
        round=_round_text(campaign),
        best=_best_text(campaign),
        busy=f"0/{len(spec.lab.devices)}",
    )
    try:
        with progress:
            final = run_campaign(
                started.journal,
                listener=_ProgressView(progress, task, len(spec.lab.devices)),
                control=ControlBoard(store),
            )
    except CFLError as exc:
        _fail(exc)
    _print_outcome(final)
    if report_after:
        files = write_report(final, Path("reports") / final.id, head=started.journal.head)
        console.print(f"Report: {files.summary}, {files.table}, {files.plot}")
    else:
        console.print(f"Report: cfl report {final.id}")
    if final.paused is not None:
        raise typer.Exit(EXIT_PAUSED)


def _print_outcome(campaign: Campaign) -> None:
    if campaign.finished is not None:
        console.print(f"Finished: {campaign.finished.detail}.")
    if campaign.paused is not None:
        console.print(f"Paused: {campaign.paused.detail}.", markup=False)
    best = campaign.best()
    if best is not None:
        experiment = best[0]
        conditions = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in experiment.params.items()
        )
        console.print(f"Best: {_best_text(campaign)} at {experiment.id} ({conditions}).")
    for h in campaign.hypotheses.values():
        console.print(
            f"  {h.id} ({h.status.value}, credence {h.credence:.2f}) {h.statement}", markup=False
        )


@app.command()
def status(
    campaign_id: Annotated[str | None, typer.Argument(metavar="[CAMPAIGN]")] = None,
) -> None:
    """List campaigns, or show one campaign's progress, devices and hypotheses."""
    try:
        store = _store()
        if campaign_id is None:
            _status_all(store)
        else:
            _status_one(Journal.open(store, campaign_id).campaign)
    except CFLError as exc:
        _fail(exc)


def _status_all(store: Store) -> None:
    infos = store.campaigns()
    if not infos:
        console.print("No campaigns yet. Start one with: cfl run SPEC")
        return
    table = Table(title="Campaigns")
    # Ids are what users type next: never wrap or cut them, even in an 80-column CI log.
    table.add_column("campaign", no_wrap=True, min_width=max(len(info.id) for info in infos))
    for column in ("state", "experiments", "round", "best", "hypotheses", "updated"):
        table.add_column(column)
    for info in infos:
        campaign = Journal.open(store, info.id).campaign
        done = sum(1 for e in campaign.experiments.values() if e.status == ExperimentStatus.DONE)
        counts = {s: 0 for s in HypothesisStatus}
        for h in campaign.hypotheses.values():
            counts[h.status] += 1
        table.add_row(
            info.id,
            campaign.finished.reason if campaign.finished else "running/interrupted",
            f"{done}/{campaign.spec.budget.experiments}",
            str(campaign.rounds_completed),
            _best_text(campaign),
            f"{counts[HypothesisStatus.SUPPORTED]} supported, "
            f"{counts[HypothesisStatus.REFUTED]} refuted, {counts[HypothesisStatus.OPEN]} open",
            info.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    console.print(table)


def _device_table(campaign: Campaign) -> Table:
    """Each device's state as the record shows it, with what explains it, and its busy time."""
    table = Table(title="Devices (as recorded)")
    for column in ("device", "driver", "role", "state", "busy", "detail"):
        table.add_column(column, no_wrap=column in ("device", "state"))
    for name, device in campaign.spec.lab.devices.items():
        state = campaign.device_state(name)
        detail = {
            DeviceState.BUSY: f"running a step of {campaign.busy_devices.get(name)}",
            DeviceState.QUARANTINED: campaign.quarantined.get(name, ""),
            DeviceState.FAULTED: campaign.device_faults.get(name, ""),
            DeviceState.OFFLINE: campaign.device_faults.get(name, ""),
        }.get(state, "")
        table.add_row(
            name,
            device.driver,
            device.role,
            state.value,
            f"{campaign.utilisation(name):.0%}",
            escape(detail),
        )
    return table


def _status_one(campaign: Campaign) -> None:
    spec = campaign.spec
    state = (
        f"finished: {campaign.finished.detail}"
        if campaign.finished
        else "not finished (running, or interrupted: `cfl run` the spec again to resume)"
    )
    console.print(f"[bold]{campaign.id}[/]  {state}")
    counts = {s.value: len(campaign.with_status(s)) for s in ExperimentStatus}
    console.print(
        "experiments: "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + f" (budget {spec.budget.experiments}); rounds completed {campaign.rounds_completed}; "
        f"lab time {campaign.lab_time_s / 3600:.2f} h; best {_best_text(campaign)}"
    )
    if campaign.paused is not None:
        console.print(f"[bold yellow]paused:[/] {escape(campaign.paused.detail)}")
    console.print(_device_table(campaign))
    if campaign.hypotheses:
        table = Table(title="Hypotheses")
        for column in ("id", "hypothesis", "verdict", "credence", "n"):
            table.add_column(column)
        for h in campaign.hypotheses.values():
            table.add_row(h.id, h.statement, h.status.value, f"{h.credence:.3f}", str(h.evidence_n))
        console.print(table)


@app.command()
def report(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the report (default: reports/CAMPAIGN).")
    ] = None,
) -> None:
    """Write a convergence plot (PNG), the experiments (CSV) and a summary (Markdown)."""
    from cfl.report import write_report

    try:
        journal = Journal.open(_store(), campaign_id)
    except CFLError as exc:
        _fail(exc)
    files = write_report(journal.campaign, out or Path("reports") / campaign_id, head=journal.head)
    for path in (files.summary, files.table, files.plot):
        console.print(f"wrote {path}")


@devices_app.command("release")
def devices_release(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN")],
    device: Annotated[str, typer.Argument(metavar="DEVICE")],
    by: Annotated[str, typer.Option("--by", help="Who checked the device (recorded).")],
    note: Annotated[str, typer.Option(help="What was found and done.")] = "",
) -> None:
    """Put a quarantined device back into service, after a person has checked it."""
    try:
        journal = Journal.open(_store(), campaign_id)
        if device not in journal.campaign.spec.lab.devices:
            raise SpecError(
                f"no device {device!r} in campaign {campaign_id}; devices: "
                f"{sorted(journal.campaign.spec.lab.devices)}"
            )
        if journal.campaign.finished is not None:
            raise SpecError(f"campaign {campaign_id} is finished; there is nothing to release")
        if device not in journal.campaign.quarantined:
            raise SpecError(f"device {device!r} is not quarantined in campaign {campaign_id}")
        journal.write(
            f"human:{by}",
            DeviceReleased(
                lab_time_s=journal.campaign.lab_time_s, device=device, by=f"human:{by}", note=note
            ),
        )
    except CFLError as exc:
        _fail(exc)
    console.print(f"{device} is back in service for {campaign_id}; run the spec again to resume.")


@app.command()
def approve(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN")],
    experiments: Annotated[
        list[str] | None,
        typer.Argument(metavar="[EXPERIMENT]...", help="Default: every proposed experiment."),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who decides (recorded).")] = "",
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approve.")] = False,
    note: Annotated[str, typer.Option(help="Why (recorded).")] = "",
) -> None:
    """Approve (or reject) experiments a campaign with ``approval: true`` has proposed.

    The decision is filed for the running campaign, which journals it with your name at its
    next step; a campaign that is not running applies it when it is run again.
    """
    try:
        if not by:
            raise SpecError("say who decides: --by NAME (it goes to the ledger)", field="--by")
        store = _store()
        campaign = Journal.open(store, campaign_id).campaign
        chosen = experiments or [e.id for e in campaign.with_status(ExperimentStatus.PROPOSED)]
        if not chosen:
            raise SpecError(f"campaign {campaign_id} has no proposed experiments to decide on")
        request = ControlBoard(store).submit(
            campaign_id,
            "reject" if reject else "approve",
            {"experiments": chosen, "note": note},
            by=f"human:{by}",
        )
    except CFLError as exc:
        _fail(exc)
    verb = "rejection" if reject else "approval"
    console.print(
        f"Filed the {verb} of {', '.join(chosen)} for {campaign_id} (request {request.id}); "
        "the run applies it at its next step."
    )


@ledger_app.command("verify")
def ledger_verify(
    campaign_id: Annotated[
        str | None, typer.Argument(metavar="[CAMPAIGN]", help="Only this campaign.")
    ] = None,
) -> None:
    """Check every record's hash and chain link; exit 3 naming the first bad record."""
    try:
        store = _store()
        infos = [store.campaign(campaign_id)] if campaign_id else store.campaigns()
        total = 0
        for info in infos:
            total += verify_chain(
                store.records(info.id), campaign=info.id, head=(info.head_seq, info.head_hash)
            )
    except CFLError as exc:
        _fail(exc)
    console.print(f"ledger OK: {len(infos)} campaign(s), {total} records verified.")


def _add_plugin_commands() -> None:
    """Sub-commands other packages register under the ``cfl.cli`` entry-point group.

    ``cfl sim serve`` lives with the simulators (``instruments``), which the core may not import.
    """
    for entry in entry_points(group="cfl.cli"):
        if entry.name in {group.name for group in app.registered_groups}:
            continue
        try:
            plugin = entry.load()
        except Exception as exc:  # a broken plug-in must not take the core commands down
            errors.print(f"warning: command group {entry.name!r} unavailable: {exc}")
            continue
        app.add_typer(plugin, name=entry.name)


def main() -> None:
    """Console-script entry point."""
    _add_plugin_commands()
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted; run the same command again to resume")
        sys.exit(130)
