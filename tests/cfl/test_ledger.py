from __future__ import annotations

import base64
import hashlib

import pytest

from cfl.canonical import canonical_json
from cfl.errors import CFLError, LedgerTampered
from cfl.keys import SigningKey
from cfl.ledger import (
    GENESIS,
    V2_FIELDS,
    Record,
    actor_info,
    blob_refs,
    compute_hash,
    contribution_of,
    record_from_json,
    record_hash,
    record_to_json,
    seal,
    seal_signed,
    sign_tree_head,
    subject_of,
    verify_chain,
)


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


# -- v2: signed records ------------------------------------------------------------------------


def _signed_chain(n: int, key: SigningKey, campaign: str = "c-1") -> list[Record]:
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        record = seal_signed(
            campaign=campaign,
            seq=seq,
            type="test.event",
            actor="cfl",
            payload={"i": seq},
            prev=prev,
            key=key,
            ts=f"2026-01-01T00:00:{seq:02d}.000000Z",
        )
        records.append(record)
        prev = record.hash
    return records


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate("instance")


def test_v2_hash_is_sha256_of_the_record_without_hash_and_sig(key: SigningKey) -> None:
    record = seal_signed(
        campaign="c-1",
        seq=1,
        type="experiment.failed",
        actor="human:ada",
        payload={"reason": "vial dropped", "x": 1.5},
        prev=GENESIS,
        key=key,
        ts="2026-11-23T12:00:00.000000Z",
        supersedes=["c-1/0"],
    )
    flat = record_to_json(record)
    assert set(flat) == {*V2_FIELDS, "v", "campaign", "seq", "type", "ts", "actor", "payload"} | {
        "prev",
        "hash",
        "sig",
    }
    body = {k: v for k, v in flat.items() if k not in ("hash", "sig")}
    assert record.hash == hashlib.sha256(canonical_json(body).encode()).hexdigest()
    assert flat["v"] == 2
    assert flat["id"] == "c-1/1" == record.id
    assert flat["contribution"] == "human" == record.contribution
    assert flat["actor_info"] == {"kind": "human", "id": "ada"}
    assert flat["reason"] == "vial dropped"
    assert flat["supersedes"] == ["c-1/0"] and record.supersedes == ("c-1/0",)
    assert flat["key"] == key.key_id == record.key
    signature = base64.b64decode(str(flat["sig"]))
    assert key.public.verify(f"cfl-record-v2:{record.hash}".encode(), signature)
    assert record_from_json(flat) == record
    assert verify_chain([record], campaign="c-1", head=(1, record.hash)) == 1


@pytest.mark.parametrize(
    ("actor", "contribution"),
    [
        ("human:ada", "human"),
        ("agent:gpt-4o", "ai"),
        ("agent:offline@1", "ai"),
        ("planner:skopt-gp", "ai"),
        ("device:hplc-1", "device"),
        ("cfl", "system"),
        ("cfl:evidence", "system"),
        ("somebody", "system"),
    ],
)
def test_contribution_follows_the_actor(actor: str, contribution: str) -> None:
    assert contribution_of(actor) == contribution


def test_actor_info_names_model_calls_and_devices() -> None:
    call = {
        "model": "gpt-4o",
        "endpoint": "https://llm.example/v1",
        "prompt_sha256": "a" * 64,
        "output_sha256": "b" * 64,
        "purpose": "generation",
    }
    assert actor_info("agent:gpt-4o", "model.called", call) == {
        "kind": "agent",
        "name": "gpt-4o",
        "version": None,
        "model": "gpt-4o",
        "endpoint": "https://llm.example/v1",
        "prompt_sha256": "a" * 64,
        "output_sha256": "b" * 64,
    }
    assert actor_info("agent:offline@2", "hypothesis.proposed", {})["version"] == "2"
    devices = {
        "hplc-1": {
            "driver": "sila",
            "role": "hplc",
            "address": "10.0.0.5:50052",
            "options": {"firmware": "3.1.4", "calibration": "2026-11-01", "serial": "H-77"},
        }
    }
    assert actor_info("device:hplc-1", "step.completed", {}, devices) == {
        "kind": "device",
        "device": "hplc-1",
        "driver": "sila",
        "role": "hplc",
        "address": "10.0.0.5:50052",
        "serial": "H-77",
        "firmware": "3.1.4",
        "calibration": "2026-11-01",
    }
    assert actor_info("device:gone", "step.completed", {}, devices) == {
        "kind": "device",
        "device": "gone",
    }


def test_blob_references_in_a_payload_are_listed_in_the_record(key: SigningKey) -> None:
    ref = {"sha256": "c" * 64, "size": 12, "media_type": "text/csv"}
    payload = {"observation": {"raw": {"spectrum": ref, "other": [ref, {"x": 1}]}}}
    assert blob_refs(payload) == [ref]
    assert blob_refs({"x": 1}, text='{"x":1}') == []
    record = seal_signed(
        campaign="c-1", seq=1, type="t", actor="cfl", payload=payload, prev=GENESIS, key=key
    )
    assert [b.model_dump() for b in record.blobs] == [ref]


@pytest.mark.parametrize(
    ("type_", "payload", "expected"),
    [
        ("hypothesis.proposed", {"hypothesis": {"id": "H01"}}, ("hypothesis:H01", False)),
        ("hypothesis.assessed", {"hypothesis": "H01"}, ("hypothesis:H01", True)),
        ("experiment.requeued", {"experiment": "E0001"}, ("attempt:E0001", True)),
        ("device.released", {"device": "hplc-1"}, ("device:hplc-1", True)),
        ("campaign.resumed", {}, ("pause", True)),
        ("step.completed", {"experiment": "E0001"}, None),
        ("hypothesis.assessed", {}, None),
    ],
)
def test_subjects_of_supersedes_links(
    type_: str, payload: dict[str, object], expected: tuple[str, bool] | None
) -> None:
    assert subject_of(type_, payload) == expected


def test_v1_records_may_be_followed_by_v2_but_not_the_other_way(key: SigningKey) -> None:
    old = _chain(2)
    newer = seal_signed(
        campaign="c-1",
        seq=3,
        type="t",
        actor="cfl",
        payload={},
        prev=old[-1].hash,
        key=key,
        ts="2026-01-01T00:00:09.000000Z",
    )
    assert verify_chain([*old, newer], campaign="c-1") == 3
    downgraded = seal(
        campaign="c-1", seq=4, type="t", actor="cfl", payload={}, prev=newer.hash, ts=newer.ts
    )
    with pytest.raises(LedgerTampered, match="downgraded") as caught:
        verify_chain([*old, newer, downgraded], campaign="c-1")
    assert (caught.value.seq, caught.value.kind) == (4, "downgraded")


def test_a_resealed_record_with_a_false_contribution_is_caught(key: SigningKey) -> None:
    records = _signed_chain(3, key)
    lie = records[1].model_copy(update={"meta": {**records[1].meta, "contribution": "human"}})
    lie = lie.model_copy(update={"hash": compute_hash(lie)})
    with pytest.raises(LedgerTampered, match="contribution 'human' for actor 'cfl'") as caught:
        verify_chain([records[0], lie], campaign="c-1")
    assert caught.value.seq == 2


def test_an_unknown_record_version_asks_for_an_upgrade(key: SigningKey) -> None:
    future = _signed_chain(1, key)[0].model_copy(update={"v": 3})
    with pytest.raises(CFLError, match="newer than this CFL knows"):
        verify_chain([future], campaign="c-1")


def test_tree_heads_sign_a_documented_message(key: SigningKey) -> None:
    head = sign_tree_head(
        campaign="c-1", size=5, root=b"\x07" * 32, key=key, ts="2026-01-01T00:00:00.000000Z"
    )
    message = (
        'cfl-tree-head-v1:{"campaign":"c-1","key":"'
        + key.key_id
        + '","root":"'
        + "07" * 32
        + '","size":5,"ts":"2026-01-01T00:00:00.000000Z","v":1}'
    ).encode()
    assert head.message() == message == head.timestamp_data()
    assert key.public.verify(message, head.signature())
    moved = head.model_copy(update={"size": 6})
    assert not key.public.verify(moved.message(), moved.signature())
