"""Scores: hand-computed AUC, bootstrap CIs and ranks that tie when CIs overlap."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.scoring import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    auc,
    bootstrap_ci,
    rank_with_ties,
    summarise,
)


def test_auc_is_the_mean_of_the_regret_curve() -> None:
    assert auc([4.0, 2.0, 2.0, 0.0]) == 2.0
    assert auc([1.0]) == 1.0
    with pytest.raises(ValueError):
        auc([])


def test_bootstrap_ci_one_value_is_the_point_and_equal_values_have_no_width() -> None:
    assert bootstrap_ci([3.5]) == (3.5, 3.5)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_bootstrap_ci_two_values_by_hand() -> None:
    # Resampled means of {0, 1} are 0 (p=1/4), 0.5 (1/2), 1 (1/4): the 2.5 and 97.5 percentiles
    # of 2000 such means are 0 and 1.
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)


def test_bootstrap_ci_is_seeded_and_matches_its_definition() -> None:
    values = [1.0, 2.0, 4.0, 8.0]
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, 4, size=(BOOTSTRAP_RESAMPLES, 4))
    means = np.asarray(values)[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert bootstrap_ci(values) == (pytest.approx(low), pytest.approx(high))
    assert bootstrap_ci(values) == bootstrap_ci(values)
    s = summarise(values)
    assert s.mean == 3.75 and s.n == 4 and s.low <= 3.75 <= s.high


def test_ranks_tie_when_intervals_overlap() -> None:
    # A [0, 1] and B [0.5, 2] overlap: both first. C [3, 4] is worse than both: third.
    # D [1.5, 3.5] overlaps B and C but lies above A: second (one entry is surely better).
    intervals = [(0.5, 0.0, 1.0), (1.0, 0.5, 2.0), (3.5, 3.0, 4.0), (2.5, 1.5, 3.5)]
    assert rank_with_ties(intervals) == [1, 1, 3, 2]


def test_ranks_higher_is_better() -> None:
    intervals = [(10.0, 9.0, 11.0), (5.0, 4.0, 6.0), (10.5, 10.0, 11.0)]
    assert rank_with_ties(intervals, lower_is_better=False) == [1, 3, 1]
