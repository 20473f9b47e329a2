"""The invention-disclosure packet: a campaign's record, laid out as a patent attorney reads it.

:func:`write_packet` verifies the campaign's ledger, then writes into one folder:

- ``disclosure.md`` and ``disclosure.pdf``, the same document: title (the campaign's goal),
  contributors and their roles (humans, AI agents and algorithms with versions, devices; human
  and AI contributions counted), conception (the first pre-registered hypothesis that became
  supported: statement, prediction, author, and the record that registered it), reduction to
  practice (the experiments that tested it: conditions, results, record hashes), the data's
  record hashes, a human conception statement for the inventor to complete and sign, and how
  to verify it all offline;
- ``bundle/``: the ledger's signed export of the campaign (``bundle.json``, :mod:`cfl.bundle`:
  records, signed tree heads, consistency proofs) with the public keys it names (``keys/``; or,
  where this CFL has no bundle export, the records and chain head alone, ``records.json``); a
  checker that needs only Python's standard library (``verify_records.py``: hashes, links,
  Merkle roots; not signatures); and, when a TSA is configured (``CFL_TSA_URL``), ``head.json``
  (the head, the tree head and the bundle's hash) with its RFC 3161 token ``head.tsr``.

Everything in the documents is taken from the verified records: every hash cited is a record's
hash, so a reader can find it in the bundle and check it. Only natural persons can be inventors;
AI agents and algorithms are listed as the tools they were, with what they contributed, so the
attorney can judge each human's contribution to the conception.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import shutil
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import JsonValue

from cfl.campaign import Campaign
from cfl.canonical import canonical_json
from cfl.journal import Journal
from cfl.keys import Keyring, TrustedKeys
from cfl.ledger import Record, contribution_of, record_to_json, utc_stamp
from cfl.models import Experiment, Hypothesis, HypothesisStatus, Observation
from cfl.store import Store
from cfl.timestamp import TimestampToken, TsaSettings, stamp

__all__ = ["Conception", "Contributor", "Packet", "RecordRef", "Trial", "write_packet"]

Kind = Literal["human", "AI", "device", "system"]


@dataclass(frozen=True)
class RecordRef:
    """Where something is in the ledger: a record's number, hash, time and writer."""

    seq: int
    hash: str
    ts: str
    type: str
    actor: str

    @classmethod
    def of(cls, record: Record) -> RecordRef:
        return cls(record.seq, record.hash, record.ts, record.type, record.actor)


@dataclass(frozen=True)
class Contributor:
    """Someone or something that wrote to the ledger or is named in it."""

    actor: str
    """As the ledger names it: ``human:ada``, ``agent:offline-coscientist@1``, ``device:hplc-1``."""
    kind: Kind
    label: str
    """Readable name with version, driver or serial where the record has them."""
    roles: tuple[str, ...]
    records: int
    """Records it wrote."""


@dataclass(frozen=True)
class Conception:
    """The first pre-registered hypothesis that became supported, and the records that show it."""

    hypothesis: Hypothesis
    """As it stands now (status, credence) with the statement and prediction as registered."""
    registered: RecordRef
    supported: RecordRef
    """The assessment that first found it supported."""
    credence: float
    log10_bf: float | None
    evidence_n: int


@dataclass(frozen=True)
class Trial:
    """One experiment that tested the conceived hypothesis."""

    experiment: Experiment
    observation: Observation | None
    designed: RecordRef
    observed: RecordRef | None
    confirming: bool
    """Observed before (so counted in) the assessment that found the hypothesis supported."""


@dataclass(frozen=True)
class Packet:
    """What :func:`write_packet` wrote, and the facts it wrote down."""

    campaign: str
    markdown: Path
    pdf: Path
    pages: int
    """Pages of the PDF."""
    bundle: Path
    """The verification bundle: ``bundle/bundle.json`` (the ledger's signed export,
    :mod:`cfl.bundle`), or ``bundle/records.json`` (records and head only) without it."""
    bundle_sha256: str
    """SHA-256 of the bundle file."""
    head: RecordRef
    """The last record."""
    tree_head: dict[str, JsonValue] | None
    """The signed tree head over every record, as exported (``None`` without :mod:`cfl.bundle`)."""
    contributors: tuple[Contributor, ...]
    contributions: dict[str, dict[str, int]]
    """What was contributed (``hypotheses``, ``conditions``, ``decisions``, ``records``) to
    counts by kind (``human``, ``AI``, ``device``, ``system``)."""
    conception: Conception | None
    trials: tuple[Trial, ...]
    timestamp: TimestampToken | None
    other_supported: tuple[str, ...] = ()
    """Further supported hypotheses, by id."""


def write_packet(
    store: Store,
    campaign_id: str,
    out_dir: Path,
    *,
    tsa: TsaSettings | None = None,
    keys: Keyring | None = None,
    trusted: TrustedKeys | None = None,
    now: datetime | None = None,
) -> Packet:
    """Verify the campaign's ledger and write its invention-disclosure packet into ``out_dir``.

    Args:
        store: Where the campaign is.
        campaign_id: Which campaign.
        out_dir: The packet's folder (created; files of an earlier packet are replaced).
        tsa: When it names a TSA, the head and the bundle's hash are stamped there.
        keys: Signs a tree head over the whole log if none covers it yet (default: the
            configured ``CFL_HOME``'s keys).
        trusted: The public keys whose signatures are accepted (default: ``CFL_HOME/keys``).
        now: The packet's date (default: now).

    Raises:
        NotFound: no such campaign.
        LedgerTampered: its records, signatures or tree heads do not verify; nothing is written.
        TimestampUnavailable: the TSA could not stamp the head; nothing is written (a packet
            without a token is written only when no TSA is configured).
        SpecError: a TSA setting is wrong (its certificate file cannot be read).
    """
    journal = Journal.open(store, campaign_id)  # verifies every record's hash and link
    campaign = journal.campaign
    certificate = None if tsa is None else tsa.trusted_certificate()
    bundle = _export(store, campaign, keys, trusted, certificate)
    records = store.records(campaign_id)
    head = RecordRef.of(records[-1])
    anchored, token = b"", None
    if tsa is not None and tsa.url is not None:  # before anything is written: all or nothing
        anchored = _head_json(campaign.id, head, bundle)
        token = stamp(anchored, tsa.url, timeout_s=tsa.timeout_s, tsa_certificate=certificate)

    bundle_dir = out_dir / "bundle"
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)
    bundle_dir.mkdir(parents=True)
    (bundle_dir / bundle.name).write_bytes(bundle.data)
    (bundle_dir / "verify_records.py").write_text(_VERIFY_SCRIPT, encoding="utf-8")
    if bundle.keys:
        (bundle_dir / "keys").mkdir()
        for key in bundle.keys:
            name = f"{str(key['signs_for']).replace(':', '-')}-{str(key['key_id'])[:8]}.pub"
            (bundle_dir / "keys" / name).write_text(json.dumps(key, indent=2) + "\n")
    if token is not None:
        (bundle_dir / "head.json").write_bytes(anchored)
        (bundle_dir / "head.tsr").write_bytes(token.token)
        if certificate is not None:
            (bundle_dir / "tsa-certificate.pem").write_bytes(certificate)

    facts = _Facts.read(campaign, records)
    doc = _document(campaign, facts, head=head, bundle=bundle, token=token, now=now)
    markdown = out_dir / "disclosure.md"
    markdown.write_text(_markdown(doc), encoding="utf-8")
    pdf = out_dir / "disclosure.pdf"
    pages = _pdf(doc, pdf, title=_title(campaign), footer=f"{campaign.id} · head #{head.seq}")
    return Packet(
        campaign=campaign.id,
        markdown=markdown,
        pdf=pdf,
        pages=pages,
        bundle=bundle_dir / bundle.name,
        bundle_sha256=bundle.sha256,
        head=head,
        tree_head=bundle.tree_head,
        contributors=facts.contributors,
        contributions=facts.contributions,
        conception=facts.conception,
        trials=facts.trials,
        timestamp=token,
        other_supported=facts.other_supported,
    )


# -- facts from the record ---------------------------------------------------------------------


_KINDS: dict[str, Kind] = {"human": "human", "ai": "AI", "device": "device", "system": "system"}


def _kind(actor: str) -> Kind:
    """Whose contribution an actor's work is (the ledger's own split, :func:`contribution_of`)."""
    return _KINDS[contribution_of(actor)]


def _label(actor: str, campaign: Campaign, info: dict[str, Any] | None = None) -> str:
    prefix, _, name = actor.partition(":")
    if prefix == "human":
        return f"{name} (person)"
    if prefix == "agent":
        base, _, version = name.partition("@")
        return f"{base}, version {version} (AI agent)" if version else f"{base} (AI agent)"
    if prefix == "planner":
        return f"{name} (optimisation algorithm)"
    if prefix == "device":
        # What the record says of the device (v2 records), else the lab file in the spec.
        known: dict[str, Any] = dict(info or {})
        device = campaign.spec.lab.devices.get(name)
        if device is not None:
            known.setdefault("driver", device.driver)
            known.setdefault("role", device.role)
            known.setdefault("address", device.address)
            for field_ in ("serial", "firmware", "calibration"):
                known.setdefault(field_, device.options.get(field_))
        details = [
            f"{field_} {known[field_]}"
            for field_ in ("driver", "role", "serial", "firmware", "calibration", "address")
            if known.get(field_) is not None
        ]
        return f"{name} (device: {', '.join(details)})" if details else f"{name} (device)"
    return "CFL orchestrator" if actor == "cfl" else f"CFL {name or actor} (software)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class _Facts:
    contributors: tuple[Contributor, ...]
    contributions: dict[str, dict[str, int]]
    conception: Conception | None
    trials: tuple[Trial, ...]
    other_supported: tuple[str, ...]
    observed: dict[str, Record]
    models: list[tuple[str, str, str, int, tuple[str, ...]]] = field(default_factory=list)
    """(actor, model, endpoint, calls, purposes) per model used."""

    @classmethod
    def read(cls, campaign: Campaign, records: Sequence[Record]) -> _Facts:
        roles: dict[str, Counter[str]] = defaultdict(Counter)
        authored: dict[str, list[str]] = defaultdict(list)
        written: Counter[str] = Counter()
        proposed: dict[str, Record] = {}
        designed: dict[str, Record] = {}
        observed: dict[str, Record] = {}
        supported_at: dict[str, Record] = {}
        calls: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
        infos: dict[str, dict[str, Any]] = {}
        for record in records:
            written[record.actor] += 1
            info = record.meta.get("actor_info")
            if isinstance(info, dict):
                infos[record.actor] = info
            payload: dict[str, Any] = record.payload
            match record.type:
                case "campaign.created":
                    roles[record.actor]["started the campaign"] += 1
                case "hypothesis.proposed":
                    h = payload["hypothesis"]
                    proposed[h["id"]] = record
                    authored[h["author"]].append(h["id"])
                    if record.actor != h["author"]:
                        roles[record.actor]["registered hypotheses"] += 1
                case "experiment.designed":
                    designed[payload["experiment"]["id"]] = record
                    roles[record.actor]["chose the conditions of experiments"] += 1
                case "experiment.approved" | "experiment.rejected":
                    verb = "approved" if record.type == "experiment.approved" else "rejected"
                    roles[payload["by"]][f"{verb} experiments"] += len(payload["experiments"])
                case "experiment.edited":
                    roles[payload["by"]]["changed the conditions of experiments"] += 1
                case "device.released":
                    roles[payload["by"]]["checked and released devices"] += 1
                case "observation.recorded":
                    observed[payload["observation"]["experiment"]] = record
                    roles[record.actor]["measured observations"] += 1
                case "step.completed":
                    roles[record.actor]["carried out protocol steps"] += 1
                case "hypothesis.assessed":
                    roles[record.actor]["weighed the evidence for hypotheses"] += 1
                    if payload["status"] == HypothesisStatus.SUPPORTED:
                        supported_at.setdefault(payload["hypothesis"], record)
                case "hypotheses.ranked":
                    roles[payload["judge"]]["judged hypothesis tournaments"] += 1
                case "model.called":
                    key = (record.actor, payload["model"], payload["endpoint"])
                    calls[key][payload["purpose"]] += 1
                case "campaign.reviewed":
                    roles[payload["author"]]["wrote the meta-review"] += 1
                case _:
                    roles[record.actor]["recorded the campaign's course"] += 1
        for author, ids in authored.items():
            noun = "hypothesis" if len(ids) == 1 else "hypotheses"
            roles[author][f"authored {noun} {', '.join(ids)}"] += 1
        for actor, _model, _endpoint in calls:
            roles[actor]["called a language model"] += 1

        def role_text(role: str, n: int) -> str:
            counted = {
                "chose the conditions of experiments": f"chose the conditions of "
                f"{_plural(n, 'experiment')}",
                "measured observations": f"measured {_plural(n, 'observation')}",
                "carried out protocol steps": f"carried out {_plural(n, 'protocol step')}",
                "weighed the evidence for hypotheses": f"weighed the evidence {_plural(n, 'time')}",
                "approved experiments": f"approved {_plural(n, 'experiment')}",
                "rejected experiments": f"rejected {_plural(n, 'experiment')}",
                "recorded the campaign's course": f"recorded {_plural(n, 'event')} of the "
                "campaign's course (dispatches, starts, rounds, the end)",
                "registered hypotheses": f"registered {_plural(n, 'hypothesis')}".replace(
                    "hypothesiss", "hypotheses"
                ),
            }
            return counted.get(role, role)

        order = {"human": 0, "AI": 1, "device": 2, "system": 3}
        actors = sorted(set(roles) | set(written), key=lambda a: (order[_kind(a)], a))
        contributors = tuple(
            Contributor(
                actor=a,
                kind=_kind(a),
                label=_label(a, campaign, infos.get(a)),
                roles=tuple(role_text(r, n) for r, n in roles[a].items()),
                records=written[a],
            )
            for a in actors
        )

        kinds: tuple[Kind, ...] = ("human", "AI", "device", "system")
        contributions: dict[str, dict[str, int]] = {
            "hypotheses": dict.fromkeys(kinds, 0),
            "conditions": dict.fromkeys(kinds, 0),
            "decisions": dict.fromkeys(kinds, 0),
            "records": dict.fromkeys(kinds, 0),
        }
        for h in campaign.hypotheses.values():
            contributions["hypotheses"][_kind(h.author)] += 1
        source_kind: dict[str, Kind] = {
            "human": "human",
            "planner": "AI",
            "coscientist": "AI",
            "initial": "system",
        }
        for e in campaign.experiments.values():
            contributions["conditions"][source_kind[e.source]] += 1
        for record in records:
            contributions["records"][_KINDS[record.contribution]] += 1
            if record.type in (
                "experiment.approved",
                "experiment.rejected",
                "experiment.edited",
                "device.released",
            ):
                contributions["decisions"][_kind(str(record.payload["by"]))] += 1

        conception, trials, others = _conception(
            campaign, proposed, supported_at, designed, observed
        )
        models = [
            (actor, model, endpoint, sum(p.values()), tuple(sorted(p)))
            for (actor, model, endpoint), p in sorted(calls.items())
        ]
        return cls(contributors, contributions, conception, trials, others, observed, models)


def _conception(
    campaign: Campaign,
    proposed: dict[str, Record],
    supported_at: dict[str, Record],
    designed: dict[str, Record],
    observed: dict[str, Record],
) -> tuple[Conception | None, tuple[Trial, ...], tuple[str, ...]]:
    """The first registered of the hypotheses ever found supported, and its experiments."""
    ever = sorted(supported_at, key=lambda hid: proposed[hid].seq)
    if not ever:
        return None, (), ()
    first, others = ever[0], tuple(ever[1:])
    hypothesis = campaign.hypotheses[first]
    support = supported_at[first]
    statistics: dict[str, Any] = support.payload.get("statistics") or {}  # type: ignore[assignment]
    bf = statistics.get("log10_bf")
    conception = Conception(
        hypothesis=hypothesis,
        registered=RecordRef.of(proposed[first]),
        supported=RecordRef.of(support),
        credence=float(support.payload["credence"]),  # type: ignore[arg-type]
        log10_bf=None if bf is None else float(bf),
        evidence_n=int(support.payload["evidence_n"]),  # type: ignore[arg-type]
    )
    trials = []
    for e in sorted(campaign.experiments.values(), key=lambda e: e.index):
        if first not in e.tests:
            continue
        seen = observed.get(e.id)
        trials.append(
            Trial(
                experiment=e,
                observation=campaign.observations.get(e.id),
                designed=RecordRef.of(designed[e.id]),
                observed=None if seen is None else RecordRef.of(seen),
                confirming=seen is not None and seen.seq < support.seq,
            )
        )
    return conception, tuple(trials), others


def _title(campaign: Campaign) -> str:
    return " ".join(campaign.spec.goal.split())


def _prediction_text(hypothesis: Hypothesis) -> str:
    p = hypothesis.prediction
    match p.type:
        case "trend":
            way = "rises" if p.sign > 0 else "falls"
            return f"{p.objective} {way} with {p.variable} over [{p.low:g}, {p.high:g}]"
        case "best_level":
            return f"{p.variable} = {p.level} gives the best {p.objective} on average"
        case "interaction":
            way = "more" if p.sign > 0 else "less"
            return (
                f"the effect of {p.variable} on {p.objective} is {way} positive when "
                f"{p.moderator} is high"
            )
        case _:
            return f"the best {p.objective} lies at {p.variable} in [{p.low:g}, {p.high:g}]"


def _number(value: float | int | str) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _conditions(campaign: Campaign, experiment: Experiment) -> str:
    units = {p.name: getattr(p, "unit", None) for p in campaign.spec.space.parameters}
    parts = []
    for name, value in experiment.params.items():
        unit = units.get(name)
        parts.append(f"{name} {_number(value)}{' ' + unit if unit else ''}")
    return ", ".join(parts)


def _results(campaign: Campaign, observation: Observation | None) -> str:
    if observation is None:
        return "not measured"
    parts = []
    for objective in campaign.spec.objectives:
        value = observation.values.get(objective.name)
        if value is not None:
            unit = f" {objective.unit}" if objective.unit else ""
            parts.append(f"{objective.name} {value:.4g}{unit}")
    return ", ".join(parts)


# -- the bundle --------------------------------------------------------------------------------


_VERIFY_SCRIPT = '''\
"""Check a CFL ledger bundle with nothing but Python 3 (no CFL, no network, no crypto library).

    python3 verify_records.py bundle.json        (or records.json)

Recomputes every record's SHA-256 (the record without "hash" and "sig", as canonical JSON:
sorted keys, no spaces, UTF-8), checks the links and the gap-free numbering, and recomputes the
Merkle root (RFC 6962) of every signed tree head in the bundle. Prints the head on success; on
failure names the first problem and exits 1.

What it cannot check: the Ed25519 signatures ("sig") on records and tree heads, which need a
crypto library and the signers' public keys: `cfl ledger verify --bundle FILE --keys DIR`.
"""

import hashlib
import json
import sys


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def merkle_root(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


def check(bundle):
    campaign, prev, leaves = bundle["campaign"], "0" * 64, []
    for expected, record in enumerate(bundle["records"], start=1):
        where = "record #%s" % record.get("seq")
        if record.get("campaign") != campaign or record.get("seq") != expected:
            return "%s: out of place (expected #%d of %s)" % (where, expected, campaign)
        if record.get("prev") != prev:
            return "%s: does not link to the record before it" % where
        body = {k: v for k, v in record.items() if k not in ("hash", "sig")}
        if hashlib.sha256(canonical(body).encode("utf-8")).hexdigest() != record.get("hash"):
            return "%s: content does not match its hash (edited)" % where
        prev = record["hash"]
        leaves.append(hashlib.sha256(b"\\x00" + bytes.fromhex(prev)).digest())
    for head in bundle.get("tree_heads", []):
        if head["size"] > len(leaves):
            return "tree head of size %d: more records than the bundle has" % head["size"]
        if merkle_root(leaves[: head["size"]]).hex() != head["root"]:
            return "tree head of size %d: its root is not the records' Merkle root" % head["size"]
    if "head" in bundle:
        head = bundle["head"]
        if len(leaves) != head["seq"] or prev != head["hash"]:
            return "the records end at #%d, not at the stated head #%s" % (len(leaves),
                                                                          head["seq"])
    return None


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "bundle.json", encoding="utf-8") as f:
        bundle = json.load(f)
    problem = check(bundle)
    if problem:
        print("FAILED: " + problem)
        sys.exit(1)
    last = bundle["records"][-1]
    print("OK: %s, %d records, %d tree head(s), head #%d %s" % (
        bundle["campaign"], len(bundle["records"]), len(bundle.get("tree_heads", [])),
        last["seq"], last["hash"]))
'''


@dataclass(frozen=True)
class _Bundle:
    """The verification bundle as written: file name, bytes, and what the packet cites of it."""

    name: str
    data: bytes
    signed: bool
    """The ledger's own signed export (:mod:`cfl.bundle`), not the records-only fallback."""
    tree_head: dict[str, JsonValue] | None
    keys: tuple[dict[str, JsonValue], ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _export(
    store: Store,
    campaign: Campaign,
    keys: Keyring | None,
    trusted: TrustedKeys | None,
    tsa_certificate: bytes | None,
) -> _Bundle:
    """The ledger's signed bundle of the campaign, or its records and chain head alone.

    The signed bundle (:func:`cfl.bundle.export_bundle`) verifies the campaign first, signatures
    and tree heads included, and signs a head over the whole log if none covers it. Where this
    CFL has no bundle export, the records and their chain head are exported instead.
    """
    try:
        ledger_bundle = importlib.import_module("cfl.bundle")
    except ImportError:
        ledger_bundle = None
    if ledger_bundle is not None:
        from cfl.settings import Settings

        home_keys = Settings().home / "keys"
        document: dict[str, Any] = ledger_bundle.export_bundle(
            store,
            campaign.id,
            keys or Keyring(home_keys),
            trusted or TrustedKeys.load(home_keys),
            tsa_certificate=tsa_certificate,
        )
        heads = document.get("tree_heads") or []
        return _Bundle(
            name="bundle.json",
            data=(json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
            signed=True,
            tree_head=heads[-1] if heads else None,
            keys=tuple(document.get("keys") or ()),
        )
    records = store.records(campaign.id)
    last = records[-1]
    document = {
        "format": "cfl-records",
        "campaign": campaign.id,
        "spec_hash": campaign.spec_hash,
        "head": {"seq": last.seq, "hash": last.hash},
        "records": [record_to_json(record) for record in records],
    }
    return _Bundle("records.json", canonical_json(document).encode("utf-8"), False, None, ())


def _head_json(campaign: str, head: RecordRef, bundle: _Bundle) -> bytes:
    """What is stamped: the chain head, the signed tree head, the bundle's hash (canonical JSON)."""
    anchored: dict[str, JsonValue] = {
        "campaign": campaign,
        "head_seq": head.seq,
        "head_hash": head.hash,
        "bundle_file": bundle.name,
        "bundle_sha256": bundle.sha256,
    }
    if bundle.tree_head is not None:
        anchored["tree_size"] = bundle.tree_head["size"]
        anchored["tree_root"] = bundle.tree_head["root"]
    return canonical_json(anchored).encode("utf-8")


# -- the document ------------------------------------------------------------------------------
# One list of blocks, rendered to Markdown and to PDF, so the two cannot say different things.


@dataclass(frozen=True)
class _Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class _Para:
    text: str
    """Plain text with ``code`` and **bold** spans."""


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    """Share of the page width per column."""


@dataclass(frozen=True)
class _Code:
    text: str


@dataclass(frozen=True)
class _Blank:
    """Room to write by hand."""

    prompt: str
    height_mm: float


@dataclass(frozen=True)
class _Signature:
    lines: tuple[str, ...]
    """Labels of the lines to fill in by hand."""


_Block = _Heading | _Para | _Table | _Code | _Blank | _Signature


def _document(
    campaign: Campaign,
    facts: _Facts,
    *,
    head: RecordRef,
    bundle: _Bundle,
    token: TimestampToken | None,
    now: datetime | None,
) -> list[_Block]:
    date = utc_stamp(now or datetime.now(UTC))
    tree = bundle.tree_head
    signed = (
        ""
        if tree is None
        else f" The ledger's signed tree head over all {tree['size']} records has Merkle root "
        f"`{tree['root']}` (key `{tree['key']}`, signed {tree['ts']})."
    )
    blocks: list[_Block] = [
        _Heading(f"Invention disclosure: {_title(campaign)}", 1),
        _Para(
            f"Campaign `{campaign.id}` (spec `{campaign.spec.name}`, spec SHA-256 "
            f"`{campaign.spec_hash}`). Generated by CFL on {date} from the campaign's ledger, "
            f"verified up to its head, record #{head.seq} ({head.ts}), SHA-256 `{head.hash}`."
            f"{signed} Every record cited below is in the verification bundle (section 7)."
        ),
        _Heading("1. Title"),
        _Para(_title(campaign)),
    ]
    blocks += _contributors_section(facts)
    blocks += _conception_section(campaign, facts)
    blocks += _reduction_section(campaign, facts)
    blocks += _data_section(campaign, facts)
    blocks += _statement_section(facts)
    blocks += _verification_section(head, bundle, token)
    return blocks


def _contributors_section(facts: _Facts) -> list[_Block]:
    c = facts.contributions
    rows = tuple(
        (person.label, person.kind, "; ".join(person.roles) or "-", str(person.records))
        for person in facts.contributors
    )
    blocks: list[_Block] = [
        _Heading("2. Contributors and their roles"),
        _Para(
            "Everyone and everything that wrote to the ledger or is named in it as an author, "
            "approver or judge. Only natural persons can be inventors; AI agents and algorithms "
            "are listed as the tools they were, with what they contributed."
        ),
        _Table(("Contributor", "Kind", "Roles", "Records"), rows, (0.3, 0.1, 0.5, 0.1)),
        _Para("**Human and AI contributions**"),
        _Table(
            ("Contribution", "Human", "AI", "Device", "System"),
            tuple(
                (what, *(str(c[key][k]) for k in ("human", "AI", "device", "system")))
                for what, key in (
                    ("Hypotheses authored", "hypotheses"),
                    ("Experiment conditions chosen", "conditions"),
                    ("Decisions (approvals, device releases)", "decisions"),
                    ("Ledger records written", "records"),
                )
            ),
            (0.44, 0.14, 0.14, 0.14, 0.14),
        ),
        _Para(
            "Conditions counted as *System* are the campaign's initial design (space-filling "
            "points), not chosen by a person or a model."
        ),
    ]
    if facts.models:
        blocks.append(_Para("**Language models called**"))
        blocks.append(
            _Table(
                ("Caller", "Model", "Endpoint", "Calls", "Purposes"),
                tuple(
                    (actor, model, endpoint, str(n), ", ".join(purposes))
                    for actor, model, endpoint, n, purposes in facts.models
                ),
                (0.24, 0.2, 0.26, 0.08, 0.22),
            )
        )
    return blocks


def _conception_section(campaign: Campaign, facts: _Facts) -> list[_Block]:
    blocks: list[_Block] = [_Heading("3. Conception")]
    c = facts.conception
    if c is None:
        blocks.append(
            _Para(
                "**No pre-registered hypothesis of this campaign became supported.** There is no "
                "conception to show from the record yet. The hypotheses registered so far:"
            )
        )
        blocks.append(_hypotheses_table(campaign))
        return blocks
    h = c.hypothesis
    bf = "" if c.log10_bf is None else f", Bayes factor 10^{c.log10_bf:.2f}"
    blocks += [
        _Para(
            "The first hypothesis registered before the experiments that tested it which the "
            "evidence then supported."
        ),
        _Table(
            ("Field", "Value"),
            (
                ("Hypothesis", h.id),
                ("Statement", h.statement),
                ("Kind", h.kind),
                ("Prediction", _prediction_text(h)),
                ("Prediction (as recorded)", canonical_json(h.prediction.model_dump())),
                ("Rationale", h.rationale),
                ("Author", f"{h.author} ({_kind(h.author)})"),
                (
                    "Registered",
                    f"record #{c.registered.seq} at {c.registered.ts} by {c.registered.actor}, "
                    f"after {_plural(h.registered_after, 'experiment')} had been designed",
                ),
                ("Registration record SHA-256", c.registered.hash),
                (
                    "Found supported",
                    f"record #{c.supported.seq} at {c.supported.ts}: credence {c.credence:.6g} "
                    f"on {_plural(c.evidence_n, 'experiment')}{bf}",
                ),
                ("Support record SHA-256", c.supported.hash),
                ("Status now", f"{h.status.value}, credence {h.credence:.6g}"),
            ),
            (0.28, 0.72),
        ),
    ]
    if facts.other_supported:
        blocks.append(
            _Para(
                "Other hypotheses also found supported: "
                + ", ".join(
                    f"{hid} ({campaign.hypotheses[hid].statement})" for hid in facts.other_supported
                )
                + "."
            )
        )
    return blocks


def _hypotheses_table(campaign: Campaign) -> _Table:
    return _Table(
        ("Hypothesis", "Statement", "Author", "Status", "Credence", "n"),
        tuple(
            (h.id, h.statement, h.author, h.status.value, f"{h.credence:.3f}", str(h.evidence_n))
            for h in campaign.hypotheses.values()
        )
        or (("-", "no hypotheses were registered", "-", "-", "-", "-"),),
        (0.1, 0.42, 0.2, 0.1, 0.1, 0.08),
    )


def _reduction_section(campaign: Campaign, facts: _Facts) -> list[_Block]:
    blocks: list[_Block] = [_Heading("4. Reduction to practice")]
    if facts.conception is None:
        blocks.append(_Para("None: no hypothesis was confirmed by experiment (section 3)."))
        return blocks
    hid = facts.conception.hypothesis.id
    confirming = [t for t in facts.trials if t.confirming]
    first = confirming[0] if confirming else None
    blocks.append(
        _Para(
            f"The experiments designed after {hid} was registered whose conditions its prediction "
            f"covers, run on the lab's devices. **Confirming** ones were measured before the "
            f"assessment that found {hid} supported (record #{facts.conception.supported.seq}); "
            "later ones tested it further."
            + (
                f" First confirming measurement: {first.experiment.id}, "
                f"record #{first.observed.seq} at {first.observed.ts}."
                if first is not None and first.observed is not None
                else ""
            )
        )
    )
    rows = []
    for t in facts.trials:
        rows.append(
            (
                t.experiment.id,
                _conditions(campaign, t.experiment),
                _results(campaign, t.observation),
                "confirming" if t.confirming else "further test",
                f"#{t.designed.seq} {t.designed.hash}",
                "-" if t.observed is None else f"#{t.observed.seq} {t.observed.hash}",
            )
        )
    blocks.append(
        _Table(
            ("Experiment", "Conditions", "Result", "Role", "Designed (record)", "Measured"),
            tuple(rows),
            (0.11, 0.21, 0.14, 0.1, 0.22, 0.22),
        )
    )
    return blocks


def _data_section(campaign: Campaign, facts: _Facts) -> list[_Block]:
    rows = []
    for experiment_id, record in sorted(facts.observed.items(), key=lambda kv: kv[1].seq):
        observation = campaign.observations.get(experiment_id)
        rows.append(
            (
                f"#{record.seq}",
                experiment_id,
                observation.device if observation else "-",
                record.ts,
                record.hash,
            )
        )
    blocks: list[_Block] = [
        _Heading("5. Data"),
        _Para(
            "Every measurement is a ledger record (`observation.recorded`) holding the values "
            "the instrument reported, raw readings included; its SHA-256 commits to them and "
            f"to every record before it. {_plural(len(rows), 'observation')} in all."
        ),
        _Table(
            ("Record", "Experiment", "Device", "Written (UTC)", "Record SHA-256"),
            tuple(rows) or (("-", "-", "-", "-", "no observations were recorded"),),
            (0.08, 0.11, 0.09, 0.27, 0.45),
        ),
    ]
    blobs = [(record, blob) for record in facts.observed.values() for blob in record.blobs]
    if blobs:
        blocks += [
            _Para(
                "Raw data files (spectra, chromatograms, images) are kept by content: each "
                "record lists, inside its signed hash, the SHA-256 of the files it refers to "
                "(`$CFL_HOME/blobs/`). Whoever holds a file can show it is the one measured "
                "(`sha256sum FILE`)."
            ),
            _Table(
                ("Record", "Media type", "Bytes", "File SHA-256"),
                tuple(
                    (f"#{record.seq}", blob.media_type, str(blob.size), blob.sha256)
                    for record, blob in sorted(blobs, key=lambda rb: (rb[0].seq, rb[1].sha256))
                ),
                (0.1, 0.25, 0.1, 0.55),
            ),
        ]
    return blocks


def _statement_section(facts: _Facts) -> list[_Block]:
    humans = [c.actor for c in facts.contributors if c.kind == "human"]
    about = (
        f"hypothesis {facts.conception.hypothesis.id} (section 3)"
        if facts.conception is not None
        else "the invention"
    )
    return [
        _Heading("6. Human conception statement (to be completed and signed by the inventor)"),
        _Para(
            f"In my own words, what I conceived of {about}, when, and how it goes beyond what the "
            "AI agents and algorithms listed in section 2 proposed. Name the records (by number "
            "and hash) that show my contribution. Persons named in the record: "
            + (", ".join(f"`{h}`" for h in humans) or "none")
            + "."
        ),
        _Blank("Conception statement:", 60),
        _Para(
            "Meaning of the signatures: the inventor's, authorship of the statement above; the "
            "witness's, that they read and understood it."
        ),
        _Signature(
            (
                "Inventor (printed name)",
                "Inventor's signature and date",
                "Witness (printed name)",
                "Witness's signature and date",
            )
        ),
    ]


def _verification_section(
    head: RecordRef, bundle: _Bundle, token: TimestampToken | None
) -> list[_Block]:
    path = f"bundle/{bundle.name}"
    extra = ", its signed tree heads and consistency proofs, and the ids of the signing keys"
    blocks: list[_Block] = [
        _Heading("7. Verification bundle"),
        _Para(
            f"The folder `bundle/` beside this document holds the campaign's complete ledger "
            f"(`{bundle.name}`, {_plural(head.seq, 'record')}{extra if bundle.signed else ''}"
            ") and a checker that needs only Python 3 (`verify_records.py`). To check this "
            "packet offline:"
        ),
        _Para(
            f"1. The bundle is the one this packet describes: its SHA-256 is `{bundle.sha256}` "
            f"(`sha256sum {path}`)."
        ),
        _Para(
            "2. Every record's hash, link and number verify"
            + (", every signed tree head's Merkle root is the records'" if bundle.signed else "")
            + f", and the chain ends at the head named here, record #{head.seq} `{head.hash}`:"
        ),
        _Code(f"python3 bundle/verify_records.py {path}"),
    ]
    if bundle.signed:
        blocks += [
            _Para(
                "3. The Ed25519 signatures of every record and tree head, by keys you trust. "
                "`bundle/keys/` holds the public keys the bundle names; they are claims: compare "
                "their ids with the keys the lab publishes (`cfl keys export DIR` on its "
                "machines), then, with CFL installed:"
            ),
            _Code(f"cfl ledger verify --bundle {path} --keys bundle/keys"),
        ]
    else:
        blocks.append(
            _Para(
                "3. Signatures: this export holds the records and their chain head only (this "
                "CFL has no signed bundle export)."
            )
        )
    blocks.append(
        _Para(
            f"4. Every record cited in this document is in `{bundle.name}` with the same number "
            "and hash; its content there is what the document summarises."
        )
    )
    if token is not None:
        blocks += [
            _Para(
                "5. The head existed no later than the time a trusted time-stamping authority "
                f"gave it: {token.gen_time.isoformat().replace('+00:00', 'Z')} (RFC 3161 token "
                f"`bundle/head.tsr`, serial {token.serial}, from {token.tsa_url}, over "
                "`bundle/head.json`, which names the head, the signed tree head and the "
                "bundle's SHA-256). With the TSA's CA certificate, obtained from the TSA itself:"
            ),
            _Code(
                "openssl ts -verify -token_in -in bundle/head.tsr -data bundle/head.json "
                "-CAfile TSA-CA.pem"
            ),
        ]
    else:
        blocks.append(
            _Para(
                "5. No trusted timestamp: no time-stamping authority was configured when this "
                "packet was made (`CFL_TSA_URL`). The record times are the recording computer's "
                "clock; anchor the head with a TSA to bound them from outside."
            )
        )
    return blocks


# -- Markdown ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(blocks: Iterable[_Block]) -> str:
    out: list[str] = []
    for block in blocks:
        match block:
            case _Heading(text, level):
                out.append(f"{'#' * level} {text}")
            case _Para(text):
                out.append(text)
            case _Table(header, rows, _):
                lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
                out.append("\n".join(lines))
            case _Code(text):
                out.append(f"```\n{text}\n```")
            case _Blank(prompt, _):
                out.append(f"> {prompt}\n>\n>\n>\n>")
            case _Signature(lines):
                out.append("\n\n".join(f"{label}: {'_' * 30}" for label in lines))
    return "\n\n".join(out) + "\n"


# -- PDF ---------------------------------------------------------------------------------------


def _fonts() -> tuple[str, str, str]:
    """Regular, bold and monospaced font names: DejaVu (wide Unicode) if found, else Helvetica.

    matplotlib, a CFL dependency, ships the DejaVu fonts; they are found without importing it.
    """
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
        files = {
            "CFLSans": folder / "DejaVuSans.ttf",
            "CFLSans-Bold": folder / "DejaVuSans-Bold.ttf",
            "CFLMono": folder / "DejaVuSansMono.ttf",
        }
        if all(path.exists() for path in files.values()):
            for name, path in files.items():
                if name not in pdfmetrics.getRegisteredFontNames():
                    pdfmetrics.registerFont(TTFont(name, str(path)))
            from reportlab.lib.fonts import addMapping  # type: ignore[import-untyped]

            addMapping("CFLSans", 0, 0, "CFLSans")
            addMapping("CFLSans", 1, 0, "CFLSans-Bold")
            return "CFLSans", "CFLSans-Bold", "CFLMono"
    return "Helvetica", "Helvetica-Bold", "Courier"


def _inline(text: str, mono: str, *, latin1: bool) -> str:
    """Escape for reportlab's mini-markup and turn ``code`` and **bold** spans into it."""
    from xml.sax.saxutils import escape

    if latin1:
        text = text.encode("latin-1", "replace").decode("latin-1")
    out, code, bold = [], False, False
    i = 0
    while i < len(text):
        if text.startswith("**", i) and not code:
            out.append("</b>" if bold else "<b>")
            bold, i = not bold, i + 2
        elif text[i] == "`":
            out.append("</font>" if code else f'<font face="{mono}">')
            code, i = not code, i + 1
        elif text[i] == "*" and not code:
            i += 1  # *emphasis*: dropped in the PDF
        else:
            out.append(escape(text[i]))
            i += 1
    return "".join(out)


def _pdf(blocks: Sequence[_Block], path: Path, *, title: str, footer: str) -> int:
    """Render ``blocks`` to ``path`` (A4); the number of pages."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import (  # type: ignore[import-untyped]
        KeepTogether,
        Paragraph,
        Preformatted,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold, mono = _fonts()
    latin1 = regular == "Helvetica"
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=12, spaceAfter=5)
    cell = ParagraphStyle("cell", fontName=regular, fontSize=7, leading=8.6, splitLongWords=1)
    head_cell = ParagraphStyle("head", parent=cell, fontName=bold)
    h1 = ParagraphStyle("h1", fontName=bold, fontSize=15, leading=19, spaceAfter=8)
    h2 = ParagraphStyle("h2", fontName=bold, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=5)
    code = ParagraphStyle("code", fontName=mono, fontSize=7.5, leading=9.5, spaceAfter=6)
    pages = [0]

    def decorate(canvas: Any, doc: Any) -> None:
        pages[0] = max(pages[0], doc.page)
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(doc.leftMargin, 10 * mm, _inline(footer, mono, latin1=latin1))
        canvas.drawRightString(A4[0] - doc.rightMargin, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    width = A4[0] - 36 * mm
    story: list[Any] = []
    for block in blocks:
        match block:
            case _Heading(text, level):
                style = h1 if level == 1 else h2
                story.append(Paragraph(_inline(text, mono, latin1=latin1), style))
            case _Para(text):
                story.append(Paragraph(_inline(text, mono, latin1=latin1), body))
            case _Table(header, rows, widths):
                data = [[Paragraph(_inline(h, mono, latin1=latin1), head_cell) for h in header]]
                data += [
                    [Paragraph(_inline(_hash_breakable(c), mono, latin1=latin1), cell) for c in row]
                    for row in rows
                ]
                table = Table(data, colWidths=[w * width for w in widths], repeatRows=1)
                table.setStyle(
                    TableStyle(
                        [
                            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0b7c0")),
                            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf2")),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("LEFTPADDING", (0, 0), (-1, -1), 3),
                            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                        ]
                    )
                )
                story += [table, Spacer(1, 6)]
            case _Code(text):
                wrapped = "\n".join(textwrap.fill(line, 110) for line in text.split("\n"))
                story.append(Preformatted(wrapped, code))
            case _Blank(prompt, height_mm):
                box = Table(
                    [[Paragraph(_inline(prompt, mono, latin1=latin1), cell)]],
                    colWidths=[width],
                    rowHeights=[height_mm * mm],
                )
                box.setStyle(
                    TableStyle(
                        [
                            ("BOX", (0, 0), (-1, -1), 0.6, colors.black),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ]
                    )
                )
                story += [box, Spacer(1, 8)]
            case _Signature(lines):
                lines_ = [[Paragraph(_inline(x, mono, latin1=latin1), cell), ""] for x in lines]
                table = Table(lines_, colWidths=[0.42 * width, 0.58 * width], rowHeights=22)
                table.setStyle(
                    TableStyle(
                        [
                            ("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black),
                            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                        ]
                    )
                )
                story += [KeepTogether(table), Spacer(1, 6)]
    document = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"Invention disclosure: {title}",
        author="CFL",
        subject="Invention disclosure generated from a verified CFL ledger",
        creator="CFL",
    )
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return pages[0]


def _hash_breakable(text: str) -> str:
    """Long hex hashes in backticks so they render monospaced (and wrap inside a cell)."""
    words = []
    for word in text.split(" "):
        is_hash = len(word) == 64 and all(ch in "0123456789abcdef" for ch in word)
        words.append(f"`{word}`" if is_hash else word)
    return " ".join(words)
