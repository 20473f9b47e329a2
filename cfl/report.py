"""Campaign reports: a convergence plot, a CSV of every experiment, and a Markdown summary."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfl.campaign import Campaign
from cfl.errors import CFLError
from cfl.evidence import needed_evidence
from cfl.improvement import REFERENCE_MARGIN
from cfl.models import Experiment, ExperimentStatus
from cfl.pareto import hypervolume, pareto_mask
from cfl.planner import Planner, Recommends, evaluation_of
from cfl.registry import load_plugin
from cfl.space import CategoricalParameter
from cfl.tournament import final_rank

__all__ = ["ReportFiles", "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    plot: Path
    table: Path
    summary: Path


def _plotted(campaign: Campaign) -> tuple[str, str]:
    """What the convergence plot shows: the single optimised objective, else the score."""
    weighted = [o for o in campaign.spec.objectives if o.weight > 0]
    if len(weighted) == 1:
        objective = weighted[0]
        unit = f" ({objective.unit})" if objective.unit else ""
        return objective.name, f"{objective.name}{unit}"
    return "", "score (weighted sum of objectives)"


def _value(campaign: Campaign, experiment_id: str, objective: str) -> float:
    if objective:
        return campaign.observations[experiment_id].values[objective]
    return campaign.score_of(experiment_id)


def write_convergence_plot(campaign: Campaign, path: Path) -> None:
    """Each observation in design order, and the best so far by score."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    objective, label = _plotted(campaign)
    observed = [e for e in campaign.experiments.values() if e.id in campaign.observations]
    xs = [e.index for e in observed]
    ys = [_value(campaign, e.id, objective) for e in observed]
    best_x, best_y, best_score = [], [], None
    for e in observed:
        s = campaign.score_of(e.id)
        if best_score is None or s > best_score:
            best_score, best = s, _value(campaign, e.id, objective)
        best_x.append(e.index)
        best_y.append(best)
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=120)
    for label, color, is_initial in (
        ("initial design", "#9aa5b1", True),
        ("planner", "#1f77b4", False),
    ):
        chosen = [
            (x, y)
            for x, y, e in zip(xs, ys, observed, strict=True)
            if (e.source == "initial") == is_initial
        ]
        if chosen:
            axes.scatter(
                [x for x, _ in chosen], [y for _, y in chosen], s=22, color=color, label=label
            )
    if best_x:
        axes.step(best_x, best_y, where="post", color="#d62728", linewidth=2, label="best so far")
    axes.set_xlabel("experiment")
    axes.set_ylabel(label)
    axes.set_title(f"{campaign.id}: convergence")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_experiment_table(campaign: Campaign, path: Path) -> None:
    """One row per experiment: conditions, status, and every measured quantity."""
    names = list(campaign.spec.space.names)
    measured = sorted({k for o in campaign.observations.values() for k in o.values})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "id",
                "round",
                "source",
                "status",
                "attempt",
                *names,
                *measured,
                "score",
                "tests",
                "designed_for",
                "failure",
            ]
        )
        for e in campaign.experiments.values():
            observation = campaign.observations.get(e.id)
            values = [observation.values.get(m, "") if observation else "" for m in measured]
            writer.writerow(
                [
                    e.id,
                    e.round,
                    e.source,
                    e.status.value,
                    e.attempt,
                    *(e.params[n] for n in names),
                    *values,
                    campaign.score_of(e.id) if observation else "",
                    " ".join(e.tests),
                    " ".join(e.designed_for),
                    e.failure or "",
                ]
            )


def _fmt(value: float | int | str) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_summary(
    campaign: Campaign, path: Path, *, plot: Path, table: Path, head: tuple[int, str]
) -> None:
    """A Markdown summary a researcher can read and paste into a lab notebook."""
    spec = campaign.spec
    lines = [f"# Campaign {campaign.id}", "", f"**Goal.** {spec.goal.strip()}", ""]
    counts = {s: len(campaign.with_status(s)) for s in ExperimentStatus}
    state = (
        f"finished ({campaign.finished.reason}: {campaign.finished.detail})"
        if campaign.finished
        else "in progress"
    )
    lines += [
        f"- Status: {state}",
        f"- Experiments: {campaign.designed} designed of {spec.budget.experiments}; "
        + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n),
        f"- Rounds completed: {campaign.rounds_completed}; lab time "
        f"{campaign.lab_time_s / 3600:.2f} h",
        f"- Lab: {spec.lab.name} ({', '.join(spec.lab.devices)}), {spec.lab.clock} clock",
        f"- Ledger: {head[0]} records, verified; head `{head[1]}`",
        "",
        "## Search space",
        "",
        "| parameter | range | unit |",
        "|---|---|---|",
    ]
    for p in spec.space.parameters:
        if isinstance(p, CategoricalParameter):
            lines.append(f"| {p.name} | {', '.join(p.levels)} | |")
        else:
            lines.append(f"| {p.name} | {p.low:g} to {p.high:g} | {p.unit or ''} |")
    lines += ["", "## Best result", ""]
    best = campaign.best()
    if best is None:
        lines.append("No experiment has been measured yet.")
    else:
        experiment, observation = best
        lines.append(f"Experiment {experiment.id} (round {experiment.round}):")
        lines.append("")
        for name, value in experiment.params.items():
            lines.append(f"- {name} = {_fmt(value)}")
        for o in spec.objectives:
            if o.name not in observation.values:
                continue  # recorded-only (weight 0) and not measured this time
            unit = f" {o.unit}" if o.unit else ""
            lines.append(f"- **{o.name} = {observation.values[o.name]:.4g}{unit}** ({o.direction})")
    lines += _recommended(campaign)
    lines += _trade_offs(campaign)
    lines += ["", f"![convergence]({plot.name})", "", "## Hypotheses", ""]
    if not campaign.hypotheses:
        lines.append("No hypotheses were proposed.")
    else:
        lines += [
            "Each hypothesis was written to the ledger before the experiments that test it were "
            "designed; only those experiments count as its evidence. Ranked by posterior log-odds "
            "(tournament rating as the prior, the Bayes factor of the evidence as the update); "
            "*designed for it* are the experiments the co-scientist placed to test it.",
            "",
            "| rank | id | hypothesis | author | verdict | credence | log10 BF | Elo | "
            "evidence (n) | tested by | designed for it |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for rank, h in enumerate(final_rank(campaign.hypotheses), start=1):
            testers = [e.id for e in campaign.experiments.values() if h.id in e.tests]
            tested = f"{len(testers)} experiments" if testers else "none yet"
            aimed = [e.id for e in campaign.experiments.values() if h.id in e.designed_for]
            needed = needed_evidence(campaign.spec, h.prediction)
            evidence = f"{h.evidence_n}" + (f" (needs {needed})" if h.evidence_n < needed else "")
            lines.append(
                f"| {rank} | {h.id} | {h.statement} | {h.author} | **{h.status.value}** | "
                f"{h.credence:.3f} | {h.log10_bf:+.2f} | {h.elo:.0f} | {evidence} | {tested} | "
                f"{' '.join(aimed) or '-'} |"
            )
    if campaign.review is not None:
        review = campaign.review
        lines += ["", f"## The co-scientist's review ({review.author})", "", review.summary]
        if review.next_steps:
            lines += ["", "Next steps:", ""] + [f"- {step}" for step in review.next_steps]
    failed = campaign.with_status(ExperimentStatus.FAILED)
    if failed:
        lines += ["", "## Failed experiments", ""]
        lines += [f"- {e.id}: {e.failure}" for e in failed]
    lines += [
        "",
        "## Devices",
        "",
        "| device | role | busy | state | note |",
        "|---|---|---|---|---|",
    ]
    for name, device in spec.lab.devices.items():
        state = campaign.device_state(name)
        note = campaign.quarantined.get(name) or campaign.device_faults.get(name) or ""
        lines.append(
            f"| {name} | {device.role} | {campaign.utilisation(name):.0%} | {state.value} | "
            f"{note} |"
        )
    lines += [
        "",
        "## Files",
        "",
        f"- `{table.name}`: every experiment with its measurements",
        f"- `{plot.name}`: convergence plot",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_report(campaign: Campaign, out: Path, *, head: tuple[int, str]) -> ReportFiles:
    """Write the plot, the table and the summary into ``out`` (created if needed).

    Args:
        head: ``(seq, hash)`` of the campaign's verified ledger head, quoted in the summary so the
            report can be matched to the record it came from.
    """
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        plot=out / "convergence.png", table=out / "experiments.csv", summary=out / "summary.md"
    )
    write_convergence_plot(campaign, files.plot)
    write_experiment_table(campaign, files.table)
    write_summary(campaign, files.summary, plot=files.plot, table=files.table, head=head)
    return files


def recommended(campaign: Campaign) -> Experiment | None:
    """The experiment the campaign's planner rates best from its model, if it can say.

    The planner is rebuilt from the spec and fed every observation, as the engine does, so the
    answer is the one the run itself would give. Planners without a ``best()`` (``skopt-gp``,
    ``random``) give ``None``; so does a planner that cannot be loaded here.
    """
    try:
        factory = load_plugin("cfl.planners", campaign.spec.planner)
    except CFLError:
        return None
    from_spec = getattr(factory, "from_spec", None)
    if from_spec is None:
        return None
    planner = from_spec(campaign.spec)
    if not isinstance(planner, Recommends) or not isinstance(planner, Planner):
        return None
    planner.ingest(
        [
            evaluation_of(
                campaign.spec, campaign.experiments[eid].params, campaign.observations[eid].values
            )
            for eid in campaign.observations
        ]
    )
    point = planner.best()
    if point is None:
        return None
    return next(
        (
            e
            for e in campaign.experiments.values()
            if e.id in campaign.observations and e.params == point
        ),
        None,
    )


def _recommended(campaign: Campaign) -> list[str]:
    """Lines naming the model's pick, and whether it is the best reading."""
    best, pick = campaign.best(), recommended(campaign)
    if best is None or pick is None:
        return []
    spec = campaign.spec
    if pick.id == best[0].id:
        return ["", f"The planner's model ({spec.planner}) rates the same experiment best."]
    values = campaign.observations[pick.id].values
    measured = ", ".join(
        f"{o.name} = {values[o.name]:.4g}" for o in spec.objectives if o.name in values
    )
    conditions = ", ".join(f"{name} = {_fmt(value)}" for name, value in pick.params.items())
    return [
        "",
        f"**Recommended conditions** (noise-aware): the planner's model ({spec.planner}) rates "
        f"{pick.id} best by its posterior mean ({conditions}; measured {measured}). A single "
        "best reading can be measurement luck; replicate both before scaling up.",
    ]


TRADE_OFF_ROWS = 20
"""Pareto-optimal experiments listed in a report at most (the best by the first objective)."""


def _trade_offs(campaign: Campaign) -> list[str]:
    """Lines listing the Pareto front of the measured experiments, if there is more than one goal.

    The front: the experiments no other one matches or beats in every objective
    (:func:`cfl.pareto.pareto_mask`), whatever the objectives' weights in the score.
    """
    spec = campaign.spec
    if len(spec.objectives) < 2:
        return []
    names = [o.name for o in spec.objectives]
    measured = [
        (eid, obs.values)
        for eid, obs in campaign.observations.items()
        if all(name in obs.values for name in names)
    ]
    if not measured:
        return []
    signs = [1.0 if o.direction == "maximize" else -1.0 for o in spec.objectives]
    gains = [[s * values[n] for s, n in zip(signs, names, strict=True)] for _, values in measured]
    front = [measured[i] for i in np.flatnonzero(pareto_mask(gains))]
    front.sort(key=lambda row: (-signs[0] * row[1][names[0]], row[0]))
    shown = front[:TRADE_OFF_ROWS]
    goals = ", ".join(f"{o.name} ({o.direction}, weight {o.weight:g})" for o in spec.objectives)
    planned = (
        "The planner mapped this front (plan_for: front); the best experiment above is the best "
        "by the weighted score"
        if spec.plan_for == "front"
        else "The planner optimised the weighted score"
    )
    lines = [
        "",
        "## Trade-offs",
        "",
        f"{len(front)} of {len(measured)} measured experiments are Pareto-optimal for {goals}: "
        f"no other experiment is at least as good in every objective and better in one. "
        f"{planned}; the front shows what a gain in one objective costs in the others"
        + (f" (the first {TRADE_OFF_ROWS} by {names[0]})." if len(front) > len(shown) else "."),
        "",
        "| experiment | " + " | ".join(names) + " | conditions |",
        "|---" * (len(names) + 2) + "|",
    ]
    for eid, values in shown:
        params = campaign.experiments[eid].params
        conditions = ", ".join(f"{k} = {_fmt(v)}" for k, v in params.items())
        cells = " | ".join(f"{values[n]:.4g}" for n in names)
        lines.append(f"| {eid} | {cells} | {conditions} |")
    order = np.argsort([campaign.experiments[eid].index for eid, _ in measured], kind="stable")
    progress = _hypervolume_progress(np.array(gains)[order])
    lines += [
        "",
        "Hypervolume of the measured front, in design order (objectives as gains, in the product "
        "of their units, above each one's worst measured value less a tenth of its range): "
        + ", ".join(f"{value:.4g} after {count}" for count, value in progress)
        + " experiments.",
    ]
    return lines


def _hypervolume_progress(gains: np.ndarray) -> list[tuple[int, float]]:
    """``(count, hypervolume)`` of the first ``count`` rows of ``gains``, over the campaign.

    ``gains`` is ``(n, m)``, higher is better, in design order; counts are a quarter, a half,
    three quarters and all of ``n``. One reference for every count, so the numbers compare: each
    objective's worst value over all rows less :data:`cfl.improvement.REFERENCE_MARGIN` of its
    range, as the planner sets it, so the ends of the front count too.
    """
    low, high = gains.min(axis=0), gains.max(axis=0)
    reference = low - REFERENCE_MARGIN * (high - low)
    n = len(gains)
    counts = sorted({max(1, math.ceil(n * q)) for q in (0.25, 0.5, 0.75, 1.0)})
    return [(k, hypervolume(gains[:k], reference)) for k in counts]
