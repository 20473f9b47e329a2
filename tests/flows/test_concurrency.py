"""device:<name> global concurrency limits: two step tasks on one device never overlap."""

from __future__ import annotations

import asyncio
import itertools
import time

from tests.flows.conftest import PrefectServer


def test_two_step_tasks_on_one_device_never_overlap(prefect_server: PrefectServer) -> None:
    from prefect import flow

    from flows.campaign import _work, step
    from flows.limits import ensure_device_limits

    assert ensure_device_limits(["overlap-probe"]) == ["device:overlap-probe"]
    assert ensure_device_limits(["overlap-probe"]) == []  # created once
    spans: list[tuple[str, float, float]] = []

    def work(label: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            start = time.monotonic()
            await asyncio.sleep(0.4)
            spans.append((label, start, time.monotonic()))

        return run

    async def one(label: str) -> None:
        _work.set(work(label))
        await step(
            experiment_id=label,
            attempt=1,
            index=0,
            command="react",
            role="r",
            device="overlap-probe",
        )

    @flow
    async def two_at_once() -> None:
        await asyncio.gather(one("A"), one("B"), one("C"))

    asyncio.run(two_at_once())
    spans.sort(key=lambda s: s[1])
    assert len(spans) == 3
    for (_, _, end), (_, start, _) in itertools.pairwise(spans):
        assert start >= end, spans
