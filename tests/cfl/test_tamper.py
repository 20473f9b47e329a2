"""Every tampering the ledger must catch, on the store and on an exported bundle.

A signed log of 30 records with tree heads at sizes 1, 8, 20 and 30 is built in an SQLite store,
then changed the way an attacker (or an accident) would; verification must fail naming the record
(``seq``) or the tree head (``tree_size``) and the kind of damage, and ``cfl ledger verify`` must
exit 3 saying where.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import cfl.store
import cfl.timestamp
import cfl.verify
from cfl.bundle import export_bundle, verify_bundle, verify_campaign
from cfl.cli import app
from cfl.errors import LedgerTampered
from cfl.keys import Keyring, SigningKey, TrustedKeys
from cfl.ledger import (
    GENESIS,
    Record,
    TreeHead,
    seal_signed,
    sign_tree_head,
    utc_stamp,
)
from cfl.merkle import MerkleTree, leaf_hash
from cfl.settings import Settings
from cfl.store import Store

CAMPAIGN = "c-1"
N = 30
HEAD_SIZES = (1, 8, 20, 30)
BASE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
COLUMNS = cfl.store._RECORD_COLUMNS.split(", ")


def _ts(seq: int, shift: timedelta = timedelta(0)) -> str:
    return utc_stamp(BASE + timedelta(seconds=10 * seq) + shift)


def _records(
    key: SigningKey,
    n: int = N,
    *,
    start: list[Record] | None = None,
    payload: Callable[[int], dict[str, Any]] = lambda seq: {"n": seq},
    shift: Callable[[int], timedelta] = lambda seq: timedelta(0),
) -> list[Record]:
    records = list(start or [])
    prev = records[-1].hash if records else GENESIS
    for seq in range(len(records) + 1, n + 1):
        record = seal_signed(
            campaign=CAMPAIGN,
            seq=seq,
            type="test.event",
            actor="cfl",
            payload=payload(seq),  # type: ignore[arg-type]
            prev=prev,
            key=key,
            ts=_ts(seq, shift(seq)),
        )
        records.append(record)
        prev = record.hash
    return records


def _head(records: list[Record], size: int, key: SigningKey) -> TreeHead:
    tree = MerkleTree([leaf_hash(bytes.fromhex(r.hash)) for r in records[:size]])
    return sign_tree_head(
        campaign=CAMPAIGN, size=size, root=tree.root(), key=key, ts=records[size - 1].ts
    )


def _store_log(store: Store, records: list[Record], key: SigningKey) -> None:
    store.create_campaign(
        name="demo", spec_hash="5" * 64, first=records[0], tree_head=_head(records, 1, key)
    )
    done = 1
    for size in HEAD_SIZES[1:]:
        store.append(records[done:size], tree_head=_head(records, size, key))
        done = size


@dataclass
class Log:
    store: Store
    key: SigningKey
    trusted: TrustedKeys
    records: list[Record]

    def sql(self, statement: str, **params: Any) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(text(statement), params)

    def verify(self, **kwargs: Any) -> Any:
        return verify_campaign(self.store, CAMPAIGN, self.trusted, **kwargs)

    def bundle(self) -> dict[str, Any]:
        return dict(
            export_bundle(self.store, CAMPAIGN, Keyring(Path("/nonexistent")), self.trusted)
        )


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    keyring = Keyring(Settings().home / "keys")
    key = keyring.instance()
    store = Store.open(Settings().store_url)
    records = _records(key)
    _store_log(store, records, key)
    store.register_key(key.public)
    yield Log(store, key, TrustedKeys([key.public]), records)
    store.close()


def _caught(run: Callable[[], object]) -> LedgerTampered:
    with pytest.raises(LedgerTampered) as caught:
        run()
    return caught.value


def test_the_untouched_log_verifies_in_the_store_and_as_a_bundle(log: Log) -> None:
    report = log.verify()
    assert (report.records, report.unsigned, report.tree_heads, report.covered) == (N, 0, 4, N)
    assert report.signed_by == {log.key.key_id: N}
    assert report.contributions == {"system": N}
    bundle = log.bundle()
    assert [h["size"] for h in bundle["tree_heads"]] == list(HEAD_SIZES)
    assert [(c["first"], c["second"]) for c in bundle["consistency"]] == [(1, 8), (8, 20), (20, 30)]
    assert [k["key_id"] for k in bundle["keys"]] == [log.key.key_id]
    assert verify_bundle(bundle, log.trusted).records == N


# -- tampering with the store -------------------------------------------------------------------


def _payload_of(log: Log, seq: int) -> str:
    with log.store.engine.connect() as conn:
        return str(
            conn.execute(text("SELECT payload FROM record WHERE seq = :s"), {"s": seq}).scalar()
        )


def _resign_from(log: Log, seq: int, **changes: Any) -> list[Record]:
    """The key holder rewrites the log from ``seq`` on and stores it with the campaign's head."""
    forged = _records(log.key, start=log.records[: seq - 1], **changes)
    log.sql("DELETE FROM record WHERE seq >= :s", s=seq)
    log.sql(
        "UPDATE campaign SET head_seq = :n, head_hash = :h", n=forged[-1].seq, h=forged[-1].hash
    )
    log.store.append([], finished=False)
    with log.store.engine.begin() as conn:
        for record in forged[seq - 1 :]:
            values = dict(zip(COLUMNS, cfl.store._row_tuple(record), strict=True))
            conn.execute(
                text(f"INSERT INTO record ({', '.join(COLUMNS)}) VALUES (:{', :'.join(COLUMNS)})"),
                values,
            )
    return forged


STORE_TAMPERS: dict[str, tuple[Callable[[Log], None], str, int, int | None]] = {
    # name: (tamper, kind, seq, tree_size)
    "edited": (
        lambda log: log.sql("UPDATE record SET payload = :p WHERE seq = 12", p='{"n":1200}'),
        "edited",
        12,
        None,
    ),
    "deleted": (lambda log: log.sql("DELETE FROM record WHERE seq = 12"), "removed", 12, None),
    "reordered": (
        lambda log: (
            log.sql("UPDATE record SET seq = -1 WHERE seq = 12"),
            log.sql("UPDATE record SET seq = 12 WHERE seq = 13"),
            log.sql("UPDATE record SET seq = 13 WHERE seq = -1"),
        ),
        "reordered",
        12,
        None,
    ),
    "truncated": (lambda log: log.sql("DELETE FROM record WHERE seq > 27"), "truncated", 28, None),
    "truncated-with-head-moved": (
        lambda log: (
            log.sql("DELETE FROM record WHERE seq > 27"),
            log.sql("UPDATE campaign SET head_seq = 27, head_hash = :h", h=log.records[26].hash),
        ),
        "truncated",
        28,
        30,
    ),
    "forked-under-old-heads": (
        lambda log: _resign_from(log, 15, payload=lambda s: {"n": -s}),
        "forked",
        9,
        20,
    ),
    "signature-moved": (
        lambda log: log.sql(
            "UPDATE record SET sig = (SELECT sig FROM record WHERE seq = 5) WHERE seq = 12"
        ),
        "bad-signature",
        12,
        None,
    ),
    "tree-head-signature-moved": (
        lambda log: log.sql(
            "UPDATE tree_head SET sig = (SELECT sig FROM tree_head WHERE size = 8) WHERE size = 20"
        ),
        "bad-signature",
        20,
        20,
    ),
    "record-time-edited": (
        lambda log: log.sql(
            "UPDATE record SET ts = :t WHERE seq = 12", t=_ts(12, -timedelta(days=30))
        ),
        "edited",
        12,
        None,
    ),
    "record-backdated-and-resigned": (
        lambda log: _resign_from(
            log, 12, shift=lambda s: -timedelta(days=30) if s == 12 else timedelta(0)
        ),
        "backdated",
        12,
        None,
    ),
    "tree-head-time-edited": (
        lambda log: log.sql(
            "UPDATE tree_head SET ts = :t WHERE size = 20", t=_ts(1, -timedelta(days=1))
        ),
        "bad-signature",
        20,
        20,
    ),
    "timestamp-token-forged": (
        lambda log: log.store.set_timestamp_token(
            CAMPAIGN, 20, {"token": base64.b64encode(b"0\x03\x02\x01\x00").decode()}
        ),
        "timestamp",
        20,
        20,
    ),
}


@pytest.mark.parametrize("name", list(STORE_TAMPERS))
def test_store_tampering_is_caught_where_it_is(log: Log, name: str) -> None:
    tamper, kind, seq, tree_size = STORE_TAMPERS[name]
    tamper(log)
    error = _caught(log.verify)
    assert (error.kind, error.seq, error.tree_size) == (kind, seq, tree_size), str(error)
    position = f"size {tree_size}" if tree_size is not None else f"#{seq}"
    if name != "truncated":  # a cut names where the chain ends (#27) and the head (#30)
        assert position in str(error), str(error)
    assert error.campaign == CAMPAIGN


def test_a_consistent_rewrite_with_fresh_heads_is_caught_against_a_head_seen_before(
    log: Log,
) -> None:
    seen = log.store.tree_heads(CAMPAIGN)
    _resign_from(log, 15, payload=lambda s: {"n": -s})
    log.sql("DELETE FROM tree_head WHERE size >= 15")
    forged = log.store.records(CAMPAIGN)
    log.store.add_tree_head(_head(forged, 30, log.key))
    assert log.verify().records == N  # by itself the rewritten log is consistent: it was re-signed
    error = _caught(lambda: log.verify(seen_before=seen))
    assert (error.kind, error.seq, error.tree_size) == ("forked", 20, 20)


def test_cutting_records_and_their_heads_is_caught_against_a_head_seen_before(log: Log) -> None:
    seen = log.store.tree_heads(CAMPAIGN)
    log.sql("DELETE FROM record WHERE seq > 20")
    log.sql("DELETE FROM tree_head WHERE size > 20")
    log.sql("UPDATE campaign SET head_seq = 20, head_hash = :h", h=log.records[19].hash)
    assert log.verify().records == 20
    error = _caught(lambda: log.verify(seen_before=seen))
    assert (error.kind, error.seq, error.tree_size) == ("truncated", 21, 30)


def test_a_second_head_of_one_size_with_another_root_is_refused(log: Log) -> None:
    forged = _records(log.key, payload=lambda s: {"n": -s})
    error = _caught(lambda: log.store.add_tree_head(_head(forged, 20, log.key)))
    assert (error.kind, error.tree_size) == ("forked", 20)
    again = log.store.add_tree_head(_head(log.records, 20, log.key))  # same root: kept as is
    assert again == log.store.tree_heads(CAMPAIGN)[2]


def test_a_key_the_verifier_does_not_trust_is_named(log: Log) -> None:
    error = _caught(lambda: verify_campaign(log.store, CAMPAIGN, TrustedKeys()))
    assert (error.kind, error.seq) == ("unknown-key", 1)
    assert log.key.key_id in str(error)


def test_a_persons_key_signing_for_someone_else_is_refused(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keys")
    ada, _ = keyring.init("human:ada")
    record = seal_signed(
        campaign=CAMPAIGN, seq=1, type="t", actor="cfl", payload={}, prev=GENESIS, key=ada
    )
    from cfl.verify import verify_log

    error = _caught(lambda: verify_log(CAMPAIGN, [record], [], TrustedKeys([ada.public])))
    assert (error.kind, error.seq) == ("unauthorised-key", 1)


def test_a_timestamp_dated_before_its_head_is_a_forged_time(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.store.set_timestamp_token(CAMPAIGN, 20, {"token": base64.b64encode(b"token").decode()})
    stamped: list[bytes] = []

    def verify_token(token: bytes, data: bytes, **_: Any) -> datetime:
        stamped.append(data)
        return BASE - timedelta(days=1)

    monkeypatch.setattr(cfl.timestamp, "verify_token", verify_token)
    error = _caught(log.verify)
    assert (error.kind, error.tree_size) == ("timestamp", 20)
    assert stamped == [log.store.tree_heads(CAMPAIGN)[2].timestamp_data()]

    monkeypatch.setattr(cfl.timestamp, "verify_token", lambda *a, **k: BASE + timedelta(days=1))
    report = log.verify()
    assert report.timestamps_verified == 1
    assert report.earliest_timestamp == BASE + timedelta(days=1)


# -- tampering with a bundle --------------------------------------------------------------------


def _records_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = bundle["records"]
    return records


def _forged_head(bundle: dict[str, Any], key: SigningKey, size: int) -> dict[str, Any]:
    forged = _records(key, payload=lambda s: {"n": -s})
    return _head(forged, size, key).model_dump(mode="json")


def _swap(items: list[Any], a: int, b: int) -> None:
    items[a], items[b] = items[b], items[a]


BUNDLE_TAMPERS: dict[
    str, tuple[Callable[[dict[str, Any], SigningKey], None], str, int, int | None]
] = {
    "edited": (lambda b, k: _records_of(b)[11]["payload"].update(n=1200), "edited", 12, None),
    "deleted": (lambda b, k: _records_of(b).pop(11), "removed", 12, None),
    "reordered": (
        lambda b, k: (
            _swap(_records_of(b), 11, 12),
            _records_of(b)[11].update(seq=12),
            _records_of(b)[12].update(seq=13),
        ),
        "reordered",
        12,
        None,
    ),
    "truncated": (lambda b, k: b.update(records=_records_of(b)[:27]), "truncated", 28, 30),
    "truncated-with-its-head": (
        lambda b, k: (
            b.update(records=_records_of(b)[:27]),
            b.update(tree_heads=b["tree_heads"][:3]),
            b.update(consistency=b["consistency"][:2]),
        ),
        "uncovered",
        21,
        20,
    ),
    "forked-two-heads-of-one-size": (
        lambda b, k: b["tree_heads"].append(_forged_head(b, k, 20)),
        "forked",
        20,
        20,
    ),
    "consistency-proof-altered": (
        lambda b, k: b["consistency"][1]["proof"].reverse(),
        "bad-proof",
        20,
        20,
    ),
    "signature-moved": (
        lambda b, k: _records_of(b)[11].update(sig=_records_of(b)[4]["sig"]),
        "bad-signature",
        12,
        None,
    ),
    "tree-head-signature-moved": (
        lambda b, k: b["tree_heads"][2].update(sig=b["tree_heads"][1]["sig"]),
        "bad-signature",
        20,
        20,
    ),
    "record-time-edited": (
        lambda b, k: _records_of(b)[11].update(ts=_ts(12, -timedelta(days=30))),
        "edited",
        12,
        None,
    ),
    "tree-head-time-edited": (
        lambda b, k: b["tree_heads"][2].update(ts=_ts(1)),
        "bad-signature",
        20,
        20,
    ),
    "timestamp-token-forged": (
        lambda b, k: b["tree_heads"][2].update(timestamp_token={"token": "bm90IGEgdG9rZW4="}),
        "timestamp",
        20,
        20,
    ),
}


@pytest.mark.parametrize("name", list(BUNDLE_TAMPERS))
def test_bundle_tampering_is_caught_where_it_is(log: Log, name: str) -> None:
    tamper, kind, seq, tree_size = BUNDLE_TAMPERS[name]
    bundle = copy.deepcopy(log.bundle())
    tamper(bundle, log.key)
    error = _caught(lambda: verify_bundle(bundle, log.trusted))
    assert (error.kind, error.seq, error.tree_size) == (kind, seq, tree_size), str(error)


def test_a_bundle_cut_with_its_heads_is_caught_against_an_older_bundle(log: Log) -> None:
    old = log.bundle()
    cut = copy.deepcopy(old)
    cut["records"] = cut["records"][:20]
    cut["tree_heads"] = cut["tree_heads"][:3]
    cut["consistency"] = cut["consistency"][:2]
    assert verify_bundle(cut, log.trusted).records == 20
    seen = [TreeHead.model_validate(h) for h in old["tree_heads"]]
    error = _caught(lambda: verify_bundle(cut, log.trusted, seen_before=seen))
    assert (error.kind, error.seq, error.tree_size) == ("truncated", 21, 30)


# -- the command line ---------------------------------------------------------------------------

runner = CliRunner()


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


def _public_keys(tmp_path: Path) -> Path:
    Keyring(Settings().home / "keys").export(tmp_path / "pub")
    return tmp_path / "pub"


@pytest.mark.parametrize("name", ["edited", "signature-moved", "forked-under-old-heads"])
def test_cli_verify_of_a_tampered_store_exits_3_naming_the_record(log: Log, name: str) -> None:
    tamper, _kind, seq, _tree_size = STORE_TAMPERS[name]
    assert runner.invoke(app, ["ledger", "verify"]).exit_code == 0
    tamper(log)
    result = runner.invoke(app, ["ledger", "verify", CAMPAIGN])
    assert result.exit_code == 3, result.output
    message = " ".join(result.stderr.split())
    assert f"#{seq}" in message
    assert "ledger OK" not in result.stdout


@pytest.mark.parametrize("name", ["deleted", "truncated", "forked-two-heads-of-one-size"])
def test_cli_verify_of_a_tampered_bundle_exits_3_naming_the_position(
    log: Log, tmp_path: Path, name: str
) -> None:
    keys = _public_keys(tmp_path)
    good = _write(tmp_path / "good.json", log.bundle())
    result = runner.invoke(app, ["ledger", "verify", "--bundle", str(good), "--keys", str(keys)])
    assert result.exit_code == 0, result.output
    assert f"bundle OK: campaign {CAMPAIGN}, {N} records verified offline" in " ".join(
        result.stdout.split()
    )
    tamper, _kind, seq, tree_size = BUNDLE_TAMPERS[name]
    bundle = copy.deepcopy(log.bundle())
    tamper(bundle, log.key)
    bad = _write(tmp_path / "bad.json", bundle)
    result = runner.invoke(app, ["ledger", "verify", "--bundle", str(bad), "--keys", str(keys)])
    assert result.exit_code == 3, result.output
    message = " ".join(result.stderr.split())
    assert f"#{seq}" in message or f"size {tree_size}" in message, message


def test_cli_verify_against_an_old_bundle_catches_a_later_cut(log: Log, tmp_path: Path) -> None:
    keys = _public_keys(tmp_path)
    old = _write(tmp_path / "old.json", log.bundle())
    log.sql("DELETE FROM record WHERE seq > 20")
    log.sql("DELETE FROM tree_head WHERE size > 20")
    log.sql("UPDATE campaign SET head_seq = 20, head_hash = :h", h=log.records[19].hash)
    assert runner.invoke(app, ["ledger", "verify"]).exit_code == 0
    result = runner.invoke(app, ["ledger", "verify", "--against", str(old), "--keys", str(keys)])
    assert result.exit_code == 3, result.output
    assert "truncated" in " ".join(result.stderr.split())


@pytest.mark.parametrize("name", ["edited", "reordered", "signature-moved", "truncated"])
def test_worker_processes_find_the_same_first_problem(
    log: Log, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long logs are checked by one process per core; small runs here force that path."""
    monkeypatch.setattr(cfl.verify, "PARALLEL_MIN", 4)
    assert log.verify(workers=2).signed_by == {log.key.key_id: N}
    tamper, kind, seq, tree_size = STORE_TAMPERS[name]
    tamper(log)
    error = _caught(lambda: log.verify(workers=2))
    assert (error.kind, error.seq, error.tree_size) == (kind, seq, tree_size), str(error)


def test_a_deleted_campaign_is_caught_against_a_head_seen_before(log: Log) -> None:
    from cfl.bundle import verify_store

    seen = log.store.tree_heads(CAMPAIGN)
    assert [r.records for r in verify_store(log.store, log.trusted, seen_before=seen)] == [N]
    for table in ("record", "tree_head", "campaign"):
        log.sql(f"DELETE FROM {table}")
    assert verify_store(log.store, log.trusted) == []
    error = _caught(lambda: verify_store(log.store, log.trusted, seen_before=seen))
    assert (error.kind, error.campaign, error.tree_size) == ("removed", CAMPAIGN, 30)
