"""The simulated UV-Vis spectrophotometer: Beer-Lambert with Gaussian bands, stray light, detector
noise, scan time, the faults it raises and injects, and its options."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock
from cfl.devices import DeviceContext, Measures, Reading
from cfl.errors import DeviceFault, SpecError
from cfl.faults import OUT_OF_RANGE_VALUE, FaultSpec
from instruments.sim.uvvis import SNAR_BANDS, Band, SimUVVis, UVVisOptions, molar_absorptivity
from tests.instruments.sim.helpers import (
    capabilities,
    hangs_until_deadline,
    lab_with,
    load,
    move,
    station,
    timed,
)

NAME = "uvvis-1"
SNAR_VIAL = {"dfnb": 0.01, "pyrrolidine": 0.3, "ortho": 0.2, "para": 0.02, "bis": 0.03}
DYE: dict[str, JsonValue] = {
    "species": {"dye": [{"centre_nm": 500.0, "epsilon": 1e4, "fwhm_nm": 40.0}]},
    "wavelength_min_nm": 400.0,
    "wavelength_max_nm": 600.0,
    "analytical_nm": [500.0, 520.0],
    "dilution": 1.0,
    "stray_light": 0.0,
    "noise_abs": 0.0,
}
"""One dye with one band at 500 nm; no dilution, stray light or noise: the bare Beer-Lambert law."""


def _uvvis(
    options: Mapping[str, JsonValue] | None = None,
    *,
    contents: Mapping[str, float] | None = None,
    seed: int = 1,
    faults: tuple[FaultSpec, ...] = (),
) -> tuple[LabClock, Bench, SimUVVis]:
    """A UV-Vis with vial S1 (holding ``contents``, the SnAr vial by default) in it."""
    clock, bench, context = station(NAME, seed=seed, faults=faults)
    uvvis = SimUVVis.from_config(NAME, options or {}, context)
    load(bench, "S1", NAME, contents=SNAR_VIAL if contents is None else contents)
    return clock, bench, uvvis


def _measure(clock: LabClock, uvvis: SimUVVis, sample: str = "S1") -> tuple[Reading, float]:
    return timed(clock, lambda: uvvis.measure(sample))


def test_uvvis_only_measures() -> None:
    _, _, uvvis = _uvvis({"analytical_nm": [350.0, 412.5]})

    assert capabilities(uvvis) == {"Measures"}
    assert isinstance(uvvis, Measures)
    assert uvvis.measurands == {
        "A_350": (-0.3, 5.0),
        "A_412.5": (-0.3, 5.0),
        "lambda_max": (300.0, 600.0),
    }


def test_default_options_are_the_documented_ones() -> None:
    o = UVVisOptions()

    assert (o.pathlength_cm, o.dilution, o.stray_light, o.noise_abs) == (1.0, 1000.0, 1e-4, 2e-4)
    assert (o.wavelength_min_nm, o.wavelength_max_nm, o.step_nm) == (300.0, 600.0, 1.0)
    assert o.analytical_nm == (400.0,)
    assert (o.max_absorbance, o.scan_nm_per_min, o.handling_s) == (5.0, 600.0, 30.0)
    assert o.species == dict(SNAR_BANDS)
    assert set(o.species) == set(SNAR_VIAL)
    assert o.species["pyrrolidine"] == ()  # a saturated amine: transparent in the scan
    visible = {s: max(b.centre_nm for b in bands) for s, bands in o.species.items() if bands}
    assert all(350 <= visible[s] <= 430 for s in ("ortho", "para", "bis"))


def test_a_default_scan_takes_handling_plus_the_sweep() -> None:
    clock, _, uvvis = _uvvis()

    _, elapsed = _measure(clock, uvvis)

    assert elapsed == 30.0 + 60.0 * (600 - 300) / 600 == 60.0


def test_scan_time_follows_the_options() -> None:
    options: dict[str, JsonValue] = {
        "wavelength_min_nm": 400.0,
        "wavelength_max_nm": 500.0,
        "scan_nm_per_min": 200.0,
        "handling_s": 10.0,
    }
    clock, _, uvvis = _uvvis(options)

    _, elapsed = _measure(clock, uvvis)

    assert elapsed == 10.0 + 30.0


def test_beer_lambert_at_the_band_centre_and_half_maximum() -> None:
    # A = eps * c * l = 1e4 L/mol/cm * 5e-5 mol/L * 1 cm = 0.5 at the centre; half of it one
    # half-width (fwhm / 2 = 20 nm) away.
    clock, _, uvvis = _uvvis(DYE, contents={"dye": 5e-5})

    reading, _ = _measure(clock, uvvis)

    assert dict(reading.values) == {"A_500": 0.5, "A_520": 0.25, "lambda_max": 500.0}


def test_pathlength_and_dilution_scale_the_absorbance() -> None:
    # 1e4 * 5e-3 mol/L * 0.2 cm / 10 = 1.0
    clock, _, uvvis = _uvvis(
        {**DYE, "pathlength_cm": 0.2, "dilution": 10.0}, contents={"dye": 5e-3}
    )

    reading, _ = _measure(clock, uvvis)

    assert reading.values["A_500"] == 1.0
    assert reading.values["A_520"] == 0.5


def test_absorbances_of_species_add() -> None:
    options: dict[str, JsonValue] = {
        **DYE,
        "species": {
            "dye": [{"centre_nm": 500.0, "epsilon": 1e4, "fwhm_nm": 40.0}],
            "red": [{"centre_nm": 520.0, "epsilon": 2e4, "fwhm_nm": 40.0}],
        },
    }
    clock, _, uvvis = _uvvis(options, contents={"dye": 5e-5, "red": 1e-5})

    reading, _ = _measure(clock, uvvis)

    # at 500: 0.5 + 2e4 * 1e-5 * 0.5 = 0.6; at 520: 0.25 + 0.2 = 0.45
    assert reading.values["A_500"] == 0.6
    assert reading.values["A_520"] == 0.45


def test_default_para_band_with_dilution_and_stray_light() -> None:
    # para: 18000 L/mol/cm at 390 nm; 0.05 M diluted 1000-fold in 1 cm: A = 0.9, then stray light
    # s = 1e-4 gives A_obs = -log10((10^-0.9 + s) / (1 + s)).
    clock, _, uvvis = _uvvis(
        {"noise_abs": 0.0, "analytical_nm": [390.0]}, contents={"para": 0.05}
    )

    reading, _ = _measure(clock, uvvis)

    expected = -math.log10((10**-0.9 + 1e-4) / (1 + 1e-4))
    assert reading.values["A_390"] == round(expected, 4) == 0.8997
    assert reading.values["lambda_max"] == 390.0


def test_stray_light_flattens_absorbance_towards_its_limit() -> None:
    # A true 10 at the centre: the observed absorbance stops at log10((1 + s) / s).
    for s, limit in ((1e-4, 4.0), (1e-3, 3.0004)):
        clock, _, uvvis = _uvvis({**DYE, "stray_light": s}, contents={"dye": 1e-3})

        reading, _ = _measure(clock, uvvis)

        assert reading.values["A_500"] == limit == round(math.log10((1 + s) / s), 4)
        spectrum = [float(a) for a in reading.raw["absorbance"]]  # type: ignore[union-attr,arg-type]
        assert all(a <= limit for a in spectrum)
        assert sum(a >= limit - 1e-3 for a in spectrum) > 20  # a flat top, not a peak


def test_without_stray_light_the_photometric_range_pins_the_reading() -> None:
    clock, _, uvvis = _uvvis(DYE, contents={"dye": 1e-3})

    reading, _ = _measure(clock, uvvis)

    assert reading.values["A_500"] == 5.0
    assert reading.values["A_520"] == 5.0  # true 5.0 exactly


def test_raw_holds_the_spectrum_the_values_are_read_from() -> None:
    options: dict[str, JsonValue] = {**DYE, "step_nm": 2.0, "analytical_nm": [501.0]}
    clock, _, uvvis = _uvvis(options, contents={"dye": 5e-5})

    reading, _ = _measure(clock, uvvis)

    wavelengths = reading.raw["wavelength_nm"]
    absorbance = reading.raw["absorbance"]
    assert isinstance(wavelengths, list) and isinstance(absorbance, list)
    assert wavelengths[0] == 400.0 and wavelengths[-1] == 600.0 and len(wavelengths) == 101
    assert len(absorbance) == 101
    at = wavelengths.index(500.0)
    assert absorbance[at] == 0.5
    # between scan points the value is interpolated linearly
    expected = (float(absorbance[at]) + float(absorbance[at + 1])) / 2  # type: ignore[arg-type]
    assert reading.values["A_501"] == round(expected, 4)


def test_molar_absorptivity_is_a_sum_of_gaussian_bands() -> None:
    bands = (
        Band(centre_nm=400.0, epsilon=1000.0, fwhm_nm=50.0),
        Band(centre_nm=450.0, epsilon=500.0, fwhm_nm=20.0),
    )
    at = np.array([400.0, 425.0, 450.0])

    epsilon = molar_absorptivity(bands, at)

    assert epsilon[0] == pytest.approx(1000.0 + 500.0 * 2 ** -(4 * 50**2 / 20**2))
    assert epsilon[1] == pytest.approx(500.0 + 500.0 * 2 ** -(4 * 25**2 / 20**2))
    assert epsilon[2] == pytest.approx(1000.0 * 2 ** -(4 * 50**2 / 50**2) + 500.0)
    assert list(molar_absorptivity((), at)) == [0.0, 0.0, 0.0]


def test_noisy_spectrum_follows_the_documented_detector_model() -> None:
    # T = (10^-A + s)/(1 + s) + N(0, noise_abs ln 10) per wavelength, pinned, -log10, 4 decimals,
    # from the generator keyed by (seed, instrument, sample).
    clock, bench, uvvis = _uvvis(seed=4)
    context = DeviceContext(clock=clock, bench=bench, seed=4)
    true = uvvis.true_absorbance(SNAR_VIAL)
    noise = context.rng(NAME, "S1").normal(0.0, 2e-4 * math.log(10), size=true.shape)
    transmittance = np.clip((10**-true + 1e-4) / (1 + 1e-4) + noise, 1e-5, 10**0.3)
    expected = [round(float(a), 4) + 0.0 for a in -np.log10(transmittance)]

    reading, _ = _measure(clock, uvvis)

    assert reading.raw["absorbance"] == expected
    assert reading.values["A_400"] == expected[100]
    assert reading.values["lambda_max"] == 300.0 + int(np.argmax(expected))
    # The noise is there, and of the stated size: sigma_A = noise_abs / T_obs, larger where the
    # sample is darker (within 5 sigma plus the rounding).
    observed = (10**-true + 1e-4) / (1 + 1e-4)
    noiseless = -np.log10(observed)
    assert expected != [round(float(a), 4) for a in noiseless]
    assert np.all(np.abs(np.array(expected) - noiseless) <= 5 * 2e-4 / observed + 1e-4)


def test_same_seed_and_sample_read_the_same_spectrum() -> None:
    clock_a, _, uvvis_a = _uvvis(seed=5)
    clock_b, _, uvvis_b = _uvvis(seed=5)

    first, _ = _measure(clock_a, uvvis_a)
    second, _ = _measure(clock_b, uvvis_b)

    assert first == second


def test_another_sample_or_seed_reads_different_noise() -> None:
    clock, bench, uvvis = _uvvis(seed=5)
    first, _ = _measure(clock, uvvis)
    move(bench, "S1", "rack")
    load(bench, "S2", NAME, contents=SNAR_VIAL)
    other_sample, _ = _measure(clock, uvvis, "S2")
    clock_c, _, uvvis_c = _uvvis(seed=6)
    other_seed, _ = _measure(clock_c, uvvis_c)

    assert other_sample.raw["absorbance"] != first.raw["absorbance"]
    assert other_seed.raw["absorbance"] != first.raw["absorbance"]


def test_measuring_does_not_change_the_vial() -> None:
    clock, bench, uvvis = _uvvis()

    _measure(clock, uvvis)

    assert bench.sample("S1").contents == SNAR_VIAL
    assert bench.sample("S1").location == NAME


def test_an_empty_vial_faults_and_takes_no_time() -> None:
    clock, _, uvvis = _uvvis(contents={})

    with pytest.raises(DeviceFault, match="uvvis-1: sample S1 is empty") as e:
        _measure(clock, uvvis)

    assert (e.value.device, e.value.command) == (NAME, "measure")
    assert clock.now() == 0.0


def test_a_vial_not_in_the_instrument_faults_naming_where_it_is() -> None:
    clock, bench, uvvis = _uvvis()
    move(bench, "S1", "rack")

    where = r"uvvis-1 cannot measure S1: it is not in the instrument \(it is at rack\)"
    with pytest.raises(DeviceFault, match=where) as e:
        _measure(clock, uvvis)

    assert (e.value.device, e.value.command) == (NAME, "measure")


def test_a_sample_that_does_not_exist_faults_on_the_instrument() -> None:
    clock, _, uvvis = _uvvis()

    with pytest.raises(DeviceFault, match="no sample 'S9' on the bench") as e:
        _measure(clock, uvvis, "S9")

    assert (e.value.device, e.value.command) == (NAME, "measure")


def test_a_species_without_bands_faults_naming_it() -> None:
    clock, _, uvvis = _uvvis(contents={"ortho": 0.1, "mystery": 0.2})

    with pytest.raises(DeviceFault, match=r"no absorption bands for \['mystery'\] in sample S1"):
        _measure(clock, uvvis)


def test_an_injected_hang_is_ended_only_by_the_callers_deadline() -> None:
    clock, _, uvvis = _uvvis(faults=(FaultSpec(kind="hang", command="measure"),))

    assert hangs_until_deadline(clock, lambda: uvvis.measure("S1"), 600.0) == 600.0
    _, elapsed = _measure(clock, uvvis)  # the fault fires once; the next scan is normal
    assert elapsed == 60.0


def test_an_injected_out_of_range_fault_spoils_every_value() -> None:
    clock, _, uvvis = _uvvis(faults=(FaultSpec(kind="out_of_range", command="measure"),))

    reading, elapsed = _measure(clock, uvvis)

    assert dict(reading.values) == {"A_400": OUT_OF_RANGE_VALUE, "lambda_max": OUT_OF_RANGE_VALUE}
    assert all(v < uvvis.measurands[q][0] for q, v in reading.values.items())
    assert elapsed == 60.0
    again, _ = _measure(clock, uvvis)
    assert all(low <= again.values[q] <= high for q, (low, high) in uvvis.measurands.items())


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"lamp": "deuterium"}, "lamp"),
        ({"pathlength_cm": 0.0}, "pathlength_cm"),
        ({"dilution": 0.5}, "dilution"),
        ({"stray_light": 1.0}, "stray_light"),
        ({"noise_abs": -1e-4}, "noise_abs"),
        ({"step_nm": 0.0}, "step_nm"),
        ({"species": {"dye": [{"centre_nm": 500.0, "epsilon": 1e4, "fwhm_nm": 0.0}]}},
         r"species\.dye\.0\.fwhm_nm"),
        ({"species": {"dye": [{"centre_nm": 500.0, "epsilon": 1e4}]}},
         r"species\.dye\.0\.fwhm_nm"),
        ({"wavelength_min_nm": 600.0, "wavelength_max_nm": 300.0},
         r"wavelength_min_nm \(600\) must be below"),
        ({"analytical_nm": [250.0]}, r"analytical_nm \[250\.0\] lie outside"),
        ({"analytical_nm": [400.0, 400.0]}, "analytical_nm give repeated"),
        ({"step_nm": 0.001}, "a scan of 300-600 nm"),
    ],
)
def test_bad_options_raise_spec_error_naming_device_and_option(
    options: dict[str, JsonValue], named: str
) -> None:
    with pytest.raises(SpecError, match=rf"device 'uvvis-1' has bad options: {named}"):
        _uvvis(options)


def test_a_lab_builds_the_uvvis_by_its_entry_point_name() -> None:
    lab, clock = lab_with("sim-uvvis", NAME, "uv", {"analytical_nm": [390.0, 420.0]})
    uvvis = lab.devices[NAME]
    assert isinstance(uvvis, SimUVVis) and isinstance(uvvis, Measures)
    assert lab.spec.driver_class(NAME) is SimUVVis
    load(lab.bench, "S1", NAME, contents=SNAR_VIAL)

    reading, elapsed = timed(clock, lambda: uvvis.measure("S1"))

    assert elapsed == 60.0
    assert set(reading.values) == {"A_390", "A_420", "lambda_max"}
    assert all(low <= reading.values[q] <= high for q, (low, high) in uvvis.measurands.items())
