"""``meta/tasks.parquet``: the task strings and their indices, as pandas-indexed parquet.

LeRobot reads this file with ``pandas.read_parquet`` and looks a task up as
``tasks.iloc[task_index].name``: the task string must be the frame's *index* (named ``task``), not
an ordinary column, or every sample's ``task`` comes back as a number. pyarrow alone cannot say
"this column is the index"; the ``pandas`` schema metadata does, so it is written here by hand,
in the form pandas 2 and 3 both read, without importing pandas.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["PANDAS_METADATA", "read_tasks", "write_tasks"]

PANDAS_METADATA = {
    "index_columns": ["task"],
    "column_indexes": [
        {
            "name": None,
            "field_name": None,
            "pandas_type": "unicode",
            "numpy_type": "object",
            "metadata": {"encoding": "UTF-8"},
        }
    ],
    "columns": [
        {
            "name": "task_index",
            "field_name": "task_index",
            "pandas_type": "int64",
            "numpy_type": "int64",
            "metadata": None,
        },
        {
            "name": "task",
            "field_name": "task",
            "pandas_type": "unicode",
            "numpy_type": "object",
            "metadata": None,
        },
    ],
    "creator": {"library": "pyarrow", "version": pa.__version__},
    "pandas_version": "2.2.3",
}
"""What ``DataFrame({"task_index": ...}, index=Index(tasks, name="task")).to_parquet()`` writes."""


def write_tasks(path: Path, tasks: Sequence[str]) -> None:
    """Write ``tasks``, task ``i`` having ``task_index`` ``i``."""
    table = pa.table(
        {
            "task_index": pa.array(range(len(tasks)), pa.int64()),
            "task": pa.array(list(tasks), pa.string()),
        }
    ).replace_schema_metadata({b"pandas": json.dumps(PANDAS_METADATA).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def read_tasks(path: Path) -> list[str]:
    """The task strings, in ``task_index`` order.

    Raises:
        ValueError: the file lacks a ``task`` or ``task_index`` column, or the indices are not
            ``0 .. n-1``.
    """
    table = pq.read_table(path)
    missing = {"task", "task_index"} - set(table.column_names)
    if missing:
        raise ValueError(f"{path} has no column {sorted(missing)}; it is not a LeRobot task table")
    pairs = sorted(zip(table["task_index"].to_pylist(), table["task"].to_pylist(), strict=True))
    if [index for index, _ in pairs] != list(range(len(pairs))):
        raise ValueError(f"{path}: task_index must be 0..{len(pairs) - 1} without gaps")
    return [str(task) for _, task in pairs]
