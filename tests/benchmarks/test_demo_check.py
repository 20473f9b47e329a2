from __future__ import annotations

import pytest

from benchmarks.demo_check import measure
from cfl.spec import CampaignSpec
from instruments.sim.snar import SnarConditions, simulate_snar, snar_figures
from tests.conftest import observed_campaign


def test_ratio_is_the_true_yield_at_the_best_measured_point_over_the_attainable(
    small_spec: CampaignSpec,
) -> None:
    points: list[tuple[dict[str, float | int | str], float]] = [
        # (conditions, measured yield): the noisy reading ranks the second one best
        (
            {"residence_time": 2.0, "equivalents": 2.2, "concentration": 0.45, "temperature": 30.0},
            90.0,
        ),
        (
            {"residence_time": 0.5, "equivalents": 5.0, "concentration": 0.1, "temperature": 120.0},
            95.0,
        ),
    ]
    campaign = observed_campaign(small_spec, points)
    figure = measure(campaign)
    conditions = SnarConditions(0.5, 5.0, 0.1, 120.0)
    truth = snar_figures(simulate_snar(conditions), conditions).yield_pct
    assert figure.measured_yield == 95.0 and figure.experiments == 2
    assert figure.true_yield == pytest.approx(truth)
    assert figure.attainable_yield == pytest.approx(91.72, abs=0.05)
    assert figure.ratio == pytest.approx(truth / figure.attainable_yield)
    assert figure.ratio < 0.9  # a lucky reading at a poorer point does not pass the goal
