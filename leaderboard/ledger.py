"""The leaderboard's own ledger: one signed hash chain per problem, CFL's machinery unchanged.

Each problem's events are records of a chain called ``problem-<id>`` in the leaderboard database
(:mod:`leaderboard.db`), sealed by :func:`cfl.ledger.seal_signed` with the instance key of
``CFL_HOME``, stored by :class:`cfl.store.Store` with a signed Merkle tree head after every
write, and checked by :func:`cfl.verify.verify_log`: exactly how campaign records are made and
checked, so ``cfl verify``'s rules apply, without putting non-campaign chains into the CFL store
(its readers replay every chain there as a campaign).

Record types: ``problem.sealed`` (commitment, before opening), ``problem.opened``,
``submission.scored`` (a score and what it was computed from), ``problem.closed``,
``problem.revealed`` (params + salt, and whether they match the commitment).
"""

from __future__ import annotations

import threading
import time

from pydantic import JsonValue

from cfl.errors import NotFound
from cfl.keys import Keyring, SigningKey, TrustedKeys
from cfl.ledger import GENESIS, Record, seal_signed, sign_tree_head
from cfl.merkle import CompactRange, leaf_hash
from cfl.store import ConcurrentWriter, Store
from cfl.verify import CampaignReport, verify_log

__all__ = ["ProblemLedger", "chain_id"]

ACTOR = "cfl"
_ATTEMPTS = 5


def chain_id(problem_id: str) -> str:
    """The chain a problem's records are in."""
    return f"problem-{problem_id}"


class ProblemLedger:
    """Appends to and verifies the problem chains in one store (thread-safe in one process)."""

    def __init__(self, store: Store, keys: Keyring | None = None) -> None:
        self.store = store
        self._keys = keys
        self._lock = threading.Lock()
        self._registered = False

    @property
    def keys(self) -> Keyring:
        if self._keys is None:
            self._keys = Keyring.default()
        return self._keys

    def append(self, problem_id: str, type: str, payload: dict[str, JsonValue]) -> Record:
        """Seal, sign and store one record on the problem's chain (created at its first)."""
        key = self.keys.instance()
        campaign = chain_id(problem_id)
        with self._lock:
            if not self._registered:
                self.store.register_key(key.public)
                self._registered = True
            for attempt in range(_ATTEMPTS):
                try:
                    record = self._append_once(problem_id, campaign, type, payload, key)
                    break
                except ConcurrentWriter:  # another process wrote this chain meanwhile: re-read
                    if attempt == _ATTEMPTS - 1:
                        raise
                    time.sleep(0.01 * (attempt + 1))
        return record

    def _append_once(
        self,
        problem_id: str,
        campaign: str,
        type: str,
        payload: dict[str, JsonValue],
        key: SigningKey,
    ) -> Record:
        try:
            info = self.store.campaign(campaign)
            seq, prev = info.head_seq, info.head_hash
        except NotFound:  # the chain starts here
            seq, prev = 0, GENESIS
        record = seal_signed(
            campaign=campaign,
            seq=seq + 1,
            type=type,
            actor=ACTOR,
            payload=payload,
            prev=prev,
            key=key,
        )
        hashes = self.store.record_hashes(campaign) if seq else []
        tree = CompactRange()
        for digest in [*hashes, record.hash]:
            tree.append(leaf_hash(bytes.fromhex(digest)))
        head = sign_tree_head(
            campaign=campaign, size=tree.size, root=tree.root(), key=key, ts=record.ts
        )
        if seq == 0:
            self.store.create_campaign(
                name=f"leaderboard:{problem_id}", spec_hash="", first=record, tree_head=head
            )
        else:
            self.store.append([record], tree_head=head)
        return record

    def records(self, problem_id: str) -> list[Record]:
        return self.store.records(chain_id(problem_id))

    def verify(self, problem_id: str) -> CampaignReport:
        """Verify the problem's chain: links, signatures, tree heads, the head kept beside it.

        Raises:
            LedgerTampered: the first problem found.
        """
        snapshot = self.store.snapshot(chain_id(problem_id))
        trusted = TrustedKeys(self.keys.public_keys())
        return verify_log(
            snapshot.info.id,
            snapshot.rows,
            snapshot.heads,
            trusted,
            head=(snapshot.info.head_seq, snapshot.info.head_hash),
            require_covered=True,
            workers=1,
        )
