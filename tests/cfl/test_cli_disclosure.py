"""``cfl ledger export CAMPAIGN --disclosure``, in-process (the packet itself: test_disclosure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cfl.cli import app
from cfl.settings import Settings
from cfl.store import Store
from tests.cfl.test_disclosure import SWEEP, _run
from tests.tsa import OpenSSLMissing, closed_port, serving


def test_export_disclosure_writes_the_packet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CFL_TSA_URL", raising=False)
    store, campaign = _run(tmp_path, experiments=4, batches=[SWEEP], proposer=None)
    store.close()
    monkeypatch.setenv("CFL_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    result = CliRunner().invoke(app, ["ledger", "export", campaign.id, "--disclosure"])
    assert result.exit_code == 0, result.output
    folder = Path("reports") / campaign.id / "disclosure"
    assert "Timestamps: none (CFL_TSA_URL is not set)" in result.output
    assert f"wrote {folder / 'disclosure.pdf'}" in result.output
    assert "Conception: none" in result.output
    assert (folder / "disclosure.md").exists() and (folder / "bundle" / "bundle.json").exists()
    # the plain bundle export still wants its file
    result = CliRunner().invoke(app, ["ledger", "export", campaign.id, "--out", "b.json"])
    assert result.exit_code == 0 and Path("b.json").exists(), result.output

    try:
        with serving(tmp_path / "tsa", "CLI TSA") as tsa:
            monkeypatch.setenv("CFL_TSA_URL", tsa.url)
            result = CliRunner().invoke(
                app, ["ledger", "export", campaign.id, "--disclosure", "--out", "packet"]
            )
    except OpenSSLMissing as exc:
        pytest.skip(str(exc))
    assert result.exit_code == 0, result.output
    assert "Head stamped at" in result.output and Path("packet/bundle/head.tsr").exists()


def test_export_disclosure_of_an_unknown_campaign_exits_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Store.open(Settings().store_url).close()
    result = CliRunner().invoke(app, ["ledger", "export", "nope-1", "--disclosure"])
    assert result.exit_code == 4 and "no campaign 'nope-1'" in result.output
    result = CliRunner().invoke(app, ["ledger", "export", "nope-1"])
    assert result.exit_code == 2 and "--out FILE" in result.output


def test_export_of_an_unreachable_tsa_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store, campaign = _run(tmp_path, experiments=4, batches=[SWEEP], proposer=None)
    store.close()
    monkeypatch.setenv("CFL_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    url = f"http://127.0.0.1:{closed_port()}/tsa"
    monkeypatch.setenv("CFL_TSA_URL", url)
    result = CliRunner().invoke(app, ["ledger", "export", campaign.id, "--disclosure"])
    assert result.exit_code == 1
    assert url in result.output and "CFL_TSA_URL" in result.output
    assert not (Path("reports") / campaign.id).exists()
