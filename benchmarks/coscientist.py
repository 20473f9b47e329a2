"""Does the co-scientist find true effects, rank them well, help the campaign? Issue 5's figures.

The demo campaign (``examples/snar``) optimises the SnAr simulator, whose response is known, so
every hypothesis the offline co-scientist registers can be scored against the truth
(:mod:`benchmarks.truth`: partial dependence of the noiseless yield). Run::

    python -m benchmarks.coscientist                     # 10 seeds, the demo's budget of 40
    python -m benchmarks.coscientist --seeds 1 --budget 24 --out report.md --json runs.json
    python -m benchmarks.coscientist --replay runs.json   # the report again, no campaigns

Per seed ``s`` (1..N) two campaigns run, identical but for ``testing_share``, the share of each
batch designed to tell the leading open hypotheses apart: *planner-only* (``0``) and
*hypothesis-driven* (the spec's default, or ``--testing-share``). The demo's patience rule is
dropped so both arms spend the whole budget and stop at the same point, and the co-scientist is
the offline one whatever the demo names (``auto`` would call an LLM where one is configured).
Both arms share the seed, so their initial designs and the noise of each experiment slot are the
same.

Figures (the first two on the hypothesis-driven arm, the demo's default; the planner-only arm's
are reported alongside):

1. *Agreement*: of the hypotheses the evidence supports at the end (:mod:`cfl.evidence`), pooled
   over seeds, the share whose prediction holds on the global truth. Goal >= 90 %.
2. *Rank quality*: Kendall's tau-b between the final rank's score
   (:func:`cfl.tournament.posterior_log_odds`, the order of :func:`~cfl.tournament.final_rank`)
   and the truth (1 holds, 0 does not) of the campaign's hypotheses, ``scipy.stats.kendalltau``:
   ``tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2))`` with ``C``, ``D`` the concordant and discordant
   pairs, ``n0`` all pairs, ``n1``, ``n2`` the pairs tied in score and in truth. Pairs tied in
   truth count in the denominator but can be neither concordant nor discordant, so with a binary
   truth tau-b cannot reach 1: with ``k`` of ``n`` hypotheses true and no tied scores its ceiling
   is ``sqrt(2 k (n - k) / (n (n - 1)))`` (0.82 for 2 of 3, 0.76 for 4 of 7, towards 0.71 for
   large balanced sets). The ceiling is reported beside it, and Somers' ``D = (C - D) / (pairs
   differing in truth)`` (``= 2 AUC - 1``: 1 when every true hypothesis outranks every false one)
   as the ceiling-free reading of the same order. A seed with fewer than 2 scored hypotheses, or
   whose hypotheses are all true or all false (no pair to order), has no tau and is left out of
   the median (and counted). *Pooled*: the same over the hypotheses of all seeds together; the
   score is a log-odds, on the same scale in every campaign, so pooling across campaigns is
   meaningful. Goal >= 0.5 (median over seeds).

   *Graded* (reported beside it): the same tau-b against each hypothesis's true **margin**
   (:meth:`benchmarks.truth.Truth.margin`: by how much, in yield points, its prediction holds;
   negative when it fails). Against a binary truth most seeds have no tau (every hypothesis
   true: nothing to order) and the rest a ceiling below 1; the margin is defined for every
   hypothesis and asks whether the strongest true claims come first. It is not the verdict: the
   final rank orders by how *sure* the evidence is, not by how *large* an effect is, and a corner
   contrast (an interaction) is not on the scale of a main effect (a trend) although both are in
   yield points, so a perfect ranking need not reach 1 on it either. A seed needs 2 hypotheses
   with a margin to have a tau.
3. *Experiments to target*: the target of seed ``s`` is the best yield the planner-only arm
   measured; for each arm, the index (in design order, failed experiments included) of the first
   experiment whose measured yield reached it, ``budget + 1`` if none did. By construction the
   planner-only arm reaches it. Goal: median of the hypothesis-driven arm <= median of the
   planner-only arm.

Hypotheses about an objective other than the yield, or best-level ones, have no truth here and
are left out of figures 1 and 2 (counted in the table). Which truth the figures use: the global
one (the effect averaged over the whole space), since the issue asks whether hypotheses "agree
with the true effect signs": a property of the chemistry, not of where a campaign happened to
look. The local truth (around the campaign's best conditions, where evidence is actually
measured) is reported beside it to show how much of any disagreement is the evidence judging a
different, local, effect.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from scipy import stats

from benchmarks.truth import Truth, snar_truth
from cfl.campaign import Campaign
from cfl.models import ExperimentStatus, Hypothesis, Interaction, Optimum, Prediction, Trend
from cfl.runner import open_or_create, run_campaign
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from cfl.tournament import final_rank, posterior_log_odds
from instruments.sim.snar import SnarConditions, simulate_snar, snar_figures

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "snar"
PLANNER_ONLY = "planner-only"
HYPOTHESIS_DRIVEN = "hypothesis-driven"
DEFAULT_ARM = "default"
"""The arm's name when the spec has no ``testing_share`` yet: the demo as it is."""
OBJECTIVE = "yield"
COSCIENTIST = "offline"
"""The co-scientist benchmarked, whatever the demo names (``auto`` would use an LLM if one is
configured, and the figures would depend on the machine)."""
AGREEMENT_GOAL = 0.90
TAU_GOAL = 0.5


# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """One hypothesis at the end of a campaign, with its truth."""

    id: str
    claim: str
    status: str
    credence: float
    log10_bf: float
    elo: float
    log_odds: float
    registered_after: int
    evidence_n: int
    truth_global: bool | None
    truth_local: bool | None
    why_global: str
    why_local: str
    margin_global: float | None = None
    """How far the prediction holds on the global truth (yield points); ``None`` in runs saved
    before it was recorded, or without a truth."""


@dataclass(frozen=True)
class Run:
    """One campaign of one arm: its hypotheses (final-rank order) and its yields."""

    seed: int
    arm: str
    testing_share: float | None
    hypotheses: list[Scored]
    yields: list[tuple[int, float]]
    """(experiment index, measured yield) of the observed experiments, in design order."""
    designed: int
    coscientist_designed: int
    best_params: dict[str, float]
    best_true_yield: float
    finish: str
    wall_s: float
    true_yields: list[tuple[int, float]] = field(default_factory=list)
    """(experiment index, noiseless yield at its conditions), as ``yields``; empty in runs saved
    before it was recorded."""

    def series(self, *, true: bool = False) -> list[tuple[int, float]]:
        return self.true_yields if true else self.yields

    def best_yield(self, *, true: bool = False) -> float:
        return max(y for _, y in self.series(true=true))

    def reached(self, target: float, budget: int, *, true: bool = False) -> int:
        """Index of the first experiment reaching ``target`` (measured, or true), else budget+1."""
        return next((i for i, y in self.series(true=true) if y >= target), budget + 1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(
            **{
                **data,
                "hypotheses": [Scored(**h) for h in data["hypotheses"]],
                "yields": [(int(i), float(y)) for i, y in data["yields"]],
                "true_yields": [(int(i), float(y)) for i, y in data.get("true_yields", [])],
            }
        )


# -- running the campaigns -----------------------------------------------------------------------


def default_testing_share() -> float | None:
    """The spec's default ``testing_share``, or ``None`` if the spec has no such field yet."""
    spec_field = CampaignSpec.model_fields.get("testing_share")
    if spec_field is None or not isinstance(spec_field.default, int | float):
        return None
    return float(spec_field.default)


def demo_spec_data() -> dict[str, Any]:
    """The demo spec as a mapping, lab inlined (read once per benchmark: others may edit it)."""
    data: dict[str, Any] = yaml.safe_load((DEMO_DIR / "campaign.yaml").read_text())
    data["lab"] = yaml.safe_load((DEMO_DIR / "lab.yaml").read_text())
    return data


def spec_data(
    seed: int, budget: int, testing_share: float | None, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The demo spec with this seed and budget, no patience rule, the offline co-scientist."""
    data = copy.deepcopy(base) if base is not None else demo_spec_data()
    data.update(name=f"snar-coscientist-s{seed}", seed=seed, budget={"experiments": budget})
    data["stop"] = {}
    data["coscientist"] = COSCIENTIST
    if testing_share is not None:
        data["testing_share"] = testing_share
    return data


@contextlib.contextmanager
def _cfl_home(folder: Path) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in ("CFL_HOME", "CFL_DATABASE_URL")}
    os.environ["CFL_HOME"] = str(folder / "cfl-home")
    os.environ.pop("CFL_DATABASE_URL", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_arm(
    seed: int, budget: int, testing_share: float | None, base: dict[str, Any] | None = None
) -> tuple[Campaign, float]:
    """Run one campaign in a throw-away CFL home; the campaign and its wall time."""
    with tempfile.TemporaryDirectory(prefix="cfl-coscientist-") as tmp:
        folder = Path(tmp)
        path = folder / "campaign.yaml"
        data = spec_data(seed, budget, testing_share, base)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        with _cfl_home(folder):
            spec = load_spec(path)
            store = Store.open(f"sqlite:///{folder / 'store.db'}")
            try:
                start = time.perf_counter()
                campaign = run_campaign(open_or_create(store, spec, new=True).journal)
                return campaign, time.perf_counter() - start
            finally:
                store.close()


# -- scoring -------------------------------------------------------------------------------------


def describe(prediction: Prediction) -> str:
    p = prediction
    if isinstance(p, Trend):
        verb = "rises" if p.sign > 0 else "falls"
        return f"{p.objective} {verb} with {p.variable} over {p.low:.3g}-{p.high:.3g}"
    if isinstance(p, Interaction):
        change = "grows" if p.sign > 0 else "shrinks"
        return f"effect of {p.variable} {change} as {p.moderator} rises"
    if isinstance(p, Optimum):
        return f"best {p.variable} in {p.low:.3g}-{p.high:.3g}"
    return f"{p.variable}={p.level} best"


def explain(truth: Truth, prediction: Prediction) -> str:
    """The partial-dependence numbers behind a verdict, for the diagnosis."""
    p, pd = prediction, truth.pd
    if p.objective != truth.objective:
        return "other objective"
    if isinstance(p, Trend):
        low, high = pd.values([{p.variable: p.low}, {p.variable: p.high}])
        return f"PD {low:.1f} -> {high:.1f}"
    if isinstance(p, Interaction):
        a, b = pd.box.index(p.variable), pd.box.index(p.moderator)
        box = pd.box
        pp, mp, pm, mm = pd.values(
            [
                {p.variable: box.high[a], p.moderator: box.high[b]},
                {p.variable: box.low[a], p.moderator: box.high[b]},
                {p.variable: box.high[a], p.moderator: box.low[b]},
                {p.variable: box.low[a], p.moderator: box.low[b]},
            ]
        )
        low, high = pm - mm, pp - mp
        return f"{p.variable} effect {low:+.1f} at low, {high:+.1f} at high {p.moderator}"
    if isinstance(p, Optimum):
        return f"PD best at {truth.optimum_at(p.variable):.3g}"
    return "no truth"


def _true_yield(params: dict[str, float]) -> float:
    conditions = SnarConditions(
        residence_time_min=params["residence_time"],
        equivalents=params["equivalents"],
        concentration_m=params["concentration"],
        temperature_c=params["temperature"],
    )
    return snar_figures(simulate_snar(conditions), conditions).yield_pct


def score_run(
    campaign: Campaign,
    *,
    seed: int,
    arm: str,
    testing_share: float | None,
    global_truth: Truth,
    wall_s: float = 0.0,
) -> Run:
    """Score a finished campaign's hypotheses against the global and the local truth."""
    best = campaign.best()
    if best is None:
        raise SystemExit(f"campaign {campaign.id} has no observations")
    best_params = {k: float(v) for k, v in best[0].params.items() if isinstance(v, int | float)}
    local_truth = snar_truth(center=best_params)
    scored = [
        _score(hypothesis, global_truth, local_truth)
        for hypothesis in final_rank(campaign.hypotheses)
    ]
    done = [
        e
        for e in sorted(campaign.experiments.values(), key=lambda e: e.index)
        if e.status == ExperimentStatus.DONE and e.id in campaign.observations
    ]
    yields = [(e.index, campaign.observations[e.id].values[OBJECTIVE]) for e in done]
    true_yields = [
        (e.index, _true_yield({k: float(v) for k, v in e.params.items() if not isinstance(v, str)}))
        for e in done
    ]
    return Run(
        seed=seed,
        arm=arm,
        testing_share=testing_share,
        hypotheses=scored,
        yields=yields,
        designed=campaign.designed,
        coscientist_designed=sum(
            1 for e in campaign.experiments.values() if e.source == "coscientist"
        ),
        best_params=best_params,
        best_true_yield=_true_yield(best_params),
        finish=campaign.finished.reason if campaign.finished is not None else "unfinished",
        wall_s=wall_s,
        true_yields=true_yields,
    )


def _score(hypothesis: Hypothesis, global_truth: Truth, local_truth: Truth) -> Scored:
    p = hypothesis.prediction
    return Scored(
        id=hypothesis.id,
        claim=describe(p),
        status=str(hypothesis.status),
        credence=hypothesis.credence,
        log10_bf=hypothesis.log10_bf,
        elo=hypothesis.elo,
        log_odds=posterior_log_odds(hypothesis),
        registered_after=hypothesis.registered_after,
        evidence_n=hypothesis.evidence_n,
        truth_global=global_truth.holds(p),
        truth_local=local_truth.holds(p),
        margin_global=global_truth.margin(p),
        why_global=explain(global_truth, p),
        why_local=explain(local_truth, p),
    )


# -- figures -------------------------------------------------------------------------------------


def kendall_tau_b(scores: Sequence[float], truths: Sequence[bool]) -> float | None:
    """tau-b of scores against truths; ``None`` with fewer than 2 items or nothing to order."""
    return graded_tau_b(scores, [float(t) for t in truths])


def graded_tau_b(scores: Sequence[float], margins: Sequence[float]) -> float | None:
    """tau-b of scores against the true margins; ``None`` with fewer than 2 or all tied."""
    if len(scores) < 2 or len(set(margins)) < 2 or len(set(scores)) < 2:
        return None
    tau = float(stats.kendalltau(scores, margins, variant="b").statistic)
    return None if math.isnan(tau) else tau


def _graded(hypotheses: Sequence[Scored]) -> tuple[list[float], list[float]]:
    pairs = [(h.log_odds, h.margin_global) for h in hypotheses if h.margin_global is not None]
    return [s for s, _ in pairs], [m for _, m in pairs]


def graded_tau_of(run: Run) -> float | None:
    return graded_tau_b(*_graded(run.hypotheses))


def tau_b_ceiling(truths: Sequence[bool]) -> float | None:
    """The highest tau-b untied scores can reach against these binary truths."""
    n, k = len(truths), sum(truths)
    if n < 2 or k in (0, n):
        return None
    return math.sqrt(2 * k * (n - k) / (n * (n - 1)))


def somers_d(scores: Sequence[float], truths: Sequence[bool]) -> float | None:
    """``(C - D) / (pairs differing in truth)``: 1 if every true one outscores every false one."""
    true = [s for s, t in zip(scores, truths, strict=True) if t]
    false = [s for s, t in zip(scores, truths, strict=True) if not t]
    if not true or not false:
        return None
    net = sum((a > b) - (a < b) for a in true for b in false)
    return net / (len(true) * len(false))


def _judged(hypotheses: Sequence[Scored], which: str) -> tuple[list[float], list[bool]]:
    pairs = [(h.log_odds, t) for h in hypotheses if (t := _truth(h, which)) is not None]
    return [s for s, _ in pairs], [t for _, t in pairs]


def _truth(h: Scored, which: str) -> bool | None:
    return h.truth_global if which == "global" else h.truth_local


def tau_of(run: Run, which: str = "global") -> float | None:
    return kendall_tau_b(*_judged(run.hypotheses, which))


def supported(run: Run, which: str = "global") -> tuple[int, int]:
    """(supported hypotheses with a truth, those of them that hold)."""
    rows = [_truth(h, which) for h in run.hypotheses if h.status == "supported"]
    judged = [t for t in rows if t is not None]
    return len(judged), sum(judged)


@dataclass(frozen=True)
class Figures:
    arm: str
    supported: int
    agreeing_global: int
    agreeing_local: int
    taus_global: list[float | None]
    taus_local: list[float | None]
    ceilings: list[float | None]
    somers: list[float | None]
    pooled_tau_global: float | None
    pooled_tau_local: float | None
    pooled_ceiling: float | None
    pooled_somers: float | None
    taus_graded: list[float | None] = field(default_factory=list)
    pooled_tau_graded: float | None = None

    @property
    def agreement(self) -> float | None:
        return self.agreeing_global / self.supported if self.supported else None

    @staticmethod
    def median(values: list[float | None]) -> float | None:
        defined = [v for v in values if v is not None]
        return statistics.median(defined) if defined else None


def figures(runs: list[Run], arm: str) -> Figures:
    mine = [r for r in runs if r.arm == arm]
    counts_g = [supported(r, "global") for r in mine]
    counts_l = [supported(r, "local") for r in mine]
    per_seed = [_judged(r.hypotheses, "global") for r in mine]
    pooled = _judged([h for r in mine for h in r.hypotheses], "global")
    return Figures(
        arm=arm,
        supported=sum(n for n, _ in counts_g),
        agreeing_global=sum(k for _, k in counts_g),
        agreeing_local=sum(k for _, k in counts_l),
        taus_global=[kendall_tau_b(*judged) for judged in per_seed],
        taus_local=[tau_of(r, "local") for r in mine],
        ceilings=[
            tau_b_ceiling(truths) if kendall_tau_b(scores, truths) is not None else None
            for scores, truths in per_seed
        ],
        somers=[somers_d(*judged) for judged in per_seed],
        pooled_tau_global=kendall_tau_b(*pooled),
        pooled_tau_local=kendall_tau_b(*_judged([h for r in mine for h in r.hypotheses], "local")),
        pooled_ceiling=tau_b_ceiling(pooled[1]),
        pooled_somers=somers_d(*pooled),
        taus_graded=[graded_tau_of(r) for r in mine],
        pooled_tau_graded=graded_tau_b(*_graded([h for r in mine for h in r.hypotheses])),
    )


def to_target(
    runs: list[Run], budget: int, *, true: bool = False, reference: str = PLANNER_ONLY
) -> dict[int, tuple[float, int, int]]:
    """Per seed: (target, planner-only experiments to it, hypothesis-driven experiments to it).

    The target is the ``reference`` arm's best yield, measured (the figure) or, with ``true``,
    the best noiseless yield among its experiments' conditions (a diagnostic: is the verdict
    the noise's?). Runs saved without true yields give no true-yield targets.
    """
    by = {(r.seed, r.arm): r for r in runs}
    result = {}
    for seed in sorted({r.seed for r in runs}):
        base, driven = by.get((seed, PLANNER_ONLY)), by.get((seed, HYPOTHESIS_DRIVEN))
        if (
            base is None
            or driven is None
            or (true and not (base.true_yields and driven.true_yields))
        ):
            continue
        target = (base if reference == PLANNER_ONLY else driven).best_yield(true=true)
        result[seed] = (
            target,
            base.reached(target, budget, true=true),
            driven.reached(target, budget, true=true),
        )
    return result


# -- the report ----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} ({k / n:.0%})" if n else "0/0 (-)"


def report(runs: list[Run], *, budget: int, command: str) -> str:
    arms = list(dict.fromkeys(r.arm for r in runs))
    seeds = sorted({r.seed for r in runs})
    by = {(r.seed, r.arm): r for r in runs}
    targets = to_target(runs, budget)
    lines = [
        "# Co-scientist benchmark (issue 5)",
        "",
        f"Command: `{command}`. Date: {datetime.date.today().isoformat()}.",
        f"Seeds {seeds[0]}-{seeds[-1]}, budget {budget} experiments (batches of 4, 8 initial), "
        "patience rule dropped so every campaign spends its budget; co-scientist: "
        f"{COSCIENTIST}.",
        "Arms: "
        + ", ".join(f"{a} (testing_share {_fmt(by[(seeds[0], a)].testing_share)})" for a in arms)
        + ".",
        "",
        "## Per seed",
        "",
        "Hypotheses: registered / with a truth; supported: at the end; agreeing: supported and "
        "true (global / local truth); tau-b: final-rank score against the truth (global / local); "
        "graded: tau-b against the true margin (global); "
        "to target: experiments until the planner-only arm's best measured yield is reached.",
        "",
        "| seed | arm | hyp. | supported | agreeing g / l | tau-b g / l (ceiling) | graded "
        "| Somers' D | best measured (true) | to target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for seed in seeds:
        for arm in arms:
            r = by.get((seed, arm))
            if r is None:
                continue
            scores, truths = _judged(r.hypotheses, "global")
            n_truth = len(truths)
            n_sup, agree_g = supported(r, "global")
            _, agree_l = supported(r, "local")
            target = targets.get(seed)
            reach = "-"
            if target is not None:
                reach = str(target[1] if arm == PLANNER_ONLY else target[2])
            lines.append(
                f"| {seed} | {arm} | {len(r.hypotheses)} / {n_truth} | {n_sup} | "
                f"{agree_g} / {agree_l} | {_fmt(tau_of(r, 'global'))} / "
                f"{_fmt(tau_of(r, 'local'))} ({_fmt(tau_b_ceiling(truths))}) | "
                f"{_fmt(graded_tau_of(r))} | {_fmt(somers_d(scores, truths))} | "
                f"{r.best_yield():.1f} ({r.best_true_yield:.1f}) | "
                f"{reach} |"
            )
    lines += ["", "## Figures", ""]
    lines += ["| figure | arm | measured | goal | met |", "|---|---|---|---|---|"]
    for arm in arms:
        f = figures(runs, arm)
        tau_med = Figures.median(f.taus_global)
        undefined = sum(1 for t in f.taus_global if t is None)
        agreement = f.agreement
        lines.append(
            f"| 1. supported hypotheses agreeing with the truth (global; local) | {arm} | "
            f"{_pct(f.agreeing_global, f.supported)}; local {_pct(f.agreeing_local, f.supported)}"
            f" | >= {AGREEMENT_GOAL:.0%} | "
            f"{'-' if agreement is None else ('yes' if agreement >= AGREEMENT_GOAL else 'no')} |"
        )
        lines.append(
            f"| 2. Kendall tau-b, final rank vs truth: median over seeds (pooled); local | {arm} | "
            f"{_fmt(tau_med)} ({_fmt(f.pooled_tau_global)}; {undefined} seed(s) without a tau; "
            f"ceiling {_fmt(Figures.median(f.ceilings))} ({_fmt(f.pooled_ceiling)}); Somers' D "
            f"{_fmt(Figures.median(f.somers))} ({_fmt(f.pooled_somers)}); "
            f"local {_fmt(Figures.median(f.taus_local))} ({_fmt(f.pooled_tau_local)}) | "
            f">= {TAU_GOAL} | "
            f"{'-' if tau_med is None else ('yes' if tau_med >= TAU_GOAL else 'no')} |"
        )
        graded_med = Figures.median(f.taus_graded)
        lines.append(
            f"| 2, graded (diagnostic): Kendall tau-b, final rank vs true margin: median over "
            f"seeds (pooled) | {arm} | {_fmt(graded_med)} ({_fmt(f.pooled_tau_graded)}; "
            f"{sum(1 for t in f.taus_graded if t is None)} seed(s) without a tau) | "
            f">= {TAU_GOAL} | "
            f"{'-' if graded_med is None else ('yes' if graded_med >= TAU_GOAL else 'no')} |"
        )
    if targets:
        base = statistics.median(t[1] for t in targets.values())
        driven = statistics.median(t[2] for t in targets.values())
        never = sum(1 for t in targets.values() if t[2] > budget)
        lines.append(
            f"| 3. experiments to the planner-only best, median over {len(targets)} seeds | "
            f"both | hypothesis-driven {driven:g}, planner-only {base:g} "
            f"({never} seed(s) never reached: counted {budget + 1}) | driven <= planner-only | "
            f"{'yes' if driven <= base else 'no'} |"
        )
        for label, diagnostic in (
            (
                "on true yields (the planner-only arm's best noiseless yield)",
                to_target(runs, budget, true=True),
            ),
            (
                "roles swapped (target: the hypothesis-driven arm's best measured)",
                to_target(runs, budget, reference=HYPOTHESIS_DRIVEN),
            ),
            (
                "on true yields, roles swapped",
                to_target(runs, budget, true=True, reference=HYPOTHESIS_DRIVEN),
            ),
        ):
            if not diagnostic:
                continue
            base = statistics.median(t[1] for t in diagnostic.values())
            driven = statistics.median(t[2] for t in diagnostic.values())
            lines.append(
                f"| 3, diagnostic: {label} | both | hypothesis-driven {driven:g}, planner-only "
                f"{base:g} | - | - |"
            )
    else:
        lines.append(
            "| 3. experiments to the planner-only best | - | not measured: the spec has no "
            "`testing_share` yet, so there is no hypothesis-driven arm | - | - |"
        )
    lines += ["", "## Verdicts against the truth", ""]
    lines += [
        "Hypotheses with a truth, by final status and truth (global / local): how often the "
        "evidence decided, and decided right.",
        "",
        "| arm | status | true g / l | FALSE g / l |",
        "|---|---|---|---|",
    ]
    for arm in arms:
        table = verdicts([r for r in runs if r.arm == arm])
        for status in ("supported", "open", "refuted"):
            (tg, fg), (tl, fl) = table[status]
            lines.append(f"| {arm} | {status} | {tg} / {tl} | {fg} / {fl} |")
    for arm in arms:
        lines += ["", f"## Hypotheses, {arm} arm (final-rank order per seed)", ""]
        lines += [
            "| seed | id | claim | status | credence | log10 BF | Elo | log-odds | n | global | "
            "margin | local |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for seed in seeds:
            r = by.get((seed, arm))
            if r is None:
                continue
            for h in r.hypotheses:
                lines.append(
                    f"| {seed} | {h.id} | {h.claim} | {h.status} | {h.credence:.2f} | "
                    f"{h.log10_bf:+.2f} | {h.elo:.0f} | {h.log_odds:+.2f} | {h.evidence_n} | "
                    f"{_verdict(h.truth_global)} {h.why_global} | "
                    f"{_fmt(h.margin_global, '+.2f')} | {_verdict(h.truth_local)} "
                    f"{h.why_local} |"
                )
            lines.append(
                f"| {seed} | | best measured at "
                + ", ".join(f"{k} {v:.3g}" for k, v in r.best_params.items())
                + " (the local truth's centre) | | | | | | | | | |"
            )
    return "\n".join(lines) + "\n"


def verdicts(runs: list[Run]) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
    """Per final status: (true, false) counts on the global truth, then on the local one."""
    table = {}
    for status in ("supported", "open", "refuted"):
        rows = [h for r in runs for h in r.hypotheses if h.status == status]
        table[status] = (
            (
                sum(1 for h in rows if h.truth_global is True),
                sum(1 for h in rows if h.truth_global is False),
            ),
            (
                sum(1 for h in rows if h.truth_local is True),
                sum(1 for h in rows if h.truth_local is False),
            ),
        )
    return table


def _verdict(truth: bool | None) -> str:
    return "-" if truth is None else ("true" if truth else "FALSE")


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N (default 10)")
    parser.add_argument("--budget", type=int, default=40, help="experiments per campaign")
    parser.add_argument(
        "--testing-share",
        type=float,
        default=None,
        help="the hypothesis-driven arm's testing_share (default: the spec's default)",
    )
    parser.add_argument("--out", type=Path, help="write the markdown report here (else stdout)")
    parser.add_argument("--json", type=Path, help="save the scored runs here")
    parser.add_argument("--replay", type=Path, help="report on runs saved by --json, run nothing")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.coscientist " + " ".join(argv or sys.argv[1:])
    if args.replay is not None:
        saved = json.loads(args.replay.read_text())
        runs = [Run.from_dict(r) for r in saved["runs"]]
        budget = int(saved["budget"])
        command = str(saved.get("command", command))
    else:
        budget = args.budget
        runs = run_all(args.seeds, budget, args.testing_share, args.json, command)
    text = report(runs, budget=budget, command=command)
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text)
        print(f"report written to {args.out}", file=sys.stderr)
    return 0


def arms(testing_share: float | None) -> dict[str, float | None]:
    """The arms to run: both when the spec knows ``testing_share``, else the demo as it is."""
    share = testing_share if testing_share is not None else default_testing_share()
    if share is None:
        return {DEFAULT_ARM: None}
    return {PLANNER_ONLY: 0.0, HYPOTHESIS_DRIVEN: share}


def run_all(
    seeds: int, budget: int, testing_share: float | None, save: Path | None, command: str
) -> list[Run]:
    """Run every seed of every arm, scoring each campaign as it ends (saved after each)."""
    global_truth = snar_truth()
    base = demo_spec_data()
    runs: list[Run] = []
    for seed in range(1, seeds + 1):
        for arm, share in arms(testing_share).items():
            campaign, wall = run_arm(seed, budget, share, base)
            run = score_run(
                campaign,
                seed=seed,
                arm=arm,
                testing_share=share,
                global_truth=global_truth,
                wall_s=wall,
            )
            runs.append(run)
            n_sup, agree = supported(run)
            print(
                f"seed {seed} {arm}: {len(run.hypotheses)} hypotheses, {n_sup} supported "
                f"({agree} true), tau-b {_fmt(tau_of(run))}, best {run.best_yield():.1f} "
                f"({wall:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            if save is not None:
                payload = {"budget": budget, "command": command, "runs": [asdict(r) for r in runs]}
                save.write_text(json.dumps(payload, indent=1))
    return runs


if __name__ == "__main__":
    sys.exit(main())
