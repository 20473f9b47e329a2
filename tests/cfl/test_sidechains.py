"""Signed chains outside the campaign store: appended, read back, verified, tampering caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from cfl.errors import LedgerTampered, NotFound
from cfl.keys import Keyring
from cfl.sidechains import SignedChains
from cfl.store import Store


def test_chains_grow_apart_and_verify(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'side.db'}")
    chains = SignedChains(store, Keyring(tmp_path / "keys"))
    first = chains.append("log-a", "note", {"n": 1}, actor="agent:x@1", title="a")
    chains.append("log-b", "note", {"n": 10}, actor="cfl", title="b")
    second = chains.append("log-a", "note", {"n": 2}, actor="agent:x@1", title="a")
    assert (first.seq, second.seq, second.prev) == (1, 2, first.hash)
    assert [r.payload["n"] for r in chains.records("log-a")] == [1, 2]
    assert [r.actor for r in chains.records("log-a")] == ["agent:x@1"] * 2
    assert chains.verify("log-a").records == 2 and chains.verify("log-b").records == 1
    assert {c.id: c.name for c in store.campaigns()} == {"log-a": "a", "log-b": "b"}
    with pytest.raises(NotFound):
        chains.verify("log-c")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE record SET payload = :p WHERE seq = 2"), {"p": '{"n":3}'})
    with pytest.raises(LedgerTampered):
        chains.verify("log-a")
    store.close()
