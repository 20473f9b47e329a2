"""The layering rule of DESIGN.md, the plug-in entry points, and protocol conformance."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from cfl.clock import LabClock
from cfl.devices import DeviceContext, Measures, Reacts, Transfers
from cfl.hypotheses import HypothesisProposer
from cfl.lab import Lab
from cfl.planner import Planner
from cfl.spec import load_spec
from tests.conftest import DEMO_SPEC

REPO = Path(__file__).resolve().parent.parent
SIBLINGS = {"cfl", "agents", "instruments", "robots", "benchmarks", "flows", "leaderboard"}
MAY_IMPORT = {
    "cfl": set(),
    "instruments": {"cfl"},
    "robots": {"cfl"},
    "agents": {"cfl"},
    "benchmarks": {"cfl", "instruments"},
    "flows": SIBLINGS - {"flows"},
    "leaderboard": {"cfl", "benchmarks", "agents"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_packages_import_only_what_the_design_allows(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    for path in (REPO / package).rglob("*.py"):
        wrong = (_imports(path) & SIBLINGS) - allowed
        assert not wrong, f"{path.relative_to(REPO)} imports {sorted(wrong)}"


def test_entry_points_resolve_to_working_plug_ins() -> None:
    spec = load_spec(DEMO_SPEC)
    planners = {ep.name: ep.load() for ep in entry_points(group="cfl.planners")}
    agents = {ep.name: ep.load() for ep in entry_points(group="cfl.agents")}
    devices = {ep.name for ep in entry_points(group="cfl.devices")}
    assert {"sim-flow-reactor", "sim-hplc", "sim-kapex"} <= devices
    assert isinstance(planners["skopt-gp"].from_spec(spec), Planner)
    assert isinstance(agents["offline"].from_spec(spec), HypothesisProposer)


def test_simulated_devices_have_exactly_their_capabilities() -> None:
    spec = load_spec(DEMO_SPEC)
    lab = Lab.build(spec.lab, clock=LabClock(), seed=0)
    capabilities = {
        name: {c.__name__ for c in (Transfers, Reacts, Measures) if isinstance(device, c)}
        for name, device in lab.devices.items()
    }
    assert capabilities == {
        "reactor-1": {"Reacts"},
        "reactor-2": {"Reacts"},
        "hplc-1": {"Measures"},
        "kapex-1": {"Transfers"},
    }
    assert isinstance(lab.bench, type(DeviceContext(LabClock(), lab.bench, 0).bench))
