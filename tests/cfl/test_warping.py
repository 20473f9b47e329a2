from __future__ import annotations

import numpy as np
import pytest

from cfl.warping import power_warp


def test_warp_keeps_the_order_and_reduces_skew() -> None:
    y = -np.array([0.4, 0.5, 1.0, 2.0, 5.0, 20.0, 80.0, 300.0])  # Branin-like scores
    warped = power_warp(y)
    assert np.all(np.diff(warped) < 0)  # same order as y (decreasing)
    standardised = (y - y.mean()) / y.std()

    def skew(v: np.ndarray) -> float:
        return float(np.mean(((v - v.mean()) / v.std()) ** 3))

    assert abs(skew(warped)) < abs(skew(standardised))


def test_warp_of_degenerate_inputs() -> None:
    assert power_warp(np.array([3.0, 3.0, 3.0])).tolist() == [0.0, 0.0, 0.0]
    assert power_warp(np.array([1.0, 3.0])).tolist() == pytest.approx([-1.0, 1.0])
