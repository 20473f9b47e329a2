"""The leaderboard's own ledger: one signed hash chain per problem (:mod:`cfl.sidechains`).

Each problem's events are records of a chain called ``problem-<id>`` in the leaderboard database
(:mod:`leaderboard.db`), made and checked exactly as campaign records are, without putting
non-campaign chains into the CFL store (its readers replay every chain there as a campaign).

Record types: ``problem.sealed`` (commitment, before opening), ``problem.opened``,
``submission.scored`` (a score and what it was computed from), ``problem.closed``,
``problem.revealed`` (params + salt, and whether they match the commitment).
"""

from __future__ import annotations

from pydantic import JsonValue

from cfl.keys import Keyring
from cfl.ledger import Record
from cfl.sidechains import SignedChains
from cfl.store import Store
from cfl.verify import CampaignReport

__all__ = ["ACTOR", "ProblemLedger", "chain_id"]

ACTOR = "cfl"
"""Who the leaderboard's records name: the CFL instance."""


def chain_id(problem_id: str) -> str:
    """The chain a problem's records are in."""
    return f"problem-{problem_id}"


class ProblemLedger:
    """The problem chains of one leaderboard database, addressed by problem id."""

    def __init__(self, store: Store, keys: Keyring | None = None) -> None:
        self.chains = SignedChains(store, keys)

    @property
    def keys(self) -> Keyring:
        return self.chains.keys

    def append(self, problem_id: str, type: str, payload: dict[str, JsonValue]) -> Record:
        """Seal, sign and store one record on the problem's chain (created at its first)."""
        return self.chains.append(
            chain_id(problem_id), type, payload, actor=ACTOR, title=f"leaderboard:{problem_id}"
        )

    def records(self, problem_id: str) -> list[Record]:
        return self.chains.records(chain_id(problem_id))

    def verify(self, problem_id: str) -> CampaignReport:
        """Verify the problem's chain (:meth:`cfl.sidechains.SignedChains.verify`).

        Raises:
            LedgerTampered: the first problem found.
        """
        return self.chains.verify(chain_id(problem_id))
