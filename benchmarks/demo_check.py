"""How close did the demo campaign get? Compares its best conditions with the simulator's truth.

CFL only ever sees noisy HPLC readings; this check re-evaluates the conditions CFL found best on
the noiseless kinetic model and divides by the best yield attainable anywhere in the box. The
demo's figure is that ratio (goal: at least 90 %). Run it after
``cfl run examples/snar/campaign.yaml``::

    python -m benchmarks.demo_check [CAMPAIGN]

With no campaign named, the newest campaign of the demo spec in the store is checked.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from cfl.campaign import Campaign
from cfl.journal import Journal, spec_hash
from cfl.settings import Settings
from cfl.spec import load_spec
from cfl.store import Store
from instruments.sim.snar import SnarConditions, best_attainable_yield, simulate_snar, snar_figures

DEMO_SPEC = Path(__file__).resolve().parent.parent / "examples" / "snar" / "campaign.yaml"
GOAL = 0.90


@dataclass(frozen=True)
class DemoFigure:
    """The demo's outcome measured against the truth."""

    campaign: str
    experiments: int
    measured_yield: float
    true_yield: float
    attainable_yield: float

    @property
    def ratio(self) -> float:
        return self.true_yield / self.attainable_yield


def measure(campaign: Campaign) -> DemoFigure:
    """True yield at the campaign's best measured conditions, against the attainable best."""
    best = campaign.best()
    if best is None:
        raise SystemExit(f"campaign {campaign.id} has no observations yet")
    experiment, observation = best
    p = experiment.params
    conditions = SnarConditions(
        residence_time_min=float(p["residence_time"]),
        equivalents=float(p["equivalents"]),
        concentration_m=float(p["concentration"]),
        temperature_c=float(p["temperature"]),
    )
    truth = snar_figures(simulate_snar(conditions), conditions).yield_pct
    attainable, _ = best_attainable_yield()
    return DemoFigure(
        campaign=campaign.id,
        experiments=len(campaign.observations),
        measured_yield=observation.values["yield"],
        true_yield=truth,
        attainable_yield=attainable,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("campaign", nargs="?", help="campaign id (default: newest demo campaign)")
    args = parser.parse_args(argv)
    store = Store.open(Settings().store_url)
    campaign_id = args.campaign
    if campaign_id is None:
        digest = spec_hash(load_spec(DEMO_SPEC))
        matches = [c.id for c in store.campaigns() if c.spec_hash == digest]
        if not matches:
            raise SystemExit("no demo campaign in the store; run `make demo` first")
        campaign_id = matches[0]
    figure = measure(Journal.open(store, campaign_id).campaign)
    print(
        f"{figure.campaign}: best measured yield {figure.measured_yield:.2f}% after "
        f"{figure.experiments} experiments; true yield at those conditions "
        f"{figure.true_yield:.2f}% = {figure.ratio:.1%} of the best attainable "
        f"{figure.attainable_yield:.2f}% (goal >= {GOAL:.0%})"
    )
    return 0 if figure.ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
