"""Board lines: ranking by regret or by best found, sorting, and when the truth may show."""

from __future__ import annotations

from leaderboard.boards import BoardRow, rank_rows, sort_rows, truth_sealed


def _row(i: int, best: float | None, regret: float | None = None, width: float = 0.1) -> BoardRow:
    return BoardRow(
        id=i, name=f"e{i}", participant="p", kind="strategy", strategy="random",
        regret=regret,
        regret_low=None if regret is None else regret - width,
        regret_high=None if regret is None else regret + width,
        auc=None,
        best=best,
        best_low=None if best is None else best - width,
        best_high=None if best is None else best + width,
        experiments=10, wall_s=1.0, created="", record=None,
    )  # fmt: skip


def test_truth_is_sealed_only_while_a_sealed_problem_is_open() -> None:
    assert truth_sealed({"kind": "sealed", "status": "open"})
    assert not truth_sealed({"kind": "sealed", "status": "closed"})
    assert not truth_sealed({"kind": "open", "status": "open"})


def test_ranks_by_best_found_in_the_objectives_direction_with_ties() -> None:
    rows = [_row(1, 5.0), _row(2, 9.0), _row(3, 9.05), _row(4, 1.0)]
    ranked = rank_rows(rows, by_regret=False, maximise=True)
    assert [(r.id, r.rank) for r in ranked] == [(3, 1), (2, 1), (1, 3), (4, 4)]
    ranked = rank_rows(rows, by_regret=False, maximise=False)
    assert [(r.id, r.rank) for r in ranked] == [(4, 1), (1, 2), (2, 3), (3, 3)]


def test_ranks_by_regret_once_the_truth_shows() -> None:
    rows = [_row(1, 9.0, regret=2.0), _row(2, 1.0, regret=0.5)]
    assert [r.id for r in rank_rows(rows, by_regret=True, maximise=True)] == [2, 1]


def test_sorting_puts_lines_without_the_column_last_both_ways() -> None:
    rows = [_row(1, 2.0), _row(2, None), _row(3, 7.0)]
    assert [r.id for r in sort_rows(rows, "best", descending=False)] == [1, 3, 2]
    assert [r.id for r in sort_rows(rows, "best", descending=True)] == [3, 1, 2]
    assert [r.id for r in sort_rows(rows, "rank", descending=False)] == [1, 2, 3]
