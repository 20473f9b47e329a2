from __future__ import annotations

import numpy as np
import pytest

from cfl.pareto import hypervolume, pareto_mask
from cfl.scalarise import augmented_chebyshev, simplex_weights


def test_pareto_mask_keeps_nondominated_and_duplicates() -> None:
    mask = pareto_mask([[1, 3], [2, 2], [1, 1], [2, 2], [3, 0], [0.5, 3]])
    assert mask.tolist() == [True, True, False, True, True, False]


def test_hypervolume_two_objectives_by_hand() -> None:
    # staircase of three boxes: 1×3 + 1×2 + 1×1 = 6
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [0, 0]) == pytest.approx(6.0)
    # a dominated point and one below the reference add nothing
    assert hypervolume([[1, 3], [2, 2], [3, 1], [1, 1], [5, -1]], [0, 0]) == pytest.approx(6.0)
    assert hypervolume([[3, 4]], [1, 1]) == pytest.approx(6.0)
    assert hypervolume(np.empty((0, 2)), [0, 0]) == 0.0


def test_hypervolume_three_objectives_by_inclusion_exclusion() -> None:
    # three boxes of volume 2 whose pairwise and triple intersections are the unit cube:
    # 3 × 2 - 3 × 1 + 1 = 4
    front = [[2, 1, 1], [1, 2, 1], [1, 1, 2]]
    assert hypervolume(front, [0, 0, 0]) == pytest.approx(4.0)
    assert hypervolume([[1, 2, 3, 4]], [0, 0, 0, 0]) == pytest.approx(24.0)


def test_hypervolume_rejects_mismatched_reference() -> None:
    with pytest.raises(ValueError, match="reference"):
        hypervolume([[1, 2]], [0, 0, 0])


def test_augmented_chebyshev_by_hand() -> None:
    values = np.array([[0.0, 10.0], [1.0, 0.0], [0.5, 5.0]])
    # normalised rows: (0, 1), (1, 0), (0.5, 0.5); weights (0.5, 0.5)
    s = augmented_chebyshev(values, np.array([0.5, 0.5]))
    np.testing.assert_allclose(s, [0.0 + 0.05 * 0.5, 0.0 + 0.05 * 0.5, 0.25 + 0.05 * 0.5])


def test_simplex_weights_sum_to_one() -> None:
    w = simplex_weights(np.random.default_rng(0), 3)
    assert w.shape == (3,) and w.sum() == pytest.approx(1.0) and np.all(w >= 0)
