"""The journal: the only way a campaign changes.

``journal.write(actor, *events)`` checks the events against a copy of the campaign, seals them
into ledger records chained to the current head, stores records and head in one transaction, and
only then makes the copy the campaign. A crash at any point leaves either all of the events or
none of them, in the store and in the ledger alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cfl.campaign import Campaign
from cfl.canonical import canonical_json, sha256_hex
from cfl.errors import CFLError
from cfl.events import CampaignCreated, CampaignFinished, Event, event_from_payload
from cfl.ledger import GENESIS, Record, seal, verify_chain
from cfl.spec import CampaignSpec
from cfl.store import ConcurrentWriter, Store

__all__ = ["Journal", "Listener", "human_actor", "load_campaign", "spec_hash"]

Listener = Callable[[Campaign, Record], None]


def spec_hash(spec: CampaignSpec) -> str:
    """SHA-256 of the spec's canonical JSON: same spec file, same hash."""
    return sha256_hex(canonical_json(spec.model_dump(mode="json")))


def human_actor() -> str:
    """``human:<login>`` of whoever runs this process."""
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return f"human:{user}"


class Journal:
    """Writes a campaign's events to the store and the ledger; owns the campaign's state."""

    def __init__(self, store: Store, campaign: Campaign, head: tuple[int, str]) -> None:
        self._store = store
        self._campaign = campaign
        self._head = head
        self._listeners: list[Listener] = []

    @property
    def campaign(self) -> Campaign:
        """The campaign as of the last write."""
        return self._campaign

    @property
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last record written."""
        return self._head

    @classmethod
    def create(cls, store: Store, spec: CampaignSpec, *, actor: str) -> Journal:
        """Start a new campaign for ``spec``; its first record holds the whole spec."""
        digest = spec_hash(spec)
        for _ in range(5):  # another process may take the same id between count and insert
            campaign_id = store.next_campaign_id(spec.name)
            created = CampaignCreated(lab_time_s=0.0, spec=spec, spec_hash=digest)
            record = seal(
                campaign=campaign_id,
                seq=1,
                type=created.TYPE,
                actor=actor,
                payload=created.model_dump(mode="json"),
                prev=GENESIS,
            )
            try:
                store.create_campaign(name=spec.name, spec_hash=digest, first=record)
            except ConcurrentWriter:
                continue
            campaign = Campaign.from_events(campaign_id, [created])
            return cls(store, campaign, (record.seq, record.hash))
        raise CFLError(f"could not allocate a campaign id for {spec.name!r}; try again")

    @classmethod
    def open(cls, store: Store, campaign_id: str) -> Journal:
        """Load a campaign by replaying its verified records.

        Raises:
            NotFound: no such campaign.
            LedgerTampered: the records do not verify; nothing is replayed.
        """
        info = store.campaign(campaign_id)
        records = store.records(campaign_id)
        verify_chain(records, campaign=campaign_id, head=(info.head_seq, info.head_hash))
        campaign = Campaign.from_events(
            campaign_id, (event_from_payload(r.type, r.payload) for r in records)
        )
        return cls(store, campaign, (info.head_seq, info.head_hash))

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

    def write(self, actor: str, *events: Event) -> list[Record]:
        """Apply, seal and store ``events`` as one atomic step (see module docstring).

        Raises:
            CFLError: an event contradicts the campaign's state; nothing is written.
            ConcurrentWriter: another process wrote to this campaign meanwhile.
        """
        if not events:
            return []
        trial = self._campaign.copy()
        for event in events:
            trial.apply(event)
        seq, prev = self._head
        records: list[Record] = []
        for event in events:
            seq += 1
            record = seal(
                campaign=trial.id,
                seq=seq,
                type=event.TYPE,
                actor=actor,
                payload=event.model_dump(mode="json"),
                prev=prev,
            )
            records.append(record)
            prev = record.hash
        self._store.append(records, finished=any(isinstance(e, CampaignFinished) for e in events))
        self._campaign, self._head = trial, (seq, prev)
        for record in records:
            for listener in self._listeners:
                listener(trial, record)
        return records


def load_campaign(store: Store, campaign_id: str) -> Campaign:
    """The current state of a campaign, for reading (reports, status).

    Raises:
        NotFound: no such campaign.
        LedgerTampered: its records do not verify.
    """
    return Journal.open(store, campaign_id).campaign
