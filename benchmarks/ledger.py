"""Ledger benchmark: signed appends per second, verifying 100,000 records, one record offline.

Measures the three figures of issue 7 on SQLite (WAL, ``synchronous=NORMAL``, as ``cfl run``
opens it), in a temporary ``CFL_HOME``. Run::

    python -m benchmarks.ledger                  # all three, writes benchmarks/results/ledger.md
    python -m benchmarks.ledger --records 20000  # a smaller verification log

1. **Append**: device-step records (``step.dispatched`` / ``step.completed``, the hot path: two
   per device command) written through :meth:`cfl.journal.Journal.write` one event per call, as
   the dispatcher writes them: event fold, canonical JSON, SHA-256, Ed25519 signature, Merkle
   edge, and one SQLite transaction per record. Also the store alone (sealed and signed records
   appended one per transaction, and ten per transaction).
2. **Verify 100,000 records**: a campaign of that many signed step records with a signed tree
   head every 1,000, verified as ``cfl ledger verify`` does (:func:`cfl.bundle.verify_campaign`):
   read in one snapshot, chain and hashes, every Ed25519 signature (in worker processes, one per
   core), the Merkle tree and every head. Also the same campaign exported as a bundle and
   verified offline from the file.
3. **Verify one record offline**: a ``cfl ledger prove`` file checked as ``cfl ledger verify
   --proof`` does (:func:`cfl.bundle.verify_proof`: read the file and the public keys, the
   record's hash and signature, the inclusion proof, the head's signature), in-process; the
   command's own start-up (imports) is reported beside it.

Goals: append >= 2,000 signed records/s; verify 100,000 records in <= 10 s; one record offline in
<= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from cfl.bundle import (
    export_bundle,
    load_document,
    prove_record,
    verify_bundle,
    verify_campaign,
    verify_proof,
    write_document,
)
from cfl.events import ExperimentDesigned, ExperimentStarted, StepCompleted, StepDispatched
from cfl.journal import Journal
from cfl.keys import Keyring, TrustedKeys
from cfl.ledger import GENESIS, Record, seal_signed, sign_tree_head
from cfl.merkle import CompactRange, leaf_hash
from cfl.models import Experiment
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "ledger.md"
DEMO = REPO / "examples" / "snar" / "campaign.yaml"
POINT = {"residence_time": 1.25, "equivalents": 2.5, "concentration": 0.1, "temperature": 95.5}


def _step_payload(seq: int) -> dict[str, Any]:
    """A ``step.completed`` payload as the dispatcher writes it (about 130 bytes)."""
    return {
        "attempt": 1,
        "device": f"reactor-{seq % 10 + 1}",
        "duration_s": 61.25,
        "experiment": f"E{seq // 5:04d}",
        "lab_time_s": 12.5 * seq,
        "step": seq % 7,
    }


def _best(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


# -- 1. append ---------------------------------------------------------------------------------


def bench_journal_append(spec: CampaignSpec, store: Store, records: int) -> float:
    """Records per second through Journal.write, one event per call."""
    journal = Journal.create(store, spec, actor="human:bench")
    experiment = Experiment(
        id="E0001",
        index=1,
        round=1,
        params=spec.space.coerce(POINT),
        protocol=spec.protocol,
        source="initial",
    )
    journal.write("planner:bench", ExperimentDesigned(lab_time_s=0, experiment=experiment))
    journal.write(
        "cfl",
        ExperimentStarted(lab_time_s=0, experiment="E0001", attempt=1, sample=experiment.sample),
    )
    pairs = records // 2
    start = time.perf_counter()
    for i in range(pairs):
        now = float(i)
        journal.write(
            "cfl",
            StepDispatched(
                lab_time_s=now,
                experiment="E0001",
                attempt=1,
                step=i % 7,
                command="react",
                role="reactor",
                device="reactor-1",
            ),
        )
        journal.write(
            "device:reactor-1",
            StepCompleted(
                lab_time_s=now + 0.5,
                experiment="E0001",
                attempt=1,
                step=i % 7,
                device="reactor-1",
                duration_s=0.5,
            ),
        )
    return 2 * pairs / (time.perf_counter() - start)


def bench_store_append(store: Store, key_ring: Keyring, records: int, batch: int) -> float:
    """Records per second: seal, sign and append ``batch`` records per transaction."""
    key = key_ring.instance()
    campaign = f"append-{batch}"
    first = seal_signed(
        campaign=campaign, seq=1, type="t", actor="cfl", payload={}, prev=GENESIS, key=key
    )
    store.create_campaign(name=campaign, spec_hash="0" * 64, first=first)
    prev, seq = first.hash, 1
    start = time.perf_counter()
    while seq < records:
        sealed: list[Record] = []
        for _ in range(batch):
            seq += 1
            record = seal_signed(
                campaign=campaign,
                seq=seq,
                type="step.completed",
                actor="device:reactor-1",
                payload=_step_payload(seq),
                prev=prev,
                key=key,
            )
            sealed.append(record)
            prev = record.hash
        store.append(sealed)
    return (seq - 1) / (time.perf_counter() - start)


# -- 2. verify a large log ---------------------------------------------------------------------


def build_log(store: Store, key_ring: Keyring, records: int, head_every: int = 1000) -> str:
    """A campaign of ``records`` signed step records, a signed head every ``head_every``."""
    key = key_ring.instance()
    store.register_key(key.public)
    campaign = "verify-1"
    tree = CompactRange()
    prev, seq = GENESIS, 0
    while seq < records:
        batch: list[Record] = []
        for _ in range(min(head_every, records - seq)):
            seq += 1
            record = seal_signed(
                campaign=campaign,
                seq=seq,
                type="step.completed",
                actor="device:reactor-1" if seq % 2 else "cfl",
                payload=_step_payload(seq),
                prev=prev,
                key=key,
            )
            batch.append(record)
            tree.append(leaf_hash(bytes.fromhex(record.hash)))
            prev = record.hash
        head = sign_tree_head(
            campaign=campaign, size=tree.size, root=tree.root(), key=key, ts=batch[-1].ts
        )
        if batch[0].seq == 1:
            store.create_campaign(name=campaign, spec_hash="0" * 64, first=batch[0])
            batch = batch[1:]
        store.append(batch, tree_head=head)
    return campaign


# -- the report --------------------------------------------------------------------------------


def _cli_seconds(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cfl", *args], env=env, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records to verify")
    parser.add_argument("--append", type=int, default=10_000, help="records to append")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cfl-ledger-bench-") as tmp:
        home = Path(tmp) / "home"
        os.environ["CFL_HOME"] = str(home)
        os.environ.pop("CFL_DATABASE_URL", None)
        keys = Keyring(home / "keys")
        store = Store.open(f"sqlite:///{home / 'cfl.db'}")
        spec = load_spec(DEMO)
        load_before = os.getloadavg()

        print(f"append: {args.append} records through the journal ...", flush=True)
        journal_rate = bench_journal_append(spec, store, args.append)
        print(f"  {journal_rate:,.0f} records/s", flush=True)
        store_rate_1 = bench_store_append(store, keys, args.append, batch=1)
        store_rate_10 = bench_store_append(store, keys, args.append, batch=10)
        print(f"  store alone: {store_rate_1:,.0f}/s (1 per tx), {store_rate_10:,.0f}/s (10)")

        print(f"verify: building a log of {args.records} signed records ...", flush=True)
        start = time.perf_counter()
        campaign = build_log(store, keys, args.records)
        built_s = time.perf_counter() - start
        trusted = TrustedKeys(keys.public_keys())
        verify_s = []
        for _ in range(3):
            start = time.perf_counter()
            report = verify_campaign(store, campaign, trusted)
            verify_s.append(time.perf_counter() - start)
            assert report.records == args.records
        serial_start = time.perf_counter()
        verify_campaign(store, campaign, trusted, workers=1)
        serial_s = time.perf_counter() - serial_start
        print(f"  store: best {min(verify_s):.2f} s, one process {serial_s:.2f} s", flush=True)
        bundle_path = Path(tmp) / "bundle.json"
        write_document(bundle_path, export_bundle(store, campaign, keys, trusted))
        start = time.perf_counter()
        verify_bundle(load_document(bundle_path), trusted)
        bundle_s = time.perf_counter() - start
        print(f"  bundle file: {bundle_s:.2f} s", flush=True)

        proof_path = Path(tmp) / "proof.json"
        write_document(proof_path, prove_record(store, campaign, args.records // 2, keys, trusted))
        keys.export(Path(tmp) / "pub")

        def one_proof() -> float:
            start = time.perf_counter()
            verify_proof(load_document(proof_path), TrustedKeys.load(Path(tmp) / "pub"))
            return time.perf_counter() - start

        proof_ms = 1000 * _best(20, one_proof)
        env = {**os.environ, "CFL_HOME": str(home)}
        cli_s = _cli_seconds(
            ["ledger", "verify", "--proof", str(proof_path), "--keys", str(Path(tmp) / "pub")],
            env,
        )
        print(f"  one record offline: {proof_ms:.1f} ms (the command: {cli_s:.1f} s)")
        load_after = os.getloadavg()
        store.close()

    lines = [
        "# Ledger benchmark (issue 7)",
        "",
        f"Command: `python -m benchmarks.ledger --records {args.records} --append {args.append}`"
        f". Measured {date.today().isoformat()} on the {os.cpu_count()}-core development machine"
        f" (Python {platform.python_version()}, SQLite WAL), load average "
        f"{load_before[0]:.1f} before and {load_after[0]:.1f} after: other jobs shared it.",
        "",
        "| figure | goal | measured |",
        "|---|---|---|",
        f"| append signed records through `Journal.write` (one record per transaction) | "
        f">= 2,000/s | {journal_rate:,.0f}/s |",
        f"| verify {args.records:,} records (`cfl ledger verify`, store) | <= 10 s | "
        f"{min(verify_s):.2f} s (best of 3; {max(verify_s):.2f} s worst; one process "
        f"{serial_s:.2f} s) |",
        f"| verify one record offline (`--proof`, in-process) | <= 50 ms | {proof_ms:.1f} ms |",
        "",
        f"- Append, the store alone (seal, sign, insert): {store_rate_1:,.0f} records/s one per "
        f"transaction, {store_rate_10:,.0f}/s ten per transaction. Through the journal each "
        "record also pays the event fold and a campaign copy; signing (Ed25519, libsodium) is "
        "about 40-90 us of it.",
        f"- Verify: building the {args.records:,}-record log took {built_s:.1f} s. The check "
        "reads the campaign in one snapshot, recomputes every hash and link, verifies every "
        "Ed25519 signature (about 0.1 ms each with libsodium here, so they run in one worker "
        "process per core), rebuilds the Merkle tree and checks all "
        f"{args.records // 1000} signed tree heads. The same log as an exported bundle file "
        f"(JSON), verified offline: {bundle_s:.2f} s.",
        f"- One record offline: reading the proof and the public keys, the record's hash and "
        f"signature, the inclusion proof ({args.records:,} leaves: "
        f"{(args.records - 1).bit_length()} hashes) and the head's signature; best of 20. The "
        f"`cfl ledger verify --proof` command took {cli_s:.1f} s end to end, nearly all of it "
        "Python start-up and imports of the CLI.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
