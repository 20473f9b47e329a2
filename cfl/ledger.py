"""Ledger v1: records sealed into one hash chain per campaign.

Each record commits to its content and to the record before it::

    hash_n = SHA-256( canonical_json({v, campaign, seq, type, ts, actor, payload, prev: hash_n-1}) )

with ``hash_0 = GENESIS`` (64 zeros). Editing a record changes its hash; removing or reordering
records breaks a ``prev`` link or the gap-free ``seq``; cutting the tail is caught by comparing
the last record with the head the store keeps beside the campaign. The chain alone cannot stop
someone who rewrites the whole log and the head together; signatures and anchored timestamps
(a later version) close that gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from cfl.canonical import canonical_json, sha256_hex
from cfl.errors import LedgerTampered

__all__ = [
    "GENESIS",
    "LEDGER_VERSION",
    "Record",
    "record_hash",
    "seal",
    "utc_stamp",
    "verify_chain",
]

GENESIS = "0" * 64
LEDGER_VERSION = 1


class Record(BaseModel):
    """One sealed ledger entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign: str
    seq: int
    """1, 2, 3, ... without gaps within a campaign."""
    type: str
    ts: str
    """UTC wall-clock time of writing, ISO 8601 with microseconds and ``Z``."""
    actor: str
    """Who caused it: ``human:<id>``, ``agent:<name>@<version>``, ``device:<name>``, ``cfl``."""
    payload: dict[str, JsonValue]
    prev: str
    hash: str


def utc_stamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as ``2026-11-23T21:27:35.123456Z``."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(
    *, campaign: str, seq: int, type: str, ts: str, actor: str, payload: Any, prev: str
) -> str:
    """The SHA-256 a record with these fields must carry (formula in the module docstring)."""
    body = {
        "v": LEDGER_VERSION,
        "campaign": campaign,
        "seq": seq,
        "type": type,
        "ts": ts,
        "actor": actor,
        "payload": payload,
        "prev": prev,
    }
    return sha256_hex(canonical_json(body))


def seal(
    *,
    campaign: str,
    seq: int,
    type: str,
    actor: str,
    payload: dict[str, JsonValue],
    prev: str,
    ts: str | None = None,
) -> Record:
    """A new record chained to ``prev``."""
    ts = ts or utc_stamp()
    digest = record_hash(
        campaign=campaign, seq=seq, type=type, ts=ts, actor=actor, payload=payload, prev=prev
    )
    # Not validated again: the payload has just been serialised to canonical JSON for the hash,
    # which is the stricter check, and validating JSON values field by field is the slowest part
    # of writing a step.
    return Record.model_construct(
        campaign=campaign,
        seq=seq,
        type=type,
        ts=ts,
        actor=actor,
        payload=payload,
        prev=prev,
        hash=digest,
    )


def verify_chain(
    records: Iterable[Record], *, campaign: str, head: tuple[int, str] | None = None
) -> int:
    """Check a campaign's records, in the order stored, and return how many there are.

    Args:
        records: The campaign's records ordered by ``seq`` as stored.
        campaign: The campaign they must all belong to.
        head: ``(seq, hash)`` of the last record as kept beside the campaign; when given, a
            chain that ends elsewhere has been cut or extended behind the store's back.

    Raises:
        LedgerTampered: naming the first record that fails and how.
    """
    prev, expected_seq = GENESIS, 1
    for record in records:
        where = f"campaign {campaign}, record #{record.seq} ({record.type})"
        if record.campaign != campaign:
            raise LedgerTampered(
                f"{where}: belongs to campaign {record.campaign!r}",
                campaign=campaign,
                seq=record.seq,
            )
        if record.seq != expected_seq:
            raise LedgerTampered(
                f"campaign {campaign}: expected record #{expected_seq} but found #{record.seq}: "
                "a record was removed or the records were reordered",
                campaign=campaign,
                seq=expected_seq,
            )
        # The link first: a record moved to another position keeps a valid hash of its own.
        if record.prev != prev:
            raise LedgerTampered(
                f"{where}: does not link to record #{record.seq - 1}: the records were "
                "reordered, or one before it was removed or replaced",
                campaign=campaign,
                seq=record.seq,
            )
        digest = record_hash(
            campaign=record.campaign,
            seq=record.seq,
            type=record.type,
            ts=record.ts,
            actor=record.actor,
            payload=record.payload,
            prev=record.prev,
        )
        if digest != record.hash:
            raise LedgerTampered(
                f"{where}: content does not match its hash: the record was edited",
                campaign=campaign,
                seq=record.seq,
            )
        prev, expected_seq = record.hash, expected_seq + 1
    count = expected_seq - 1
    if head is not None and (count, prev) != head:
        raise LedgerTampered(
            f"campaign {campaign}: the chain ends at record #{count} but the campaign's head is "
            f"#{head[0]} ({head[1][:12]}...): records were cut from or added to the end",
            campaign=campaign,
            seq=min(count, head[0]) + 1,
        )
    return count
