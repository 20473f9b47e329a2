"""Verifying a campaign's ledger: the chain, every signature, the signed tree heads, timestamps.

One function, :func:`verify_log`, checks a campaign's records and tree heads wherever they come
from: the store (``cfl ledger verify``), an exported bundle or a single-record proof
(:mod:`cfl.bundle`, offline, with nothing but the file and the public keys). In order, stopping
at the first failure with :class:`~cfl.errors.LedgerTampered` naming the record (``seq``) or the
tree head (``tree_size``) and the ``kind`` of problem:

1. **chain** (the checks of :func:`cfl.ledger.verify_chain`: :class:`~cfl.ledger.ChainWalk`
   and :func:`~cfl.ledger.content_problem`): ``seq`` gap-free from 1, each ``prev`` the hash
   before, each hash recomputed, formats (no v1 after v2), and the head kept beside the campaign
   (store only). Catches edited, removed, reordered, foreign and cut records.
2. **time**: no record dated more than :data:`CLOCK_SKEW_S` before the one it follows
   (``backdated``).
3. **signatures**: every v2 record's key is trusted and may sign for its actor
   (:meth:`cfl.keys.PublicKey.may_sign`), and its Ed25519 signature of
   ``cfl-record-v2:<hash>`` holds. A signature moved from another record fails here. For a long
   log, hashes and signatures are checked in one worker process per core while this one walks
   the links (Ed25519 verification, ~0.1 ms each, is most of the work).
4. **tree heads**: each is signed by a trusted instance key; two heads of one size with different
   roots are a fork; a head larger than the log means records were cut; a head whose root is not
   the Merkle root of the first ``size`` records means the log was rewritten after the head was
   signed (a fork); heads are dated in order and not before the records they cover.
5. **consistency proofs** carried by a bundle verify (RFC 9162 §2.1.4.2) between the heads.
6. **heads seen before** (``--against``: an older bundle, proof or head): each must be a prefix of
   this log; a shorter log is truncated, a different root is a fork.
7. **timestamps**: a head's RFC 3161 token is checked by :func:`cfl.timestamp.verify_token` over
   :meth:`cfl.ledger.TreeHead.timestamp_data`; a token that does not verify is a forged
   timestamp, and the stamped time must not be before the head was signed.

A verifier trusts only the public keys it is given: keys listed in a store or a bundle are
claims, since whoever could rewrite the log could add a key of their own.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nacl.bindings
import nacl.exceptions

from cfl.errors import LedgerTampered
from cfl.keys import INSTANCE, TrustedKeys
from cfl.ledger import (
    LEDGER_VERSION,
    ChainWalk,
    Entry,
    Record,
    TreeHead,
    content_problem,
    record_message,
)
from cfl.merkle import MerkleTree, leaf_hash, verify_consistency

__all__ = [
    "CLOCK_SKEW_S",
    "CampaignReport",
    "Consistency",
    "check_timestamp",
    "check_tree_head_signature",
    "report_lines",
    "verify_log",
]

CLOCK_SKEW_S = 300.0
"""How far back a record's (or head's) time may go against the one before it: clocks of
different machines writing one campaign (after a resume) need not agree to the microsecond."""
PARALLEL_MIN = 8192
"""Records from which a log's contents and signatures are checked in worker processes."""


@dataclass(frozen=True)
class Consistency:
    """A consistency proof between two of a campaign's tree heads (RFC 6962 §2.1.2)."""

    first: int
    second: int
    proof: tuple[str, ...]
    """Hex node hashes."""


@dataclass
class CampaignReport:
    """What a successful verification found (for the CLI and, later, the web app)."""

    campaign: str
    records: int
    unsigned: int = 0
    """v1 records: hash-chained but written before signatures."""
    signed_by: dict[str, int] = field(default_factory=dict)
    """Key id to the number of records it signed."""
    contributions: dict[str, int] = field(default_factory=dict)
    """``human`` / ``ai`` / ``device`` / ``system`` to record counts."""
    tree_heads: int = 0
    latest_head: TreeHead | None = None
    timestamps_verified: int = 0
    timestamps_unchecked: int = 0
    """Tokens present but not checked (``cfl.timestamp`` unavailable)."""
    earliest_timestamp: datetime | None = None
    """The earliest verified RFC 3161 time over these records' heads."""
    heads_seen_before: int = 0
    """Heads from earlier exports this log was shown to extend (``--against``)."""

    @property
    def covered(self) -> int:
        """Records covered by the latest signed tree head."""
        return 0 if self.latest_head is None else self.latest_head.size


def _tampered(
    message: str, *, campaign: str, seq: int, kind: str, tree_size: int | None = None
) -> LedgerTampered:
    return LedgerTampered(message, campaign=campaign, seq=seq, kind=kind, tree_size=tree_size)


Row = tuple[Any, ...]
"""A store row (:data:`cfl.ledger.ROW_COLUMNS`)."""
_Item = Entry | Row | Mapping[str, Any]
"""A record as the checks take it: an entry, a store row, or a bundle's JSON object."""


def verify_log(
    campaign: str,
    records: Sequence[Entry | Record | Row | Mapping[str, Any]],
    heads: Sequence[TreeHead],
    trusted: TrustedKeys,
    *,
    head: tuple[int, str] | None = None,
    consistency: Sequence[Consistency] = (),
    seen_before: Sequence[TreeHead] = (),
    require_covered: bool = False,
    tsa_certificate: bytes | None = None,
    workers: int | None = None,
) -> CampaignReport:
    """Verify one campaign's records and tree heads (the checks of the module docstring).

    Args:
        campaign: The campaign id every record and head must carry.
        records: The records in stored order: store rows (a snapshot's ``rows``, fastest),
            :class:`~cfl.ledger.Entry`, :class:`~cfl.ledger.Record`, or JSON objects as
            :func:`~cfl.ledger.record_to_json` writes them (a bundle's).
        heads: Its signed tree heads (any order).
        trusted: The public keys signatures are accepted from.
        head: ``(seq, hash)`` kept beside the campaign (store), to catch a cut tail.
        consistency: Consistency proofs between heads (bundles carry them).
        seen_before: Heads of this campaign seen earlier (older exports): the log must extend
            each.
        require_covered: Fail unless the latest head covers every record (a bundle's export
            always signs one that does, so records beyond it were added).
        tsa_certificate: The TSA certificate timestamp tokens are checked against (``None``:
            the certificate in the token, which checks integrity but not who stamped).
        workers: Processes for the records' contents and signatures (default: one per core
            for logs of :data:`PARALLEL_MIN` records or more, else this process alone).

    Raises:
        LedgerTampered: the first problem found, with ``seq``, ``tree_size`` and ``kind``.
        CFLError: a record is in a format this CFL does not know.
    """
    items = [Entry.of(r) if isinstance(r, Record) else r for r in records]
    keys = {k.key_id: (k.public_key, k.signs_for) for k in trusted.all()}
    with _Checks(campaign, items, keys, workers) as checks:
        # Meanwhile, here: the links, the times and the tree, from the stored fields.
        links = [_link(item) for item in items]
        walk = ChainWalk(campaign)
        link_problem = None
        for link in links:
            link_problem = walk.step(*link[:6])
            if link_problem is not None:
                break
        link_problem = link_problem or walk.finish(head)
        tree = MerkleTree([leaf_hash(bytes.fromhex(link[4])) for link in links])
        found = checks.result()
    content = found.content
    if link_problem is not None and (content is None or link_problem.seq <= content[0]):
        raise link_problem
    if content is not None:
        raise _tampered(content[2], campaign=campaign, seq=content[0], kind=content[1])
    report = CampaignReport(
        campaign=campaign,
        records=walk.count,
        unsigned=found.unsigned,
        signed_by=dict(found.signed_by),
        contributions=dict(found.contributions),
    )
    _check_times(campaign, links)
    key_problem, bad = found.key, found.bad_signature
    if bad is not None and (key_problem is None or bad < key_problem[0]):
        link = links[bad - 1]
        raise _tampered(
            f"campaign {campaign}, record #{bad} ({link[2]}): its signature is not its key's "
            "signature of this record: forged, or moved from another record",
            campaign=campaign,
            seq=bad,
            kind="bad-signature",
        )
    if key_problem is not None:
        raise _tampered(key_problem[2], campaign=campaign, seq=key_problem[0], kind=key_problem[1])
    by_size = _check_heads(campaign, links, heads, trusted, tree, report, tsa_certificate)
    for proof in consistency:
        _check_consistency(campaign, proof, by_size)
    for old in seen_before:
        _check_seen_before(campaign, old, trusted, tree)
        report.heads_seen_before += 1
    count = report.records
    if require_covered and report.covered < count:
        raise _tampered(
            f"campaign {campaign}: records #{report.covered + 1}..#{count} are not covered by a "
            f"signed tree head (the latest covers {report.covered}): records were added after "
            "the export was signed, or the heads that covered them were removed",
            campaign=campaign,
            seq=report.covered + 1,
            kind="uncovered",
            tree_size=report.covered,
        )
    return report


_Link = tuple[str, int, str, str, str, int, str]
"""``(campaign, seq, type, prev, hash, v, ts)`` of a record, as stored."""


def _link(item: Entry | Row | Mapping[str, Any]) -> _Link:
    if isinstance(item, Entry):
        return (item.campaign, item.seq, item.type, item.prev, item.hash, item.v, item.ts)
    if isinstance(item, Mapping):
        names = ("campaign", "seq", "type", "prev", "hash", "v", "ts")
        kinds = (str, int, str, str, str, int, str)
        link = tuple(item.get(k) for k in names)
        for name, value, kind in zip(names, link, kinds, strict=True):
            if not isinstance(value, kind) or isinstance(value, bool):
                seq = item.get("seq")
                raise LedgerTampered(
                    f"record #{seq}: field {name!r} is missing or not a {kind.__name__}",
                    campaign=str(item.get("campaign", "")),
                    seq=seq if isinstance(seq, int) else 0,
                    kind="malformed",
                )
        return link  # type: ignore[return-value]
    campaign, seq, type_, ts, _actor, _payload, prev, digest, version = item[:9]
    return (campaign, seq, type_, prev, digest, 1 if version is None else version, ts)


# -- contents and signatures -------------------------------------------------------------------

_Keys = dict[str, tuple[bytes, str]]
"""Trusted keys by id: ``(raw public key, signs_for)``; plain data, for worker processes."""
_Problem = tuple[int, str, str]
"""``(seq, kind, message)`` of a problem found in a worker (exceptions do not pickle well)."""


@dataclass
class _Found:
    """What checking a run of records' contents and signatures found."""

    content: _Problem | None = None
    """The first hash or field problem (:func:`cfl.ledger.content_problem`)."""
    key: _Problem | None = None
    """The first signature by a key not trusted, or not allowed for the record's actor."""
    bad_signature: int | None = None
    """The first record whose signature does not verify."""
    unsigned: int = 0
    signed_by: Counter[str] = field(default_factory=Counter)
    contributions: Counter[str] = field(default_factory=Counter)

    def merge(self, other: _Found) -> None:
        """Add a later run's findings (first problems stay first)."""
        self.content = self.content or other.content
        self.key = self.key or other.key
        if self.bad_signature is None:
            self.bad_signature = other.bad_signature
        self.unsigned += other.unsigned
        self.signed_by.update(other.signed_by)
        self.contributions.update(other.contributions)


def _check_contents(campaign: str, items: Sequence[_Item], keys: _Keys) -> _Found:
    """Hashes, fields and signatures of a run of records (in a worker process, or here)."""
    found = _Found()
    for item in items:
        if isinstance(item, Entry):
            entry = item
        elif isinstance(item, Mapping):
            entry = Entry.from_json(item)
        else:
            entry = Entry.from_row(item)
        found.contributions[entry.contribution] += 1
        if found.content is None:
            problem = content_problem(campaign, entry)
            if problem is not None:
                found.content = (entry.seq, problem.kind, str(problem))
        if entry.v != LEDGER_VERSION:
            found.unsigned += 1
            continue
        key_id = entry.key or ""
        key = keys.get(key_id)
        if key is None or not (key[1] == INSTANCE or key[1] == entry.actor):
            if found.key is None:
                found.key = (entry.seq, *_key_problem(campaign, entry, key_id, key, len(keys)))
            continue
        found.signed_by[key_id] += 1
        if found.bad_signature is None and not _signature_holds(key[0], entry):
            found.bad_signature = entry.seq
    return found


def _key_problem(
    campaign: str, entry: Entry, key_id: str, key: tuple[bytes, str] | None, trusted: int
) -> tuple[str, str]:
    where = f"campaign {campaign}, record #{entry.seq} ({entry.type})"
    if key is None:
        return "unknown-key", (
            f"{where}: signed by key {key_id}, which is not among the {trusted} trusted public "
            "key(s): a key not given to the verifier (add its .pub file with --keys DIR, or copy "
            "it into $CFL_HOME/keys), or a forged signer"
        )
    return "unauthorised-key", (
        f"{where}: signed by {key[1]}'s key {key_id}, which may not sign for {entry.actor}"
    )


def _signature_holds(public_key: bytes, entry: Entry) -> bool:
    signature = _unbase64(entry.sig)
    if len(signature) != 64:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + record_message(entry.hash), public_key)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


class _Checks:
    """Runs :func:`_check_contents` over a log: in worker processes when it is long.

    Ed25519 verification (~0.1 ms a signature here) and hashing are most of the work and
    independent per record, so a long log is cut into runs checked by one process per core
    while the caller walks the links and builds the tree; :meth:`result` merges the runs in
    order.
    """

    def __init__(
        self, campaign: str, items: Sequence[_Item], keys: _Keys, workers: int | None
    ) -> None:
        self._campaign, self._items, self._keys = campaign, items, keys
        self._workers = workers if workers is not None else os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[_Found]] = []

    def __enter__(self) -> _Checks:
        if self._workers > 1 and len(self._items) >= PARALLEL_MIN:
            # fork is cheapest (nothing to import again), but safe only with no other threads.
            method = "fork" if threading.active_count() == 1 else "forkserver"
            if method not in multiprocessing.get_all_start_methods():
                method = "spawn"
            context = multiprocessing.get_context(method)
            self._pool = ProcessPoolExecutor(self._workers, mp_context=context)
            size = -(-len(self._items) // (self._workers * 4))
            self._futures = [
                self._pool.submit(
                    _check_contents, self._campaign, self._items[i : i + size], self._keys
                )
                for i in range(0, len(self._items), size)
            ]
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def result(self) -> _Found:
        """Every run's findings, merged in order."""
        if self._pool is None:
            return _check_contents(self._campaign, self._items, self._keys)
        found = _Found()
        for future in self._futures:
            found.merge(future.result())
        return found


def _unbase64(text: str | None) -> bytes:
    if not text:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


# -- time --------------------------------------------------------------------------------------


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _earlier_by(later: str, earlier: str) -> float:
    """Seconds ``later`` is before ``earlier`` (positive when out of order)."""
    return (_parse(earlier) - _parse(later)).total_seconds()


def _check_times(campaign: str, links: Sequence[_Link]) -> None:
    last = ""
    for _campaign, seq, type_, _prev, _hash, _v, ts in links:
        # Same format, so text order is time order; parse only when it looks out of order.
        if ts < last and _earlier_by(ts, last) > CLOCK_SKEW_S:
            raise _tampered(
                f"campaign {campaign}, record #{seq} ({type_}): dated {ts}, "
                f"{_earlier_by(ts, last):.0f} s before the record it follows ({last}): a "
                "backdated record",
                campaign=campaign,
                seq=seq,
                kind="backdated",
            )
        last = max(last, ts)


# -- tree heads --------------------------------------------------------------------------------


def check_tree_head_signature(
    campaign: str, head: TreeHead, trusted: TrustedKeys, what: str
) -> None:
    where = f"campaign {campaign}, {what} of size {head.size}"
    if head.campaign != campaign:
        raise _tampered(
            f"{where}: belongs to campaign {head.campaign!r}",
            campaign=campaign,
            seq=head.size,
            kind="foreign",
            tree_size=head.size,
        )
    key = trusted.get(head.key)
    if key is None:
        raise _tampered(
            f"{where}: signed by key {head.key}, which is not among the {len(trusted)} trusted "
            "public key(s) (add its .pub file with --keys DIR)",
            campaign=campaign,
            seq=head.size,
            kind="unknown-key",
            tree_size=head.size,
        )
    if not key.is_instance:
        raise _tampered(
            f"{where}: signed by {key.signs_for}'s key; only an instance key signs tree heads",
            campaign=campaign,
            seq=head.size,
            kind="unauthorised-key",
            tree_size=head.size,
        )
    if not key.verify(head.message(), head.signature()):
        raise _tampered(
            f"{where}: its signature does not match its content (size, root, time or key were "
            "changed, or the signature was moved from another head)",
            campaign=campaign,
            seq=head.size,
            kind="bad-signature",
            tree_size=head.size,
        )


def _check_heads(
    campaign: str,
    links: Sequence[_Link],
    heads: Sequence[TreeHead],
    trusted: TrustedKeys,
    tree: MerkleTree,
    report: CampaignReport,
    tsa_certificate: bytes | None,
) -> dict[int, TreeHead]:
    by_size: dict[int, TreeHead] = {}
    matched = 0  # the largest size whose head matched the records
    last_ts = ""
    for head in sorted(heads, key=lambda h: h.size):
        check_tree_head_signature(campaign, head, trusted, "tree head")
        where = f"campaign {campaign}, tree head of size {head.size} (signed {head.ts})"
        twin = by_size.get(head.size)
        if twin is not None and twin.root != head.root:
            raise _tampered(
                f"{where}: a second signed head of size {head.size} with another root "
                f"({twin.root[:12]}... and {head.root[:12]}...): two different logs from one "
                "history (a fork)",
                campaign=campaign,
                seq=head.size,
                kind="forked",
                tree_size=head.size,
            )
        by_size[head.size] = head
        if head.size > tree.size:
            raise _tampered(
                f"{where}: it covers records up to #{head.size} but the log ends at "
                f"#{tree.size}: records #{tree.size + 1}..#{head.size} were cut",
                campaign=campaign,
                seq=tree.size + 1,
                kind="truncated",
                tree_size=head.size,
            )
        if tree.root(head.size).hex() != head.root:
            raise _tampered(
                f"{where}: its root is not the Merkle root of records #1..#{head.size}: the log "
                f"was rewritten after the head was signed (a fork); the change is in records "
                f"#{matched + 1}..#{head.size}",
                campaign=campaign,
                seq=matched + 1,
                kind="forked",
                tree_size=head.size,
            )
        matched = head.size
        if head.size and _earlier_by(head.ts, links[head.size - 1][6]) > CLOCK_SKEW_S:
            raise _tampered(
                f"{where}: dated before record #{head.size} it covers "
                f"({links[head.size - 1][6]}): a backdated head",
                campaign=campaign,
                seq=head.size,
                kind="backdated",
                tree_size=head.size,
            )
        if last_ts and _earlier_by(head.ts, last_ts) > CLOCK_SKEW_S:
            raise _tampered(
                f"{where}: dated before a smaller head ({last_ts}): a backdated head",
                campaign=campaign,
                seq=head.size,
                kind="backdated",
                tree_size=head.size,
            )
        last_ts = max(last_ts, head.ts)
        if head.timestamp_token is not None:
            _note_timestamp(report, check_timestamp(campaign, head, tsa_certificate))
    report.tree_heads = len(by_size)
    report.latest_head = by_size[max(by_size)] if by_size else None
    return by_size


def _check_consistency(campaign: str, proof: Consistency, by_size: dict[int, TreeHead]) -> None:
    first, second = by_size.get(proof.first), by_size.get(proof.second)
    where = f"campaign {campaign}: the consistency proof from size {proof.first} to {proof.second}"
    if first is None or second is None:
        raise _tampered(
            f"{where} names a tree head the bundle does not have",
            campaign=campaign,
            seq=proof.second,
            kind="bad-proof",
            tree_size=proof.second,
        )
    try:
        path = [bytes.fromhex(p) for p in proof.proof]
    except ValueError:
        path = []
    if not verify_consistency(
        proof.first,
        proof.second,
        bytes.fromhex(first.root),
        bytes.fromhex(second.root),
        path,
    ):
        raise _tampered(
            f"{where} does not verify: the proof was altered, or the heads are of two "
            "different logs (a fork)",
            campaign=campaign,
            seq=proof.second,
            kind="bad-proof",
            tree_size=proof.second,
        )


def _check_seen_before(
    campaign: str, old: TreeHead, trusted: TrustedKeys, tree: MerkleTree
) -> None:
    check_tree_head_signature(campaign, old, trusted, "tree head seen before")
    where = f"campaign {campaign}: a tree head seen before (size {old.size}, signed {old.ts})"
    if old.size > tree.size:
        raise _tampered(
            f"{where} covers records up to #{old.size}, but this log ends at #{tree.size}: it "
            "was truncated since",
            campaign=campaign,
            seq=tree.size + 1,
            kind="truncated",
            tree_size=old.size,
        )
    if tree.root(old.size).hex() != old.root:
        raise _tampered(
            f"{where} has root {old.root[:12]}..., but records #1..#{old.size} of this log give "
            f"{tree.root(old.size).hex()[:12]}...: the history was rewritten since (a fork)",
            campaign=campaign,
            seq=old.size,
            kind="forked",
            tree_size=old.size,
        )


# -- timestamps --------------------------------------------------------------------------------


def check_timestamp(
    campaign: str, head: TreeHead, tsa_certificate: bytes | None
) -> datetime | None:
    """Check a head's RFC 3161 token; the stamped time, or ``None`` if it cannot be checked here.

    Raises:
        LedgerTampered: the token does not verify for this head (``kind="timestamp"``), or the
            TSA stamped it before the time the head says it was signed.
    """
    try:
        timestamp: Any = importlib.import_module("cfl.timestamp")
    except ImportError:
        return None
    where = f"campaign {campaign}, tree head of size {head.size}"
    token = (head.timestamp_token or {}).get("token")
    try:
        der = base64.b64decode(str(token), validate=True)
    except (binascii.Error, ValueError):
        der = b""
    try:
        gen_time: datetime = timestamp.verify_token(
            der,
            head.timestamp_data(),
            tsa_certificate=tsa_certificate,
            campaign=campaign,
            seq=head.size,
        )
    except LedgerTampered as exc:
        raise _tampered(
            f"{where}: its RFC 3161 timestamp does not verify: {exc}",
            campaign=campaign,
            seq=head.size,
            kind="timestamp",
            tree_size=head.size,
        ) from exc
    if (_parse(head.ts) - gen_time).total_seconds() > CLOCK_SKEW_S:
        raise _tampered(
            f"{where}: stamped at {gen_time.isoformat()} by the TSA, before it says it was "
            f"signed ({head.ts}): a forged time",
            campaign=campaign,
            seq=head.size,
            kind="timestamp",
            tree_size=head.size,
        )
    return gen_time


def _note_timestamp(report: CampaignReport, gen_time: datetime | None) -> None:
    if gen_time is None:
        report.timestamps_unchecked += 1
        return
    report.timestamps_verified += 1
    if report.earliest_timestamp is None or gen_time < report.earliest_timestamp:
        report.earliest_timestamp = gen_time


def report_lines(report: CampaignReport) -> list[str]:
    """Human-readable lines about one campaign's verification (for the CLI)."""
    keys = ", ".join(f"{k[:12]}... ({n})" for k, n in sorted(report.signed_by.items()))
    lines = [
        f"{report.campaign}: {report.records} records, "
        f"{sum(report.signed_by.values())} signed ({keys or 'none'})"
        + (f", {report.unsigned} unsigned v1" if report.unsigned else "")
    ]
    if report.latest_head is not None:
        lines.append(
            f"  tree heads: {report.tree_heads} signed; the latest covers "
            f"{report.covered}/{report.records} records, root {report.latest_head.root[:16]}..."
        )
    else:
        lines.append("  tree heads: none")
    if report.timestamps_verified or report.timestamps_unchecked:
        lines.append(
            f"  timestamps: {report.timestamps_verified} RFC 3161 token(s) verified"
            + (
                f", earliest {report.earliest_timestamp.isoformat()}"
                if report.earliest_timestamp
                else ""
            )
            + (f", {report.timestamps_unchecked} unchecked" if report.timestamps_unchecked else "")
        )
    return lines
