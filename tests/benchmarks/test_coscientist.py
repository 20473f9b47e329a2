from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from benchmarks.coscientist import (
    HYPOTHESIS_DRIVEN,
    PLANNER_ONLY,
    Run,
    Scored,
    figures,
    graded_tau_b,
    graded_tau_of,
    kendall_tau_b,
    main,
    score_run,
    somers_d,
    supported,
    tau_b_ceiling,
    tau_of,
    to_target,
)
from benchmarks.truth import (
    SNAR_BOX,
    Box,
    PartialDependence,
    Truth,
    interaction_holds,
    interaction_margin,
    optimum_holds,
    optimum_margin,
    snar_truth,
    snar_yield,
    trend_holds,
    trend_margin,
)
from cfl.events import HypothesisProposed
from cfl.models import BestLevel, Hypothesis, HypothesisStatus, Interaction, Optimum, Trend
from cfl.spec import CampaignSpec
from instruments.sim.snar import SnarConditions, simulate_snar, snar_figures
from tests.conftest import observed_campaign

SQUARE = Box(names=("x", "y"), low=(0.0, 0.0), high=(1.0, 1.0))


def _pd(f: object, box: Box = SQUARE, n: int = 200) -> PartialDependence:
    def response(rows: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(f(rows[:, 0], rows[:, 1]), dtype=np.float64)  # type: ignore[operator]

    return PartialDependence(response, box, box.uniform(n, seed=1))


# -- truth on hand-checkable functions -----------------------------------------------------------


def test_trend_truth_is_the_sign_of_the_partial_dependence_over_the_range() -> None:
    pd = _pd(lambda x, y: 2 * x - y)
    assert trend_holds(pd, "x", 0.0, 1.0, 1) and not trend_holds(pd, "x", 0.0, 1.0, -1)
    assert trend_holds(pd, "y", 0.2, 0.6, -1) and not trend_holds(pd, "y", 0.2, 0.6, 1)
    # PD(x) of 2x - y is 2x - mean(y): exact, so the difference is 2 * (0.7 - 0.1)
    assert pd.value(x=0.7) - pd.value(x=0.1) == pytest.approx(1.2)


def test_trend_truth_depends_on_the_range_of_a_parabola() -> None:
    pd = _pd(lambda x, y: -((x - 0.3) ** 2) + 0 * y)
    assert trend_holds(pd, "x", 0.0, 0.3, 1)
    assert trend_holds(pd, "x", 0.3, 1.0, -1)
    assert trend_holds(pd, "x", 0.0, 1.0, -1)  # PD(1) = -0.49 < PD(0) = -0.09


def test_interaction_truth_is_the_sign_of_the_corner_contrast() -> None:
    product = _pd(lambda x, y: x * y)
    assert interaction_holds(product, "x", "y", 1) and not interaction_holds(product, "x", "y", -1)
    assert interaction_holds(product, "y", "x", 1)  # a product term has no order
    assert interaction_holds(_pd(lambda x, y: 3 * x - x * y), "x", "y", -1)
    additive = _pd(lambda x, y: x + 2 * y)  # no interaction: contrast 0 has neither sign
    assert not interaction_holds(additive, "x", "y", 1)
    assert not interaction_holds(additive, "x", "y", -1)


def test_optimum_truth_is_where_the_partial_dependence_peaks() -> None:
    pd = _pd(lambda x, y: -((x - 0.3) ** 2) + y)
    assert optimum_holds(pd, "x", 0.2, 0.4)
    assert not optimum_holds(pd, "x", 0.5, 0.7)
    assert optimum_holds(pd, "y", 0.9, 1.0)  # rising: the best is the top end
    bowl = _pd(lambda x, y: (x - 0.7) ** 2 + 0 * y)
    assert optimum_holds(bowl, "x", 0.6, 0.8, maximize=False)
    assert not optimum_holds(bowl, "x", 0.6, 0.8, maximize=True)  # the max is at x = 0


def test_truth_reads_each_kind_of_prediction_and_declines_the_rest() -> None:
    truth = Truth("yield", True, _pd(lambda x, y: -((x - 0.3) ** 2) + x * y))
    assert truth.holds(Optimum(objective="yield", variable="x", low=0.3, high=0.6)) is True
    assert truth.holds(Trend(objective="yield", variable="y", sign=1, low=0.0, high=1.0)) is True
    assert truth.holds(Interaction(objective="yield", variable="x", moderator="y", sign=-1)) is (
        False
    )
    assert truth.holds(Trend(objective="cost", variable="y", sign=1, low=0.0, high=1.0)) is None
    assert truth.holds(BestLevel(objective="yield", variable="x", level="a")) is None


def test_margins_say_by_how_much_a_prediction_holds() -> None:
    pd = _pd(lambda x, y: 2 * x - y)
    assert trend_margin(pd, "x", 0.1, 0.7, 1) == pytest.approx(1.2)  # 2 * (0.7 - 0.1)
    assert trend_margin(pd, "x", 0.1, 0.7, -1) == pytest.approx(-1.2)
    product = _pd(lambda x, y: x * y)  # corners: (1 - 0) - (0 - 0) = 1
    assert interaction_margin(product, "x", "y", 1) == pytest.approx(1.0)
    assert interaction_margin(product, "x", "y", -1) == pytest.approx(-1.0)
    bump = _pd(lambda x, y: -((x - 0.3) ** 2) + y)
    # grid step 0.01: best inside [0.2, 0.4] is 0 at 0.3, best outside -(0.11)^2 at 0.19, 0.41
    assert optimum_margin(bump, "x", 0.2, 0.4) == pytest.approx(0.11**2)
    assert optimum_margin(bump, "x", 0.5, 0.7) == pytest.approx(-(0.2**2))  # at 0.5 vs 0 at 0.3
    assert optimum_margin(bump, "x", 0.0, 1.0) == 0.0  # excludes nothing
    truth = Truth("yield", True, bump)
    assert truth.margin(Trend(objective="yield", variable="y", sign=-1, low=0, high=1)) == (
        pytest.approx(-1.0)
    )
    assert truth.margin(BestLevel(objective="yield", variable="x", level="a")) is None


def test_graded_tau_orders_strong_true_claims_above_weak_and_false_ones() -> None:
    assert graded_tau_b([3.0, 2.0, 1.0], [5.0, 0.5, -2.0]) == pytest.approx(1.0)
    assert graded_tau_b([1.0, 2.0, 3.0], [5.0, 0.5, -2.0]) == pytest.approx(-1.0)
    # one discordant pair of three: (2 - 1) / 3
    assert graded_tau_b([3.0, 2.0, 1.0], [5.0, -2.0, 0.5]) == pytest.approx(1 / 3)
    assert graded_tau_b([1.0], [1.0]) is None and graded_tau_b([1.0, 2.0], [3.0, 3.0]) is None


def test_local_background_stays_near_the_center_and_inside_the_bounds() -> None:
    rows = SQUARE.around({"x": 0.95, "y": 0.5}, 0.1, 1000)
    assert rows[:, 0].min() >= 0.85 and rows[:, 0].max() <= 1.0
    assert rows[:, 1].min() >= 0.4 and rows[:, 1].max() <= 0.6
    local = PartialDependence(lambda r: r[:, 0] * r[:, 1], SQUARE, rows)
    # near y = 0.5 the effect of x is 0.5 per unit: PD(x=1) - PD(x=0) = mean(y)
    assert local.value(x=1.0) - local.value(x=0.0) == pytest.approx(rows[:, 1].mean())


def test_vectorised_snar_yield_matches_the_simulator() -> None:
    rows = SNAR_BOX.uniform(6, seed=3)
    rows[0] = SNAR_BOX.high
    rows[1] = SNAR_BOX.low
    expected = [
        snar_figures(simulate_snar(SnarConditions(*map(float, r))), SnarConditions(*r)).yield_pct
        for r in rows
    ]
    assert snar_yield(rows) == pytest.approx(expected, abs=1e-3)


# -- figures --------------------------------------------------------------------------------------


def test_kendall_tau_b_orders_true_above_false_and_needs_something_to_order() -> None:
    # 2 of 3 pairs differ in truth, both concordant: 2 / sqrt(3 * 2), which is also the ceiling
    ceiling = tau_b_ceiling([True, True, False])
    assert ceiling == pytest.approx(2 / np.sqrt(6))
    assert kendall_tau_b([3.0, 2.0, 1.0], [True, True, False]) == pytest.approx(ceiling)
    assert kendall_tau_b([1.0, 2.0, 3.0], [True, True, False]) == pytest.approx(-2 / np.sqrt(6))
    assert somers_d([3.0, 2.0, 1.0], [True, True, False]) == pytest.approx(1.0)
    assert somers_d([3.0, 1.0, 2.0], [True, True, False]) == pytest.approx(0.0)
    assert somers_d([3.0, 2.0], [True, True]) is None
    assert tau_b_ceiling([True] * 50 + [False] * 50) == pytest.approx(np.sqrt(50 / 99))
    assert kendall_tau_b([1.0, 3.0, 2.0, 0.0], [True, False, True, False]) == pytest.approx(
        0.0, abs=1e-12
    )
    assert kendall_tau_b([1.0], [True]) is None
    assert kendall_tau_b([1.0, 2.0], [True, True]) is None  # all true: no pair to order
    assert kendall_tau_b([1.0, 1.0], [True, False]) is None


def _scored(
    log_odds: float, truth: bool | None, status: str = "open", margin: float | None = None
) -> Scored:
    return Scored(
        id="H01",
        claim="",
        status=status,
        credence=0.5,
        log10_bf=0.0,
        elo=1200.0,
        log_odds=log_odds,
        registered_after=8,
        evidence_n=0,
        truth_global=truth,
        truth_local=truth,
        why_global="",
        why_local="",
        margin_global=margin,
    )


def _run(seed: int, arm: str, yields: list[float], hypotheses: list[Scored] | None = None) -> Run:
    return Run(
        seed=seed,
        arm=arm,
        testing_share=0.0 if arm == PLANNER_ONLY else 0.25,
        hypotheses=hypotheses or [],
        yields=list(enumerate(yields, start=1)),
        designed=len(yields),
        coscientist_designed=0,
        best_params={},
        best_true_yield=0.0,
        finish="budget",
        wall_s=0.0,
    )


def test_experiments_to_target_count_to_the_planner_only_best_or_budget_plus_one() -> None:
    runs = [
        _run(1, PLANNER_ONLY, [10, 50, 40, 60]),
        _run(1, HYPOTHESIS_DRIVEN, [10, 70, 40, 50]),
        _run(2, PLANNER_ONLY, [10, 90, 40, 60]),
        _run(2, HYPOTHESIS_DRIVEN, [10, 50, 40, 60]),
    ]
    assert to_target(runs, budget=4) == {1: (60, 4, 2), 2: (90, 2, 5)}
    # roles swapped: the hypothesis-driven arm's best is the target
    assert to_target(runs, budget=4, reference=HYPOTHESIS_DRIVEN) == {1: (70, 5, 2), 2: (60, 2, 4)}
    # runs saved before true yields were recorded give no true-yield targets
    assert to_target(runs, budget=4, true=True) == {}


def test_experiments_to_target_on_true_yields_ignore_the_noise() -> None:
    base = _run(1, PLANNER_ONLY, [10, 95, 40, 60])  # 95: a lucky reading of a true 80
    driven = _run(1, HYPOTHESIS_DRIVEN, [10, 50, 40, 70])
    base = dataclasses.replace(base, true_yields=[(1, 10.0), (2, 80.0), (3, 40.0), (4, 61.0)])
    driven = dataclasses.replace(driven, true_yields=[(1, 10.0), (2, 52.0), (3, 40.0), (4, 82.0)])
    assert to_target([base, driven], budget=4) == {1: (95, 2, 5)}
    assert to_target([base, driven], budget=4, true=True) == {1: (80.0, 2, 4)}


def test_figures_pool_supported_hypotheses_and_skip_seeds_without_a_tau() -> None:
    arm = HYPOTHESIS_DRIVEN
    runs = [
        _run(
            1,
            arm,
            [1.0],
            [
                _scored(3, True, "supported", 0.5),
                _scored(1, False, "supported", -1.0),
                _scored(0, None),
            ],
        ),
        _run(2, arm, [1.0], [_scored(2, True, "supported", 4.0), _scored(2.5, True, "open", 6.0)]),
    ]
    assert supported(runs[0]) == (2, 1)
    assert tau_of(runs[0]) == pytest.approx(1.0) and tau_of(runs[1]) is None  # n = 2: ceiling 1
    f = figures(runs, arm)
    # graded: seed 2 has a tau although both are true (the stronger claim ranks higher: 1)
    assert f.taus_graded == [pytest.approx(1.0), pytest.approx(1.0)]
    # pooled: 4 concordant, 2 discordant (3 above 2 and 2.5 in score, below in margin)
    assert f.pooled_tau_graded == pytest.approx(1 / 3)
    assert (f.supported, f.agreeing_global) == (3, 2) and f.agreement == pytest.approx(2 / 3)
    assert f.taus_global == [pytest.approx(tau_b_ceiling([True, False])), None]
    assert f.ceilings == [pytest.approx(1.0), None]
    # 3, 2 and 2.5 (true) above 1 (false): tau-b at its ceiling, Somers' D 1
    assert f.pooled_tau_global == pytest.approx(tau_b_ceiling([True, False, True, True]))
    assert f.pooled_somers == pytest.approx(1.0)


def test_score_run_ranks_the_campaign_hypotheses_and_scores_both_truths(
    small_spec: CampaignSpec,
) -> None:
    best: dict[str, float | int | str] = {
        "residence_time": 0.5,
        "equivalents": 5.0,
        "concentration": 0.4,
        "temperature": 30.0,
    }
    poor: dict[str, float | int | str] = {
        "residence_time": 2.0,
        "equivalents": 1.0,
        "concentration": 0.1,
        "temperature": 120.0,
    }
    campaign = observed_campaign(small_spec, [(poor, 20.0), (best, 90.0)])
    cooler = Trend(objective="yield", variable="temperature", sign=-1, low=66.0, high=120.0)
    longer = Trend(objective="yield", variable="residence_time", sign=1, low=0.5, high=2.0)
    for number, (prediction, bf, status) in enumerate(
        [(longer, -1.5, HypothesisStatus.REFUTED), (cooler, 2.0, HypothesisStatus.SUPPORTED)],
        start=1,
    ):
        hypothesis = Hypothesis(
            id=f"H{number:02d}",
            statement="",
            kind="effect",
            prediction=prediction,
            rationale="",
            author="human:test",
            registered_after=0,
            status=status,
            log10_bf=bf,
        )
        campaign.apply(HypothesisProposed(lab_time_s=0, hypothesis=hypothesis))
    run = score_run(
        campaign, seed=1, arm=HYPOTHESIS_DRIVEN, testing_share=0.25, global_truth=snar_truth()
    )
    assert [h.id for h in run.hypotheses] == ["H02", "H01"]  # final rank: evidence first
    assert [h.truth_global for h in run.hypotheses] == [True, False]
    assert [h.truth_local for h in run.hypotheses] == [True, False]
    margins = [h.margin_global for h in run.hypotheses]
    assert margins[0] is not None and margins[0] > 0 and margins[1] is not None and margins[1] < 0
    assert graded_tau_of(run) == pytest.approx(1.0)
    assert tau_of(run) == pytest.approx(1.0) and supported(run) == (1, 1)  # n = 2: ceiling 1
    assert run.best_params == best and run.best_yield() == 90.0 and run.yields[0] == (1, 20.0)
    conditions = SnarConditions(0.5, 5.0, 0.4, 30.0)
    assert run.best_true_yield == pytest.approx(
        snar_figures(simulate_snar(conditions), conditions).yield_pct
    )
    assert [i for i, _ in run.true_yields] == [1, 2]
    assert run.true_yields[1][1] == pytest.approx(run.best_true_yield)
    assert run.true_yields[0][1] < run.true_yields[1][1]


def test_harness_runs_both_arms_and_writes_a_report(tmp_path: Path) -> None:
    out, saved = tmp_path / "report.md", tmp_path / "runs.json"
    assert main(["--seeds", "1", "--budget", "4", "--out", str(out), "--json", str(saved)]) == 0
    text = out.read_text()
    assert "| 1 | planner-only |" in text and "| 1 | hypothesis-driven |" in text
    assert "3. experiments to the planner-only best" in text
    replay = tmp_path / "again.md"
    assert main(["--replay", str(saved), "--out", str(replay)]) == 0
    assert replay.read_text().split("\n", 3)[3] == text.split("\n", 3)[3]
