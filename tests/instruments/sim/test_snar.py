"""The SnAr kinetic model: Arrhenius constants, mass balances, an independent integration, and
the figures of merit a chemist reads off an outlet composition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from instruments.sim.snar import (
    MOLAR_MASS,
    SnarConditions,
    SnarFigures,
    _rate_constants,
    best_attainable_yield,
    simulate_snar,
    snar_figures,
)

R = 8.314e-3  # kJ/(mol K)
K_REF_PER_MIN = (0.6 * 57.9, 0.6 * 2.70, 0.6 * 0.865, 0.6 * 1.63)  # 1e-2 M^-1 s^-1 -> M^-1 min^-1
EA = (33.3, 35.3, 38.9, 44.8)  # kJ/mol
T_REF_K = 363.15

CONDITIONS = [
    SnarConditions(1.0, 2.0, 0.3, 90.0),
    SnarConditions(0.5, 1.0, 0.1, 30.0),
    SnarConditions(2.0, 5.0, 0.5, 120.0),
    SnarConditions(1.3, 3.2, 0.25, 65.0),
]


# --- rate constants ------------------------------------------------------------------------------


def test_rate_constants_at_reference_temperature_are_k_ref_per_minute() -> None:
    k = _rate_constants(90.0)

    # 0.6 * (57.9, 2.70, 0.865, 1.63)
    assert k.tolist() == pytest.approx([34.74, 1.62, 0.519, 0.978], rel=1e-12)


def test_rate_constant_ratio_between_temperatures_follows_arrhenius_for_step_a() -> None:
    t1, t2 = 30.0 + 273.15, 120.0 + 273.15
    # exp(-33.3 / 8.314e-3 * (1/303.15 - 1/393.15)) = exp(-3.0246...) = 0.048580
    expected = math.exp(-33.3 / 8.314e-3 * (1.0 / t1 - 1.0 / t2))
    assert expected == pytest.approx(0.0485796, rel=1e-5)

    ratio = _rate_constants(30.0)[0] / _rate_constants(120.0)[0]

    assert ratio == pytest.approx(expected, rel=1e-12)


def test_rate_constants_rise_with_temperature_and_para_step_uses_its_own_constant() -> None:
    k_cold, k_hot = _rate_constants(30.0), _rate_constants(120.0)

    assert np.all(k_hot > k_cold)
    # Summit used k_a for the para step too; here k_b / k_a at 90 degC is 2.70 / 57.9.
    assert _rate_constants(90.0)[1] / _rate_constants(90.0)[0] == pytest.approx(2.70 / 57.9)
    # Kelvin is degC + 273.15: at 60 degC step d has exp(-44.8/R (1/333.15 - 1/363.15)).
    expected_d = 0.978 * math.exp(-44.8 / R * (1.0 / 333.15 - 1.0 / T_REF_K))
    assert _rate_constants(60.0)[3] == pytest.approx(expected_d, rel=1e-12)


# --- mass balances -------------------------------------------------------------------------------


@pytest.mark.parametrize("conditions", CONDITIONS)
def test_aromatic_balance_is_conserved(conditions: SnarConditions) -> None:
    # d(c1 + c3 + c4 + c5)/dt = -(ra + rb) + (ra - rc) + (rb - rd) + (rc + rd) = 0
    c1, _, c3, c4, c5 = simulate_snar(conditions)

    assert c1 + c3 + c4 + c5 == pytest.approx(conditions.concentration_m, abs=1e-6)


@pytest.mark.parametrize("conditions", CONDITIONS)
def test_pyrrolidine_balance_is_conserved(conditions: SnarConditions) -> None:
    # dc2/dt = -(ra + rb + rc + rd) = dc1/dt - dc5/dt, so c2 - c2_0 = (c1 - c1_0) - c5,
    # equivalently every 3 and 4 used one pyrrolidine and every 5 used two.
    c1_0 = conditions.concentration_m
    c2_0 = conditions.equivalents * c1_0
    c1, c2, c3, c4, c5 = simulate_snar(conditions)

    assert c2 == pytest.approx(c2_0 - (c1_0 - c1) - c5, abs=1e-6)
    assert c2_0 - c2 == pytest.approx(c3 + c4 + 2 * c5, abs=1e-6)


def test_outlet_concentrations_are_non_negative_and_reaction_progresses() -> None:
    outlet = simulate_snar(SnarConditions(2.0, 5.0, 0.5, 120.0))

    assert all(c >= 0.0 for c in outlet)
    assert outlet[0] < 1e-4  # 1 is consumed under the harshest conditions
    assert outlet[4] > 0.0  # and the bis adduct forms


def test_a_very_short_residence_time_gives_the_initial_rates() -> None:
    # Over tau = 1e-6 min the concentrations barely move, so each change is rate * tau:
    # 1 reacts at (ka + kb) * c1 * c2 = (34.74 + 1.62) * 0.3 * 0.6 = 6.5448 M/min.
    c1, c2, c3, c4, c5 = simulate_snar(SnarConditions(1e-6, 2.0, 0.3, 90.0))
    assert c1 == pytest.approx(0.3 - 6.5448e-6, abs=1e-9)
    assert c3 == pytest.approx(34.74 * 0.3 * 0.6 * 1e-6, abs=1e-9)
    assert c4 == pytest.approx(1.62 * 0.3 * 0.6 * 1e-6, abs=1e-9)
    assert c5 == pytest.approx(0.0, abs=1e-9)
    assert c2 == pytest.approx(0.6 - 6.5448e-6, abs=1e-9)


# --- an independent integration ------------------------------------------------------------------


def _rk4_outlet(conditions: SnarConditions, steps: int) -> list[float]:
    """The four second-order steps integrated with classic fixed-step RK4, from the doc table."""
    t_k = conditions.temperature_c + 273.15
    ka, kb, kc, kd = (
        k_ref * math.exp(-ea / R * (1.0 / t_k - 1.0 / T_REF_K))
        for k_ref, ea in zip(K_REF_PER_MIN, EA, strict=True)
    )

    def f(c: list[float]) -> list[float]:
        c1, c2, c3, c4, _ = c
        ra, rb, rc, rd = ka * c1 * c2, kb * c1 * c2, kc * c3 * c2, kd * c4 * c2
        return [-ra - rb, -ra - rb - rc - rd, ra - rc, rb - rd, rc + rd]

    c = [conditions.concentration_m, conditions.equivalents * conditions.concentration_m, 0, 0, 0]
    h = conditions.residence_time_min / steps
    for _ in range(steps):
        s1 = f(c)
        s2 = f([x + h / 2 * d for x, d in zip(c, s1, strict=True)])
        s3 = f([x + h / 2 * d for x, d in zip(c, s2, strict=True)])
        s4 = f([x + h * d for x, d in zip(c, s3, strict=True)])
        c = [
            x + h / 6 * (a + 2 * b + 2 * e + g)
            for x, a, b, e, g in zip(c, s1, s2, s3, s4, strict=True)
        ]
    return c


@pytest.mark.parametrize(
    "conditions", [SnarConditions(1.0, 2.0, 0.3, 90.0), SnarConditions(1.5, 3.0, 0.2, 50.0)]
)
def test_outlet_matches_an_independent_rk4_integration(conditions: SnarConditions) -> None:
    expected = _rk4_outlet(conditions, steps=2000)

    outlet = simulate_snar(conditions)

    assert list(outlet) == pytest.approx(expected, abs=1e-6)


def test_yield_depends_on_residence_time_and_concentration_only_through_their_product() -> None:
    # All steps are second order: in scaled time k * c1_0 * tau the balances depend on the
    # equivalents alone, so doubling the concentration and halving tau keeps the yield.
    a = SnarConditions(2.0, 2.5, 0.2, 70.0)
    b = SnarConditions(1.0, 2.5, 0.4, 70.0)

    ya = snar_figures(simulate_snar(a), a).yield_pct
    yb = snar_figures(simulate_snar(b), b).yield_pct

    assert ya == pytest.approx(yb, abs=1e-5)


# --- figures of merit ----------------------------------------------------------------------------

# Made-up outlet: c1..c5 = 0.05, 0.4, 0.2, 0.03, 0.02 M; tau 1.5 min, 0.3 M charged.
# q = 3 mL / 1.5 min = 2 mL/min.
# yield = 100 * 0.2 / 0.3 = 66.667 %, conversion = 100 * 0.25 / 0.3 = 83.333 %.
# sty = 60 * 210.21 * 0.2 / 1.5 = 1681.68 kg m^-3 h^-1.
# waste = 1e-3 * 2 * (159.09*0.05 + 71.12*0.4 + 210.21*0.03 + 261.33*0.02)
#       = 2e-3 * (7.9545 + 28.448 + 6.3063 + 5.2266) = 2e-3 * 47.9354 = 0.0958708 g/min
# solvent = 2 * 0.789 = 1.578 g/min, product = 1e-3 * 2 * 210.21 * 0.2 = 0.084084 g/min
# E = (1.578 + 0.0958708) / 0.084084 = 19.907126
OUTLET = (0.05, 0.4, 0.2, 0.03, 0.02)


def test_figures_of_a_made_up_outlet_match_the_hand_computation() -> None:
    figures = snar_figures(OUTLET, SnarConditions(1.5, 2.0, 0.3, 60.0))

    assert figures.yield_pct == pytest.approx(66.666667, rel=1e-7)
    assert figures.conversion_pct == pytest.approx(83.333333, rel=1e-7)
    assert figures.space_time_yield == pytest.approx(1681.68, rel=1e-12)
    assert figures.e_factor == pytest.approx(19.907126, rel=1e-7)


def test_e_factor_does_not_depend_on_residence_time_but_sty_scales_with_one_over_tau() -> None:
    slow = snar_figures(OUTLET, SnarConditions(1.5, 2.0, 0.3, 60.0))
    fast = snar_figures(OUTLET, SnarConditions(0.75, 2.0, 0.3, 60.0))

    assert fast.e_factor == pytest.approx(slow.e_factor, rel=1e-12)
    assert fast.space_time_yield == pytest.approx(2 * 1681.68, rel=1e-12)
    assert fast.yield_pct == slow.yield_pct


def test_molar_masses_are_the_documented_ones() -> None:
    # 2,4-difluoronitrobenzene, pyrrolidine, the two mono adducts (isomers), the bis adduct.
    assert MOLAR_MASS == (159.09, 71.12, 210.21, 210.21, 261.33)


def test_no_product_gives_zero_yield_and_sty_and_the_e_factor_cap() -> None:
    figures = snar_figures((0.3, 0.6, 0.0, 0.0, 0.0), SnarConditions(1.0, 2.0, 0.3, 30.0))

    assert figures == SnarFigures(
        yield_pct=0.0, conversion_pct=0.0, space_time_yield=0.0, e_factor=1000.0
    )


def test_e_factor_is_capped_at_1000() -> None:
    # c3 = 1e-3 M: E = (0.789 + 1e-3 * (159.09*0.299 + 71.12*0.6)) / (1e-3 * 210.21 * 1e-3)
    #            = 0.87923991 / 2.1021e-4 = 4182.7 -> capped.
    capped = snar_figures((0.299, 0.6, 1e-3, 0.0, 0.0), SnarConditions(1.0, 2.0, 0.3, 30.0))
    # c3 = 5e-3 M: E = (0.789 + 1e-3 * (159.09*0.295 + 71.12*0.6)) / (1e-3 * 210.21 * 5e-3)
    #            = 0.87860355 / 1.05105e-3 = 835.93 -> below the cap.
    below = snar_figures((0.295, 0.6, 5e-3, 0.0, 0.0), SnarConditions(1.0, 2.0, 0.3, 30.0))

    assert capped.e_factor == 1000.0
    assert below.e_factor == pytest.approx(835.92936, rel=1e-7)


def test_conversion_is_floored_at_zero_when_the_outlet_reads_more_than_was_charged() -> None:
    # A noisy reading can put c1 above the charge; conversion then reads 0, not negative.
    figures = snar_figures((0.31, 0.6, 0.01, 0.0, 0.0), SnarConditions(1.0, 2.0, 0.3, 30.0))

    assert figures.conversion_pct == 0.0
    assert figures.yield_pct == pytest.approx(100 * 0.01 / 0.3)


# --- the best attainable yield -------------------------------------------------------------------


@pytest.fixture(scope="module")
def best() -> tuple[float, SnarConditions]:
    return best_attainable_yield()


def test_best_attainable_yield_is_about_91_7_percent(best: tuple[float, SnarConditions]) -> None:
    value, _ = best

    assert value == pytest.approx(91.72, abs=0.05)


def test_best_conditions_sit_at_the_cold_end_with_a_long_contact(
    best: tuple[float, SnarConditions],
) -> None:
    value, conditions = best

    assert conditions.temperature_c == pytest.approx(30.0, abs=1e-6)  # lower bound of T
    assert conditions.residence_time_min == pytest.approx(2.0, abs=0.1)
    assert conditions.concentration_m == pytest.approx(0.5, abs=0.02)
    assert conditions.equivalents == pytest.approx(2.0, abs=0.1)
    # The yield only sees tau * c1_0 (see the scaling test), so the optimum is a ridge:
    # tau * c1_0 about 0.96 M min, not a single corner of the box.
    assert conditions.residence_time_min * conditions.concentration_m == pytest.approx(
        0.96, abs=0.03
    )
    # The returned conditions reproduce the returned yield.
    assert snar_figures(simulate_snar(conditions), conditions).yield_pct == pytest.approx(
        value, abs=1e-9
    )


def test_best_attainable_yield_beats_the_corners_of_the_box(
    best: tuple[float, SnarConditions],
) -> None:
    value, _ = best
    corners = [
        SnarConditions(tau, equiv, conc, temp)
        for tau in (0.5, 2.0)
        for equiv in (1.0, 5.0)
        for conc in (0.1, 0.5)
        for temp in (30.0, 120.0)
    ]

    yields = [snar_figures(simulate_snar(c), c).yield_pct for c in corners]

    assert max(yields) < value
