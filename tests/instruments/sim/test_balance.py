"""The simulated analytical balance: mass from the bench sample, settling time, readability,
repeatability, drift since the last tare, faults and options."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock
from cfl.devices import DeviceContext, Measures, Reading
from cfl.errors import DeviceFault, SpecError
from cfl.faults import OUT_OF_RANGE_VALUE, FaultSpec
from instruments.sim.balance import BalanceOptions, SimBalance
from instruments.sim.snar import MOLAR_MASS
from tests.instruments.sim.helpers import (
    capabilities,
    hangs_until_deadline,
    lab_with,
    load,
    move,
    station,
    timed,
)

NAME = "balance-1"
SNAR_VIAL = {"dfnb": 0.1, "pyrrolidine": 0.25, "ortho": 0.15, "para": 0.01, "bis": 0.02}
SALT: dict[str, JsonValue] = {
    "solvent_density_g_ml": 1.0,
    "solutes": {"salt": {"molar_mass_g_mol": 100.0, "density_g_ml": 2.0}},
    "vial_tare_g": 10.0,
    "repeatability_g": 0.0,
    "drift_g_per_h": 0.0,
}
"""Water-like solvent and one solute with round numbers; no noise and no drift."""


def _balance(
    options: Mapping[str, JsonValue] | None = None,
    *,
    contents: Mapping[str, float] | None = None,
    charge: Mapping[str, float | int | str] | None = None,
    seed: int = 1,
    faults: tuple[FaultSpec, ...] = (),
) -> tuple[LabClock, Bench, SimBalance]:
    """A balance with vial S1 (the SnAr vial unless ``contents`` is given) on its pan."""
    clock, bench, context = station(NAME, seed=seed, faults=faults)
    balance = SimBalance.from_config(NAME, options or {}, context)
    load(bench, "S1", NAME, contents=SNAR_VIAL if contents is None else contents, charge=charge)
    return clock, bench, balance


def _weigh(clock: LabClock, balance: SimBalance, sample: str = "S1") -> tuple[Reading, float]:
    return timed(clock, lambda: balance.measure(sample))


def test_balance_only_measures_and_does_not_dose() -> None:
    _, _, balance = _balance()

    assert capabilities(balance) == {"Measures"}
    assert isinstance(balance, Measures)
    assert balance.measurands == {"mass_g": (-7.0, 220.0)}


def test_default_options_are_the_documented_ones() -> None:
    o = BalanceOptions()

    assert (o.vial_tare_g, o.fill_volume_ml, o.solvent_density_g_ml) == (7.0, 3.0, 0.789)
    assert (o.capacity_g, o.readability_g, o.repeatability_g) == (220.0, 1e-4, 1e-4)
    assert (o.settle_tau_s, o.stable_within_g, o.stability_window_s) == (0.5, 1e-5, 1.0)
    assert o.drift_g_per_h == 1e-4
    assert {s: v.molar_mass_g_mol for s, v in o.solutes.items()} == dict(
        zip(SNAR_VIAL, MOLAR_MASS, strict=True)
    )


def test_solution_mass_is_ideal_mixing_of_solvent_and_solutes() -> None:
    # 1 M of a 100 g/mol solute of density 2 g/mL takes phi = 100 / 1000 / 2 = 5 % of the volume;
    # 2 mL of solution: 2 * (1.0 * 0.95 + 0.1) = 2.1 g.
    clock, _, balance = _balance(SALT, contents={"salt": 1.0}, charge={"volume_ml": 2.0})

    reading, _ = _weigh(clock, balance)

    assert dict(reading.values) == {"mass_g": 2.1}


def test_a_vial_without_a_recorded_volume_holds_one_reactor_volume() -> None:
    # The flow reactor collects 3 mL; the charge holds only its conditions.
    charge: dict[str, float | int | str] = {"temperature": 90.0, "residence_time": 1.0}
    clock, _, balance = _balance(SALT, contents={"salt": 1.0}, charge=charge)

    reading, _ = _weigh(clock, balance)

    assert reading.values["mass_g"] == 3.15


def test_the_snar_vial_weighs_by_the_documented_densities() -> None:
    _, bench, balance = _balance()
    g_per_ml = {s: c * m / 1000 for (s, c), m in zip(SNAR_VIAL.items(), MOLAR_MASS, strict=True)}
    density = {"dfnb": 1.451, "pyrrolidine": 0.852, "ortho": 1.3, "para": 1.3, "bis": 1.3}
    phi = sum(g_per_ml[s] / density[s] for s in SNAR_VIAL)

    expected = 3.0 * (0.789 * (1 - phi) + sum(g_per_ml.values()))

    assert balance.contents_g(bench.sample("S1")) == pytest.approx(expected, rel=1e-12)
    assert 2.4 < expected < 2.5


def test_an_empty_vial_weighs_nothing_net() -> None:
    clock, _, balance = _balance(SALT, contents={})

    reading, _ = _weigh(clock, balance)

    assert reading.values["mass_g"] == 0.0


def test_the_reading_is_rounded_to_the_readability() -> None:
    # 1.23456 mL of a 1 g/mL solvent, less the settling residual 1e-5 * exp(-2) = 1.4e-6 g
    charge: dict[str, float | int | str] = {"volume_ml": 1.23456}
    clock, _, fine = _balance(SALT, contents={}, charge=charge)
    clock_c, _, coarse = _balance({**SALT, "readability_g": 1e-3}, contents={}, charge=charge)

    assert _weigh(clock, fine)[0].values["mass_g"] == 1.2346
    assert _weigh(clock_c, coarse)[0].values["mass_g"] == 1.235


def test_the_reading_is_taken_with_the_settling_residual_still_in_it() -> None:
    # With no stability window the reading is taken the moment the approach is within 1e-5 g.
    options = {**SALT, "readability_g": 1e-5, "stability_window_s": 0.0}
    clock, _, balance = _balance(options, contents={}, charge={"volume_ml": 2.0})

    reading, _ = _weigh(clock, balance)

    assert reading.values["mass_g"] == 1.99999


def test_settling_time_is_tau_ln_step_over_band_plus_the_stability_window() -> None:
    # An empty 10 g vial on an empty pan: 0.5 s * ln(10 / 1e-5) + 1 s
    clock, _, balance = _balance(SALT, contents={})

    reading, elapsed = _weigh(clock, balance)

    assert elapsed == pytest.approx(0.5 * math.log(1e6) + 1.0, rel=1e-12)
    assert elapsed == pytest.approx(7.907755, abs=1e-6)
    assert reading.raw["settle_s"] == 7.908


def test_a_heavier_load_takes_longer_to_settle() -> None:
    clock, _, light = _balance(SALT, contents={}, charge={"volume_ml": 10.0})
    clock_h, _, heavy = _balance({**SALT, "settle_tau_s": 2.0}, contents={},
                                 charge={"volume_ml": 90.0})

    _, light_s = _weigh(clock, light)
    _, heavy_s = _weigh(clock_h, heavy)

    assert light_s == pytest.approx(0.5 * math.log(20 / 1e-5) + 1.0)
    assert heavy_s == pytest.approx(2.0 * math.log(100 / 1e-5) + 1.0)


def test_the_zero_drifts_linearly_with_lab_time_since_the_tare() -> None:
    # 1 mg/h for 2 h: +2 mg on an empty vial (plus 2.5 ug over the 9 s of settling, below 0.1 mg)
    clock, bench, balance = _balance({**SALT, "drift_g_per_h": 1e-3}, contents={})

    async def weigh_later() -> tuple[Reading, Reading, float]:
        await clock.sleep(7200.0)
        drifted = await balance.measure("S1")
        move(bench, "S1", "rack")
        start = clock.now()
        await balance.tare()
        tare_s = clock.now() - start
        move(bench, "S1", NAME)
        return drifted, await balance.measure("S1"), tare_s

    (drifted, after_tare, tare_s), _ = timed(clock, weigh_later)

    assert drifted.values["mass_g"] == 0.002
    assert drifted.raw["hours_since_tare"] == pytest.approx((7200 + 7.907755) / 3600, abs=1e-6)
    assert balance.drift_g(balance.tared_at_s + 1800.0) == pytest.approx(5e-4)
    assert tare_s == 1.0
    assert after_tare.values["mass_g"] == 0.0


def test_tare_with_a_vial_on_the_pan_faults() -> None:
    clock, _, balance = _balance()

    with pytest.raises(DeviceFault, match=r"balance-1 cannot tare: \['S1'\] on the pan") as e:
        timed(clock, balance.tare)

    assert (e.value.device, e.value.command) == (NAME, "tare")


def test_repeatability_noise_follows_the_documented_model() -> None:
    # mass + drift + N(0, 1e-4) - residual, rounded to 0.1 mg; generator keyed by
    # (seed, balance, sample).
    clock, bench, balance = _balance(seed=4)
    noise = DeviceContext(clock=clock, bench=bench, seed=4).rng(NAME, "S1").normal(0.0, 1e-4)
    net = balance.contents_g(bench.sample("S1"))
    settle = 0.5 * math.log((7.0 + net) / 1e-5) + 1.0
    shown = net + 1e-4 * settle / 3600 + noise - 1e-5 * math.exp(-2.0)

    reading, _ = _weigh(clock, balance)

    assert reading.values["mass_g"] == round(round(shown / 1e-4) * 1e-4, 5)
    assert abs(reading.values["mass_g"] - net) < 5e-4


def test_same_seed_and_sample_weigh_the_same() -> None:
    clock_a, _, balance_a = _balance(seed=5)
    clock_b, _, balance_b = _balance(seed=5)

    assert _weigh(clock_a, balance_a)[0] == _weigh(clock_b, balance_b)[0]


def test_another_sample_or_seed_weighs_with_different_noise() -> None:
    # The noise is 1 sd = 1 readability step; unrounded draws differ, so across a few vials the
    # readings of identical vials cannot all agree.
    clock, bench, balance = _balance(seed=5)
    readings = [_weigh(clock, balance)[0].values["mass_g"]]
    for i in range(2, 7):
        move(bench, bench.occupants(NAME)[0], "rack")
        load(bench, f"S{i}", NAME, contents=SNAR_VIAL)
        readings.append(_weigh(clock, balance, f"S{i}")[0].values["mass_g"])
    seeds = []
    for seed in range(6, 12):
        clock_s, _, balance_s = _balance(seed=seed)
        seeds.append(_weigh(clock_s, balance_s)[0].values["mass_g"])

    assert len(set(readings)) > 1
    assert len(set(seeds)) > 1


def test_a_vial_not_on_the_pan_faults_naming_where_it_is() -> None:
    clock, bench, balance = _balance()
    move(bench, "S1", "rack")

    with pytest.raises(DeviceFault, match=r"balance-1 cannot measure S1: .*\(it is at rack\)") as e:
        _weigh(clock, balance)

    assert (e.value.device, e.value.command) == (NAME, "measure")


def test_a_sample_that_does_not_exist_faults_on_the_balance() -> None:
    clock, _, balance = _balance()

    with pytest.raises(DeviceFault, match="no sample 'S9' on the bench") as e:
        _weigh(clock, balance, "S9")

    assert e.value.device == NAME


@pytest.mark.parametrize(
    ("options", "contents", "charge", "message"),
    [
        ({}, {"mystery": 0.1}, {}, r"no molar mass and density for \['mystery'\] in sample S1"),
        ({}, {"dfnb": 0.1}, {"volume_ml": "full"}, "sample S1 records volume_ml='full'"),
        ({}, {"dfnb": 0.1}, {"volume_ml": 0.0}, "sample S1 records volume_ml=0.0"),
        (SALT, {"salt": 30.0}, {}, "sample S1.s solutes would fill 150 % of its volume"),
        ({"capacity_g": 9.0}, None, {}, r"overload: 9\.4\d+ g on a 9 g balance"),
    ],
)
def test_what_cannot_be_weighed_faults_and_takes_no_time(
    options: dict[str, JsonValue],
    contents: dict[str, float] | None,
    charge: dict[str, float | int | str],
    message: str,
) -> None:
    clock, _, balance = _balance(options, contents=contents, charge=charge)

    with pytest.raises(DeviceFault, match=f"balance-1: {message}") as e:
        _weigh(clock, balance)

    assert (e.value.device, e.value.command) == (NAME, "measure")
    assert clock.now() == 0.0


def test_an_injected_hang_is_ended_only_by_the_callers_deadline() -> None:
    clock, _, balance = _balance(faults=(FaultSpec(kind="hang", command="measure"),))

    assert hangs_until_deadline(clock, lambda: balance.measure("S1"), 120.0) == 120.0
    reading, _ = _weigh(clock, balance)
    assert 2.4 < reading.values["mass_g"] < 2.5


def test_an_injected_out_of_range_fault_spoils_the_mass() -> None:
    clock, _, balance = _balance(faults=(FaultSpec(kind="out_of_range", command="measure"),))

    reading, _ = _weigh(clock, balance)

    assert dict(reading.values) == {"mass_g": OUT_OF_RANGE_VALUE}
    assert reading.values["mass_g"] < balance.measurands["mass_g"][0]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"units": "mg"}, "units: "),
        ({"readability_g": 0.0}, "readability_g: "),
        ({"repeatability_g": -1e-4}, "repeatability_g: "),
        ({"settle_tau_s": 0.0}, "settle_tau_s: "),
        ({"fill_volume_ml": 0.0}, "fill_volume_ml: "),
        ({"solutes": {"salt": {"molar_mass_g_mol": 58.44}}}, r"solutes\.salt\.density_g_ml: "),
        ({"stable_within_g": 1e-3}, r"stable_within_g \(0\.001\) must not exceed"),
        ({"vial_tare_g": 300.0}, r"vial_tare_g \(300\) must be below capacity_g"),
    ],
)
def test_bad_options_raise_spec_error_naming_device_and_option(
    options: dict[str, JsonValue], named: str
) -> None:
    with pytest.raises(SpecError, match=rf"device 'balance-1' has bad options: {named}"):
        _balance(options)


def test_a_lab_builds_the_balance_by_its_entry_point_name() -> None:
    lab, clock = lab_with("sim-balance", NAME, "balance", {"vial_tare_g": 12.5})
    balance = lab.devices[NAME]
    assert isinstance(balance, SimBalance) and isinstance(balance, Measures)
    assert lab.spec.driver_class(NAME) is SimBalance
    load(lab.bench, "S1", NAME, contents=SNAR_VIAL)

    reading, elapsed = timed(clock, lambda: balance.measure("S1"))

    assert elapsed == pytest.approx(0.5 * math.log((12.5 + reading.values["mass_g"]) / 1e-5) + 1,
                                    abs=1e-3)
    assert balance.measurands == {"mass_g": (-12.5, 220.0)}
    assert 2.4 < reading.values["mass_g"] < 2.5
