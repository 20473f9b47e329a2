from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cfl.errors import SpecError
from cfl.spec import load_spec
from tests.conftest import DEMO_SPEC, demo_spec_data, write_spec


def test_demo_spec_loads_with_its_lab() -> None:
    spec = load_spec(DEMO_SPEC)
    assert spec.name == "snar-yield"
    assert spec.space.names == ("residence_time", "equivalents", "concentration", "temperature")
    assert spec.lab.roles == {
        "reactor": ["reactor-1", "reactor-2"],
        "hplc": ["hplc-1"],
        "robot": ["kapex-1"],
    }
    assert spec.lab.clock == "virtual"
    assert [o.name for o in spec.objectives] == ["yield", "e_factor"]
    assert len(spec.protocol) == 18


def _error(tmp_path: Path, change: Any) -> SpecError:
    data = demo_spec_data()
    change(data)
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path, data))
    return info.value


def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["space"]["parameters"][3]["hihg"] = d["space"]["parameters"][3].pop("high")

    error = _error(tmp_path, change)
    assert error.field == "space.parameters[3].hihg"  # the misspelling leads, with its fix
    assert "unknown field 'hihg'; did you mean 'high'?" in str(error)
    assert "space.parameters[3].high: required field is missing" in str(error)


def test_wrong_type_names_value_and_field(tmp_path: Path) -> None:
    error = _error(tmp_path, lambda d: d["space"]["parameters"][0].update(low="short"))
    assert error.field == "space.parameters[0].low"
    assert "got 'short'" in str(error)


def test_reversed_bounds(tmp_path: Path) -> None:
    error = _error(tmp_path, lambda d: d["space"]["parameters"][3].update(low=120, high=30))
    assert error.field == "space.parameters[3]"
    assert "low must be less than high, got low=120.0, high=30.0; swap the bounds" in str(error)


def test_unknown_driver_lists_installed_ones(tmp_path: Path) -> None:
    error = _error(tmp_path, lambda d: d["lab"]["devices"]["hplc-1"].update(driver="sim-hplcx"))
    assert error.field == "lab.devices.hplc-1.driver"
    assert "'sim-flow-reactor', 'sim-hplc', 'sim-kapex'" in str(error)


def test_lab_file_errors_are_prefixed_with_lab(tmp_path: Path) -> None:
    data = demo_spec_data()
    lab = copy.deepcopy(data["lab"])
    lab["devices"]["kapex-1"]["rol"] = "robot"
    (tmp_path / "lab.yaml").write_text(__import__("yaml").safe_dump(lab))
    data["lab"] = "lab.yaml"
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path, data))
    assert info.value.field == "lab.devices.kapex-1.rol"


def test_driver_options_are_validated_by_the_driver(tmp_path: Path) -> None:
    error = _error(
        tmp_path, lambda d: d["lab"]["devices"]["hplc-1"].update(options={"noise_pct": -1})
    )
    assert error.field is not None and error.field.startswith("lab.devices.hplc-1")
    assert "noise_pct" in str(error)


def _protocol_error(tmp_path: Path, steps: list[dict[str, Any]]) -> SpecError:
    return _error(tmp_path, lambda d: d.update(protocol=steps))


R, P = "reserve", "release"


@pytest.mark.parametrize(
    ("steps", "field", "message"),
    [
        ([{"command": "boil", "role": "reactor"}], "protocol[0]", "unknown command 'boil'"),
        (
            [{"command": R, "role": "spectrometer"}],
            "protocol[0].role",
            "no device in the lab has role 'spectrometer'",
        ),
        ([{"command": "measure", "role": "hplc"}], "protocol[0]", "used before it is reserved"),
        (
            [{"command": R, "role": "robot"}, {"command": "pick", "role": "robot"}],
            "protocol[1]",
            "pick needs 'at'",
        ),
        (
            [
                {"command": R, "role": "robot"},
                {"command": "pick", "role": "robot", "at": "reactor"},
            ],
            "protocol[1].at",
            "'reactor' is neither a location",
        ),
        (
            [
                {"command": R, "role": "robot"},
                {"command": "pick", "role": "robot", "at": "rack"},
                {"command": P, "role": "robot"},
            ],
            "protocol[2]",
            "released while holding a sample",
        ),
        (
            [{"command": R, "role": "robot"}, {"command": "place", "role": "robot", "at": "rack"}],
            "protocol[1]",
            "places without holding",
        ),
        (
            [{"command": R, "role": "hplc"}, {"command": "react", "role": "hplc"}],
            "protocol[1]",
            "cannot react: it does not implement Reacts",
        ),
        (
            [{"command": R, "role": "hplc"}, {"command": "measure", "role": "hplc"}],
            "protocol",
            "still reserved at the end",
        ),
        (
            [{"command": R, "role": "reactor"}, {"command": P, "role": "reactor"}],
            "protocol",
            "never measures",
        ),
    ],
)
def test_protocol_checks(
    tmp_path: Path, steps: list[dict[str, Any]], field: str, message: str
) -> None:
    error = _protocol_error(tmp_path, steps)
    assert error.field == field
    assert message in str(error)


def test_objective_no_instrument_measures(tmp_path: Path) -> None:
    error = _error(
        tmp_path, lambda d: d["objectives"].append({"name": "purity", "direction": "maximize"})
    )
    assert error.field == "objectives"
    assert "['purity'] are not measured" in str(error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(name="SnAr Yield"), "lowercase letters, digits and hyphens"),
        (lambda d: d["objectives"][0].update(weight=0), "at least one objective needs a weight"),
        (
            lambda d: d.update(stop={"target": {"objective": "purity", "value": 1}}),
            "stop.target.objective 'purity' is not an objective",
        ),
        (lambda d: d.update(batch_size=0), "greater than or equal to 1"),
        (lambda d: d.update(planner="cma-es"), "unknown plug-in 'cma-es' in cfl.planners"),
        (lambda d: d.update(coscientist="gpt"), "unknown plug-in 'gpt' in cfl.agents"),
        (
            lambda d: d.update(plan_for="front"),
            "plan_for: front needs two or more objectives with a weight above 0, got ['yield']",
        ),
        (
            lambda d: (
                d["objectives"][1].update(weight=1),
                d.update(plan_for="front", planner="skopt-gp"),
            ),
            "planner 'skopt-gp' plans on the weighted score only",
        ),
        (lambda d: d.update(plan_for="pareto"), "Input should be 'score' or 'front'"),
        (
            lambda d: (
                d["objectives"][1].update(weight=1),
                d.update(plan_for="front", stop={"converged": True}),
            ),
            "with plan_for: front stop by budget, patience or target",
        ),
    ],
)
def test_campaign_level_checks(tmp_path: Path, change: Any, message: str) -> None:
    assert message in str(_error(tmp_path, change))


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="is not valid YAML"):
        load_spec(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="must hold a mapping"):
        load_spec(listed)


def test_driver_given_by_import_path(tmp_path: Path) -> None:
    data = demo_spec_data()
    data["lab"]["devices"]["hplc-1"]["driver"] = "instruments.sim.hplc:SimHPLC"
    assert load_spec(write_spec(tmp_path, data)).lab.driver_class("hplc-1").__name__ == "SimHPLC"
    data["lab"]["devices"]["hplc-1"]["driver"] = "instruments.sim.hplc:Nope"
    with pytest.raises(SpecError, match=r"cannot import 'instruments\.sim\.hplc:Nope'"):
        load_spec(write_spec(tmp_path, data))
