"""Scores of one run, their summary over seeds with bootstrap CIs, and ranks that tie.

Per seed (one run of a strategy, or one interactive session), from the server-side trace:

* **best found**: the best *measured* value of the objective (what the participant saw), in the
  objective's own direction;
* **regret**: ``gain(optimum) - gain(true value of the incumbent)`` after the last experiment,
  where the incumbent is the best measured point, scored on the sealed truth (shown only after
  the reveal, like the truth itself: :mod:`leaderboard.boards`); lower is better, 0 is perfect;
* **AUC**: the area under the regret curve divided by the number of experiments, i.e. the mean
  of the regret after experiment 1, 2, ..., n: lower is better; it rewards getting there early.

Over seeds, each metric's mean with a **bootstrap 95 % CI**: :data:`BOOTSTRAP_RESAMPLES` resamples
of the seeds with replacement, drawn from ``numpy.random.default_rng(BOOTSTRAP_SEED)`` (so a
summary is reproducible), the interval between the 2.5th and 97.5th percentile of the resampled
means (percentile bootstrap). With one seed the interval is the point.

**Ranks**: by the mean (ascending for regret and AUC, descending for best found when maximising);
an entry's rank is 1 + the number of entries whose CI lies entirely on the better side of its own
CI. Entries whose CIs overlap therefore share a rank ("statistically tied").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "Summary",
    "auc",
    "bootstrap_ci",
    "rank_with_ties",
    "summarise",
]

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261124


def auc(regrets: Sequence[float]) -> float:
    """Mean of the regret curve (area under it, one unit per experiment, over its length)."""
    if not regrets:
        raise ValueError("no experiments: the regret curve is empty")
    return float(sum(regrets) / len(regrets))


def bootstrap_ci(
    values: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap 95 % CI of the mean of ``values`` (see the module docstring)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to bootstrap")
    if data.size == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, data.size, size=(resamples, data.size))
    means = data[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class Summary:
    """One metric over seeds: mean and its bootstrap 95 % CI."""

    mean: float
    low: float
    high: float
    n: int


def summarise(values: Sequence[float]) -> Summary:
    """Mean and bootstrap CI of ``values``."""
    low, high = bootstrap_ci(values)
    return Summary(float(np.mean(values)), low, high, len(values))


def rank_with_ties(
    intervals: Sequence[tuple[float, float, float]], *, lower_is_better: bool = True
) -> list[int]:
    """Ranks of entries given as ``(mean, ci_low, ci_high)``; overlapping CIs tie.

    Rank of entry i = 1 + #entries j whose CI is entirely better than i's (for lower is better:
    ``high_j < low_i``).
    """
    ranks = []
    for _, low_i, high_i in intervals:
        if lower_is_better:
            better = sum(1 for _, _, high_j in intervals if high_j < low_i)
        else:
            better = sum(1 for _, low_j, _ in intervals if low_j > high_i)
        ranks.append(1 + better)
    return ranks
