"""Maximising an acquisition function over a mixed search space with linear constraints.

Acquisition surfaces are multimodal and cheap, so a global-then-local scheme (as in BoTorch's
``optimize_acqf_mixed`` and Optuna's GPSampler) works well:

1. score a scrambled Sobol set over the unit cube plus perturbations of the best observed points
   (where improvement is likeliest), every row snapped to values the space can take (integers
   rounded, categoricals one-hot) and kept only if it meets the space's linear constraints and is
   not a repeat of an evaluated, pending or already chosen experiment;
2. polish the best few with a gradient method on the continuous coordinates only (L-BFGS-B in
   the box, or SLSQP when linear constraints apply), all starts at once as one separable problem
   so scipy is called once rather than once per start;
3. walk the discrete coordinates: try each neighbouring level / integer ± 1 of every polished
   start and move while that improves, then polish again.

All randomness comes from the generator passed in, so the result is a pure function of the
model, the data and the seed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import LinearConstraint, minimize
from scipy.stats import qmc

from cfl.encoding import Encoding

__all__ = ["Acquisition", "AcquisitionOptimizer"]

Array = NDArray[np.float64]

Acquisition = Callable[[Array, bool], tuple[Array, Array]]
"""``(rows (m, D), with_grad)`` → (values ``(m,)``, gradients ``(m, D)``), to be maximised.

Without ``with_grad`` the gradient may be an empty array: scoring a thousand candidates does not
need it, and skipping it halves the cost."""


@dataclass(frozen=True)
class AcquisitionOptimizer:
    """Settings of the global-then-local search.

    Attributes:
        n_sobol: Size of the Sobol candidate set (a power of two keeps it balanced).
        n_perturb: Perturbed copies of the incumbents added to the candidates.
        n_polish: Best distinct candidates polished by the gradient method.
        min_distance: Rows closer than this (Euclidean, unit cube) to an evaluated, pending or
            chosen row are repeats and never proposed.
    """

    n_sobol: int = 1024
    n_perturb: int = 256
    n_polish: int = 4
    min_distance: float = 1e-4

    def maximise(
        self,
        acquisition: Acquisition,
        encoding: Encoding,
        rng: np.random.Generator,
        *,
        avoid: Array,
        incumbents: Array,
    ) -> tuple[Array, float] | None:
        """The best row found and its acquisition value, or None if no admissible row exists.

        Args:
            acquisition: What to maximise.
            encoding: The space's encoding (snapping, constraints, discrete neighbours).
            rng: Source of the Sobol scramble and the perturbations.
            avoid: Rows already evaluated, pending or chosen (``(k, D)``, may be empty).
            incumbents: Rows to perturb, best first (``(k, D)``, may be empty).
        """
        candidates = self._candidates(encoding, rng, incumbents)
        candidates = candidates[self._admissible(encoding, candidates, avoid)]
        if len(candidates) == 0:
            return None
        values, _ = acquisition(candidates, False)
        order = np.argsort(-values, kind="stable")
        starts = _distinct(candidates[order], self.n_polish)
        starts = self._polish(acquisition, encoding, starts)
        if encoding.discrete:
            starts = self._discrete_walk(acquisition, encoding, starts)
        finals = np.vstack([encoding.snap(starts), candidates[order[:1]]])
        finals = finals[self._admissible(encoding, finals, avoid)]
        if len(finals) == 0:  # polishing led only to repeats or rounding broke a constraint
            return candidates[order[0]], float(values[order[0]])
        final_values, _ = acquisition(finals, False)
        best = int(np.argmax(final_values))
        return finals[best], float(final_values[best])

    def _candidates(self, encoding: Encoding, rng: np.random.Generator, incumbents: Array) -> Array:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for odd sizes
            sobol = qmc.Sobol(encoding.dim, scramble=True, seed=rng).random(self.n_sobol)
        parts = [sobol]
        if len(incumbents):
            picks = incumbents[rng.integers(0, len(incumbents), self.n_perturb)]
            scales = rng.choice(np.array([0.005, 0.02, 0.1]), size=(self.n_perturb, 1))
            moved = picks.copy()
            cont = encoding.continuous
            moved[:, cont] += scales * rng.standard_normal((self.n_perturb, len(cont)))
            parts.append(np.clip(moved, 0.0, 1.0))
            parts.extend(encoding.neighbours(row) for row in incumbents[:2])
        return encoding.snap(np.vstack(parts))

    def _admissible(self, encoding: Encoding, rows: Array, avoid: Array) -> NDArray[np.bool_]:
        ok = np.ones(len(rows), dtype=bool)
        if encoding.space.constraints:
            a, b = encoding.constraint_matrix()
            x, _ = encoding.raw(rows)
            ok &= np.all(x @ a.T <= b + 1e-9, axis=1)
        if len(avoid):
            d2 = np.sum((rows[:, None, :] - avoid[None, :, :]) ** 2, axis=-1)
            ok &= np.min(d2, axis=1) >= self.min_distance**2
        return ok

    def _polish(self, acquisition: Acquisition, encoding: Encoding, starts: Array) -> Array:
        """Gradient ascent on the continuous coordinates of all starts at once."""
        cont = encoding.continuous
        if len(cont) == 0 or len(starts) == 0:
            return starts
        m, k = len(starts), len(cont)

        def rows_of(flat: Array) -> Array:
            rows = starts.copy()
            rows[:, cont] = flat.reshape(m, k)
            return rows

        def objective(flat: Array) -> tuple[float, Array]:
            values, grads = acquisition(rows_of(flat), True)
            values = np.where(np.isfinite(values), values, -1e10)
            return -float(np.sum(values)), -np.nan_to_num(grads[:, cont]).ravel()

        x0 = starts[:, cont].ravel()
        bounds = [(0.0, 1.0)] * (m * k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if encoding.space.constraints:
                result = minimize(
                    objective,
                    x0,
                    jac=True,
                    method="SLSQP",
                    bounds=bounds,
                    constraints=self._linear(encoding, starts, cont),
                    options={"maxiter": 100},
                )
            else:
                result = minimize(
                    objective,
                    x0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=bounds,
                    options={"maxiter": 100},
                )
        polished = rows_of(np.clip(np.asarray(result.x, dtype=float), 0.0, 1.0))
        # keep a start where polishing did not help (or left the feasible region)
        before, _ = acquisition(starts, False)
        after, _ = acquisition(polished, False)
        keep = after >= before
        return np.where(keep[:, None], polished, starts)

    @staticmethod
    def _linear(
        encoding: Encoding, starts: Array, cont: NDArray[np.intp]
    ) -> list[LinearConstraint]:
        """The space's constraints per start, linearised exactly for linear-scale parameters.

        ``A x(u) <= b`` with ``x`` linear in ``u`` except for log-scale parameters, which are
        linearised at the start (the final point is checked exactly and rejected if it fails).
        """
        a, b = encoding.constraint_matrix()
        x, dx = encoding.raw(starts)
        m, k = len(starts), len(cont)
        out: list[LinearConstraint] = []
        for i in range(m):
            # A (x0 + dx (u - u0)) <= b, over the continuous coordinates of start i
            coeff = a[:, cont] * dx[i, cont]
            rhs = b - a @ x[i] + coeff @ starts[i, cont]
            full = np.zeros((len(a), m * k))
            full[:, i * k : (i + 1) * k] = coeff
            out.append(LinearConstraint(full, -np.inf, rhs))
        return out

    def _discrete_walk(self, acquisition: Acquisition, encoding: Encoding, starts: Array) -> Array:
        """Move each start to its best discrete neighbour while that improves, then re-polish."""
        rows = encoding.snap(starts)
        no_rows = np.empty((0, encoding.dim))
        current, _ = acquisition(rows, False)
        moved = False
        for _ in range(4):
            improved = False
            for i in range(len(rows)):
                neighbours = encoding.neighbours(rows[i])
                neighbours = neighbours[self._admissible(encoding, neighbours, no_rows)]
                if len(neighbours) == 0:
                    continue
                values, _ = acquisition(neighbours, False)
                j = int(np.argmax(values))
                if values[j] > current[i] + 1e-12:
                    rows[i], current[i] = neighbours[j], values[j]
                    improved = moved = True
            if not improved:
                break
        return self._polish(acquisition, encoding, rows) if moved else rows


def _distinct(rows: Array, count: int) -> Array:
    """The first ``count`` rows that differ from each other (order kept)."""
    chosen: list[Array] = []
    for row in rows:
        if all(np.any(np.abs(row - other) > 1e-9) for other in chosen):
            chosen.append(row)
            if len(chosen) == count:
                break
    return np.array(chosen).reshape(len(chosen), rows.shape[1])
