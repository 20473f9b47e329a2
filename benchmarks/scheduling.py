"""Dispatcher benchmark: many instruments, two robots, hundreds of experiments, virtual clock.

Measures what issue 3 asks of the scheduler: how busy the devices are kept over a long campaign,
and how much wall time the dispatcher adds per step. Run::

    python -m benchmarks.scheduling                      # both labs, 500 experiments each
    python -m benchmarks.scheduling --lab assay --experiments 100

Two labs, each with 16 instruments and 2 simulated KAPEX robots:

* ``assay``: 16 assay stations, each running a fixed analytical method (:class:`SimAssayStation`:
  30 min, lognormal jitter of 10 %); a robot brings each vial from the rack and takes it to the
  archive afterwards. The shape of an analytical core facility.
* ``snar``: the demo's SnAr workflow at scale: 10 flow reactors and 6 HPLCs (reaction times vary
  with the conditions, 3-20 min; HPLC 6.5 min), three robot transfers per experiment.

Figures: *utilisation* of a device is the lab time it spent running steps divided by the
campaign's lab time (makespan), start-up and drain included; the summary gives the mean over the
16 instruments and over the 2 robots. *Dispatcher overhead per step* is the campaign's wall time
divided by the number of steps run: everything CFL does per step (pool, journal, ledger hashing,
SQLite commit, event fold) plus the simulators' own computation, so it is an upper bound.
Planning is the random planner (microseconds), as planning is not what is measured here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.campaign import Campaign
from cfl.devices import DeviceContext, Reading, parse_options
from cfl.runner import open_or_create, run_campaign
from cfl.spec import load_spec
from cfl.store import Store

ROBOT = {
    "driver": "sim-kapex",
    "role": "robot",
    "options": {"home": "rack", "travel_s": 15, "grasp_s": 5, "release_s": 4},
}


class AssayOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method_min: float = Field(default=30.0, gt=0)
    jitter: float = Field(default=0.1, ge=0)
    """Sigma of the lognormal run-time factor (sample preparation, equilibration vary)."""


class SimAssayStation:
    """A generic analytical station: one method, a run time that varies a little.

    Run time: ``method_min * exp(jitter * z)``, ``z ~ N(0, 1)`` drawn per sample. The reported
    ``signal`` is a smooth function of the vial's position in the queue; its value is not what
    the benchmark measures.
    """

    measurands: ClassVar[Mapping[str, tuple[float, float]]] = {"signal": (0.0, 2.0)}

    def __init__(self, name: str, options: AssayOptions, context: DeviceContext) -> None:
        self.name = name
        self._options = options
        self._context = context

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SimAssayStation:
        return cls(name, parse_options(AssayOptions, options, device=name), context)

    def expected_duration_s(self, command: str, args: Mapping[str, Any]) -> float | None:
        return 60.0 * self._options.method_min if command == "measure" else None

    async def measure(self, sample: str) -> Reading:
        self._context.bench.require_at(sample, self.name, device=self.name, command="measure")
        rng = self._context.rng(self.name, sample)
        minutes = self._options.method_min * float(rng.lognormal(0.0, self._options.jitter))
        await self._context.clock.sleep(60.0 * minutes)
        return Reading(values={"signal": float(rng.uniform(0.5, 1.5))})


def _assay_spec(experiments: int) -> dict[str, Any]:
    devices: dict[str, Any] = {
        f"assay-{i:02d}": {"driver": "benchmarks.scheduling:SimAssayStation", "role": "assay"}
        for i in range(1, 17)
    }
    devices.update({"kapex-1": ROBOT, "kapex-2": ROBOT})
    return {
        "name": "bench-assay",
        "goal": "Keep 16 assay stations busy.",
        "space": {
            "parameters": [
                {"name": "x", "type": "continuous", "low": 0, "high": 1},
                {"name": "y", "type": "continuous", "low": 0, "high": 1},
            ]
        },
        "objectives": [{"name": "signal", "direction": "maximize"}],
        "budget": {"experiments": experiments},
        "batch_size": 16,
        "max_in_flight": 48,
        "planner": "random",
        "coscientist": None,
        "lab": {
            "name": "assay-core",
            "clock": "virtual",
            "locations": {"rack": {"supply": True}, "archive": {}, "waste": {"discard": True}},
            "devices": devices,
        },
        "protocol": [
            {"command": "reserve", "role": "assay"},
            {"command": "reserve", "role": "robot"},
            {"command": "pick", "role": "robot", "at": "rack"},
            {"command": "place", "role": "robot", "at": "assay"},
            {"command": "release", "role": "robot"},
            {"command": "measure", "role": "assay"},
            {"command": "reserve", "role": "robot"},
            {"command": "pick", "role": "robot", "at": "assay"},
            {"command": "place", "role": "robot", "at": "archive"},
            {"command": "release", "role": "robot"},
            {"command": "release", "role": "assay"},
        ],
    }


def _snar_spec(experiments: int, demo: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(demo.read_text())
    devices: dict[str, Any] = {
        f"reactor-{i:02d}": {"driver": "sim-flow-reactor", "role": "reactor"} for i in range(1, 11)
    }
    devices.update({f"hplc-{i}": {"driver": "sim-hplc", "role": "hplc"} for i in range(1, 7)})
    devices.update({"kapex-1": ROBOT, "kapex-2": ROBOT})
    data.update(
        name="bench-snar",
        budget={"experiments": experiments},
        batch_size=16,
        max_in_flight=40,
        planner="random",
        coscientist=None,
        stop={},
        lab={
            "name": "snar-at-scale",
            "clock": "virtual",
            "locations": {"rack": {"supply": True}, "archive": {}, "waste": {"discard": True}},
            "devices": devices,
        },
    )
    return data


@dataclass(frozen=True)
class Result:
    lab: str
    experiments: int
    steps: int
    makespan_h: float
    wall_s: float
    instruments: dict[str, float]
    robots: dict[str, float]

    @property
    def overhead_ms(self) -> float:
        return 1000.0 * self.wall_s / self.steps


def run(lab: str, experiments: int, folder: Path) -> Result:
    """Run one benchmark campaign in ``folder`` and measure it."""
    demo = Path(__file__).resolve().parent.parent / "examples" / "snar" / "campaign.yaml"
    data = _assay_spec(experiments) if lab == "assay" else _snar_spec(experiments, demo)
    spec_path = folder / f"{lab}.yaml"
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
    store = Store.open(f"sqlite:///{folder / f'{lab}.db'}")
    journal = open_or_create(store, load_spec(spec_path), new=True).journal
    started = time.perf_counter()
    campaign: Campaign = run_campaign(journal)
    wall = time.perf_counter() - started
    steps = sum(1 for r in store.records(campaign.id) if r.type == "step.completed")
    roles = campaign.spec.lab.roles
    robots = {d: campaign.utilisation(d) for d in roles["robot"]}
    instruments = {
        d: campaign.utilisation(d) for role, ds in roles.items() if role != "robot" for d in ds
    }
    store.close()
    return Result(
        lab,
        len(campaign.observations),
        steps,
        campaign.lab_time_s / 3600,
        wall,
        instruments,
        robots,
    )


def report(results: list[Result]) -> str:
    """A Markdown table of the figures."""
    lines = [
        "| lab | experiments | steps | makespan (lab h) | instruments: mean (min) utilisation "
        "| robots: mean utilisation | wall (s) | overhead per step (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.lab} | {r.experiments} | {r.steps} | {r.makespan_h:.1f} | "
            f"{statistics.mean(r.instruments.values()):.1%} "
            f"({min(r.instruments.values()):.1%}) | {statistics.mean(r.robots.values()):.1%} | "
            f"{r.wall_s:.1f} | {r.overhead_ms:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CFL dispatcher benchmark")
    parser.add_argument("--lab", choices=["assay", "snar", "both"], default="both")
    parser.add_argument("--experiments", type=int, default=500)
    args = parser.parse_args(argv)
    labs = ["assay", "snar"] if args.lab == "both" else [args.lab]
    with tempfile.TemporaryDirectory() as folder:
        results = [run(lab, args.experiments, Path(folder)) for lab in labs]
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
