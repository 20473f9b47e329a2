"""Ledger files that leave the store: bundles, single-record proofs and tree heads.

Three self-contained JSON documents, each verifiable offline with nothing but itself and the
public keys (``cfl ledger verify --bundle FILE --keys DIR``, ``--proof FILE``):

* **bundle** (``cfl ledger export CAMPAIGN --out FILE``)::

      {"format": "cfl-ledger-bundle", "version": 1, "campaign": ..., "exported_at": ...,
       "records": [record, ...],            # cfl.ledger.record_to_json, in seq order
       "tree_heads": [head, ...],           # every signed head, by size; the last covers all
       "consistency": [{"first": m, "second": n, "proof": [hex, ...]}, ...],
       "keys": [public key, ...]}           # the keys that signed, as claims (ids to look up)

  ``consistency`` holds an RFC 6962 consistency proof between each pair of consecutive heads, so
  whoever kept only an old head can check that this log extends it without the records.
* **proof** (``cfl ledger prove CAMPAIGN SEQ --out FILE``): one record, and for the latest head
  (and, if a timestamped head covers the record, the earliest such) the head and the record's
  inclusion proof (``PATH``, RFC 6962 §2.1.1). It shows the record is in the signed log without
  revealing any other record: the path holds only hashes of subtrees.
* **head** (``cfl ledger head CAMPAIGN --out FILE``): the latest signed tree head alone, to keep
  or publish; later logs are checked against it with ``--against FILE``.

Export and prove verify the campaign first (with the trusted keys) and never sign a head over a
log that does not verify; if no head covers the whole log, they sign one with the instance key.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import JsonValue, ValidationError

from cfl.errors import LedgerTampered, NotFound, SpecError
from cfl.keys import Keyring, PublicKey, TrustedKeys
from cfl.ledger import (
    LEDGER_VERSION,
    Record,
    TreeHead,
    compute_hash,
    record_from_json,
    record_message,
    record_to_json,
    sign_tree_head,
    signature_bytes,
    utc_stamp,
)
from cfl.merkle import MerkleTree, leaf_hash, verify_inclusion
from cfl.store import Snapshot, Store
from cfl.verify import (
    CLOCK_SKEW_S,
    CampaignReport,
    Consistency,
    check_timestamp,
    check_tree_head_signature,
    verify_log,
)

__all__ = [
    "BUNDLE_FORMAT",
    "HEAD_FORMAT",
    "PROOF_FORMAT",
    "ProofReport",
    "ensure_head",
    "export_bundle",
    "head_document",
    "heads_in",
    "load_document",
    "prove_record",
    "verify_bundle",
    "verify_campaign",
    "verify_proof",
    "verify_store",
    "write_document",
]

BUNDLE_FORMAT = "cfl-ledger-bundle"
PROOF_FORMAT = "cfl-ledger-proof"
HEAD_FORMAT = "cfl-tree-head"
FORMAT_VERSION = 1


# -- the store ---------------------------------------------------------------------------------


def verify_campaign(
    store: Store,
    campaign_id: str,
    trusted: TrustedKeys,
    *,
    seen_before: Sequence[TreeHead] = (),
    tsa_certificate: bytes | None = None,
    workers: int | None = None,
) -> CampaignReport:
    """Verify one campaign in the store (:func:`cfl.verify.verify_log`, with the kept head).

    ``seen_before`` may hold heads of other campaigns; only this campaign's are checked.

    Raises:
        NotFound: no such campaign.
        LedgerTampered: the first problem found.
    """
    return _verified(
        store,
        campaign_id,
        trusted,
        seen_before=seen_before,
        tsa_certificate=tsa_certificate,
        workers=workers,
    )[0]


def verify_store(
    store: Store,
    trusted: TrustedKeys,
    *,
    campaign_id: str | None = None,
    seen_before: Sequence[TreeHead] = (),
    tsa_certificate: bytes | None = None,
) -> list[CampaignReport]:
    """Verify every campaign in the store (or one): ``cfl ledger verify``.

    A head seen before of a campaign the store no longer has means the whole campaign was
    deleted.

    Raises:
        NotFound: ``campaign_id`` is not in the store.
        LedgerTampered: the first problem found.
    """
    infos = [store.campaign(campaign_id)] if campaign_id else store.campaigns()
    if campaign_id is None:
        kept = {info.id for info in infos}
        for head in sorted(seen_before, key=lambda h: -h.size):
            if head.campaign not in kept:
                raise LedgerTampered(
                    f"campaign {head.campaign}, of which a signed tree head of size {head.size} "
                    f"({head.ts}) was seen before, is not in the store: it was deleted",
                    campaign=head.campaign,
                    seq=1,
                    tree_size=head.size,
                    kind="removed",
                )
    return [
        verify_campaign(
            store, info.id, trusted, seen_before=seen_before, tsa_certificate=tsa_certificate
        )
        for info in infos
    ]


def _verified(
    store: Store,
    campaign_id: str,
    trusted: TrustedKeys,
    *,
    seen_before: Sequence[TreeHead] = (),
    tsa_certificate: bytes | None = None,
    workers: int | None = None,
) -> tuple[CampaignReport, Snapshot]:
    snapshot = store.snapshot(campaign_id)
    report = verify_log(
        campaign_id,
        snapshot.rows,
        snapshot.heads,
        trusted,
        head=(snapshot.info.head_seq, snapshot.info.head_hash),
        seen_before=[h for h in seen_before if h.campaign == campaign_id],
        tsa_certificate=tsa_certificate,
        workers=workers,
    )
    return report, snapshot


def ensure_head(
    store: Store, campaign_id: str, keys: Keyring, snapshot: Snapshot | None = None
) -> TreeHead:
    """The latest signed tree head, signing one over the whole log first if none covers it.

    Call it on a verified campaign only, with the snapshot that was verified: it signs the
    records it is given (default: whatever the store holds now).
    """
    snapshot = snapshot or store.snapshot(campaign_id)
    heads, hashes = snapshot.heads, snapshot.hashes
    if heads and heads[-1].size == len(hashes):
        return heads[-1]
    tree = MerkleTree([leaf_hash(bytes.fromhex(h)) for h in hashes])
    instance = keys.instance()
    store.register_key(instance.public)
    head = sign_tree_head(campaign=campaign_id, size=tree.size, root=tree.root(), key=instance)
    return store.add_tree_head(head)


def _keys_used(
    store: Store, records: Sequence[Record], heads: Sequence[TreeHead], trusted: TrustedKeys
) -> list[dict[str, JsonValue]]:
    wanted = {r.key for r in records if r.key} | {h.key for h in heads}
    known: dict[str, PublicKey] = {k.key_id: k for k in store.public_keys()}
    known.update({k.key_id: k for k in trusted.all()})
    return [known[k].to_json() for k in sorted(wanted) if k in known]


def export_bundle(
    store: Store,
    campaign_id: str,
    keys: Keyring,
    trusted: TrustedKeys,
    *,
    tsa_certificate: bytes | None = None,
) -> dict[str, JsonValue]:
    """A campaign's bundle (module docstring), after verifying it.

    Raises:
        NotFound: no such campaign.
        LedgerTampered: the campaign does not verify; nothing is signed.
    """
    _, snapshot = _verified(store, campaign_id, trusted, tsa_certificate=tsa_certificate)
    latest = ensure_head(store, campaign_id, keys, snapshot)
    records = snapshot.records
    heads = [h for h in snapshot.heads if h.size < latest.size] + [latest]
    tree = MerkleTree([leaf_hash(bytes.fromhex(r.hash)) for r in records])
    sizes = sorted({h.size for h in heads})
    consistency: list[JsonValue] = [
        {"first": a, "second": b, "proof": [p.hex() for p in tree.consistency_proof(a, b)]}
        for a, b in itertools.pairwise(sizes)
    ]
    return {
        "format": BUNDLE_FORMAT,
        "version": FORMAT_VERSION,
        "campaign": campaign_id,
        "exported_at": utc_stamp(),
        "records": [record_to_json(r) for r in records],
        "tree_heads": [h.model_dump(mode="json") for h in heads],
        "consistency": consistency,
        "keys": list(_keys_used(store, records, heads, trusted)),
    }


def prove_record(
    store: Store,
    campaign_id: str,
    seq: int,
    keys: Keyring,
    trusted: TrustedKeys,
    *,
    tsa_certificate: bytes | None = None,
) -> dict[str, JsonValue]:
    """One record with its inclusion proof(s) (module docstring), after verifying the campaign.

    Raises:
        NotFound: no such campaign or record.
        LedgerTampered: the campaign does not verify; nothing is signed.
    """
    _, snapshot = _verified(store, campaign_id, trusted, tsa_certificate=tsa_certificate)
    if not 1 <= seq <= len(snapshot.records):
        raise NotFound(
            f"campaign {campaign_id} has records #1..#{len(snapshot.records)}, not #{seq}",
            name=str(seq),
        )
    record = snapshot.records[seq - 1]
    latest = ensure_head(store, campaign_id, keys, snapshot)
    tree = MerkleTree([leaf_hash(bytes.fromhex(r.hash)) for r in snapshot.records])
    chosen = [latest]
    stamped = [
        h
        for h in snapshot.heads
        if h.size >= seq and h.timestamp_token is not None and h.size != latest.size
    ]
    if stamped and latest.timestamp_token is None:
        chosen.append(stamped[0])
    heads: list[JsonValue] = [
        {
            "tree_head": h.model_dump(mode="json"),
            "inclusion": [p.hex() for p in tree.inclusion_proof(seq - 1, h.size)],
        }
        for h in chosen
    ]
    return {
        "format": PROOF_FORMAT,
        "version": FORMAT_VERSION,
        "campaign": campaign_id,
        "exported_at": utc_stamp(),
        "record": record_to_json(record),
        "leaf_index": seq - 1,
        "heads": heads,
        "keys": list(_keys_used(store, [record], chosen, trusted)),
    }


def head_document(head: TreeHead) -> dict[str, JsonValue]:
    """A signed tree head as a document of its own (to keep, publish, check against later)."""
    return {
        "format": HEAD_FORMAT,
        "version": FORMAT_VERSION,
        "campaign": head.campaign,
        "tree_head": head.model_dump(mode="json"),
    }


# -- files -------------------------------------------------------------------------------------


def write_document(path: Path, document: Mapping[str, JsonValue]) -> None:
    """Write a document as indented JSON (UTF-8), its folder created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_document(path: Path, *formats: str) -> dict[str, Any]:
    """Read a bundle, proof or head file; one of ``formats`` if given.

    Raises:
        SpecError: the file cannot be read, is not JSON, or is not such a document.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}", field=str(path)) from exc
    except ValueError as exc:
        raise SpecError(f"{path} is not JSON ({exc})", field=str(path)) from exc
    kinds = formats or (BUNDLE_FORMAT, PROOF_FORMAT, HEAD_FORMAT)
    if not isinstance(document, dict) or document.get("format") not in kinds:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise SpecError(
            f"{path} is a {found!r}, not one of {list(kinds)}; give the file `cfl ledger "
            "export`, `prove` or `head` wrote",
            field=str(path),
        )
    if document.get("version") != FORMAT_VERSION:
        raise SpecError(
            f"{path} is version {document.get('version')!r} of {document['format']}; this CFL "
            f"reads version {FORMAT_VERSION}",
            field=str(path),
        )
    return document


def _head(value: Any, campaign: str) -> TreeHead:
    try:
        return TreeHead.model_validate(value)
    except ValidationError as exc:
        raise LedgerTampered(
            f"campaign {campaign}: a tree head is malformed ({exc.error_count()} problem(s): "
            f"{exc.errors()[0]['msg']})",
            campaign=campaign,
            seq=0,
            kind="malformed",
        ) from exc


def heads_in(document: Mapping[str, Any]) -> list[TreeHead]:
    """The signed tree heads a bundle, proof or head document holds."""
    campaign = str(document.get("campaign", ""))
    kind = document.get("format")
    if kind == BUNDLE_FORMAT:
        return [_head(h, campaign) for h in document.get("tree_heads", [])]
    if kind == PROOF_FORMAT:
        return [_head(h.get("tree_head"), campaign) for h in document.get("heads", [])]
    return [_head(document.get("tree_head"), campaign)]


# -- offline verification ----------------------------------------------------------------------


def _list(document: Mapping[str, Any], name: str, campaign: str) -> list[Any]:
    value = document.get(name, [])
    if not isinstance(value, list):
        raise LedgerTampered(
            f"campaign {campaign}: the bundle's {name!r} is not a list",
            campaign=campaign,
            seq=0,
            kind="malformed",
        )
    return value


def verify_bundle(
    document: Mapping[str, Any],
    trusted: TrustedKeys,
    *,
    seen_before: Sequence[TreeHead] = (),
    tsa_certificate: bytes | None = None,
    workers: int | None = None,
) -> CampaignReport:
    """Verify an exported bundle offline (:func:`cfl.verify.verify_log`, every check).

    The bundle's latest head must cover every record in it: an export always signs one that
    does. Removing records together with the heads that cover them cannot be seen from the
    bundle alone; ``seen_before`` (an older bundle, proof or head of the campaign) catches it.

    Raises:
        LedgerTampered: the first problem found.
    """
    campaign = str(document.get("campaign", ""))
    records = _list(document, "records", campaign)
    for value in records:
        if not isinstance(value, dict):
            raise LedgerTampered(
                f"campaign {campaign}: a record is not a JSON object",
                campaign=campaign,
                seq=0,
                kind="malformed",
            )
    heads = [_head(h, campaign) for h in _list(document, "tree_heads", campaign)]
    try:
        consistency = [
            Consistency(
                first=int(c["first"]), second=int(c["second"]), proof=tuple(map(str, c["proof"]))
            )
            for c in _list(document, "consistency", campaign)
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerTampered(
            f"campaign {campaign}: a consistency proof is malformed ({exc!r})",
            campaign=campaign,
            seq=0,
            kind="malformed",
        ) from exc
    return verify_log(
        campaign,
        records,
        heads,
        trusted,
        consistency=consistency,
        seen_before=[h for h in seen_before if h.campaign == campaign],
        require_covered=True,
        tsa_certificate=tsa_certificate,
        workers=workers,
    )


@dataclass
class ProofReport:
    """What a verified single-record proof shows."""

    record: Record
    heads: list[TreeHead] = field(default_factory=list)
    """The signed heads the record was shown to be included in."""
    timestamps_verified: int = 0
    timestamps_unchecked: int = 0
    earliest_timestamp: datetime | None = None
    """The earliest verified RFC 3161 time of a head including the record: it existed then."""


def verify_proof(
    document: Mapping[str, Any],
    trusted: TrustedKeys,
    *,
    seen_before: Sequence[TreeHead] = (),
    tsa_certificate: bytes | None = None,
) -> ProofReport:
    """Verify a single-record proof offline.

    Checks the record's hash and signature, and for each head its signature, the record's
    inclusion proof (RFC 9162 §2.1.3.2) and its timestamp.

    Raises:
        LedgerTampered: the first problem found (``kind``: ``edited``, ``bad-signature``,
            ``unknown-key``, ``not-included``, ``timestamp``, ...).
    """
    campaign = str(document.get("campaign", ""))
    record = record_from_json(document.get("record") or {})
    where = f"campaign {campaign}, record #{record.seq} ({record.type})"

    def fail(message: str, kind: str, tree_size: int | None = None) -> LedgerTampered:
        return LedgerTampered(
            f"{where}: {message}",
            campaign=campaign,
            seq=record.seq,
            kind=kind,
            tree_size=tree_size,
        )

    if record.campaign != campaign:
        raise fail(f"belongs to campaign {record.campaign!r}", "foreign")
    if compute_hash(record) != record.hash:
        raise fail("content does not match its hash: the record was edited", "edited")
    if record.v == LEDGER_VERSION:
        key = trusted.get(record.key or "")
        if key is None:
            raise fail(
                f"signed by key {record.key}, which is not among the {len(trusted)} trusted "
                "public key(s) (add its .pub file with --keys DIR)",
                "unknown-key",
            )
        if not key.may_sign(record.actor):
            raise fail(f"{key.signs_for}'s key may not sign for {record.actor}", "unauthorised-key")
        if not key.verify(record_message(record.hash), signature_bytes(record)):
            raise fail(
                "its signature is not its key's signature of this record: forged, or moved "
                "from another record",
                "bad-signature",
            )
    if document.get("leaf_index") != record.seq - 1:
        raise fail(
            f"the proof puts it at leaf {document.get('leaf_index')!r}, but record #{record.seq} "
            f"is leaf {record.seq - 1}",
            "not-included",
        )
    report = ProofReport(record=record)
    leaf = leaf_hash(bytes.fromhex(record.hash))
    entries = document.get("heads")
    if not isinstance(entries, list) or not entries:
        raise fail("the proof holds no signed tree head", "malformed")
    for entry in entries:
        head = _head(entry.get("tree_head") if isinstance(entry, dict) else None, campaign)
        try:
            check_tree_head_signature(campaign, head, trusted, "tree head")
        except LedgerTampered as exc:  # name the record the proof is about, and the head
            raise fail(str(exc), exc.kind, head.size) from exc
        try:
            path = [bytes.fromhex(p) for p in entry.get("inclusion", [])]
        except (TypeError, ValueError):
            path = []
        if not verify_inclusion(leaf, record.seq - 1, head.size, path, bytes.fromhex(head.root)):
            raise fail(
                f"the inclusion proof does not put it under the signed tree head of size "
                f"{head.size}: the record, its position or the proof was changed",
                "not-included",
                head.size,
            )
        if _seconds_before(head.ts, record.ts) > CLOCK_SKEW_S:
            raise fail(
                f"the tree head of size {head.size} is dated {head.ts}, before the record "
                f"({record.ts}): a backdated record",
                "backdated",
                head.size,
            )
        if head.timestamp_token is not None:
            gen_time = check_timestamp(campaign, head, tsa_certificate)
            if gen_time is None:
                report.timestamps_unchecked += 1
            else:
                report.timestamps_verified += 1
                if report.earliest_timestamp is None or gen_time < report.earliest_timestamp:
                    report.earliest_timestamp = gen_time
        report.heads.append(head)
    for old in seen_before:
        if old.campaign != campaign:
            continue
        check_tree_head_signature(campaign, old, trusted, "tree head seen before")
        same = next((h for h in report.heads if h.size == old.size), None)
        if same is not None and same.root != old.root:
            raise fail(
                f"the proof's head of size {old.size} has another root than the one seen before: "
                "two different logs (a fork)",
                "forked",
                old.size,
            )
    return report


def _seconds_before(ts: str, reference: str) -> float:
    """Seconds ``ts`` is before ``reference`` (both as records are stamped)."""

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return (parse(reference) - parse(ts)).total_seconds()
