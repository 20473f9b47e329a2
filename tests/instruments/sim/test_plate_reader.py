"""The simulated 96-well plate reader: the plate's key scheme, Beer-Lambert with the pathlength from
the well volume, the edge effect, read noise, read time, faults and options."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from pydantic import JsonValue

from cfl.bench import Bench, BenchSample
from cfl.clock import LabClock
from cfl.devices import DeviceContext, Measures, Reading
from cfl.errors import DeviceFault, SpecError
from cfl.faults import OUT_OF_RANGE_VALUE, FaultSpec
from instruments.sim.plate_reader import (
    EDGE_WELLS,
    WELLS,
    PlateReaderOptions,
    SimPlateReader,
    fill_plate,
)
from tests.instruments.sim.helpers import (
    capabilities,
    hangs_until_deadline,
    lab_with,
    load,
    move,
    station,
    timed,
)

NAME = "reader-1"
DYE: dict[str, JsonValue] = {
    "species": {"dye": [{"centre_nm": 450.0, "epsilon": 1e4, "fwhm_nm": 80.0}]},
    "wavelength_nm": 450.0,
}
"""A dye read at its band centre: epsilon = 1e4 L/mol/cm exactly."""
NOISELESS: dict[str, JsonValue] = {**DYE, "noise_pct": 0.0, "noise_od": 0.0}
RAW: dict[str, JsonValue] = {**NOISELESS, "pathlength_correction": False}


def _reader(
    options: Mapping[str, JsonValue] | None = None,
    *,
    wells: Mapping[str, Mapping[str, float]] | None = None,
    volume_ul: float = 200.0,
    seed: int = 1,
    faults: tuple[FaultSpec, ...] = (),
) -> tuple[LabClock, Bench, SimPlateReader, BenchSample]:
    """A reader with plate P1 in it, ``wells`` filled with ``volume_ul`` each."""
    clock, bench, context = station(NAME, seed=seed, faults=faults)
    reader = SimPlateReader.from_config(NAME, options or {}, context)
    plate = load(bench, "P1", NAME)
    fill_plate(plate, {"B02": {"dye": 1e-4}, "A01": {"dye": 1e-4}} if wells is None else wells,
               volume_ul=volume_ul)
    return clock, bench, reader, plate


def _read(clock: LabClock, reader: SimPlateReader, plate: str = "P1") -> tuple[Reading, float]:
    return timed(clock, lambda: reader.measure(plate))


def test_plate_reader_only_measures_and_reports_every_well() -> None:
    _, _, reader, _ = _reader(DYE)

    assert capabilities(reader) == {"Measures"}
    assert isinstance(reader, Measures)
    assert list(reader.measurands) == list(WELLS)
    # with pathlength correction the range is stretched by the shortest column a well may hold:
    # 50 uL less 2 % evaporation over 0.32 cm^2 = 0.153125 cm
    low, high = reader.measurands["A01"]
    assert low == pytest.approx(-0.5 / 0.153125) and high == pytest.approx(4.0 / 0.153125)
    _, _, raw_reader, _ = _reader(RAW)
    assert set(raw_reader.measurands.values()) == {(-0.5, 4.0)}


def test_wells_are_named_a01_to_h12_in_row_order_and_36_are_on_the_edge() -> None:
    assert len(WELLS) == 96 and WELLS[:3] == ("A01", "A02", "A03") and WELLS[-1] == "H12"
    assert WELLS[12] == "B01"
    assert len(EDGE_WELLS) == 36
    assert {"A01", "A07", "H12", "D01", "E12"} <= EDGE_WELLS
    assert not {"B02", "G11", "D06"} & EDGE_WELLS


def test_fill_plate_writes_concentrations_to_contents_and_volumes_to_charge() -> None:
    plate = BenchSample(id="P9", location="rack")

    fill_plate(plate, {"B07": {"dye": 2.5e-5, "salt": 0.1}, "C01": {}}, volume_ul=150.0)
    fill_plate(plate, {"B07": {"dye": 1e-5}})

    assert plate.contents == {"B07/dye": 1e-5}
    assert plate.charge == {"B07/volume_ul": 200.0, "C01/volume_ul": 150.0}


@pytest.mark.parametrize(
    ("wells", "volume", "message"),
    [
        ({"I01": {}}, 200.0, "no well 'I01'"),
        ({"A1": {}}, 200.0, "no well 'A1'"),
        ({"A01": {}}, 0.0, "volume_ul must be positive"),
        ({"A01": {"dye": -1.0}}, 200.0, "negative concentrations in A01"),
    ],
)
def test_fill_plate_refuses_what_cannot_be_dispensed(
    wells: dict[str, dict[str, float]], volume: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fill_plate(BenchSample(id="P9", location="rack"), wells, volume_ul=volume)


def test_a_read_takes_three_wavelengths_per_well_plus_the_plate_move() -> None:
    clock, _, reader, _ = _reader(DYE)

    _, elapsed = _read(clock, reader)

    assert elapsed == 96 * 0.25 * 3 + 10.0 == 82.0


def test_without_pathlength_correction_one_wavelength_per_well() -> None:
    clock, _, reader, _ = _reader({**DYE, "pathlength_correction": False, "read_s_per_well": 0.5})

    _, elapsed = _read(clock, reader)

    assert elapsed == 96 * 0.5 + 10.0 == 58.0


def test_raw_absorbance_is_beer_lambert_with_the_pathlength_from_the_volume() -> None:
    # l = 200 uL / 1000 / 0.32 cm^2 = 0.625 cm; A = 1e4 * 1e-4 * 0.625 = 0.625 (no evaporation)
    clock, _, reader, plate = _reader({**RAW, "edge_evaporation": 0.0})
    fill_plate(plate, {"C03": {"dye": 1e-4}}, volume_ul=100.0)  # 0.3125 cm

    reading, _ = _read(clock, reader)

    assert reading.values["B02"] == 0.625
    assert reading.values["A01"] == 0.625
    assert reading.values["C03"] == 0.3125
    assert reader.pathlength_cm(200.0) == 0.625


def test_evaporation_leaves_the_raw_vertical_absorbance_unchanged() -> None:
    # An edge well loses 2 % of its solvent: c' = c / 0.98 but l' = 0.98 l, so c' l' = c l.
    clock, _, reader, _ = _reader(RAW)

    reading, _ = _read(clock, reader)

    assert reading.values["A01"] == reading.values["B02"] == 0.625
    paths = reading.raw["pathlength_cm"]
    assert isinstance(paths, list)
    assert paths[0] == [0.6125, *[None] * 11]  # row A: only A01 is filled, and it lost 2 %
    assert paths[1] == [None, 0.625, *[None] * 10]  # row B: B02 kept its volume


def test_pathlength_corrected_edge_wells_read_higher_by_one_over_one_minus_f() -> None:
    # per 1 cm: inner B02 = eps c = 1.0; edge A01 = eps c / (1 - 0.02) = 1.020408...
    clock, _, reader, _ = _reader(NOISELESS)

    reading, _ = _read(clock, reader)

    assert reading.values["B02"] == 1.0
    assert reading.values["A01"] == round(1 / 0.98, 4) == 1.0204
    assert reading.raw["per_cm"] is True


def test_the_edge_effect_follows_its_option() -> None:
    clock, _, reader, _ = _reader({**NOISELESS, "edge_evaporation": 0.1})

    reading, _ = _read(clock, reader)

    assert reading.values["A01"] == round(1 / 0.9, 4) == 1.1111
    assert reading.values["B02"] == 1.0


def test_empty_wells_read_the_blank_and_have_no_pathlength() -> None:
    clock, _, reader, _ = _reader(NOISELESS)

    reading, _ = _read(clock, reader)

    assert all(reading.values[w] == 0.0 for w in WELLS if w not in ("A01", "B02"))
    matrix = reading.raw["absorbance"]
    assert isinstance(matrix, list) and len(matrix) == 8
    assert all(isinstance(row, list) and len(row) == 12 for row in matrix)
    row_a, row_b = matrix[0], matrix[1]
    assert isinstance(row_a, list) and isinstance(row_b, list)
    assert row_a[0] == reading.values["A01"] and row_b[1] == reading.values["B02"]


def test_a_solvent_blank_well_reads_zero() -> None:
    clock, _, reader, _ = _reader(NOISELESS, wells={"D05": {}})

    reading, _ = _read(clock, reader)

    assert reading.values["D05"] == 0.0


def test_a_dark_well_is_pinned_at_the_top_of_the_photometric_range() -> None:
    # true raw A = 1e4 * 1e-2 * 0.625 = 62.5: the reader shows max_od, 4.0, or 4.0 / 0.625 per cm
    wells = {"B02": {"dye": 1e-2}}
    clock, _, raw_reader, _ = _reader(RAW, wells=wells)
    raw, _ = _read(clock, raw_reader)
    clock, _, reader, _ = _reader(NOISELESS, wells=wells)
    corrected, _ = _read(clock, reader)

    assert raw.values["B02"] == 4.0
    assert corrected.values["B02"] == 6.4


def test_species_absorbances_add_in_a_well() -> None:
    options: dict[str, JsonValue] = {
        **NOISELESS,
        "species": {
            "dye": [{"centre_nm": 450.0, "epsilon": 1e4, "fwhm_nm": 80.0}],
            "blue": [{"centre_nm": 490.0, "epsilon": 2e4, "fwhm_nm": 80.0}],
        },
    }
    clock, _, reader, _ = _reader(options, wells={"C04": {"dye": 1e-4, "blue": 1e-4}})

    reading, _ = _read(clock, reader)

    # blue at 450 nm is one half-width from its centre: 1e4; per cm 1.0 + 1.0
    assert reader.epsilon("blue") == pytest.approx(1e4)
    assert reading.values["C04"] == 2.0


def test_read_noise_follows_the_documented_model() -> None:
    # A (1 + N(0, 0.5 %)) + N(0, 0.003), 96 relative then 96 absolute draws in row order, pinned,
    # divided by the pathlength, 4 decimals; generator keyed by (seed, reader, plate).
    clock, bench, reader, _ = _reader(DYE, seed=4)
    rng = DeviceContext(clock=clock, bench=bench, seed=4).rng(NAME, "P1")
    relative = rng.normal(0.0, 0.005, size=96)
    absolute = rng.normal(0.0, 0.003, size=96)
    expected = {}
    for i, well in enumerate(WELLS):
        lost = 0.02 if well in EDGE_WELLS else 0.0
        path = 0.2 * (1 - lost) / 0.32
        true = 1e4 * 1e-4 / (1 - lost) * path if well in ("A01", "B02") else 0.0
        read = min(max(true * (1 + relative[i]) + absolute[i], -0.5), 4.0)
        expected[well] = round(read / path if true else read, 4) + 0.0

    reading, _ = _read(clock, reader)

    assert dict(reading.values) == expected
    assert reading.values["B02"] != 1.0
    assert reading.values["B02"] == pytest.approx(1.0, abs=0.05)


def test_same_seed_and_plate_read_the_same() -> None:
    clock_a, _, reader_a, _ = _reader(DYE, seed=5)
    clock_b, _, reader_b, _ = _reader(DYE, seed=5)

    first, _ = _read(clock_a, reader_a)
    second, _ = _read(clock_b, reader_b)

    assert first == second


def test_another_plate_or_seed_reads_different_noise() -> None:
    clock, bench, reader, _ = _reader(DYE, seed=5)
    first, _ = _read(clock, reader)
    move(bench, "P1", "rack")
    fill_plate(load(bench, "P2", NAME), {"B02": {"dye": 1e-4}, "A01": {"dye": 1e-4}})
    other_plate, _ = _read(clock, reader, "P2")
    clock_c, _, reader_c, _ = _reader(DYE, seed=6)
    other_seed, _ = _read(clock_c, reader_c)

    assert other_plate.values["B02"] != first.values["B02"]
    assert other_seed.values["B02"] != first.values["B02"]


def test_an_empty_plate_faults_and_takes_no_time() -> None:
    clock, _, reader, _ = _reader(DYE, wells={})

    with pytest.raises(DeviceFault, match="reader-1: plate P1 is empty") as e:
        _read(clock, reader)

    assert (e.value.device, e.value.command) == (NAME, "measure")
    assert clock.now() == 0.0


def test_a_plate_not_in_the_reader_faults_naming_where_it_is() -> None:
    clock, bench, reader, _ = _reader(DYE)
    move(bench, "P1", "rack")

    with pytest.raises(DeviceFault, match=r"reader-1 cannot measure P1: .*\(it is at rack\)") as e:
        _read(clock, reader)

    assert (e.value.device, e.value.command) == (NAME, "measure")


def test_a_plate_that_does_not_exist_faults_on_the_reader() -> None:
    clock, _, reader, _ = _reader(DYE)

    with pytest.raises(DeviceFault, match="no sample 'P9' on the bench") as e:
        _read(clock, reader, "P9")

    assert e.value.device == NAME


@pytest.mark.parametrize(
    ("contents", "charge", "message"),
    [
        ({"C03/dye": 1e-4}, {}, "well C03 of plate P1 has contents but no volume"),
        ({"Z99/dye": 1e-4}, {}, "plate P1 has content 'Z99/dye'; keys are"),
        ({"dye": 1e-4}, {}, "plate P1 has content 'dye'"),
        ({"C03/ink": 1e-4}, {"C03/volume_ul": 200.0}, r"no absorption bands for 'ink' \(well C03"),
        ({}, {"C03/volume_ul": 20.0}, "well C03 of plate P1 holds 20 µL, less than the 50 µL"),
        ({}, {"C03/volume_ul": "lots"}, "well C03 of plate P1 has volume 'lots'"),
    ],
)
def test_a_plate_the_reader_cannot_read_faults_naming_the_well(
    contents: dict[str, float], charge: dict[str, float | int | str], message: str
) -> None:
    clock, _, reader, plate = _reader(DYE)
    plate.contents.update(contents)
    plate.charge.update(charge)

    with pytest.raises(DeviceFault, match=message) as e:
        _read(clock, reader)

    assert (e.value.device, e.value.command) == (NAME, "measure")


def test_an_injected_hang_is_ended_only_by_the_callers_deadline() -> None:
    clock, _, reader, _ = _reader(DYE, faults=(FaultSpec(kind="hang", command="measure"),))

    assert hangs_until_deadline(clock, lambda: reader.measure("P1"), 300.0) == 300.0
    _, elapsed = _read(clock, reader)
    assert elapsed == 82.0


def test_an_injected_out_of_range_fault_spoils_every_well() -> None:
    clock, _, reader, _ = _reader(DYE, faults=(FaultSpec(kind="out_of_range", after=1),))

    good, _ = _read(clock, reader)
    spoiled, _ = _read(clock, reader)

    assert all(low <= good.values[w] <= high for w, (low, high) in reader.measurands.items())
    assert set(spoiled.values) == set(WELLS)
    assert set(spoiled.values.values()) == {OUT_OF_RANGE_VALUE}
    assert all(spoiled.values[w] < low for w, (low, _) in reader.measurands.items())


def test_default_options_are_the_documented_ones() -> None:
    o = PlateReaderOptions()

    assert (o.wavelength_nm, o.well_area_cm2, o.min_volume_ul) == (400.0, 0.32, 50.0)
    assert (o.pathlength_correction, o.edge_evaporation) == (True, 0.02)
    assert (o.noise_pct, o.noise_od, o.max_od) == (0.5, 0.003, 4.0)
    assert (o.read_s_per_well, o.plate_move_s) == (0.25, 10.0)
    assert set(o.species) == {"dfnb", "pyrrolidine", "ortho", "para", "bis"}


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"filter": "450/10"}, "filter"),
        ({"well_area_cm2": 0.0}, "well_area_cm2"),
        ({"edge_evaporation": 0.5}, "edge_evaporation"),
        ({"noise_pct": -1.0}, "noise_pct"),
        ({"max_od": 0.0}, "max_od"),
        ({"min_volume_ul": -5.0}, "min_volume_ul"),
        ({"pathlength_correction": "sometimes"}, "pathlength_correction"),
        ({"species": {"dye": [{"centre_nm": -1.0, "epsilon": 1.0, "fwhm_nm": 1.0}]}},
         r"species\.dye\.0\.centre_nm"),
    ],
)
def test_bad_options_raise_spec_error_naming_device_and_option(
    options: dict[str, JsonValue], named: str
) -> None:
    with pytest.raises(SpecError, match=rf"device 'reader-1' has bad options: {named}: "):
        _reader(options)


def test_a_lab_builds_the_plate_reader_by_its_entry_point_name() -> None:
    lab, clock = lab_with("sim-plate-reader", NAME, "reader", {"wavelength_nm": 390.0})
    reader = lab.devices[NAME]
    assert isinstance(reader, SimPlateReader) and isinstance(reader, Measures)
    assert lab.spec.driver_class(NAME) is SimPlateReader
    fill_plate(load(lab.bench, "P1", NAME), {"D06": {"para": 5e-5}, "E07": {"ortho": 5e-5}})

    reading, elapsed = timed(clock, lambda: reader.measure("P1"))

    assert elapsed == 82.0
    assert all(low <= reading.values[w] <= high for w, (low, high) in reader.measurands.items())
    # para absorbs at 390 nm with 18000 L/mol/cm: 0.9 per cm, within the read noise
    assert reading.values["D06"] == pytest.approx(0.9, abs=0.05)
    assert np.isclose(reader.epsilon("para"), 18000.0)
