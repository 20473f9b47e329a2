from __future__ import annotations

import numpy as np
import pytest

from cfl.discriminate import discriminating_points, information_gain
from cfl.events import HypothesisProposed
from cfl.models import Hypothesis, HypothesisStatus, Prediction, Trend
from cfl.spec import CampaignSpec
from tests.conftest import observed_campaign


def test_information_gain_is_half_the_log_variance_ratio() -> None:
    # one row (1, 0): A = inv(diag(1 + r, r)); a candidate (0, 1) informs the slope fully
    rows = np.array([[1.0, 0.0]])
    r = 1e-3
    gain = information_gain(rows, 1, np.array([[0.0, 1.0], [1.0, 0.0]]))
    before = 1 / r
    after = before - before**2 / (1 + before)
    assert gain[0] == pytest.approx(0.5 * np.log(before / after))
    assert gain[1] == pytest.approx(0.0)  # another intercept-only row says nothing of the slope


def test_spreading_a_variable_informs_its_slope_more_than_repeating_its_middle() -> None:
    rows = np.array([[1.0, -1.0], [1.0, 1.0]])
    ends, middle = information_gain(rows, 1, np.array([[1.0, 1.0], [1.0, 0.0]]))
    assert ends > middle == pytest.approx(0.0, abs=1e-9)


def _open(hid: str, prediction: Prediction, registered_after: int) -> Hypothesis:
    return Hypothesis(
        id=hid,
        statement=hid,
        kind="effect",
        prediction=prediction,
        rationale="r",
        author="human:ada",
        registered_after=registered_after,
    )


def _rows(n: int) -> list[tuple[dict[str, float | int | str], float]]:
    rng = np.random.default_rng(0)
    return [
        (
            {
                "residence_time": float(rng.uniform(0.5, 2)),
                "equivalents": float(rng.uniform(1, 5)),
                "concentration": float(rng.uniform(0.1, 0.5)),
                "temperature": float(rng.uniform(30, 120)),
            },
            50.0,
        )
        for _ in range(n)
    ]


def test_points_for_a_trend_lie_in_its_range_and_name_it(small_spec: CampaignSpec) -> None:
    campaign = observed_campaign(small_spec, _rows(8))
    cold = Trend(objective="yield", variable="temperature", sign=1, low=30, high=50)
    campaign.apply(HypothesisProposed(lab_time_s=0, hypothesis=_open("H01", cold, 8)))
    aims = discriminating_points(campaign, 3, [], seed=1)
    assert len(aims) == 3
    assert all(30 <= float(a.point["temperature"]) <= 50 for a in aims)
    assert {a.hypotheses for a in aims} == {("H01",)}
    # the batch spreads along the slope it must estimate: both ends of the range are used
    temperatures = sorted(float(a.point["temperature"]) for a in aims)
    assert temperatures[0] < 35 and temperatures[-1] > 45
    assert discriminating_points(campaign, 3, [], seed=1) == aims  # seeded


def test_nothing_is_designed_when_no_hypothesis_is_open(small_spec: CampaignSpec) -> None:
    campaign = observed_campaign(small_spec, _rows(8))
    settled = _open(
        "H01", Trend(objective="yield", variable="temperature", sign=1, low=30, high=50), 0
    ).model_copy(update={"status": HypothesisStatus.SUPPORTED})
    campaign.apply(HypothesisProposed(lab_time_s=0, hypothesis=settled))
    assert discriminating_points(campaign, 2, [], seed=1) == []
