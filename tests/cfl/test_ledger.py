from __future__ import annotations

import hashlib

import pytest

from cfl.canonical import canonical_json
from cfl.errors import LedgerTampered
from cfl.ledger import GENESIS, Record, record_hash, seal, verify_chain


def _chain(n: int, campaign: str = "c-1") -> list[Record]:
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        record = seal(
            campaign=campaign,
            seq=seq,
            type="test.event",
            actor="human:ada",
            payload={"i": seq, "value": seq / 10},
            prev=prev,
            ts=f"2026-01-01T00:00:0{seq}.000000Z",
        )
        records.append(record)
        prev = record.hash
    return records


def test_hash_is_sha256_of_the_documented_canonical_body() -> None:
    record = seal(
        campaign="c-1",
        seq=1,
        type="campaign.created",
        actor="human:ada",
        payload={"x": 1},
        prev=GENESIS,
        ts="2026-11-23T12:00:00.000000Z",
    )
    body = (
        '{"actor":"human:ada","campaign":"c-1","payload":{"x":1},"prev":"'
        + "0" * 64
        + '","seq":1,"ts":"2026-11-23T12:00:00.000000Z","type":"campaign.created","v":1}'
    )
    assert record.hash == hashlib.sha256(body.encode()).hexdigest()
    assert (
        canonical_json(
            {
                "v": 1,
                "campaign": "c-1",
                "seq": 1,
                "type": "campaign.created",
                "ts": "2026-11-23T12:00:00.000000Z",
                "actor": "human:ada",
                "payload": {"x": 1},
                "prev": GENESIS,
            }
        )
        == body
    )


def test_intact_chain_verifies_and_counts() -> None:
    records = _chain(5)
    assert verify_chain(records, campaign="c-1", head=(5, records[-1].hash)) == 5
    assert verify_chain([], campaign="c-1", head=None) == 0


def test_edited_record_is_named() -> None:
    records = _chain(5)
    records[2] = records[2].model_copy(update={"payload": {"i": 3, "value": 0.31}})
    with pytest.raises(LedgerTampered, match=r"record #3 .*edited") as info:
        verify_chain(records, campaign="c-1")
    assert info.value.seq == 3


def test_edit_with_recomputed_hash_breaks_the_next_link() -> None:
    records = _chain(5)
    forged = records[2].model_copy(update={"payload": {"i": 3, "value": 0.31}})
    forged = forged.model_copy(
        update={
            "hash": record_hash(
                campaign=forged.campaign,
                seq=forged.seq,
                type=forged.type,
                ts=forged.ts,
                actor=forged.actor,
                payload=forged.payload,
                prev=forged.prev,
            )
        }
    )
    records[2] = forged
    with pytest.raises(LedgerTampered, match=r"record #4 .*does not link") as info:
        verify_chain(records, campaign="c-1")
    assert info.value.seq == 4


def test_removed_record_is_named() -> None:
    records = _chain(5)
    del records[1]
    with pytest.raises(LedgerTampered, match="expected record #2 but found #3") as info:
        verify_chain(records, campaign="c-1")
    assert info.value.seq == 2


def test_reordered_records_are_caught() -> None:
    records = _chain(5)
    a, b = records[1], records[3]
    records[1] = a.model_copy(update={"seq": 4})
    records[3] = b.model_copy(update={"seq": 2})
    records.sort(key=lambda r: r.seq)
    with pytest.raises(LedgerTampered, match="record #2") as info:
        verify_chain(records, campaign="c-1")
    assert info.value.seq == 2


def test_cut_tail_is_caught_only_against_the_head() -> None:
    records = _chain(5)
    head = (5, records[-1].hash)
    assert verify_chain(records[:4], campaign="c-1") == 4  # the chain alone cannot see a cut
    with pytest.raises(LedgerTampered, match="ends at record #4 but the campaign's head is #5"):
        verify_chain(records[:4], campaign="c-1", head=head)


def test_record_from_another_campaign_is_caught() -> None:
    records = _chain(3)
    records[1] = records[1].model_copy(update={"campaign": "c-2"})
    with pytest.raises(LedgerTampered, match="belongs to campaign 'c-2'"):
        verify_chain(records, campaign="c-1")
