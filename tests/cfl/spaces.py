"""Search spaces the planner tests share."""

from __future__ import annotations

from cfl.space import CategoricalParameter, ContinuousParameter, IntegerParameter, SearchSpace

MIXED = SearchSpace(
    parameters=(
        ContinuousParameter(name="x", low=0.0, high=1.0),
        IntegerParameter(name="k", low=1, high=5),
        CategoricalParameter(name="solvent", levels=("A", "B", "C")),
        ContinuousParameter(name="flow", low=0.01, high=10.0, log_scale=True),
    )
)
"""One parameter of each kind, one of them on a log scale."""
