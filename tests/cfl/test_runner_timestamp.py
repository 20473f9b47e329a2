"""A finished campaign's last tree head is time-stamped by the configured authority."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cfl.runner import open_or_create, run_campaign
from cfl.spec import CampaignSpec
from cfl.store import Store
from cfl.timestamp import verify_token
from tests.tsa import LocalTsa, OpenSSLMissing, closed_port, serving


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    try:
        with serving(tmp_path_factory.mktemp("tsa"), "Run TSA") as served:
            yield served
    except OpenSSLMissing as exc:
        pytest.skip(str(exc))


def test_the_final_head_carries_a_token_that_verifies(
    store: Store, small_spec: CampaignSpec, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFL_TSA_URL", tsa.url)
    monkeypatch.setenv("CFL_TSA_CERTIFICATE", str(tsa.identity.ca_cert))
    campaign = run_campaign(open_or_create(store, small_spec).journal)
    head = store.tree_heads(campaign.id)[-1]
    assert head.size == len(store.records(campaign.id))  # the head covers the whole log
    assert head.timestamp_token is not None
    token = base64.b64decode(str(head.timestamp_token["token"]))
    stamped = verify_token(
        token, head.timestamp_data(), tsa_certificate=tsa.identity.ca_cert.read_bytes()
    )
    assert abs(datetime.now(UTC) - stamped) < timedelta(minutes=2)


def test_an_authority_that_is_down_leaves_the_campaign_finished_and_unstamped(
    store: Store, small_spec: CampaignSpec, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CFL_TSA_URL", f"http://127.0.0.1:{closed_port()}/tsa")
    campaign = run_campaign(open_or_create(store, small_spec).journal)
    assert campaign.finished is not None
    assert all(h.timestamp_token is None for h in store.tree_heads(campaign.id))
