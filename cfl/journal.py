"""The journal: the only way a campaign changes.

``journal.write(actor, *events)`` checks the events against a copy of the campaign, seals them
into signed ledger records chained to the current head, stores records and head in one
transaction, and only then makes the copy the campaign. A crash at any point leaves either all of
the events or none of them, in the store and in the ledger alike.

Each record is signed by the key for its actor (:meth:`cfl.keys.Keyring.signer_for`: a person's
own key if this ``CFL_HOME`` has one, else the instance key, created on the first write). The
journal keeps the right edge of the campaign's Merkle tree (:class:`cfl.merkle.CompactRange`) and
signs a tree head, stored in the same transaction, when a write holds one of
:data:`HEAD_EVENTS`: the campaign's creation, registered hypotheses, each completed round, a
pause, the review and the end (and on demand: :meth:`Journal.sign_head`). Listeners subscribed
with :meth:`Journal.subscribe_heads` hear of each head (to have it timestamped, say).

Writes are serialised by a lock, so a thread may write while the engine's event loop does (a
language model's call logged from the worker thread it runs in, :mod:`cfl.engine`); readers get
the campaign as of the last write, never half of one (the copy becomes the campaign at once).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import JsonValue

from cfl.campaign import Campaign
from cfl.canonical import canonical_json, sha256_hex
from cfl.errors import CFLError
from cfl.events import CampaignCreated, CampaignFinished, Event, event_from_payload
from cfl.keys import Keyring, SigningKey
from cfl.ledger import (
    GENESIS,
    Record,
    TreeHead,
    actor_info,
    seal_signed,
    sign_tree_head,
    subject_of,
    verify_chain,
)
from cfl.merkle import CompactRange, leaf_hash
from cfl.spec import CampaignSpec
from cfl.store import ConcurrentWriter, Store

__all__ = [
    "HEAD_EVENTS",
    "HeadListener",
    "Journal",
    "Listener",
    "human_actor",
    "load_campaign",
    "spec_hash",
]

Listener = Callable[[Campaign, Record], None]
HeadListener = Callable[[TreeHead], None]

HEAD_EVENTS = frozenset(
    {
        "campaign.created",
        "hypothesis.proposed",
        "round.completed",
        "campaign.paused",
        "campaign.reviewed",
        "campaign.finished",
    }
)
"""Record types after which the journal signs a tree head over the log so far."""


def spec_hash(spec: CampaignSpec) -> str:
    """SHA-256 of the spec's canonical JSON: same spec file, same hash."""
    return sha256_hex(canonical_json(spec.model_dump(mode="json")))


def human_actor() -> str:
    """``human:<login>`` of whoever runs this process."""
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return f"human:{user}"


class Journal:
    """Writes a campaign's events to the store and the ledger; owns the campaign's state."""

    def __init__(
        self,
        store: Store,
        campaign: Campaign,
        head: tuple[int, str],
        *,
        keys: Keyring | None = None,
        hashes: Iterable[str] = (),
        subjects: Mapping[str, str] | None = None,
        signed_size: int = 0,
    ) -> None:
        """Prefer :meth:`create` and :meth:`open`.

        Args:
            keys: Where the signing keys are (default: the configured ``CFL_HOME``'s, loaded
                at the first write).
            hashes: The hashes of the records so far, in order (the Merkle tree's leaves).
            subjects: Subject to the id of the record that last spoke of it (supersedes links).
            signed_size: Size of the last signed tree head.
        """
        self._store = store
        self._campaign = campaign
        self._head = head
        self._listeners: list[Listener] = []
        self._head_listeners: list[HeadListener] = []
        self._keys = keys
        self._tree = CompactRange()
        for digest in hashes:
            self._tree.append(leaf_hash(bytes.fromhex(digest)))
        self._subjects: dict[str, str] = dict(subjects or {})
        self._signed_size = signed_size
        self._infos: dict[str, dict[str, JsonValue]] = {}
        self._registered: set[str] = set()
        self._lock = threading.RLock()

    @property
    def store(self) -> Store:
        """Where the campaign's records live (other campaigns of the store are read from it)."""
        return self._store

    @property
    def campaign(self) -> Campaign:
        """The campaign as of the last write."""
        return self._campaign

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last record written."""
        return self._head

    @property
    def keys(self) -> Keyring:
        """The keyring records are signed from."""
        if self._keys is None:
            self._keys = Keyring.default()
        return self._keys

    @classmethod
    def create(
        cls, store: Store, spec: CampaignSpec, *, actor: str, keys: Keyring | None = None
    ) -> Journal:
        """Start a new campaign for ``spec``; its first record holds the whole spec."""
        digest = spec_hash(spec)
        keyring = keys or Keyring.default()
        signer = keyring.signer_for(actor)
        instance = keyring.instance()
        for key in {signer.key_id: signer, instance.key_id: instance}.values():
            store.register_key(key.public)
        for _ in range(5):  # another process may take the same id between count and insert
            campaign_id = store.next_campaign_id(spec.name)
            created = CampaignCreated(lab_time_s=0.0, spec=spec, spec_hash=digest)
            payload = created.model_dump(mode="json")
            record = seal_signed(
                campaign=campaign_id,
                seq=1,
                type=created.TYPE,
                actor=actor,
                payload=payload,
                prev=GENESIS,
                key=signer,
                info=actor_info(actor, created.TYPE, payload, _devices(spec)),
            )
            tree = CompactRange()
            tree.append(leaf_hash(bytes.fromhex(record.hash)))
            tree_head = sign_tree_head(
                campaign=campaign_id, size=1, root=tree.root(), key=instance, ts=record.ts
            )
            try:
                store.create_campaign(
                    name=spec.name, spec_hash=digest, first=record, tree_head=tree_head
                )
            except ConcurrentWriter:
                continue
            campaign = Campaign.from_events(campaign_id, [created])
            journal = cls(
                store,
                campaign,
                (record.seq, record.hash),
                keys=keyring,
                hashes=[record.hash],
                signed_size=1,
            )
            journal._registered.update({signer.key_id, instance.key_id})
            return journal
        raise CFLError(f"could not allocate a campaign id for {spec.name!r}; try again")

    @classmethod
    def open(cls, store: Store, campaign_id: str, *, keys: Keyring | None = None) -> Journal:
        """Load a campaign by replaying its verified records.

        Verification here is the chain's (hashes, links, ``seq``, the head): cheap enough for
        every load. Signatures and tree heads are checked by ``cfl ledger verify``
        (:mod:`cfl.verify`), which needs the public keys.

        Raises:
            NotFound: no such campaign.
            LedgerTampered: the records do not verify; nothing is replayed.
        """
        snapshot = store.snapshot(campaign_id)
        info, records = snapshot.info, snapshot.records
        verify_chain(records, campaign=campaign_id, head=(info.head_seq, info.head_hash))
        campaign = Campaign.from_events(
            campaign_id, (event_from_payload(r.type, r.payload) for r in records)
        )
        subjects: dict[str, str] = {}
        for record in records:
            found = subject_of(record.type, record.payload)
            if found is not None:
                subjects[found[0]] = record.id
        heads = snapshot.heads
        return cls(
            store,
            campaign,
            (info.head_seq, info.head_hash),
            keys=keys,
            hashes=(r.hash for r in records),
            subjects=subjects,
            signed_size=heads[-1].size if heads else 0,
        )

    @classmethod
    def find_unfinished(cls, store: Store, spec: CampaignSpec) -> str | None:
        """Id of the newest unfinished campaign run from this exact spec, if any."""
        digest = spec_hash(spec)
        for info in store.campaigns():
            if info.spec_hash == digest and not info.finished:
                return info.id
        return None

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(campaign, record)`` after every record written."""
        self._listeners.append(listener)

    def subscribe_heads(self, listener: HeadListener) -> None:
        """Call ``listener(head)`` after every signed tree head stored (e.g. to timestamp it).

        It runs in the writer's thread after the head is committed; what it raises propagates
        to the writer, so a listener doing network I/O should catch its own errors.
        """
        self._head_listeners.append(listener)

    def write(self, actor: str, *events: Event) -> list[Record]:
        """Apply, seal, sign and store ``events`` as one atomic step (see module docstring).

        Raises:
            CFLError: an event contradicts the campaign's state; nothing is written.
            ConcurrentWriter: another process wrote to this campaign meanwhile.
        """
        if not events:
            return []
        with self._lock:
            return self._write(actor, events)

    def _write(self, actor: str, events: tuple[Event, ...]) -> list[Record]:
        trial = self._campaign.copy()
        for event in events:
            trial.apply(event)
        signer = self._signer(actor)
        seq, prev = self._head
        tree = self._tree.copy()
        subjects: dict[str, str] = {}
        records: list[Record] = []
        sign_head = False
        for event in events:
            seq += 1
            payload = event.model_dump(mode="json")
            supersedes: tuple[str, ...] = ()
            found = subject_of(event.TYPE, payload)
            if found is not None:
                subject, replaces = found
                earlier = subjects.get(subject) or self._subjects.get(subject)
                if replaces and earlier is not None:
                    supersedes = (earlier,)
                subjects[subject] = f"{trial.id}/{seq}"
            record = seal_signed(
                campaign=trial.id,
                seq=seq,
                type=event.TYPE,
                actor=actor,
                payload=payload,
                prev=prev,
                key=signer,
                info=self._actor_info(actor, event.TYPE, payload),
                supersedes=supersedes,
                schema=getattr(event, "SCHEMA", 1),
            )
            records.append(record)
            tree.append(leaf_hash(bytes.fromhex(record.hash)))
            prev = record.hash
            sign_head = sign_head or event.TYPE in HEAD_EVENTS
        tree_head = None
        if sign_head:
            tree_head = sign_tree_head(
                campaign=trial.id,
                size=tree.size,
                root=tree.root(),
                key=self._instance(),
                ts=records[-1].ts,
            )
        self._store.append(
            records,
            finished=any(isinstance(e, CampaignFinished) for e in events),
            tree_head=tree_head,
        )
        self._campaign, self._head, self._tree = trial, (seq, prev), tree
        self._subjects.update(subjects)
        for record in records:
            for listener in self._listeners:
                listener(trial, record)
        if tree_head is not None:
            self._signed_size = tree_head.size
            for head_listener in self._head_listeners:
                head_listener(tree_head)
        return records

    def sign_head(self) -> TreeHead | None:
        """Sign and store a tree head over every record so far, unless one covers them already.

        Returns:
            The new head, or ``None`` when the last stored head already covers the log.
        """
        with self._lock:
            return self._sign_head()

    def _sign_head(self) -> TreeHead | None:
        if self._tree.size <= self._signed_size:
            return None
        head = sign_tree_head(
            campaign=self._campaign.id,
            size=self._tree.size,
            root=self._tree.root(),
            key=self._instance(),
        )
        head = self._store.add_tree_head(head)
        self._signed_size = head.size
        for listener in self._head_listeners:
            listener(head)
        return head

    def stamp_head(self) -> TreeHead | None:
        """Have the configured RFC 3161 authority (``CFL_TSA_URL``) stamp the latest tree head.

        Signs a head over every record first if none covers them. The token is kept with the
        head, so a bundle or ``cfl ledger verify`` can show the log existed by then.

        Returns:
            The stamped head, or ``None`` when no authority is configured (said once).

        Raises:
            TimestampUnavailable: the authority did not answer or refused.
        """
        from cfl.timestamp import stamp_configured  # httpx and asn1crypto, only when stamping

        head = self.sign_head() or self._store.tree_heads(self._campaign.id)[-1]
        token = stamp_configured(head.timestamp_data())
        if token is None:
            return None
        self._store.set_timestamp_token(self._campaign.id, head.size, token.to_json())
        return head.model_copy(update={"timestamp_token": token.to_json()})

    def _signer(self, actor: str) -> SigningKey:
        key = self.keys.signer_for(actor)
        self._register(key)
        return key

    def _instance(self) -> SigningKey:
        key = self.keys.instance()
        self._register(key)
        return key

    def _register(self, key: SigningKey) -> None:
        if key.key_id not in self._registered:
            self._store.register_key(key.public)
            self._registered.add(key.key_id)

    def _actor_info(
        self, actor: str, type: str, payload: Mapping[str, Any]
    ) -> dict[str, JsonValue]:
        if type == "model.called":
            return actor_info(actor, type, payload)
        info = self._infos.get(actor)
        if info is None:
            info = actor_info(actor, type, payload, _devices(self._campaign.spec))
            self._infos[actor] = info
        return info


def _devices(spec: CampaignSpec) -> dict[str, dict[str, Any]]:
    """The lab's devices as plain mappings, for device actors' ``actor_info``."""
    return {
        name: {
            "driver": device.driver,
            "role": device.role,
            "address": device.address,
            "options": device.options,
        }
        for name, device in spec.lab.devices.items()
    }


def load_campaign(store: Store, campaign_id: str) -> Campaign:
    """The current state of a campaign, for reading (reports, status).

    Raises:
        NotFound: no such campaign.
        LedgerTampered: its records do not verify.
    """
    return Journal.open(store, campaign_id).campaign
