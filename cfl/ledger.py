"""The ledger: signed, hash-chained records per campaign, and signed heads of their Merkle tree.

**Records.** Every state change of a campaign is one record. Its hash is the SHA-256 of its
canonical JSON (:mod:`cfl.canonical`) without the ``hash`` and ``sig`` fields::

    hash_n = SHA-256( canonical_json(record_n minus {hash, sig}) )      prev_n = hash_n-1

with ``prev_1 = GENESIS`` (64 zeros). Two formats exist; the ``v`` field decides:

* **v1** (stores written before signatures): ``{v, campaign, seq, type, ts, actor, payload,
  prev}``. Read and verified as before; never written any more.
* **v2** adds, all inside the hash: ``id`` (``<campaign>/<seq>``), ``schema`` (version of the
  payload's event schema), ``actor_info`` (for a person their id; for a model call the model,
  endpoint and prompt/output SHA-256; for a device its driver and, where the lab file says, serial,
  firmware and calibration), ``contribution`` (``human`` / ``ai`` / ``device`` / ``system``,
  derived from the actor), ``reason`` (the event's reason, note or detail, if any),
  ``supersedes`` (ids of earlier records this one replaces as the current word on its subject),
  ``blobs`` (content-addressed raw data the payload refers to: ``{sha256, size, media_type}``)
  and ``key`` (id of the key that signs it). Outside the hash, ``sig`` is the Ed25519 signature
  (RFC 8032) of the ASCII bytes ``cfl-record-v2:<hash hex>``, base64: bound to this record's hash
  and to nothing else, so a signature moved to another record fails.

A v2 record never precedes a v1 record: a campaign started before signatures may continue signed,
but a signed log cannot be turned back into an unsigned one.

**Tree heads.** The records of a campaign are also the leaves of an RFC 6962 Merkle tree
(:mod:`cfl.merkle`; leaf = the record's hash bytes). A *signed tree head* ``{campaign, size,
root, ts, key, sig}`` commits to the first ``size`` records; ``sig`` is the instance key's
Ed25519 signature of ``cfl-tree-head-v1:`` followed by the canonical JSON of ``{campaign, key,
root, size, ts, v: 1}``. The journal signs one when a campaign is created, when hypotheses are
registered, when a round completes, and when a campaign pauses, is reviewed or finishes (and on
demand, for an export or a proof): signing per record would double the cost of the hot path and
prove nothing more, since the records are signed themselves. A head may carry an RFC 3161
``timestamp_token`` over :meth:`TreeHead.timestamp_data` (:mod:`cfl.timestamp`).

What each part stops: the chain and ``seq`` catch an edited, removed, reordered or foreign
record; the head kept beside the campaign catches a cut tail; signatures tie each record to a key
(a rewrite needs the key); tree heads and their consistency proofs catch a rewritten or forked
history against any head seen before (a bundle, a proof, a timestamp); a trusted timestamp shows
a head existed at a time, which the key holder cannot backdate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.canonical import canonical_json, sha256_hex
from cfl.errors import CFLError, LedgerTampered
from cfl.keys import SigningKey

__all__ = [
    "GENESIS",
    "LEDGER_VERSION",
    "RECORD_SIGNATURE_PREFIX",
    "TREE_HEAD_PREFIX",
    "V2_FIELDS",
    "BlobRef",
    "ChainWalk",
    "Contribution",
    "Entry",
    "Record",
    "TreeHead",
    "actor_info",
    "blob_refs",
    "body_text",
    "compute_hash",
    "content_problem",
    "contribution_of",
    "reason_of",
    "record_from_json",
    "record_hash",
    "record_message",
    "record_to_json",
    "seal",
    "seal_signed",
    "sign_tree_head",
    "signature_bytes",
    "stored_texts",
    "subject_of",
    "tree_head_message",
    "utc_stamp",
    "verify_chain",
    "verify_entries",
]

GENESIS = "0" * 64
LEDGER_VERSION = 2
"""The format the journal writes."""
V1 = 1
RECORD_SIGNATURE_PREFIX = "cfl-record-v2:"
TREE_HEAD_PREFIX = "cfl-tree-head-v1:"
V2_FIELDS = (
    "id",
    "schema",
    "actor_info",
    "contribution",
    "reason",
    "supersedes",
    "blobs",
    "key",
)
"""The hashed fields a v2 record has beyond v1's (kept in :attr:`Record.meta`)."""
_CORE_FIELDS = frozenset({"v", "campaign", "seq", "type", "ts", "actor", "payload", "prev"})
_OUTER = frozenset({"hash", "sig"})
"""Fields of a record outside its hash."""
ROW_COLUMNS = (
    "campaign",
    "seq",
    "type",
    "ts",
    "actor",
    "payload",
    "prev",
    "hash",
    "v",
    "meta",
    "sig",
)
"""A store row's columns, in order (:meth:`Entry.from_row`)."""

Contribution = Literal["human", "ai", "device", "system"]


class BlobRef(BaseModel):
    """A reference to raw data kept by content (:class:`cfl.blobs.BlobStore`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str


class Record(BaseModel):
    """One sealed ledger entry (v1 or v2; see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign: str
    seq: int
    """1, 2, 3, ... without gaps within a campaign."""
    type: str
    """What happened (the action): ``experiment.approved``, ``observation.recorded``, ..."""
    ts: str
    """UTC wall-clock time of writing, ISO 8601 with microseconds and ``Z``."""
    actor: str
    """Who caused it: ``human:<id>``, ``agent:<name>@<version>``, ``device:<name>``, ``cfl``."""
    payload: dict[str, JsonValue]
    prev: str
    hash: str
    v: int = V1
    meta: dict[str, JsonValue] = Field(default_factory=dict)
    """The v2 fields (:data:`V2_FIELDS`); empty for v1."""
    sig: str | None = None
    """Base64 Ed25519 signature of :func:`record_message` (v2)."""

    @property
    def id(self) -> str:
        """``<campaign>/<seq>``: the record's name in links and proofs."""
        value = self.meta.get("id")
        return value if isinstance(value, str) else f"{self.campaign}/{self.seq}"

    @property
    def key(self) -> str | None:
        """Id of the key that signed it (v2)."""
        value = self.meta.get("key")
        return value if isinstance(value, str) else None

    @property
    def contribution(self) -> str:
        """``human``, ``ai``, ``device`` or ``system`` (derived from the actor for v1)."""
        value = self.meta.get("contribution")
        return value if isinstance(value, str) else contribution_of(self.actor)

    @property
    def supersedes(self) -> tuple[str, ...]:
        """Ids of earlier records whose word on the same subject this one replaces."""
        value = self.meta.get("supersedes")
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    @property
    def blobs(self) -> tuple[BlobRef, ...]:
        """Raw data this record's payload refers to."""
        value = self.meta.get("blobs")
        return tuple(BlobRef.model_validate(b) for b in value) if isinstance(value, list) else ()


def utc_stamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as ``2026-11-23T21:27:35.123456Z``."""
    m = (moment or datetime.now(UTC)).astimezone(UTC)
    # Formatted by hand: strftime costs as much as hashing the record.
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


# -- who and why ---------------------------------------------------------------------------------


def contribution_of(actor: str) -> Contribution:
    """Whose contribution a record is, from its actor.

    ``human:*`` is human; ``agent:*`` (language models, the co-scientist) and ``planner:*`` (the
    Bayesian optimiser choosing conditions) are ai; ``device:*`` is device; ``cfl`` and ``cfl:*``
    (bookkeeping, evidence arithmetic) and anything else are system. The split an inventorship
    review needs: what people conceived and decided, against what machines proposed or measured.
    """
    kind = actor.partition(":")[0]
    if kind == "human":
        return "human"
    if kind in ("agent", "planner"):
        return "ai"
    if kind == "device":
        return "device"
    return "system"


def actor_info(
    actor: str,
    type: str,
    payload: Mapping[str, Any],
    devices: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, JsonValue]:
    """What the record says about its actor (module docstring).

    Args:
        actor: The actor string.
        type: The record type; a ``model.called`` record names its model call.
        payload: The record's payload.
        devices: The lab's devices (``name -> {driver, role, address, options}``), for device
            actors; ``serial``, ``firmware`` and ``calibration`` are taken from the options when
            the lab file gives them.
    """
    kind, _, name = actor.partition(":")
    if kind == "human":
        return {"kind": "human", "id": name}
    if kind == "agent":
        agent, _, version = name.partition("@")
        info: dict[str, JsonValue] = {"kind": "agent", "name": agent, "version": version or None}
        if type == "model.called":
            for field in ("model", "endpoint", "prompt_sha256", "output_sha256"):
                value = payload.get(field)
                info[field] = value if isinstance(value, str) else None
        return info
    if kind == "device":
        info = {"kind": "device", "device": name}
        spec = (devices or {}).get(name)
        if spec is not None:
            for field in ("driver", "role", "address"):
                if spec.get(field) is not None:
                    info[field] = spec[field]
            options = spec.get("options") or {}
            for field in ("serial", "firmware", "calibration"):
                if options.get(field) is not None:
                    info[field] = options[field]
        return info
    if kind == "planner":
        return {"kind": "planner", "name": name}
    return {"kind": "system", "component": actor}


def reason_of(payload: Mapping[str, Any]) -> str | None:
    """The event's stated reason, note or detail, if it has a non-empty one."""
    for field in ("reason", "note", "detail"):
        value = payload.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def blob_refs(payload: Any, *, text: str | None = None) -> list[dict[str, JsonValue]]:
    """Blob references anywhere in ``payload``, sorted by hash, each once.

    A reference is a mapping of exactly ``sha256``, ``size`` and ``media_type``: how a driver puts
    a spectrum's :class:`cfl.blobs.BlobStore` reference into an observation's raw data. ``text``
    is the payload's canonical JSON, to skip the walk when no reference can be in it.
    """
    if text is not None and '"media_type":' not in text:
        return []
    found: list[dict[str, JsonValue]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if set(value) == {"sha256", "size", "media_type"}:
                ref = BlobRef.model_validate(value)
                found.append(ref.model_dump())
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(payload)
    unique: dict[str, dict[str, JsonValue]] = {str(r["sha256"]): r for r in found}
    return [unique[k] for k in sorted(unique)]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _subject_id(payload: Mapping[str, Any], field: str) -> str | None:
    """The id in ``payload[field]``: the field itself, or the ``id`` of the object it holds."""
    value = payload.get(field)
    if isinstance(value, dict):
        value = value.get("id")
    return _text(value)


_SUBJECTS: dict[str, tuple[str, str, bool]] = {
    # record type: (subject kind, payload field naming it, whether it supersedes the last word)
    "hypothesis.proposed": ("hypothesis", "hypothesis", False),
    "hypothesis.assessed": ("hypothesis", "hypothesis", True),
    "experiment.designed": ("design", "experiment", False),
    "experiment.edited": ("design", "experiment", True),
    "experiment.started": ("attempt", "experiment", False),
    "experiment.failed": ("attempt", "experiment", False),
    "experiment.requeued": ("attempt", "experiment", True),
    "device.quarantined": ("device", "device", False),
    "device.released": ("device", "device", True),
    "campaign.paused": ("pause", "", False),
    "campaign.resumed": ("pause", "", True),
    "hypotheses.ranked": ("ranking", "", True),
    "campaign.reviewed": ("review", "", True),
}


def subject_of(type: str, payload: Mapping[str, Any]) -> tuple[str, bool] | None:
    """What a record is the latest word on, and whether it replaces the previous word.

    The ``supersedes`` links: an assessment of a hypothesis supersedes its proposal or previous
    assessment (status and credence); a person's edit of an experiment supersedes its design; a
    requeue supersedes the failed or interrupted attempt; a
    release supersedes the quarantine; a resume the pause; a ranking or a review the previous
    one. Nothing is ever edited: a later record says what changed and links to what it replaces.

    Returns:
        ``(subject, supersedes)``, or ``None`` for records that speak of no such subject.
    """
    rule = _SUBJECTS.get(type)
    if rule is None:
        return None
    kind, field, replaces = rule
    if not field:
        return kind, replaces
    name = _subject_id(payload, field)
    return (f"{kind}:{name}", replaces) if name is not None else None


# -- hashing and sealing ---------------------------------------------------------------------


def record_hash(
    *, campaign: str, seq: int, type: str, ts: str, actor: str, payload: Any, prev: str
) -> str:
    """The SHA-256 a v1 record with these fields must carry (formula in the module docstring)."""
    body = {
        "v": V1,
        "campaign": campaign,
        "seq": seq,
        "type": type,
        "ts": ts,
        "actor": actor,
        "payload": payload,
        "prev": prev,
    }
    return sha256_hex(canonical_json(body))


def _fields(
    *, v: int, campaign: str, seq: int, type: str, ts: str, actor: str, prev: str, meta: Any
) -> dict[str, Any]:
    """The hashed fields other than the payload (for v2, with the :data:`V2_FIELDS`)."""
    fields: dict[str, Any] = {
        "v": v,
        "campaign": campaign,
        "seq": seq,
        "type": type,
        "ts": ts,
        "actor": actor,
        "prev": prev,
    }
    if v != V1:
        for name, value in meta.items():
            if name in _CORE_FIELDS:
                raise LedgerTampered(
                    f"campaign {campaign}, record #{seq}: field {name!r} appears twice: the "
                    "record was edited",
                    campaign=campaign,
                    seq=seq,
                    kind="edited",
                )
            fields[name] = value
    return fields


def body_text(fields_text: str, payload_text: str) -> str:
    """A record's canonical JSON from that of its other fields and that of its payload.

    Exactly ``canonical_json({**fields, "payload": payload})`` without serialising either again
    (the costliest part of hashing a record): keys are sorted, and of the fields a record has,
    ``prev`` is the first after ``payload``, so the payload goes before the top-level ``prev``.
    That is the last ``,"prev":"`` in the text, as the fields after it (``reason``, ``schema``,
    ``seq``, ``supersedes``, ``ts``, ``type``, ``v``) hold only strings and numbers, whose
    quotes are escaped.
    """
    at = fields_text.rfind(',"prev":"')
    return f'{fields_text[:at]},"payload":{payload_text}{fields_text[at:]}'


def _body(record: Record) -> dict[str, Any]:
    """The hashed fields of ``record``, flat: the record without ``hash`` and ``sig``."""
    fields = _fields(
        v=record.v,
        campaign=record.campaign,
        seq=record.seq,
        type=record.type,
        ts=record.ts,
        actor=record.actor,
        prev=record.prev,
        meta=record.meta,
    )
    fields["payload"] = record.payload
    return fields


def compute_hash(record: Record) -> str:
    """The SHA-256 ``record`` must carry, by its version's formula."""
    return Entry.of(record).computed_hash()


@dataclass(slots=True)
class Entry:
    """A record as verification reads it: hashed fields, texts, hash and signature.

    ``fields`` are the hashed fields other than the payload (for v2 with the
    :data:`V2_FIELDS`), ``fields_text`` and ``payload_text`` their canonical JSON. From a store
    row both texts are the stored ones, so hashing needs no serialisation; ``campaign`` ...
    ``v`` are then the row's columns, which :func:`verify_entries` checks against ``fields``.
    """

    campaign: str
    seq: int
    type: str
    ts: str
    actor: str
    prev: str
    v: int
    hash: str
    sig: str | None
    fields: dict[str, Any]
    fields_text: str
    payload_text: str

    @classmethod
    def of(cls, record: Record) -> Entry:
        """The entry of a record."""
        fields = _fields(
            v=record.v,
            campaign=record.campaign,
            seq=record.seq,
            type=record.type,
            ts=record.ts,
            actor=record.actor,
            prev=record.prev,
            meta=record.meta,
        )
        return cls(
            campaign=record.campaign,
            seq=record.seq,
            type=record.type,
            ts=record.ts,
            actor=record.actor,
            prev=record.prev,
            v=record.v,
            hash=record.hash,
            sig=record.sig,
            fields=fields,
            fields_text=canonical_json(fields),
            payload_text=canonical_json(record.payload),
        )

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Entry:
        """The entry of a record as :func:`record_to_json` wrote it (a bundle's).

        Raises:
            LedgerTampered: a field is missing or of the wrong kind (``kind="malformed"``).
        """
        try:
            fields = {k: v for k, v in value.items() if k not in _OUTER and k != "payload"}
            checks = [
                (value["campaign"], str),
                (value["seq"], int),
                (value["type"], str),
                (value["ts"], str),
                (value["actor"], str),
                (value["prev"], str),
                (value["hash"], str),
                (value["v"], int),
                (value["payload"], dict),
            ]
            if not all(isinstance(x, kind) for x, kind in checks):
                raise TypeError("a field has the wrong type")
            return cls(
                campaign=value["campaign"],
                seq=value["seq"],
                type=value["type"],
                ts=value["ts"],
                actor=value["actor"],
                prev=value["prev"],
                v=value["v"],
                hash=value["hash"],
                sig=value.get("sig"),
                fields=fields,
                fields_text=canonical_json(fields),
                payload_text=canonical_json(value["payload"]),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            seq = value.get("seq", 0) if isinstance(value, Mapping) else 0
            campaign = value.get("campaign", "") if isinstance(value, Mapping) else ""
            raise LedgerTampered(
                f"record #{seq} is not a ledger record ({exc!r})",
                campaign=str(campaign),
                seq=seq if isinstance(seq, int) else 0,
                kind="malformed",
            ) from exc

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Entry:
        """The entry of a store row, both texts as stored (:data:`ROW_COLUMNS` order).

        A v2 row's ``meta`` holds the canonical JSON of every hashed field but the payload: the
        exact text that was hashed. The other columns are what queries and the campaign's
        replay read; :func:`content_problem` checks they agree with it.
        """
        campaign, seq, type_, ts, actor, payload, prev, digest, version, meta, sig = row
        version = V1 if version is None else version
        if meta is None:
            fields: dict[str, Any] = {
                "v": version,
                "campaign": campaign,
                "seq": seq,
                "type": type_,
                "ts": ts,
                "actor": actor,
                "prev": prev,
            }
            meta = canonical_json(fields)
        else:
            fields = json.loads(meta)
            if not isinstance(fields, dict):
                fields = {}
        return cls(
            campaign=campaign,
            seq=seq,
            type=type_,
            ts=ts,
            actor=actor,
            prev=prev,
            v=version,
            hash=digest,
            sig=sig,
            fields=fields,
            fields_text=meta,
            payload_text=payload,
        )

    @property
    def key(self) -> str | None:
        """Id of the key that signed it (v2)."""
        value = self.fields.get("key")
        return value if isinstance(value, str) else None

    @property
    def contribution(self) -> str:
        """``human`` / ``ai`` / ``device`` / ``system``."""
        value = self.fields.get("contribution")
        return value if isinstance(value, str) else contribution_of(self.actor)

    def computed_hash(self) -> str:
        """The SHA-256 the record must carry: of its canonical JSON without ``hash``/``sig``."""
        body = body_text(self.fields_text, self.payload_text)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record_message(record_hash_hex: str) -> bytes:
    """The bytes a v2 record's signature signs: ``cfl-record-v2:<hash hex>`` in ASCII."""
    return (RECORD_SIGNATURE_PREFIX + record_hash_hex).encode("ascii")


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
    """A v1 (unsigned) record chained to ``prev``.

    The format of stores written before signatures, kept so old stores can be rebuilt in tests;
    the journal writes :func:`seal_signed` records.
    """
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
        v=V1,
        meta={},
        sig=None,
    )


def seal_signed(
    *,
    campaign: str,
    seq: int,
    type: str,
    actor: str,
    payload: dict[str, JsonValue],
    prev: str,
    key: SigningKey,
    ts: str | None = None,
    info: dict[str, JsonValue] | None = None,
    supersedes: Sequence[str] = (),
    schema: int = 1,
    payload_text: str | None = None,
) -> Record:
    """A v2 record chained to ``prev`` and signed with ``key``.

    Args:
        info: The ``actor_info`` (default: :func:`actor_info` without lab devices).
        supersedes: Ids of earlier records it replaces as the word on its subject.
        schema: Version of the payload's event schema.
        payload_text: ``canonical_json(payload)`` if the caller has it already.

    Raises:
        ValueError: the payload cannot be canonical JSON (NaN, infinity, ...).
    """
    ts = ts or utc_stamp()
    text = canonical_json(payload) if payload_text is None else payload_text
    meta: dict[str, JsonValue] = {
        "id": f"{campaign}/{seq}",
        "schema": schema,
        "actor_info": info if info is not None else actor_info(actor, type, payload),
        "contribution": contribution_of(actor),
        "reason": reason_of(payload),
        "supersedes": list(supersedes),
        "blobs": list(blob_refs(payload, text=text)),
        "key": key.key_id,
    }
    fields = _fields(
        v=LEDGER_VERSION,
        campaign=campaign,
        seq=seq,
        type=type,
        ts=ts,
        actor=actor,
        prev=prev,
        meta=meta,
    )
    fields_text = canonical_json(fields)
    body = body_text(fields_text, text)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    if len(_SEALED_TEXTS) >= _SEALED_TEXTS_MAX:  # sealed but never stored: forget them
        _SEALED_TEXTS.clear()
    _SEALED_TEXTS[digest] = (payload, meta, text, fields_text)
    signature = base64.b64encode(key.sign(record_message(digest))).decode("ascii")
    return Record.model_construct(
        campaign=campaign,
        seq=seq,
        type=type,
        ts=ts,
        actor=actor,
        payload=payload,
        prev=prev,
        hash=digest,
        v=LEDGER_VERSION,
        meta=meta,
        sig=signature,
    )


_SEALED_TEXTS: dict[str, tuple[object, object, str, str]] = {}
"""Records just sealed, by hash, until the store writes them: their payload and meta objects
and the texts that were hashed."""
_SEALED_TEXTS_MAX = 4096


def stored_texts(record: Record) -> tuple[str, str]:
    """``(payload, fields)`` canonical JSON of a v2 record, as the store keeps them.

    The texts :func:`seal_signed` hashed, when it sealed this very record (same payload and meta
    objects) in this process; else serialised again.
    """
    sealed = _SEALED_TEXTS.pop(record.hash, None)
    if sealed is not None and sealed[0] is record.payload and sealed[1] is record.meta:
        return sealed[2], sealed[3]
    fields = _fields(
        v=record.v,
        campaign=record.campaign,
        seq=record.seq,
        type=record.type,
        ts=record.ts,
        actor=record.actor,
        prev=record.prev,
        meta=record.meta,
    )
    return canonical_json(record.payload), canonical_json(fields)


def record_to_json(record: Record) -> dict[str, JsonValue]:
    """The record as one flat JSON object (bundles, proofs): its hashed fields, ``hash``, ``sig``.

    Anyone can check it by hand: drop ``hash`` and ``sig``, write the rest as canonical JSON
    (sorted keys, no spaces, UTF-8), and SHA-256 it.
    """
    value: dict[str, JsonValue] = dict(_body(record))
    value["hash"] = record.hash
    if record.v != V1:
        value["sig"] = record.sig
    return value


def record_from_json(value: Mapping[str, Any]) -> Record:
    """The record :func:`record_to_json` wrote.

    Raises:
        LedgerTampered: a field is missing or of the wrong kind.
    """
    try:
        core = {name: value[name] for name in _CORE_FIELDS}
        meta = {
            k: v for k, v in value.items() if k not in _CORE_FIELDS and k not in ("hash", "sig")
        }
        return Record.model_validate(
            {**core, "hash": value["hash"], "sig": value.get("sig"), "meta": meta}
        )
    except (KeyError, TypeError, ValueError) as exc:
        seq = value.get("seq", 0) if isinstance(value, Mapping) else 0
        raise LedgerTampered(
            f"record #{seq} is not a ledger record ({exc})",
            campaign=str(value.get("campaign", "")) if isinstance(value, Mapping) else "",
            seq=seq if isinstance(seq, int) else 0,
            kind="malformed",
        ) from exc


# -- the chain ---------------------------------------------------------------------------------


def verify_chain(
    records: Iterable[Record], *, campaign: str, head: tuple[int, str] | None = None
) -> int:
    """Check a campaign's records, in the order stored, and return how many there are.

    The structural checks only: ``seq``, links, hashes, formats. Signatures and tree heads are
    checked by :mod:`cfl.verify`, which needs the keys.

    Args:
        records: The campaign's records ordered by ``seq`` as stored.
        campaign: The campaign they must all belong to.
        head: ``(seq, hash)`` of the last record as kept beside the campaign; when given, a
            chain that ends elsewhere has been cut or extended behind the store's back.

    Raises:
        LedgerTampered: naming the first record that fails and how.
        CFLError: a record has a format version this CFL does not know (written by a newer one).
    """
    return verify_entries((Entry.of(r) for r in records), campaign=campaign, head=head)


def verify_entries(
    entries: Iterable[Entry], *, campaign: str, head: tuple[int, str] | None = None
) -> int:
    """:func:`verify_chain` of records already in :class:`Entry` form."""
    walk = ChainWalk(campaign)
    for entry in entries:
        problem = walk.step(entry.campaign, entry.seq, entry.type, entry.prev, entry.hash, entry.v)
        if problem is None:
            problem = content_problem(campaign, entry)
        if problem is not None:
            raise problem
    problem = walk.finish(head)
    if problem is not None:
        raise problem
    return walk.count


class ChainWalk:
    """The links of a chain, record by record: ``seq``, ``prev``, format (no hashing).

    :func:`verify_entries` runs it with :func:`content_problem` on each record; a parallel
    verifier runs it on the stored columns while other processes check the contents.
    """

    def __init__(self, campaign: str) -> None:
        self.campaign = campaign
        self.prev = GENESIS
        self.count = 0
        self._signed = False

    def step(
        self, campaign: str, seq: int, type: str, prev: str, digest: str, v: int
    ) -> LedgerTampered | None:
        """The problem with the next record's links, if any (then stop walking).

        Raises:
            CFLError: the record has a format version this CFL does not know.
        """
        where = f"campaign {self.campaign}, record #{seq} ({type})"
        expected = self.count + 1
        if campaign != self.campaign:
            return LedgerTampered(
                f"{where}: belongs to campaign {campaign!r}",
                campaign=self.campaign,
                seq=seq,
                kind="foreign",
            )
        if seq != expected:
            return LedgerTampered(
                f"campaign {self.campaign}: expected record #{expected} but found #{seq}: a "
                "record was removed or the records were reordered",
                campaign=self.campaign,
                seq=expected,
                kind="removed" if seq > expected else "reordered",
            )
        # The link first: a record moved to another position keeps a valid hash of its own.
        if prev != self.prev:
            return LedgerTampered(
                f"{where}: does not link to record #{seq - 1}: the records were reordered, or "
                "one before it was removed or replaced",
                campaign=self.campaign,
                seq=seq,
                kind="reordered",
            )
        if v not in (V1, LEDGER_VERSION):
            raise CFLError(
                f"{where}: record format v{v} is newer than this CFL knows (v1, v2); upgrade CFL "
                "to read and verify it"
            )
        if v == V1 and self._signed:
            return LedgerTampered(
                f"{where}: an unsigned v1 record after signed ones: the log was downgraded to "
                "escape its signatures",
                campaign=self.campaign,
                seq=seq,
                kind="downgraded",
            )
        self._signed = self._signed or v == LEDGER_VERSION
        self.prev, self.count = digest, expected
        return None

    def finish(self, head: tuple[int, str] | None) -> LedgerTampered | None:
        """The problem with where the chain ends, against the head kept beside it, if any."""
        if head is None or (self.count, self.prev) == head:
            return None
        return LedgerTampered(
            f"campaign {self.campaign}: the chain ends at record #{self.count} but the "
            f"campaign's head is #{head[0]} ({head[1][:12]}...): records were cut from or added "
            "to the end",
            campaign=self.campaign,
            seq=min(self.count, head[0]) + 1,
            kind="truncated" if self.count < head[0] else "extended",
        )


def _columns_agree(record: Entry) -> bool:
    """Whether the record's separately kept fields say what its hashed text says."""
    fields = record.fields
    return (
        fields.get("seq") == record.seq
        and fields.get("prev") == record.prev
        and fields.get("campaign") == record.campaign
        and fields.get("actor") == record.actor
        and fields.get("ts") == record.ts
        and fields.get("type") == record.type
        and fields.get("v") == record.v
    )


_V2_KEYS = frozenset(_CORE_FIELDS - {"payload"} | set(V2_FIELDS))


def content_problem(campaign: str, record: Entry) -> LedgerTampered | None:
    """The problem with a record's own content, if any: its hash, and a v2 record's fields.

    A v2 record's derived fields must agree with what they derive from: a record re-sealed with
    a false ``contribution`` or ``id`` is caught even when its hash and signature are right.
    """
    where = f"campaign {campaign}, record #{record.seq} ({record.type})"
    if record.computed_hash() != record.hash or not _columns_agree(record):
        return LedgerTampered(
            f"{where}: content does not match its hash: the record was edited",
            campaign=campaign,
            seq=record.seq,
            kind="edited",
        )
    if record.v != LEDGER_VERSION:
        return None
    problems = []
    fields = record.fields
    if fields.keys() != _V2_KEYS:
        problems.append(f"fields {sorted(fields.keys() ^ _V2_KEYS)} missing or unexpected")
    if fields.get("id") != f"{record.campaign}/{record.seq}":
        problems.append(f"id {fields.get('id')!r}")
    if fields.get("contribution") != contribution_of(record.actor):
        problems.append(f"contribution {fields.get('contribution')!r} for actor {record.actor!r}")
    if not isinstance(fields.get("key"), str) or not record.sig:
        problems.append("no signing key or signature")
    if not problems:
        return None
    return LedgerTampered(
        f"{where}: inconsistent record ({'; '.join(problems)}): the record was edited",
        campaign=campaign,
        seq=record.seq,
        kind="edited",
    )


# -- signed tree heads -------------------------------------------------------------------------


class TreeHead(BaseModel):
    """A signed commitment to the first ``size`` records of a campaign (module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign: str
    size: int = Field(ge=0)
    root: str
    """Hex ``MTH`` of the first ``size`` records' hashes."""
    ts: str
    """When it was signed (UTC, as records are stamped)."""
    key: str
    """Id of the instance key that signed it."""
    sig: str
    """Base64 Ed25519 signature of :meth:`message`."""
    timestamp_token: dict[str, JsonValue] | None = None
    """An RFC 3161 token over :meth:`timestamp_data`, as ``TimestampToken.to_json()`` writes it
    (``token`` is the base64 DER); added after signing, so outside the signature."""

    def message(self) -> bytes:
        """The bytes :attr:`sig` signs."""
        return tree_head_message(
            campaign=self.campaign, size=self.size, root=self.root, ts=self.ts, key=self.key
        )

    def timestamp_data(self) -> bytes:
        """The bytes a time-stamping authority stamps for this head: :meth:`message`."""
        return self.message()

    def signature(self) -> bytes:
        """:attr:`sig` decoded (empty if it is not base64)."""
        return _unbase64(self.sig)


def tree_head_message(*, campaign: str, size: int, root: str, ts: str, key: str) -> bytes:
    """``cfl-tree-head-v1:`` + canonical JSON of ``{campaign, key, root, size, ts, v: 1}``."""
    body = {"campaign": campaign, "key": key, "root": root, "size": size, "ts": ts, "v": 1}
    return (TREE_HEAD_PREFIX + canonical_json(body)).encode("utf-8")


def sign_tree_head(
    *, campaign: str, size: int, root: bytes, key: SigningKey, ts: str | None = None
) -> TreeHead:
    """A tree head over ``size`` records with Merkle root ``root``, signed with ``key``."""
    ts = ts or utc_stamp()
    message = tree_head_message(
        campaign=campaign, size=size, root=root.hex(), ts=ts, key=key.key_id
    )
    return TreeHead(
        campaign=campaign,
        size=size,
        root=root.hex(),
        ts=ts,
        key=key.key_id,
        sig=base64.b64encode(key.sign(message)).decode("ascii"),
    )


def _unbase64(text: str | None) -> bytes:
    if not text:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def signature_bytes(record: Record) -> bytes:
    """A v2 record's signature decoded (empty if missing or not base64)."""
    return _unbase64(record.sig)
