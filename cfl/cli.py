"""The ``cfl`` command line.

Exit codes: 0 success; 1 a run failed; 2 bad input (spec, lab file, arguments: nothing was
written); 3 the ledger does not verify; 4 the named campaign does not exist; 5 the run paused
because it needs a human (every device of a role is quarantined).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

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
from cfl.ledger import Record
from cfl.models import DeviceState, ExperimentStatus, HypothesisStatus
from cfl.settings import Settings
from cfl.space import CategoricalParameter, IntegerParameter
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store

if TYPE_CHECKING:
    from cfl.keys import TrustedKeys

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
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys of this installation.")
app.add_typer(keys_app, name="keys")

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
    changes: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=VALUE",
            help="Edit one experiment's conditions before it runs (repeatable), e.g. --set "
            "temperature=100; the values must lie inside the spec's bounds.",
        ),
    ] = None,
    note: Annotated[str, typer.Option(help="Why (recorded).")] = "",
) -> None:
    """Approve (or reject, or edit and approve) experiments a campaign has proposed.

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
        board = ControlBoard(store)
        if changes:
            if reject or len(chosen) != 1:
                raise SpecError(
                    "--set edits one experiment: name exactly one (e.g. `cfl approve "
                    f"{campaign_id} E0012 --set temperature=100`), without --reject",
                    field="--set",
                )
            params = _assignments(changes, campaign.spec)
            request = board.submit(
                campaign_id,
                "edit",
                {"experiment": chosen[0], "params": params, "note": note},
                by=f"human:{by}",
            )
        else:
            request = board.submit(
                campaign_id,
                "reject" if reject else "approve",
                {"experiments": chosen, "note": note},
                by=f"human:{by}",
            )
    except CFLError as exc:
        _fail(exc)
    verb = "edit and approval" if changes else "rejection" if reject else "approval"
    console.print(
        f"Filed the {verb} of {', '.join(chosen)} for {campaign_id} (request {request.id}); "
        "the run applies it at its next step."
    )


def _assignments(changes: list[str], spec: CampaignSpec) -> dict[str, float | int | str]:
    """``NAME=VALUE`` pairs, each value typed by its parameter (numbers stay numbers).

    Raises:
        SpecError: a pair without ``=``, an unknown name, or a number that is not one.
    """
    params: dict[str, float | int | str] = {}
    for change in changes:
        name, sep, text = change.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise SpecError(f"--set takes NAME=VALUE, got {change!r}", field="--set")
        parameter = spec.space.parameter(name)
        if isinstance(parameter, CategoricalParameter):
            params[name] = text
            continue
        try:
            params[name] = int(text) if isinstance(parameter, IntegerParameter) else float(text)
        except ValueError as exc:
            raise SpecError(f"{name} takes a number, got {text!r}", field="--set") from exc
    return params


KeysOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--keys",
        metavar="DIR",
        help="Folder (or .pub file) of public keys to trust; repeatable. The store's checks "
        "also trust $CFL_HOME/keys.",
    ),
]


def _trusted(keys: list[Path] | None, *, with_home: bool) -> TrustedKeys:
    from cfl.keys import TrustedKeys

    folders = list(keys or [])
    if with_home:
        folders.insert(0, Settings().home / "keys")
    return TrustedKeys.load(*folders)


def _tsa_certificate(path: Path | None) -> bytes | None:
    if path is not None:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read {path}: {exc.strerror}", field="--tsa-cert") from exc
    try:
        from cfl.timestamp import load_tsa_settings
    except ImportError:
        return None
    return load_tsa_settings().trusted_certificate()


def _report(lines: list[str]) -> None:
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@ledger_app.command("verify")
def ledger_verify(
    campaign_id: Annotated[
        str | None, typer.Argument(metavar="[CAMPAIGN]", help="Only this campaign.")
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", metavar="FILE", help="Verify an exported bundle, offline."),
    ] = None,
    proof: Annotated[
        Path | None,
        typer.Option("--proof", metavar="FILE", help="Verify a single-record proof, offline."),
    ] = None,
    keys: KeysOption = None,
    against: Annotated[
        list[Path] | None,
        typer.Option(
            "--against",
            metavar="FILE",
            help="A bundle, proof or head seen before: the log must extend it (catches forks "
            "and truncation). Repeatable.",
        ),
    ] = None,
    tsa_cert: Annotated[
        Path | None,
        typer.Option(
            "--tsa-cert",
            metavar="FILE",
            help="Certificate to check RFC 3161 timestamps against (default CFL_TSA_CERTIFICATE).",
        ),
    ] = None,
) -> None:
    """Check records, signatures, tree heads and timestamps; exit 3 naming the first problem.

    Without --bundle or --proof: every campaign in the store (or CAMPAIGN), trusting the public
    keys in $CFL_HOME/keys and any --keys folders. With --bundle or --proof: that file alone,
    trusting only the --keys given.
    """
    from cfl.bundle import heads_in, load_document, verify_bundle, verify_proof, verify_store
    from cfl.verify import report_lines

    try:
        if bundle is not None and proof is not None:
            raise SpecError("give --bundle or --proof, not both", field="--proof")
        offline = bundle is not None or proof is not None
        if offline and campaign_id is not None:
            raise SpecError(
                "a bundle or proof names its campaign; drop the CAMPAIGN argument",
                field="CAMPAIGN",
            )
        if offline and not keys:
            raise SpecError(
                "say which public keys to trust: --keys DIR (a folder of .pub files, e.g. from "
                "`cfl keys export DIR` on the machine that signed)",
                field="--keys",
            )
        trusted = _trusted(keys, with_home=not offline)
        seen = [h for path in against or [] for h in heads_in(load_document(path))]
        certificate = _tsa_certificate(tsa_cert)
        if bundle is not None:
            report = verify_bundle(
                load_document(bundle, "cfl-ledger-bundle"),
                trusted,
                seen_before=seen,
                tsa_certificate=certificate,
            )
            console.print(
                f"bundle OK: campaign {report.campaign}, {report.records} records verified "
                f"offline against {len(trusted)} trusted key(s)."
            )
            _report(report_lines(report))
            return
        if proof is not None:
            shown = verify_proof(
                load_document(proof, "cfl-ledger-proof"),
                trusted,
                seen_before=seen,
                tsa_certificate=certificate,
            )
            record = shown.record
            sizes = ", ".join(str(h.size) for h in shown.heads)
            console.print(
                f"proof OK: campaign {record.campaign}, record #{record.seq} ({record.type}, "
                f"{record.actor}, {record.ts}) is in the signed log (tree head size {sizes}).",
                markup=False,
            )
            if shown.earliest_timestamp is not None:
                console.print(
                    f"  RFC 3161: it existed by {shown.earliest_timestamp.isoformat()}.",
                    markup=False,
                )
            return
        reports = verify_store(
            _store(),
            trusted,
            campaign_id=campaign_id,
            seen_before=seen,
            tsa_certificate=certificate,
        )
    except CFLError as exc:
        _fail(exc)
    total = sum(r.records for r in reports)
    console.print(f"ledger OK: {len(reports)} campaign(s), {total} records verified.")
    for report in reports:
        _report(report_lines(report))


@ledger_app.command("export")
def ledger_export(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="PATH",
            help="Where to write the bundle (a file); with --disclosure, the packet's folder "
            "(default reports/CAMPAIGN/disclosure).",
        ),
    ] = None,
    keys: KeysOption = None,
    disclosure: Annotated[
        bool,
        typer.Option(
            "--disclosure",
            help="Write the invention-disclosure packet instead: Markdown and PDF, with the "
            "verification bundle beside them.",
        ),
    ] = False,
) -> None:
    """Write a campaign's self-contained bundle: records, signed tree heads, proofs, key ids.

    The campaign is verified first; a tree head covering every record is signed if there is
    none. Check the bundle anywhere with: cfl ledger verify --bundle FILE --keys DIR. With
    --disclosure, the invention-disclosure packet, its head stamped by the time-stamping
    authority CFL_TSA_URL names, if one is set.
    """
    from cfl.bundle import export_bundle, write_document
    from cfl.keys import Keyring

    if disclosure:
        _export_disclosure(campaign_id, out or Path("reports") / campaign_id / "disclosure", keys)
        return
    if out is None:
        _fail(SpecError("say where to write the bundle: --out FILE", field="--out"))
    try:
        document = export_bundle(
            _store(), campaign_id, Keyring.default(), _trusted(keys, with_home=True)
        )
        write_document(out, document)
    except CFLError as exc:
        _fail(exc)
    records = document["records"]
    heads = document["tree_heads"]
    assert isinstance(records, list) and isinstance(heads, list)
    console.print(
        f"wrote {out}: {len(records)} records, {len(heads)} signed tree head(s) of campaign "
        f"{campaign_id}; public keys: cfl keys export DIR"
    )


def _export_disclosure(campaign_id: str, folder: Path, keys: list[Path] | None) -> None:
    from cfl.disclosure import write_packet
    from cfl.keys import Keyring
    from cfl.timestamp import load_tsa_settings, timestamp_status

    try:
        tsa = load_tsa_settings()
        console.print(timestamp_status(tsa))
        packet = write_packet(
            _store(),
            campaign_id,
            folder,
            tsa=tsa,
            keys=Keyring.default(),
            trusted=_trusted(keys, with_home=True),
        )
    except CFLError as exc:
        _fail(exc)
    for path in (packet.markdown, packet.pdf, packet.bundle):
        console.print(f"wrote {path}")
    if packet.conception is None:
        console.print("Conception: none (no pre-registered hypothesis became supported).")
    else:
        h, at = packet.conception.hypothesis, packet.conception.registered
        console.print(
            f"Conception: {h.id} by {h.author}, registered at record #{at.seq} ({at.ts}); "
            f"{len(packet.trials)} experiment(s) tested it."
        )
    if packet.timestamp is not None:
        console.print(f"Head stamped at {packet.timestamp.gen_time.isoformat()} (bundle/head.tsr).")


@ledger_app.command("prove")
def ledger_prove(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN")],
    seq: Annotated[int, typer.Argument(metavar="SEQ", help="The record's number.")],
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="Where to write the proof.")],
    keys: KeysOption = None,
) -> None:
    """Write one record with the proof that it is in the signed log, and nothing else of it.

    Check it with: cfl ledger verify --proof FILE --keys DIR.
    """
    from cfl.bundle import prove_record, write_document
    from cfl.keys import Keyring

    try:
        document = prove_record(
            _store(), campaign_id, seq, Keyring.default(), _trusted(keys, with_home=True)
        )
        write_document(out, document)
    except CFLError as exc:
        _fail(exc)
    console.print(f"wrote {out}: record #{seq} of {campaign_id} with its inclusion proof")


@ledger_app.command("head")
def ledger_head(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN")],
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Also write it to FILE.")
    ] = None,
    keys: KeysOption = None,
) -> None:
    """Show the latest signed tree head (signing one over every record if needed).

    Keep or publish it: a later log that does not extend it fails `verify --against FILE`.
    """
    from cfl.bundle import ensure_head, head_document, verify_campaign, write_document
    from cfl.keys import Keyring

    try:
        store = _store()
        verify_campaign(store, campaign_id, _trusted(keys, with_home=True))
        head = ensure_head(store, campaign_id, Keyring.default())
        if out is not None:
            write_document(out, head_document(head))
    except CFLError as exc:
        _fail(exc)
    console.print(
        f"{campaign_id}: size {head.size}, root {head.root}, signed {head.ts} by key {head.key}"
        + (f"; wrote {out}" if out is not None else ""),
        markup=False,
        soft_wrap=True,
    )


@keys_app.command("init")
def keys_init(
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            help="'instance' (this installation's key) or human:<id> (a person's own key).",
        ),
    ] = "instance",
) -> None:
    """Create a signing key in $CFL_HOME/keys (private 0600, public .pub beside it).

    The instance key is also created by the first record written; a person's key only here.
    """
    from cfl.keys import Keyring

    try:
        keyring = Keyring.default()
        key, created = keyring.init(actor)
    except CFLError as exc:
        _fail(exc)
    verb = "created" if created else "exists"
    console.print(
        f"{key.public.signs_for} key {key.key_id} {verb} in {keyring.folder}", markup=False
    )


@keys_app.command("list")
def keys_list() -> None:
    """List this installation's public keys: id, who it signs for, when it was made."""
    from cfl.keys import Keyring

    try:
        keyring = Keyring.default()
        found = keyring.public_keys()
    except CFLError as exc:
        _fail(exc)
    if not found:
        console.print(f"No keys in {keyring.folder} yet; the first record written creates one.")
        return
    table = Table(title=f"Keys in {keyring.folder}")
    for column in ("key id", "signs for", "created", "host"):
        table.add_column(column, no_wrap=column == "key id")
    for key in found:
        table.add_row(key.key_id, key.signs_for, key.created, key.host)
    console.print(table)


@keys_app.command("export")
def keys_export(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Where to copy the .pub files.")],
) -> None:
    """Copy the public keys (never the private ones) to DIR, for whoever verifies offline."""
    from cfl.keys import Keyring

    try:
        written = Keyring.default().export(folder)
    except CFLError as exc:
        _fail(exc)
    for path in written:
        console.print(f"wrote {path}")


def _add_plugin_commands() -> None:
    """Sub-commands other packages register under the ``cfl.cli`` entry-point group.

    ``cfl sim serve`` lives with the simulators (``instruments``), which the core may not import.
    An entry point names a Typer app (a command group, ``cfl sim ...``) or a plain function (one
    command with its own arguments, ``cfl deploy SPEC``).
    """
    taken = {group.name for group in app.registered_groups}
    taken |= {command.name for command in app.registered_commands}
    for entry in entry_points(group="cfl.cli"):
        if entry.name in taken:
            continue
        try:
            plugin = entry.load()
        except Exception as exc:  # a broken plug-in must not take the core commands down
            errors.print(f"warning: command group {entry.name!r} unavailable: {exc}")
            continue
        if isinstance(plugin, typer.Typer):
            app.add_typer(plugin, name=entry.name)
        else:
            app.command(name=entry.name)(plugin)


def main() -> None:
    """Console-script entry point."""
    _add_plugin_commands()
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted; run the same command again to resume")
        sys.exit(130)
