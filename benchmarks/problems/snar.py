"""SnAr (4-D): the demo's flow reaction, maximise the yield of the ortho product.

The kinetic model of :mod:`instruments.sim.snar` (Hone et al. 2017, as in Summit's SnAr
benchmark): residence time 0.5-2 min, 1-5 equivalents of pyrrolidine, 0.1-0.5 M substrate,
30-120 °C. The truth is :func:`benchmarks.truth.snar_yield` (classical Runge-Kutta, within
1e-4 % of the LSODA solution the simulator integrates). Measured with the simulated HPLC's
default scatter, 2 % of the signal (``instruments.sim.hplc``, ``noise_pct = 2``).

Best attainable yield ``91.7234 %`` at ``tau = 1.929 min, 2.031 equiv, 0.49994 M, 30 °C``:
:func:`instruments.sim.snar.best_attainable_yield` (multi-start L-BFGS-B on the LSODA model,
91.72341), refined by L-BFGS-B on the Runge-Kutta truth (91.72341), frozen here.

Sources: C. A. Hone et al., React. Chem. Eng. 2, 103-108 (2017); K. C. Felton et al.,
Chemistry-Methods 1, 116-122 (2021), https://github.com/sustainable-processes/summit
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.problems.base import FunctionProblem, ObjectiveSpec, box, vector
from benchmarks.truth import SNAR_BOX, snar_yield
from cfl.space import Point, SearchSpace

__all__ = ["OPTIMUM", "OPTIMUM_POINT", "RELATIVE_NOISE", "problem", "space", "yield_pct"]

OPTIMUM = 91.72340515
OPTIMUM_POINT: Mapping[str, float] = {
    "residence_time": 1.9287980745527455,
    "equivalents": 2.031020959648675,
    "concentration": 0.4999363914370739,
    "temperature": 30.0,
}
RELATIVE_NOISE = 0.02


def space() -> SearchSpace:
    """The demo's space (``examples/snar/campaign.yaml``)."""
    return box(SNAR_BOX.names, SNAR_BOX.low, SNAR_BOX.high)


def yield_pct(point: Point) -> float:
    """Noiseless yield (%) at ``point``."""
    return float(snar_yield(vector(point, SNAR_BOX.names)[None, :])[0])


def _response(point: Point) -> Mapping[str, float]:
    return {"yield": yield_pct(point)}


def problem() -> FunctionProblem:
    """The SnAr yield problem."""
    return FunctionProblem(
        name="snar",
        space=space(),
        objectives=(ObjectiveSpec("yield", "maximize", noise_sd=2.0),),
        optimum=OPTIMUM,
        response=_response,
        relative_noise=RELATIVE_NOISE,
        optimum_point=dict(OPTIMUM_POINT),
    )
