from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from cfl.evidence import SUPPORT, assess, needed_evidence
from cfl.models import (
    BestLevel,
    Hypothesis,
    HypothesisStatus,
    Interaction,
    Optimum,
    Prediction,
    Trend,
)
from cfl.spec import CampaignSpec
from tests.conftest import observed_campaign


def _hypothesis(prediction: Prediction, registered_after: int = 0) -> Hypothesis:
    return Hypothesis(
        id="H01",
        statement="s",
        kind="effect",
        prediction=prediction,
        rationale="r",
        author="human:ada",
        registered_after=registered_after,
    )


def _rows(n: int, slope: float, seed: int = 0) -> list[tuple[dict[str, float | int | str], float]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[dict[str, float | int | str], float]] = []
    for _ in range(n):
        p = {
            "residence_time": float(rng.uniform(0.5, 2)),
            "equivalents": float(rng.uniform(1, 5)),
            "concentration": float(rng.uniform(0.1, 0.5)),
            "temperature": float(rng.uniform(30, 120)),
        }
        rows.append((p, 50 + slope * float(p["temperature"]) + float(rng.normal(0, 1))))
    return rows


RISES = Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)


def test_clear_rise_is_supported(small_spec: CampaignSpec) -> None:
    result = assess(observed_campaign(small_spec, _rows(20, slope=0.2)), _hypothesis(RISES))
    assert result.status == HypothesisStatus.SUPPORTED
    assert result.credence > 0.999 and result.evidence_n == 20


def test_clear_fall_refutes_a_predicted_rise(small_spec: CampaignSpec) -> None:
    result = assess(observed_campaign(small_spec, _rows(20, slope=-0.2)), _hypothesis(RISES))
    assert result.status == HypothesisStatus.REFUTED and result.credence < 0.001


def test_credence_is_the_student_t_cdf_of_the_ols_coefficient(small_spec: CampaignSpec) -> None:
    rows = _rows(15, slope=0.01, seed=3)
    result = assess(observed_campaign(small_spec, rows), _hypothesis(RISES))
    # Recompute by hand: OLS on standardised parameters with an intercept.
    names = ["residence_time", "equivalents", "concentration", "temperature"]
    x = np.array([[float(p[n]) for n in names] for p, _ in rows])
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    x = np.column_stack([np.ones(len(rows)), x])
    y = np.array([v for _, v in rows])
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    resid = y - x @ beta
    dof = len(rows) - 5
    se = np.sqrt(resid @ resid / dof * np.linalg.inv(x.T @ x)[4, 4])
    assert result.credence == pytest.approx(stats.t.cdf(beta[4] / se, dof), abs=1e-9)
    assert result.statistics["dof"] == dof


def test_only_experiments_after_registration_count(small_spec: CampaignSpec) -> None:
    rows = _rows(20, slope=0.2)
    result = assess(observed_campaign(small_spec, rows), _hypothesis(RISES, registered_after=12))
    assert result.evidence_n == 8
    assert result.status == HypothesisStatus.SUPPORTED


def test_too_little_data_stays_open(small_spec: CampaignSpec) -> None:
    result = assess(observed_campaign(small_spec, _rows(7, slope=0.2)), _hypothesis(RISES))
    assert (result.status, result.credence, result.evidence_n) == (HypothesisStatus.OPEN, 0.5, 7)


def test_only_experiments_inside_the_range_count(small_spec: CampaignSpec) -> None:
    narrow = Trend(objective="yield", variable="temperature", sign=1, low=30, high=75)
    rows = _rows(40, slope=0.2)
    inside = sum(1 for p, _ in rows if float(p["temperature"]) <= 75)
    assert assess(observed_campaign(small_spec, rows), _hypothesis(narrow)).evidence_n == inside


def test_best_level_by_welch_t(small_spec: CampaignSpec) -> None:
    rows: list[tuple[dict[str, float | int | str], float]] = []
    values = {"B": [80.0, 82.0, 81.0, 83.0], "A": [70.0, 71.0, 69.0], "C": [72.0, 74.0]}
    base = {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.2, "temperature": 50.0}
    for level, ys in values.items():
        rows += [({**base, "solvent": level}, y) for y in ys]
    best = BestLevel(objective="yield", variable="solvent", level="B")
    result = assess(observed_campaign(small_spec, rows), _hypothesis(best))
    level, others = np.array(values["B"]), np.array(values["A"] + values["C"])
    v1, v2 = level.var(ddof=1) / 4, others.var(ddof=1) / 5
    t = (level.mean() - others.mean()) / np.sqrt(v1 + v2)
    dof = (v1 + v2) ** 2 / (v1**2 / 3 + v2**2 / 4)
    assert result.credence == pytest.approx(stats.t.cdf(t, dof))
    assert result.credence >= SUPPORT and result.status == HypothesisStatus.SUPPORTED


def _uniform_rows(
    n: int, response: Callable[[dict[str, float]], float], seed: int = 0, noise: float = 1.0
) -> list[tuple[dict[str, float | int | str], float]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[dict[str, float | int | str], float]] = []
    for _ in range(n):
        p = {
            "residence_time": float(rng.uniform(0.5, 2)),
            "equivalents": float(rng.uniform(1, 5)),
            "concentration": float(rng.uniform(0.1, 0.5)),
            "temperature": float(rng.uniform(30, 120)),
        }
        rows.append((dict(p), response(p) + float(rng.normal(0, noise))))
    return rows


def test_a_trend_states_its_bayes_factor_against_the_opposite_sign(
    small_spec: CampaignSpec,
) -> None:
    rows = _rows(15, slope=0.01, seed=3)
    result = assess(observed_campaign(small_spec, rows), _hypothesis(RISES))
    c = result.credence
    assert result.statistics["log10_bf"] == pytest.approx(np.log10(c / (1 - c)))


def _interaction_response(p: dict[str, float]) -> float:
    # temperature helps more at long residence times: a positive product term
    return 50 + 4 * (p["temperature"] - 75) / 26 * (p["residence_time"] - 1.25) / 0.43


def test_an_interaction_is_the_student_t_of_the_product_term(small_spec: CampaignSpec) -> None:
    rows = _uniform_rows(30, _interaction_response, seed=4)
    grows = Interaction(
        objective="yield", variable="temperature", moderator="residence_time", sign=1
    )
    result = assess(observed_campaign(small_spec, rows), _hypothesis(grows))
    names = ["residence_time", "equivalents", "concentration", "temperature"]
    x = np.array([[float(p[n]) for n in names] for p, _ in rows])
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    # second order in the pair: the product and both squares
    x = np.column_stack([np.ones(len(rows)), x, x[:, 3] * x[:, 0], x[:, 3] ** 2, x[:, 0] ** 2])
    y = np.array([v for _, v in rows])
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    resid = y - x @ beta
    dof = len(rows) - 8
    se = np.sqrt(resid @ resid / dof * np.linalg.inv(x.T @ x)[5, 5])
    assert result.credence == pytest.approx(stats.t.cdf(beta[5] / se, dof), abs=1e-9)
    assert result.status == HypothesisStatus.SUPPORTED
    shrinks = grows.model_copy(update={"sign": -1})
    assert assess(observed_campaign(small_spec, rows), _hypothesis(shrinks)).status == (
        HypothesisStatus.REFUTED
    )


def _peak_at_80(p: dict[str, float]) -> float:
    return 90 - (p["temperature"] - 80) ** 2 / 40


def test_an_optimum_inside_the_range_is_supported_and_one_elsewhere_refuted(
    small_spec: CampaignSpec,
) -> None:
    campaign = observed_campaign(small_spec, _uniform_rows(30, _peak_at_80, seed=5))
    around = Optimum(objective="yield", variable="temperature", low=70, high=90)
    cold = Optimum(objective="yield", variable="temperature", low=30, high=50)
    found = assess(campaign, _hypothesis(around))
    assert found.status == HypothesisStatus.SUPPORTED
    assert found.statistics["best_median"] == pytest.approx(80, abs=2)
    # the prior of a 20 degC window in 90 degC of range is 2/9: the factor is against that
    c, prior = found.credence, 20 / 90
    expected = np.log10(min(c, 1 - 1e-12) / max(1 - c, 1e-12)) - np.log10(prior / (1 - prior))
    assert found.statistics["log10_bf"] == pytest.approx(expected)
    assert assess(campaign, _hypothesis(cold)).status == HypothesisStatus.REFUTED


def test_a_monotone_response_puts_the_optimum_at_the_end_of_the_range(
    small_spec: CampaignSpec,
) -> None:
    campaign = observed_campaign(small_spec, _rows(30, slope=0.3, seed=6))
    top = Optimum(objective="yield", variable="temperature", low=110, high=120)
    result = assess(campaign, _hypothesis(top))
    assert result.status == HypothesisStatus.SUPPORTED
    assert result.statistics["best_median"] == pytest.approx(120)
    assert assess(campaign, _hypothesis(top)) == result  # seeded draws: reproducible


def test_an_optimum_with_too_little_data_stays_open(small_spec: CampaignSpec) -> None:
    campaign = observed_campaign(small_spec, _uniform_rows(8, _peak_at_80))
    around = Optimum(objective="yield", variable="temperature", low=70, high=90)
    assert assess(campaign, _hypothesis(around)).status == HypothesisStatus.OPEN


def test_curvature_along_a_ridge_is_not_read_as_an_interaction(small_spec: CampaignSpec) -> None:
    # an optimiser following a ridge (residence time ~ 45 / temperature) over a response curved
    # in temperature and with no product term: a product term alone takes up the curvature
    # (t = 4.7, "supported" before the squares joined the model)
    rng = np.random.default_rng(2)
    rows: list[tuple[dict[str, float | int | str], float]] = []
    for _ in range(28):
        t = float(rng.uniform(30, 100))
        p: dict[str, float | int | str] = {
            "residence_time": float(np.clip(45 / t + rng.normal(0, 0.05), 0.5, 2.0)),
            "equivalents": float(rng.uniform(1, 5)),
            "concentration": float(rng.uniform(0.1, 0.5)),
            "temperature": t,
        }
        rows.append((p, 90 - (t - 40) ** 2 / 30 + float(rng.normal(0, 0.5))))
    pair = Interaction(
        objective="yield", variable="temperature", moderator="residence_time", sign=1
    )
    result = assess(observed_campaign(small_spec, rows), _hypothesis(pair))
    assert result.status == HypothesisStatus.OPEN
    assert result.statistics["t"] == pytest.approx(-1.14, abs=0.01)


def test_the_evidence_needed_is_the_regression_size_plus_three(small_spec: CampaignSpec) -> None:
    # four numeric parameters: an intercept and four slopes, p = 5
    trend = Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)
    pair = Interaction(
        objective="yield", variable="temperature", moderator="residence_time", sign=1
    )
    peak = Optimum(objective="yield", variable="temperature", low=70, high=90)
    assert needed_evidence(small_spec, trend) == 8
    assert needed_evidence(small_spec, pair) == 11  # + product and two squares
    assert needed_evidence(small_spec, peak) == 9  # + square
    rows = _uniform_rows(11, _interaction_response, seed=4)
    short = assess(observed_campaign(small_spec, rows[:10]), _hypothesis(pair))
    assert (short.status, short.credence, short.evidence_n) == (HypothesisStatus.OPEN, 0.5, 10)
    assert assess(observed_campaign(small_spec, rows), _hypothesis(pair)).credence != 0.5
