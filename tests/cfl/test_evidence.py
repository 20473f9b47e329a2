from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cfl.evidence import SUPPORT, assess
from cfl.models import (
    BestLevel,
    Hypothesis,
    HypothesisStatus,
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
