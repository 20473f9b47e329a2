"""The planner benchmark as a flow, for a scheduled (e.g. nightly) deployment."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

__all__ = ["benchmark"]


@flow(name="benchmark", persist_result=False)
def benchmark(
    out: str = "reports/bench/nightly",
    problems: str = "all",
    strategies: str = "all",
    seeds: int = 3,
    budget: int = 40,
    batch: int = 1,
) -> dict[str, str]:
    """Run ``cfl bench run`` (:func:`benchmarks.harness.run`); the strategies skipped and why."""
    from benchmarks import harness
    from benchmarks import problems as problem_set
    from benchmarks import strategies as strategy_set

    log = get_run_logger()
    return harness.run(
        problem_set.parse(problems),
        strategy_set.parse(strategies),
        list(range(seeds)),
        budget,
        batch,
        Path(out),
        command=f"flow benchmark out={out} problems={problems} strategies={strategies}",
        progress=log.info,
    )
