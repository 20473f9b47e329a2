"""Board lines: what a leaderboard shows of a submission, how lines rank, and when truth shows.

**Nothing computed from the sealed truth is shown while a sealed problem is open.** Regret and
AUC are differences from the sealed optimum: next to a participant's own measurements (best
found) they give the optimum's value away, within the noise. So while a sealed problem is open
its board ranks by the best *measured* value (what participants see of their own experiments
anyway), with the same bootstrap CIs and ties, and its regret and AUC columns are withheld.
When the problem closes and its secret is revealed, the board ranks by regret on the truth, the
private split opens, and the withheld columns appear. Open problems (judged by the lab) have no
truth but the measurements and always rank by best found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leaderboard.scoring import rank_with_ties

__all__ = ["SORTS", "BoardRow", "rank_rows", "sort_rows", "truth_sealed"]

SORTS = ("rank", "regret", "auc", "best", "experiments", "wall_s", "name", "participant", "id")
"""Columns a board sorts by."""


def truth_sealed(problem: Mapping[Any, Any]) -> bool:
    """Whether scores computed from the problem's truth must stay hidden (sealed and open)."""
    return bool(problem["kind"] == "sealed" and problem["status"] != "closed")


@dataclass
class BoardRow:
    """One leaderboard line (public fields only: ``regret`` and ``auc`` are None while sealed)."""

    id: int
    name: str
    participant: str
    kind: str
    strategy: str
    regret: float | None
    regret_low: float | None
    regret_high: float | None
    auc: float | None
    best: float | None
    best_low: float | None
    best_high: float | None
    experiments: int | None
    wall_s: float | None
    created: str
    record: str | None
    rank: int = 0
    evidence: list[str] = field(default_factory=list)


def _num(value: float | None, fallback: float | None = None) -> float:
    if value is not None:
        return value
    return fallback if fallback is not None else 0.0


def rank_rows(rows: Sequence[BoardRow], *, by_regret: bool, maximise: bool) -> list[BoardRow]:
    """``rows`` ranked with ties (:func:`leaderboard.scoring.rank_with_ties`), best first.

    Args:
        rows: Scored lines (their ``rank`` is set here).
        by_regret: Rank by regret on the truth (lower is better); else by best measured value.
        maximise: The objective's direction (for best found).
    """
    if by_regret:
        ranks = rank_with_ties(
            [
                (_num(r.regret), _num(r.regret_low, r.regret), _num(r.regret_high, r.regret))
                for r in rows
            ]
        )

        def order_key(r: BoardRow) -> float:
            return r.regret if r.regret is not None else float("inf")
    else:
        ranks = rank_with_ties(
            [(_num(r.best), _num(r.best_low, r.best), _num(r.best_high, r.best)) for r in rows],
            lower_is_better=not maximise,
        )

        def order_key(r: BoardRow) -> float:
            if r.best is None:
                return float("inf")
            return -r.best if maximise else r.best

    for r, rank in zip(rows, ranks, strict=True):
        r.rank = rank
    return sorted(rows, key=lambda r: (r.rank, order_key(r), r.id))


def sort_rows(rows: Sequence[BoardRow], sort: str, *, descending: bool) -> list[BoardRow]:
    """``rows`` sorted by column ``sort`` (one of :data:`SORTS`); lines lacking it go last."""
    if sort == "rank" and not descending:
        return list(rows)

    def sort_key(r: BoardRow) -> Any:
        value = getattr(r, sort)
        if value is None:
            return (1, float("inf"))
        return (0, value.lower() if isinstance(value, str) else value)

    ordered = sorted(rows, key=sort_key, reverse=descending)
    if descending:  # lines lacking the column still go last
        ordered = [r for r in ordered if getattr(r, sort) is not None] + [
            r for r in ordered if getattr(r, sort) is None
        ]
    return ordered
