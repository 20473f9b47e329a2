"""The simulated HPLC: capability, run time, the measurement model and its reproducible noise."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext, Measures, Reacts, Reading, Transfers
from cfl.errors import DeviceFault, SpecError
from instruments.sim.hplc import SimHPLC
from instruments.sim.snar import SnarConditions, simulate_snar, snar_figures

NAME = "hplc-1"
SPECIES = ("dfnb", "pyrrolidine", "ortho", "para", "bis")
SNAR = SnarConditions(
    residence_time_min=1.0, equivalents=2.0, concentration_m=0.3, temperature_c=90.0
)
CHARGE: dict[str, float | int | str] = {
    "residence_time": 1.0,
    "equivalents": 2.0,
    "concentration": 0.3,
    "temperature": 90.0,
}
TRUE = simulate_snar(SNAR)
NOISELESS: dict[str, JsonValue] = {"noise_pct": 0.0, "detection_limit_m": 0.0}


def _lab(
    options: Mapping[str, JsonValue] | None = None,
    *,
    seed: int = 1,
    samples: tuple[str, ...] = ("S1",),
) -> tuple[LabClock, Bench, SimHPLC, DeviceContext]:
    """An HPLC with ``samples`` made at SNAR; the first one sits in the instrument."""
    clock = LabClock()
    bench = Bench({"rack": None}, supplies=frozenset({"rack"}))
    bench.add_location(NAME, 1)
    context = DeviceContext(clock=clock, bench=bench, seed=seed)
    hplc = SimHPLC.from_config(NAME, options or {}, context)
    for i, sample in enumerate(samples):
        vial = bench.take(sample, "rack", robot="arm")
        vial.charge = dict(CHARGE)
        vial.contents = dict(zip(SPECIES, TRUE, strict=True))
        bench.put(sample, NAME if i == 0 else "rack", robot="arm")
    return clock, bench, hplc, context


def _measure(clock: LabClock, hplc: SimHPLC, sample: str = "S1") -> tuple[Reading, float]:
    async def main() -> tuple[Reading, float]:
        start = clock.now()
        reading = await hplc.measure(sample)
        return reading, clock.now() - start

    return run_on_clock(main, clock=clock, kind="virtual")


def test_hplc_measures_but_neither_reacts_nor_transfers() -> None:
    _, _, hplc, _ = _lab()

    assert isinstance(hplc, Measures)
    assert not isinstance(hplc, Reacts)
    assert not isinstance(hplc, Transfers)
    assert list(hplc.measurands) == ["yield", "conversion", "space_time_yield", "e_factor"]
    assert hplc.measurands["yield"] == (-10.0, 110.0)


def test_a_run_takes_injection_plus_run_time() -> None:
    clock, _, hplc, _ = _lab()

    _, elapsed = _measure(clock, hplc)

    assert elapsed == (0.5 + 6.0) * 60 == 390.0


def test_run_time_follows_the_options() -> None:
    clock, _, hplc, _ = _lab({"injection_min": 1.0, "run_min": 4.0})

    _, elapsed = _measure(clock, hplc)

    assert elapsed == 300.0


def test_noiseless_reading_is_exactly_the_figures_of_the_true_contents() -> None:
    clock, _, hplc, _ = _lab(NOISELESS)

    reading, _ = _measure(clock, hplc)

    figures = snar_figures(TRUE, SNAR)
    assert dict(reading.values) == {
        "yield": figures.yield_pct,
        "conversion": figures.conversion_pct,
        "space_time_yield": figures.space_time_yield,
        "e_factor": figures.e_factor,
    }
    assert dict(reading.raw) == {f"{s}_m": round(c, 8) for s, c in zip(SPECIES, TRUE, strict=True)}


def test_noisy_reading_follows_the_documented_measurement_model() -> None:
    # c * (1 + N(0, noise_pct/100)) + N(0, detection_limit/3), floored at 0, per species in order,
    # from the generator keyed by (seed, instrument, sample).
    clock, _, hplc, context = _lab({"noise_pct": 2.0, "detection_limit_m": 3e-4})
    # a context of the same seed replays the draws (the device's own is used by the device)
    rng = DeviceContext(clock=context.clock, bench=context.bench, seed=context.seed).rng(NAME, "S1")
    measured = []
    for c in TRUE:
        measured.append(max(0.0, c * (1 + rng.normal(0, 0.02)) + rng.normal(0, 1e-4)))

    reading, _ = _measure(clock, hplc)

    assert dict(reading.raw) == {
        f"{s}_m": round(c, 8) for s, c in zip(SPECIES, measured, strict=True)
    }
    assert reading.values["yield"] == pytest.approx(100 * measured[2] / 0.3, rel=1e-12)
    assert reading.values["conversion"] == pytest.approx(
        100 * max(0.0, 0.3 - measured[0]) / 0.3, rel=1e-12, abs=1e-12
    )
    # The noise is really there, and of the stated size: 2 % on the product peak.
    truth = snar_figures(TRUE, SNAR).yield_pct
    assert reading.values["yield"] != truth
    assert reading.values["yield"] == pytest.approx(truth, rel=0.1)


def test_raw_holds_the_measured_concentrations_behind_the_values() -> None:
    clock, _, hplc, _ = _lab()

    reading, _ = _measure(clock, hplc)

    measured = tuple(float(reading.raw[f"{s}_m"]) for s in SPECIES)  # type: ignore[arg-type]
    figures = snar_figures(measured, SNAR)  # type: ignore[arg-type]
    # raw is rounded to 1e-8 M, so figures recomputed from it agree to about that.
    assert reading.values["yield"] == pytest.approx(figures.yield_pct, abs=1e-5)
    assert reading.values["e_factor"] == pytest.approx(figures.e_factor, rel=1e-5)
    assert all(float(v) >= 0.0 for v in reading.raw.values())  # type: ignore[arg-type]


def test_same_seed_instrument_and_sample_reads_the_same_values() -> None:
    clock_a, _, hplc_a, _ = _lab(seed=5)
    clock_b, _, hplc_b, _ = _lab(seed=5)

    first, _ = _measure(clock_a, hplc_a)
    second, _ = _measure(clock_b, hplc_b)

    assert first == second


def test_another_sample_or_seed_reads_different_noise() -> None:
    clock, bench, hplc, _ = _lab(seed=5, samples=("S1", "S2"))
    first, _ = _measure(clock, hplc)
    bench.take("S1", NAME, robot="arm")
    bench.put("S1", "rack", robot="arm")
    bench.take("S2", "rack", robot="arm")
    bench.put("S2", NAME, robot="arm")
    other_sample, _ = _measure(clock, hplc, "S2")
    clock_c, _, hplc_c, _ = _lab(seed=6)
    other_seed, _ = _measure(clock_c, hplc_c)

    assert other_sample.values["yield"] != first.values["yield"]
    assert other_seed.values["yield"] != first.values["yield"]
    assert other_sample.raw != first.raw


def test_measuring_does_not_change_the_vial() -> None:
    clock, bench, hplc, _ = _lab()

    _measure(clock, hplc)

    assert bench.sample("S1").contents == dict(zip(SPECIES, TRUE, strict=True))
    assert bench.sample("S1").charge == CHARGE


def test_an_empty_vial_faults_and_takes_no_time() -> None:
    clock, bench, hplc, _ = _lab()
    bench.sample("S1").contents = {}

    async def attempt() -> float:
        with pytest.raises(DeviceFault, match="hplc-1: sample S1 is empty") as e:
            await hplc.measure("S1")
        assert e.value.device == NAME
        assert e.value.command == "measure"
        return clock.now()

    assert run_on_clock(attempt, clock=clock, kind="virtual") == 0.0


def test_a_vial_not_in_the_instrument_faults_naming_where_it_is() -> None:
    clock, _, hplc, _ = _lab(samples=("S1", "S2"))

    with pytest.raises(
        DeviceFault,
        match=r"hplc-1 cannot measure S2: it is not in the instrument \(it is at rack\)",
    ) as e:
        _measure(clock, hplc, "S2")

    assert e.value.device == NAME
    assert e.value.command == "measure"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"noise_pct": -1.0}, "noise_pct"),
        ({"detection_limit_m": -1e-4}, "detection_limit_m"),
        ({"run_min": 0.0}, "run_min"),
        ({"colum": "C18"}, "colum"),
    ],
)
def test_bad_options_raise_spec_error_naming_device_and_option(
    options: dict[str, JsonValue], named: str
) -> None:
    with pytest.raises(SpecError, match=rf"device 'hplc-1' has bad options: {named}: "):
        _lab(options)
