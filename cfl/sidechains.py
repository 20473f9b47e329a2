"""Signed hash chains that are not campaigns: the leaderboard's problems, the copilot's model calls.

Each chain's records are sealed by :func:`cfl.ledger.seal_signed` with the instance key of
``CFL_HOME``, stored by :class:`cfl.store.Store` with a signed Merkle tree head after every
write, and checked by :func:`cfl.verify.verify_log`: exactly how campaign records are made and
checked, so ``cfl verify``'s rules apply. They live in a store of their own (a separate
database), never in the CFL store, whose readers replay every chain there as a campaign.

Appends are serialised in one process by a lock; between processes, a writer that finds the
head moved re-reads it and tries again (:class:`cfl.store.ConcurrentWriter`).
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

__all__ = ["SignedChains"]

_ATTEMPTS = 5


class SignedChains:
    """Appends to and verifies signed chains in one store (thread-safe in one process)."""

    def __init__(self, store: Store, keys: Keyring | None = None) -> None:
        self.store = store
        self._keys = keys
        self._lock = threading.Lock()
        self._registered = False

    @property
    def keys(self) -> Keyring:
        """The keyring that signs (the instance key of ``CFL_HOME`` unless given)."""
        if self._keys is None:
            self._keys = Keyring.default()
        return self._keys

    def append(
        self, chain: str, type: str, payload: dict[str, JsonValue], *, actor: str, title: str
    ) -> Record:
        """Seal, sign and store one record on ``chain`` (created, called ``title``, at its first).

        Raises:
            ConcurrentWriter: other processes kept moving the head through every attempt.
        """
        key = self.keys.instance()
        with self._lock:
            if not self._registered:
                self.store.register_key(key.public)
                self._registered = True
            for attempt in range(_ATTEMPTS):
                try:
                    return self._append_once(chain, title, type, actor, payload, key)
                except ConcurrentWriter:  # another process wrote this chain meanwhile: re-read
                    if attempt == _ATTEMPTS - 1:
                        raise
                    time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _append_once(
        self,
        chain: str,
        title: str,
        type: str,
        actor: str,
        payload: dict[str, JsonValue],
        key: SigningKey,
    ) -> Record:
        try:
            info = self.store.campaign(chain)
            seq, prev = info.head_seq, info.head_hash
        except NotFound:  # the chain starts here
            seq, prev = 0, GENESIS
        record = seal_signed(
            campaign=chain, seq=seq + 1, type=type, actor=actor, payload=payload, prev=prev, key=key
        )
        hashes = self.store.record_hashes(chain) if seq else []
        tree = CompactRange()
        for digest in [*hashes, record.hash]:
            tree.append(leaf_hash(bytes.fromhex(digest)))
        head = sign_tree_head(
            campaign=chain, size=tree.size, root=tree.root(), key=key, ts=record.ts
        )
        if seq == 0:
            self.store.create_campaign(name=title, spec_hash="", first=record, tree_head=head)
        else:
            self.store.append([record], tree_head=head)
        return record

    def records(self, chain: str) -> list[Record]:
        """The chain's records, oldest first."""
        return self.store.records(chain)

    def verify(self, chain: str) -> CampaignReport:
        """Verify the chain: links, signatures, tree heads, the head kept beside it.

        Raises:
            NotFound: no such chain.
            LedgerTampered: the first problem found.
        """
        snapshot = self.store.snapshot(chain)
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
