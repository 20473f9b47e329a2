"""RFC 3161 timestamps against local TSAs made with ``openssl ts`` (see ``tests/tsa.py``)."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]

from cfl import timestamp
from cfl.errors import LedgerTampered, SpecError
from cfl.timestamp import (
    TimestampToken,
    TimestampUnavailable,
    load_tsa_settings,
    request,
    stamp,
    stamp_configured,
    verify_token,
)
from tests.tsa import EC, LocalTsa, OpenSSLMissing, TsaIdentity, closed_port, openssl, serving

HEAD = b'{"campaign":"snar-1","root":"9f86d081884c7d65","size":42}'


@pytest.fixture(scope="session")
def tsa_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    """A TSA with an RSA key (openssl ts on 127.0.0.1), for the whole session."""
    try:
        with serving(tmp_path_factory.mktemp("tsa-a"), "TSA A") as tsa:
            yield tsa
    except OpenSSLMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def tsa_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    """Another TSA, under another CA, with an EC key."""
    try:
        with serving(tmp_path_factory.mktemp("tsa-b"), "TSA B", key=EC) as tsa:
            yield tsa
    except OpenSSLMissing as exc:
        pytest.skip(str(exc))


def _cert(identity: TsaIdentity, which: str = "tsa") -> bytes:
    return (identity.tsa_cert if which == "tsa" else identity.ca_cert).read_bytes()


def test_request_is_a_der_timestampreq_openssl_reads(tmp_path: Path, tsa_a: LocalTsa) -> None:
    der = request(HEAD, nonce=0xC0FFEE1234)
    parsed = tsp.TimeStampReq.load(der)
    assert parsed.dump(force=True) == der  # canonical DER: re-encoding gives the same bytes
    assert parsed["version"].native == "v1"
    imprint = parsed["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].native == "sha256"
    assert imprint["hashed_message"].native.hex() == timestamp.hashlib.sha256(HEAD).hexdigest()
    assert parsed["nonce"].native == 0xC0FFEE1234
    assert parsed["cert_req"].native is True
    (tmp_path / "q.tsq").write_bytes(der)
    text = subprocess.run(
        [openssl(), "ts", "-query", "-in", str(tmp_path / "q.tsq"), "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Hash Algorithm: sha256" in text
    assert "Nonce: 0xC0FFEE1234" in text
    assert "Certificate required: yes" in text


def test_a_stamp_verifies_and_gives_the_tsa_time(tmp_path: Path, tsa_a: LocalTsa) -> None:
    before = datetime.now(UTC)
    token = stamp(HEAD, tsa_a.url, timeout_s=10, tsa_certificate=_cert(tsa_a.identity))
    assert abs(token.gen_time - before) < timedelta(seconds=5)
    assert token.gen_time.tzinfo is not None and token.gen_time.utcoffset() == timedelta(0)
    assert token.digest == timestamp.hashlib.sha256(HEAD).hexdigest()
    assert token.tsa_url == tsa_a.url and token.policy == "1.3.6.1.4.1.99999.1"
    # against the TSA's own certificate, its CA's, or (integrity only) the one it carries
    for trusted in (_cert(tsa_a.identity), _cert(tsa_a.identity, "ca"), None):
        assert verify_token(token.token, HEAD, tsa_certificate=trusted) == token.gen_time
    # and openssl agrees
    (tmp_path / "head.json").write_bytes(HEAD)
    (tmp_path / "head.tsr").write_bytes(token.token)
    done = subprocess.run(
        [
            *(openssl(), "ts", "-verify", "-token_in"),
            *("-in", str(tmp_path / "head.tsr"), "-data", str(tmp_path / "head.json")),
            *("-CAfile", str(tsa_a.identity.ca_cert)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Verification: OK" in done.stdout, done.stderr


def test_the_token_round_trips_through_json(tsa_a: LocalTsa) -> None:
    token = stamp(HEAD, tsa_a.url)
    again = TimestampToken.from_json(token.to_json())
    assert again == token
    assert token.to_json()["gen_time"].endswith("Z")  # type: ignore[union-attr]


def test_the_token_of_other_data_is_refused(tsa_a: LocalTsa) -> None:
    token = stamp(HEAD, tsa_a.url)
    edited = HEAD.replace(b"42", b"43")
    with pytest.raises(LedgerTampered, match="message imprint mismatch") as caught:
        verify_token(
            token.token, edited, tsa_certificate=_cert(tsa_a.identity), campaign="snar-1", seq=42
        )
    assert (caught.value.campaign, caught.value.seq) == ("snar-1", 42)
    assert caught.value.kind == "timestamp"
    assert "campaign snar-1, record #42" in str(caught.value)


def test_altered_signature_bytes_are_refused(tsa_a: LocalTsa) -> None:
    token = stamp(HEAD, tsa_a.url).token
    signature = cms.ContentInfo.load(token)["content"]["signer_infos"][0]["signature"].native
    assert token.count(signature) == 1
    altered = signature[:-1] + bytes([signature[-1] ^ 0x01])
    forged = token.replace(signature, altered)
    for trusted in (_cert(tsa_a.identity), None):
        with pytest.raises(LedgerTampered, match="bad signature"):
            verify_token(forged, HEAD, tsa_certificate=trusted)


def test_a_changed_stamped_time_is_refused(tsa_a: LocalTsa) -> None:
    token = stamp(HEAD, tsa_a.url).token
    info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    gen_time = info["gen_time"].dump()
    earlier = info["gen_time"].native - timedelta(days=400)
    backdated = core.GeneralizedTime(earlier).dump()
    assert len(backdated) == len(gen_time)
    forged = token.replace(gen_time, backdated, 1)
    with pytest.raises(LedgerTampered, match="message digest mismatch"):
        verify_token(forged, HEAD, tsa_certificate=_cert(tsa_a.identity))


def test_a_token_from_another_tsa_is_refused(tsa_a: LocalTsa, tsa_b: LocalTsa) -> None:
    token = stamp(HEAD, tsa_b.url, tsa_certificate=_cert(tsa_b.identity, "ca"))
    assert verify_token(token.token, HEAD, tsa_certificate=_cert(tsa_b.identity)) is not None
    for trusted in (_cert(tsa_a.identity), _cert(tsa_a.identity, "ca")):
        with pytest.raises(LedgerTampered, match="another TSA"):
            verify_token(token.token, HEAD, tsa_certificate=trusted)
    with pytest.raises(LedgerTampered, match="another TSA"):
        stamp(HEAD, tsa_b.url, tsa_certificate=_cert(tsa_a.identity, "ca"))


def test_a_replayed_answer_is_refused(tsa_a: LocalTsa) -> None:
    # A man in the middle (or a broken TSA) answering every query with one old response.
    replaying = LocalTsa(tsa_a.identity).start()
    try:
        old = replaying.reply(request(HEAD, nonce=12345))
        replaying.reply = lambda query: old  # type: ignore[method-assign]
        with pytest.raises(LedgerTampered, match="answered another request"):
            stamp(HEAD, replaying.url)
        with pytest.raises(LedgerTampered, match="stamped other data than was sent"):
            stamp(b"other data", replaying.url)
    finally:
        replaying.stop()


def test_a_server_that_is_not_a_tsa_is_a_clear_error(tsa_a: LocalTsa) -> None:
    server = LocalTsa(tsa_a.identity).start()
    try:
        server.reply = lambda query: b"<html>hello</html>"  # type: ignore[method-assign]
        with pytest.raises(TimestampUnavailable, match="did not answer with an RFC 3161"):
            stamp(HEAD, server.url)

        def broken(query: bytes) -> bytes:
            raise RuntimeError("signing key unavailable")

        server.reply = broken  # type: ignore[method-assign]
        with pytest.raises(TimestampUnavailable, match="answered HTTP 500") as caught:
            stamp(HEAD, server.url)
        assert server.url in str(caught.value) and "CFL_TSA_URL" in str(caught.value)
    finally:
        server.stop()


def test_garbage_is_not_a_token() -> None:
    with pytest.raises(LedgerTampered, match="no base64 'token'"):
        TimestampToken.from_json({"token": "not base64!"})
    with pytest.raises(LedgerTampered, match="not a time-stamp token"):
        verify_token(b"\x30\x03\x02\x01\x01", HEAD, tsa_certificate=None)
    with pytest.raises(LedgerTampered, match="not a time-stamp token"):
        verify_token(b"not DER at all", HEAD, tsa_certificate=None)


def test_a_tsa_that_is_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/tsa"
    with pytest.raises(TimestampUnavailable) as caught:
        stamp(HEAD, url, timeout_s=2)
    message = str(caught.value)
    assert url in message and "CFL_TSA_URL" in message and "cannot reach" in message
    assert caught.value.url == url and caught.value.setting == "CFL_TSA_URL"


def test_a_refusal_is_a_clear_error(tmp_path: Path, tsa_a: LocalTsa) -> None:
    # The same TSA configured to accept only SHA-512 imprints: openssl answers "rejection".
    config = tmp_path / "sha512-only.cnf"
    text = tsa_a.identity.config.read_text()
    config.write_text(text.replace("digests = sha256, sha384, sha512", "digests = sha512"))
    picky = LocalTsa(TsaIdentity(tsa_a.identity.folder, "picky", config)).start()
    try:
        with pytest.raises(TimestampUnavailable, match=r"refused to stamp: rejection \(bad_alg"):
            stamp(HEAD, picky.url)
    finally:
        picky.stop()


def test_credentials_in_the_url_stay_out_of_messages() -> None:
    url = f"http://user:secret@127.0.0.1:{closed_port()}/tsa?key=secret"
    with pytest.raises(TimestampUnavailable) as caught:
        stamp(HEAD, url, timeout_s=2)
    assert "secret" not in str(caught.value) and "secret" not in caught.value.url


def test_without_a_tsa_nothing_is_stamped_and_it_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CFL_TSA_URL", raising=False)
    monkeypatch.setattr(timestamp, "_said_not_configured", False)
    with caplog.at_level(logging.WARNING, logger="cfl.timestamp"):
        assert stamp_configured(HEAD) is None
        assert stamp_configured(HEAD) is None
    assert [r.getMessage() for r in caplog.records] == [timestamp.NOT_CONFIGURED]
    assert timestamp.timestamp_status(load_tsa_settings()) == timestamp.NOT_CONFIGURED


def test_the_configured_tsa_stamps(monkeypatch: pytest.MonkeyPatch, tsa_a: LocalTsa) -> None:
    monkeypatch.setenv("CFL_TSA_URL", tsa_a.url)
    monkeypatch.setenv("CFL_TSA_CERTIFICATE", str(tsa_a.identity.ca_cert))
    token = stamp_configured(HEAD)
    assert token is not None and token.verify(HEAD, tsa_certificate=_cert(tsa_a.identity))
    assert timestamp.timestamp_status(load_tsa_settings()).endswith(f"{tsa_a.url}.")


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CFL_TSA_URL", "ftp://tsa.example")
    with pytest.raises(SpecError) as caught:
        load_tsa_settings()
    assert caught.value.field == "CFL_TSA_URL"
    monkeypatch.setenv("CFL_TSA_URL", "http://127.0.0.1:1/tsa")
    monkeypatch.setenv("CFL_TSA_TIMEOUT_S", "0")
    with pytest.raises(SpecError) as caught:
        load_tsa_settings()
    assert caught.value.field == "CFL_TSA_TIMEOUT_S"
    monkeypatch.delenv("CFL_TSA_TIMEOUT_S")
    monkeypatch.setenv("CFL_TSA_CERTIFICATE", str(tmp_path / "missing.pem"))
    with pytest.raises(SpecError, match=r"cannot read the TSA certificate") as caught:
        stamp_configured(HEAD)
    assert caught.value.field == "CFL_TSA_CERTIFICATE"
    with pytest.raises(SpecError, match="not a PEM or DER"):
        verify_token(b"", HEAD, tsa_certificate=b"-----BEGIN CERTIFICATE-----\nnope\n")
