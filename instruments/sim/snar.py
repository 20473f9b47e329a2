"""Kinetic model of the SnAr coupling used by the simulated flow reactor.

The reaction is the nucleophilic aromatic substitution of 2,4-difluoronitrobenzene (1) by
pyrrolidine (2) in ethanol, studied in flow by Hone et al. [Hone2017]_ and used as a benchmark by
Summit [Felton2021]_. Four second-order steps compete::

    1 + 2 -> 3   (ortho product, wanted)   k_a
    1 + 2 -> 4   (para product)            k_b
    3 + 2 -> 5   (bis adduct)              k_c
    4 + 2 -> 5   (bis adduct)              k_d

with Arrhenius constants referenced to 90 °C,
``k_i(T) = k_i,ref * exp(-Ea_i / R * (1/T - 1/T_ref))``:

=====  ==========================  ===========
step   k_ref (1e-2 M^-1 s^-1)      Ea (kJ/mol)
=====  ==========================  ===========
a      57.9                        33.3
b      2.70                        35.3
c      0.865                       38.9
d      1.63                        44.8
=====  ==========================  ===========

The plug-flow reactor is integrated over the residence time ``tau`` (an ideal PFR is the batch
equations in ``tau``). Two slips in Summit's ``SnarBenchmark`` are corrected here: the para product
forms with ``k_b`` (Summit's code uses ``k_a`` for both), and kelvin is ``°C + 273.15`` (Summit adds
273.71). E-factor and space-time yield follow Summit's definitions (reactor volume 3 mL, ethanol
density 0.789 g/mL, reservoir concentrations 2.0 M of 1 and 4.2 M of 2).

.. [Hone2017] C. A. Hone, N. Holmes, G. R. Akien, R. A. Bourne, F. L. Muller, "Rapid multistep
   kinetic model generation from transient flow data", React. Chem. Eng. 2, 103-108 (2017).
.. [Felton2021] K. C. Felton, J. G. Rittig, A. A. Lapkin, "Summit: benchmarking machine learning
   methods for reaction optimisation", Chemistry-Methods 1, 116-122 (2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

__all__ = [
    "MOLAR_MASS",
    "SnarConditions",
    "SnarFigures",
    "best_attainable_yield",
    "simulate_snar",
    "snar_figures",
]

_R = 8.314e-3  # kJ / (mol K)
_T_REF = 90.0 + 273.15  # K
_K_REF = (57.9, 2.70, 0.865, 1.63)  # 1e-2 M^-1 s^-1
_EA = (33.3, 35.3, 38.9, 44.8)  # kJ/mol
_PER_MIN = 0.6  # 1e-2 M^-1 s^-1 -> M^-1 min^-1
_REACTOR_VOLUME_ML = 3.0
_ETHANOL_DENSITY = 0.789  # g/mL at 25 °C

MOLAR_MASS = (159.09, 71.12, 210.21, 210.21, 261.33)
"""Molar masses in g/mol of species 1 to 5."""


@dataclass(frozen=True)
class SnarConditions:
    """Inlet conditions of one flow experiment."""

    residence_time_min: float
    equivalents: float
    concentration_m: float
    temperature_c: float


@dataclass(frozen=True)
class SnarFigures:
    """What a chemist reads off an outlet composition."""

    yield_pct: float
    """Ortho product 3 as a percentage of the limiting reagent 1 charged."""
    conversion_pct: float
    """Share of 1 consumed."""
    space_time_yield: float
    """kg of 3 per m^3 of reactor per hour."""
    e_factor: float
    """Mass of waste per mass of 3 (Summit's definition), capped at 1000."""


def _rate_constants(temperature_c: float) -> NDArray[np.float64]:
    """Rate constants in M^-1 min^-1 at the given temperature (Arrhenius, see module doc)."""
    t_k = temperature_c + 273.15
    k_ref = np.asarray(_K_REF) * _PER_MIN
    ea = np.asarray(_EA)
    return k_ref * np.exp(-ea / _R * (1.0 / t_k - 1.0 / _T_REF))


def _rates(_t: float, c: NDArray[np.float64], k: NDArray[np.float64]) -> NDArray[np.float64]:
    k_a, k_b, k_c, k_d = k
    c1, c2, c3, c4 = (max(x, 0.0) for x in c[:4])
    r_a, r_b, r_c, r_d = k_a * c1 * c2, k_b * c1 * c2, k_c * c3 * c2, k_d * c4 * c2
    return np.array([-(r_a + r_b), -(r_a + r_b + r_c + r_d), r_a - r_c, r_b - r_d, r_c + r_d])


def simulate_snar(conditions: SnarConditions) -> tuple[float, float, float, float, float]:
    """Outlet concentrations (M) of species 1 to 5 after the plug-flow reactor.

    Args:
        conditions: Residence time (min), equivalents of 2, inlet concentration of 1 (M) and
            temperature (°C). Summit's box is tau 0.5-2, equiv 1-5, conc 0.1-0.5, T 30-120.
    """
    c0 = np.zeros(5)
    c0[0] = conditions.concentration_m
    c0[1] = conditions.equivalents * conditions.concentration_m
    k = _rate_constants(conditions.temperature_c)
    solution = solve_ivp(
        _rates,
        (0.0, conditions.residence_time_min),
        c0,
        args=(k,),
        method="LSODA",
        rtol=1e-8,
        atol=1e-10,
    )
    c1, c2, c3, c4, c5 = (max(float(x), 0.0) for x in solution.y[:, -1])
    return c1, c2, c3, c4, c5


def snar_figures(
    outlet: tuple[float, float, float, float, float], conditions: SnarConditions
) -> SnarFigures:
    """Yield, conversion, space-time yield and E-factor of an outlet composition.

    ``sty = 60 * M_3 * c_3 / tau`` (kg m^-3 h^-1, with ``q/V = 1/tau``);
    ``E = (q * rho_EtOH + 1e-3 * q * sum_{i != 3} M_i c_i) / (1e-3 * q * M_3 * c_3)``,
    Summit's definition: solvent plus every species but the product counts as waste.
    """
    q_tot = _REACTOR_VOLUME_ML / conditions.residence_time_min  # mL/min
    c3 = outlet[2]
    sty = 6e4 / 1000 * MOLAR_MASS[2] * c3 * q_tot / _REACTOR_VOLUME_ML
    waste = 1e-3 * sum(MOLAR_MASS[i] * outlet[i] * q_tot for i in range(5) if i != 2)
    product = 1e-3 * MOLAR_MASS[2] * c3 * q_tot
    e_factor = 1e3 if product <= 0 else min(1e3, (q_tot * _ETHANOL_DENSITY + waste) / product)
    charged = conditions.concentration_m
    return SnarFigures(
        yield_pct=100.0 * c3 / charged,
        conversion_pct=100.0 * max(0.0, charged - outlet[0]) / charged,
        space_time_yield=sty,
        e_factor=e_factor,
    )


def best_attainable_yield() -> tuple[float, SnarConditions]:
    """The highest noiseless yield in Summit's box, by multi-start L-BFGS-B (a few seconds).

    Used to state how close a campaign came; CFL's planner never sees it.
    """
    low = np.array([0.5, 1.0, 0.1, 30.0])
    high = np.array([2.0, 5.0, 0.5, 120.0])

    def negative_yield(x: NDArray[np.float64]) -> float:
        conditions = SnarConditions(*(float(v) for v in x))
        return -snar_figures(simulate_snar(conditions), conditions).yield_pct

    rng = np.random.default_rng(0)
    best = None
    for _ in range(6):
        start = low + rng.random(4) * (high - low)
        result = minimize(
            negative_yield, start, bounds=list(zip(low, high, strict=True)), method="L-BFGS-B"
        )
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    return -float(best.fun), SnarConditions(*(float(v) for v in best.x))
