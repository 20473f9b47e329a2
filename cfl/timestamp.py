"""RFC 3161 trusted timestamps: a third party's signed word that some bytes existed at a time.

The ledger's hash chain and signatures show that nothing changed after a head was written, but
not *when* it was written: whoever holds the keys could rewrite the log and sign it again. A
time-stamping authority (TSA) closes that gap. CFL sends it only the SHA-256 of what it anchors
(a signed tree head), never the data; the TSA answers with a token that binds that hash to its
clock (``genTime``) under its own signature. Anyone holding the data, the token and the TSA's
certificate can later check the binding offline.

The TSA is set by ``CFL_TSA_URL`` (with ``CFL_TSA_CERTIFICATE``, the TSA's certificate or its
CA's, to check answers against, and ``CFL_TSA_TIMEOUT_S``). With no URL nothing is stamped, and
:func:`stamp_configured` says so once.

:func:`verify_token` is pure Python (``asn1crypto`` parses, ``cryptography`` checks signatures),
so a verifier needs neither ``openssl`` nor a network. It checks, in this order:

1. the token is CMS ``SignedData`` carrying a ``TSTInfo`` (``id-ct-TSTInfo``);
2. the TSTInfo's message imprint is the hash of the data (with the token's hash algorithm);
3. the signer's signed attributes: content type ``id-ct-TSTInfo``, a message digest equal to
   the hash of the TSTInfo bytes exactly as carried, and an ESS signing-certificate attribute
   (v1 or v2) whose hash is the signer certificate's;
4. the signature over the signed attributes, by the signer certificate's key;
5. the signer certificate: extended key usage ``timeStamping`` marked critical (RFC 3161
   section 2.3), valid at genTime;
6. the signer certificate is the trusted certificate, or chains to it through certificates
   carried in the token, every link's signature checked and every certificate valid at genTime.

Any failure is :class:`~cfl.errors.LedgerTampered`: a token that does not verify is a forged or
misattributed timestamp, whatever the cause. A TSA that cannot be reached or refuses to stamp is
:class:`TimestampUnavailable`, naming the URL and the setting.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import Field, JsonValue, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cfl.errors import CFLError, LedgerTampered, SpecError

__all__ = [
    "NOT_CONFIGURED",
    "TSA_URL_SETTING",
    "TimestampToken",
    "TimestampUnavailable",
    "TsaSettings",
    "load_tsa_settings",
    "request",
    "stamp",
    "stamp_configured",
    "timestamp_status",
    "verify_token",
]

logger = logging.getLogger(__name__)

_PREFIX = "CFL_TSA_"
TSA_URL_SETTING = f"{_PREFIX}URL"
NOT_CONFIGURED = (
    f"Timestamps: none ({TSA_URL_SETTING} is not set); ledger heads are not anchored to a "
    "trusted time. Set it to an RFC 3161 time-stamping authority to anchor them."
)
"""What CFL says, once, when no TSA is configured."""

_QUERY_TYPE = "application/timestamp-query"
_REPLY_TYPE = "application/timestamp-reply"
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
"""Hash algorithms accepted for imprints, message digests and signatures."""
_MAX_CHAIN = 8


class TsaSettings(BaseSettings):
    """The time-stamping authority. Field ``x`` is read from ``CFL_TSA_X``."""

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    url: str | None = None
    """Where to POST time-stamp queries, e.g. ``https://freetsa.org/tsr``; unset: no stamps."""
    certificate: Path | None = None
    """PEM or DER file with the TSA's certificate, or the CA certificate(s) it chains to. Unset:
    answers are checked for integrity only (the token's own certificate), not for who signed."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Longest wait for the TSA's answer, in seconds."""

    @field_validator("url")
    @classmethod
    def _validate_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL of an RFC 3161 TSA")
        return url.strip()

    @property
    def configured(self) -> bool:
        """Whether a TSA is set; if not, nothing is stamped."""
        return self.url is not None

    def trusted_certificate(self) -> bytes | None:
        """The certificate file's bytes, if one is set.

        Raises:
            SpecError: the file cannot be read.
        """
        if self.certificate is None:
            return None
        try:
            return self.certificate.read_bytes()
        except OSError as exc:
            raise SpecError(
                f"cannot read the TSA certificate {str(self.certificate)!r}: {exc.strerror}; "
                "point it at the TSA's PEM or DER certificate, or unset it",
                field=f"{_PREFIX}CERTIFICATE",
            ) from exc


def load_tsa_settings(**overrides: Any) -> TsaSettings:
    """The settings from the environment (``overrides`` win), checked.

    Raises:
        SpecError: naming the variable, the bad value and the fix.
    """
    try:
        return TsaSettings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = f"{_PREFIX}{str(error['loc'][0]).upper()}" if error["loc"] else _PREFIX + "*"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SpecError(f"{message} (got {error['input']!r}); fix or unset it", field=name) from exc


def timestamp_status(settings: TsaSettings) -> str:
    """One line for the CLI: whether and where heads are timestamped."""
    if settings.url is None:
        return NOT_CONFIGURED
    return f"Timestamps: RFC 3161 TSA at {_public(settings.url)}."


def _public(url: str) -> str:
    """``url`` without user, password, query or fragment: safe to print and to record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class TimestampUnavailable(CFLError):
    """The TSA could not be reached, or refused to stamp. Nothing was anchored; try again later.

    ``url`` is the TSA's address (without credentials), ``setting`` the variable that set it.
    """

    def __init__(self, message: str, *, url: str, setting: str = TSA_URL_SETTING) -> None:
        super().__init__(message)
        self.url = url
        self.setting = setting


@dataclass(frozen=True)
class TimestampToken:
    """A TSA's token for some data, with what was read from it when it was checked."""

    token: bytes
    """The DER ``TimeStampToken`` (CMS ``ContentInfo``): the evidence; keep it with the data."""
    gen_time: datetime
    """When the TSA says it stamped the data (UTC)."""
    digest: str
    """Hex SHA-256 of the stamped data (the message imprint)."""
    serial: int
    """The TSA's serial number of the token."""
    policy: str
    """The TSA policy (OID) it was issued under."""
    tsa_url: str
    """Where it came from (without credentials)."""

    def verify(self, data: bytes, *, tsa_certificate: bytes | None) -> datetime:
        """:func:`verify_token` of this token."""
        return verify_token(self.token, data, tsa_certificate=tsa_certificate)

    def to_json(self) -> dict[str, JsonValue]:
        """For a bundle or a record: the token in base64 and what it says."""
        return {
            "token": base64.b64encode(self.token).decode("ascii"),
            "gen_time": self.gen_time.isoformat().replace("+00:00", "Z"),
            "digest": self.digest,
            "serial": self.serial,
            "policy": self.policy,
            "tsa_url": self.tsa_url,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> TimestampToken:
        """The token :meth:`to_json` wrote, re-read from its DER (the other fields are ignored).

        Raises:
            LedgerTampered: the token is not a time-stamp token.
        """
        try:
            der = base64.b64decode(value["token"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerTampered(
                f"not a time-stamp token: no base64 'token' ({exc})",
                campaign="",
                seq=0,
                kind="timestamp",
            ) from exc
        info = _tst_info(_content_info(der, campaign="", seq=0), campaign="", seq=0)
        return _token(der, info, tsa_url=str(value.get("tsa_url", "")))


def request(data: bytes, *, nonce: int) -> bytes:
    """A DER ``TimeStampReq`` for ``data``: SHA-256 imprint, ``certReq`` true, ``nonce``.

    Args:
        data: The bytes to stamp; only their SHA-256 goes into the request.
        nonce: A fresh positive number (64 random bits) the answer must repeat.
    """
    if nonce <= 0:
        raise ValueError(f"the nonce must be a positive integer, got {nonce}")
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256", "parameters": core.Null()},
                "hashed_message": hashlib.sha256(data).digest(),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return bytes(query.dump())


def stamp(
    data: bytes,
    tsa_url: str,
    *,
    timeout_s: float = 10.0,
    tsa_certificate: bytes | None = None,
) -> TimestampToken:
    """Have the TSA at ``tsa_url`` stamp ``data`` (only its SHA-256 is sent); check the answer.

    The answer must be granted, for this data's imprint and this request's nonce, and its token
    must verify (:func:`verify_token`; against ``tsa_certificate`` when given).

    Raises:
        TimestampUnavailable: the TSA cannot be reached, does not answer in ``timeout_s``,
            answers with an HTTP error or something other than a time-stamp response, or
            refuses to stamp.
        LedgerTampered: the answer is for other data or another request, or does not verify.
    """
    where = _public(tsa_url)
    nonce = secrets.randbits(63) | 1
    try:
        reply = httpx.post(
            tsa_url,
            content=request(data, nonce=nonce),
            headers={"Content-Type": _QUERY_TYPE, "Accept": _REPLY_TYPE},
            timeout=timeout_s,
        )
    except httpx.TimeoutException as exc:
        raise TimestampUnavailable(
            f"the time-stamping authority at {where} ({TSA_URL_SETTING}) did not answer within "
            f"{timeout_s:g} s; try again, raise {_PREFIX}TIMEOUT_S, or unset {TSA_URL_SETTING} "
            "to run without timestamps",
            url=where,
        ) from exc
    except httpx.HTTPError as exc:
        raise TimestampUnavailable(
            f"cannot reach the time-stamping authority at {where} ({TSA_URL_SETTING}): "
            f"{type(exc).__name__}: {exc}; check the URL and the network, or unset "
            f"{TSA_URL_SETTING} to run without timestamps",
            url=where,
        ) from exc
    if reply.status_code != 200:
        raise TimestampUnavailable(
            f"the time-stamping authority at {where} ({TSA_URL_SETTING}) answered HTTP "
            f"{reply.status_code}: {reply.text[:200]!r}; check the URL",
            url=where,
        )
    token = _granted_token(reply.content, where)
    info = _tst_info(_content_info(token, campaign="", seq=0), campaign="", seq=0)
    imprint = info["message_imprint"]
    if (
        imprint["hash_algorithm"]["algorithm"].native != "sha256"
        or imprint["hashed_message"].native != hashlib.sha256(data).digest()
    ):
        raise LedgerTampered(
            f"the time-stamping authority at {where} stamped other data than was sent (message "
            "imprint mismatch): the answer was altered on the way or the TSA is faulty",
            campaign="",
            seq=0,
            kind="timestamp",
        )
    if info["nonce"].native != nonce:
        raise LedgerTampered(
            f"the time-stamping authority at {where} answered another request (nonce "
            f"{info['nonce'].native} instead of {nonce}): a replayed or misrouted answer",
            campaign="",
            seq=0,
            kind="timestamp",
        )
    verify_token(token, data, tsa_certificate=tsa_certificate)
    return _token(token, info, tsa_url=where)


_said_not_configured = False


def stamp_configured(data: bytes, settings: TsaSettings | None = None) -> TimestampToken | None:
    """Stamp ``data`` at the configured TSA; ``None`` (said once per process) if there is none.

    Raises:
        SpecError: a ``CFL_TSA_*`` setting is malformed or the certificate file is unreadable.
        TimestampUnavailable, LedgerTampered: as :func:`stamp`.
    """
    global _said_not_configured
    settings = settings or load_tsa_settings()
    if settings.url is None:
        if not _said_not_configured:
            logger.warning(NOT_CONFIGURED)
            _said_not_configured = True
        return None
    return stamp(
        data,
        settings.url,
        timeout_s=settings.timeout_s,
        tsa_certificate=settings.trusted_certificate(),
    )


def verify_token(
    token: bytes,
    data: bytes,
    *,
    tsa_certificate: bytes | None,
    campaign: str = "",
    seq: int = 0,
    tree_size: int | None = None,
) -> datetime:
    """Check that ``token`` is a valid TSA stamp of ``data``; return its genTime (UTC).

    The checks are listed in the module docstring.

    Args:
        token: The DER ``TimeStampToken``.
        data: The bytes that were stamped.
        tsa_certificate: PEM or DER bytes of the TSA's certificate, or of the CA certificate(s)
            the TSA's chains to (any one of several PEM certificates is trusted). ``None``
            checks integrity only, against the certificate inside the token: whoever made the
            token may have made that certificate too.
        campaign: For the error: the campaign whose ledger the stamped data anchors.
        seq: For the error: the last record the stamped data covers.
        tree_size: For the error: the size of the tree head the stamped data is.

    Raises:
        LedgerTampered: any check fails (saying which); nothing is returned.
        SpecError: ``tsa_certificate`` holds no certificate.
    """
    anchors = None if tsa_certificate is None else _load_certificates(tsa_certificate)
    content = _content_info(token, campaign=campaign, seq=seq)

    def fail(why: str) -> LedgerTampered:
        where = f"campaign {campaign}, record #{seq}: " if campaign else ""
        return LedgerTampered(
            f"{where}timestamp token does not verify: {why}",
            campaign=campaign,
            seq=seq,
            tree_size=tree_size,
            kind="timestamp",
        )

    try:
        info = _tst_info(content, campaign=campaign, seq=seq)
        imprint = info["message_imprint"]
        imprint_hash = imprint["hash_algorithm"]["algorithm"].native
        if imprint_hash not in _HASHES:
            raise fail(f"unsupported message-imprint hash {imprint_hash!r}")
        if imprint["hashed_message"].native != hashlib.new(imprint_hash, data).digest():
            raise fail(
                "message imprint mismatch: the token stamps other data than given (the data was "
                "changed after it was stamped, or the token belongs to other data)"
            )
        gen_time: datetime = info["gen_time"].native
        signed = content["content"]
        infos = signed["signer_infos"]
        if len(infos) != 1:
            raise fail(f"expected one signer, found {len(infos)}")
        signer_info = infos[0]
        carried = _carried_certificates(signed)
        signer = _find_signer(signer_info, carried, anchors or [], fail)
        _check_signed_attributes(signer_info, signed, signer, fail)
        _check_signature(signer_info, signer, fail)
        _check_tsa_certificate(signer, gen_time, fail)
        if anchors is not None:
            _check_chain(signer, carried, anchors, gen_time, fail)
    except LedgerTampered:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # asn1crypto parses lazily: malformed inner structures surface on access.
        raise fail(f"malformed token ({type(exc).__name__}: {exc})") from exc
    return gen_time


# -- parsing -----------------------------------------------------------------------------------


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161's TimeStampResp; asn1crypto's makes the token mandatory, but a refusal has none."""

    _fields = [  # noqa: RUF012
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _granted_token(reply: bytes, where: str) -> bytes:
    """The token of a granted ``TimeStampResp``."""
    try:
        response = _TimeStampResp.load(reply)
        status = response["status"]
        code = status["status"].native
    except (ValueError, TypeError) as exc:
        raise TimestampUnavailable(
            f"the server at {where} ({TSA_URL_SETTING}) did not answer with an RFC 3161 "
            f"time-stamp response ({exc}); check that the URL is a TSA's",
            url=where,
        ) from exc
    if code not in ("granted", "granted_with_mods"):
        text = "; ".join(status["status_string"].native or [])
        fail_info = status["fail_info"].native
        detail = ", ".join(sorted(fail_info)) if fail_info else "no reason given"
        raise TimestampUnavailable(
            f"the time-stamping authority at {where} ({TSA_URL_SETTING}) refused to stamp: "
            f"{code} ({detail}){': ' + text if text else ''}",
            url=where,
        )
    token = response["time_stamp_token"]
    if token.native is None:
        raise TimestampUnavailable(
            f"the time-stamping authority at {where} ({TSA_URL_SETTING}) granted the request "
            "but sent no token",
            url=where,
        )
    return bytes(token.dump())


def _content_info(token: bytes, *, campaign: str, seq: int) -> Any:
    try:
        content = cms.ContentInfo.load(token)
        kind = content["content_type"].native
    except (ValueError, TypeError) as exc:
        raise LedgerTampered(
            f"not a time-stamp token (not DER CMS: {exc})",
            campaign=campaign,
            seq=seq,
            kind="timestamp",
        ) from exc
    if kind != "signed_data":
        raise LedgerTampered(
            f"not a time-stamp token: CMS content type {kind!r}, expected signed_data",
            campaign=campaign,
            seq=seq,
            kind="timestamp",
        )
    return content


def _tst_info(content: Any, *, campaign: str, seq: int) -> Any:
    try:
        encapsulated = content["content"]["encap_content_info"]
        kind = encapsulated["content_type"].native
        if kind == "tst_info":
            return encapsulated["content"].parsed
    except (ValueError, TypeError, KeyError) as exc:
        raise LedgerTampered(
            f"not a time-stamp token: unreadable TSTInfo ({exc})",
            campaign=campaign,
            seq=seq,
            kind="timestamp",
        ) from exc
    raise LedgerTampered(
        f"not a time-stamp token: it carries {kind!r}, not a TSTInfo",
        campaign=campaign,
        seq=seq,
        kind="timestamp",
    )


def _token(der: bytes, info: Any, *, tsa_url: str) -> TimestampToken:
    return TimestampToken(
        token=der,
        gen_time=info["gen_time"].native,
        digest=info["message_imprint"]["hashed_message"].native.hex(),
        serial=int(info["serial_number"].native),
        policy=str(info["policy"].dotted),
        tsa_url=tsa_url,
    )


def _load_certificates(blob: bytes) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN CERTIFICATE-----" in blob:
            return x509.load_pem_x509_certificates(blob)
        return [x509.load_der_x509_certificate(blob)]
    except ValueError as exc:
        raise SpecError(
            f"the TSA certificate is not a PEM or DER X.509 certificate ({exc}); give the TSA's "
            "certificate or its CA's",
            field=f"{_PREFIX}CERTIFICATE",
        ) from exc


def _carried_certificates(signed: Any) -> list[x509.Certificate]:
    carried = []
    for choice in signed["certificates"] or []:
        if choice.name == "certificate":
            carried.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return carried


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


# -- checks ------------------------------------------------------------------------------------

_Fail = Callable[[str], LedgerTampered]
"""Makes the error for a failed check, with the caller's campaign and record."""


def _find_signer(
    signer_info: Any,
    carried: list[x509.Certificate],
    anchors: list[x509.Certificate],
    fail: _Fail,
) -> x509.Certificate:
    """The certificate the signer identifier names, among the carried and trusted ones."""
    sid = signer_info["sid"]
    for certificate in [*carried, *anchors]:
        if sid.name == "issuer_and_serial_number":
            issuer_serial = sid.chosen
            if certificate.serial_number == issuer_serial["serial_number"].native and (
                certificate.issuer.public_bytes() == issuer_serial["issuer"].dump()
            ):
                return certificate
        elif sid.name == "subject_key_identifier":
            try:
                ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == sid.chosen.native:
                return certificate
    raise fail(
        "the signer's certificate is neither in the token nor the trusted one "
        "(request tokens with certReq, or give the TSA's own certificate)"
    )


def _hash(name: str, fail: _Fail) -> hashes.HashAlgorithm:
    algorithm = _HASHES.get(name)
    if algorithm is None:
        raise fail(f"unsupported hash algorithm {name!r}")
    return algorithm()


def _check_signed_attributes(
    signer_info: Any, signed: Any, signer: x509.Certificate, fail: _Fail
) -> None:
    attributes = signer_info["signed_attrs"]
    if attributes.native is None:
        raise fail("the signer has no signed attributes (RFC 3161 requires them)")
    by_type: dict[str, Any] = {}
    for attribute in attributes:
        by_type.setdefault(attribute["type"].native, attribute["values"])
    content_type = by_type.get("content_type")
    if content_type is None or content_type[0].native != "tst_info":
        raise fail("the signed content-type attribute is not id-ct-TSTInfo")
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise fail(f"unsupported digest algorithm {digest_name!r}")
    carried = signed["encap_content_info"]["content"].contents
    message_digest = by_type.get("message_digest")
    if message_digest is None:
        raise fail("the signed attributes carry no message digest")
    if message_digest[0].native != hashlib.new(digest_name, carried).digest():
        raise fail(
            "message digest mismatch: the TSTInfo (time, imprint or serial) was changed after "
            "the TSA signed it"
        )
    certificate_der = _der(signer)
    if "signing_certificate_v2" in by_type:
        first = by_type["signing_certificate_v2"][0]["certs"][0]
        algorithm = first["hash_algorithm"]["algorithm"].native
        if algorithm not in _HASHES:
            raise fail(f"unsupported signing-certificate hash {algorithm!r}")
        expected = hashlib.new(algorithm, certificate_der).digest()
    elif "signing_certificate" in by_type:
        first = by_type["signing_certificate"][0]["certs"][0]
        expected = hashlib.sha1(certificate_der, usedforsecurity=False).digest()
    else:
        raise fail("the signed attributes do not name the signing certificate (ESS)")
    if first["cert_hash"].native != expected:
        raise fail("the signing-certificate attribute names another certificate than the signer's")


def _check_signature(signer_info: Any, signer: x509.Certificate, fail: _Fail) -> None:
    # The signature covers the DER of the attributes as a SET OF, not as the [0] field.
    message = b"\x31" + bytes(signer_info["signed_attrs"].dump())[1:]
    signature = bytes(signer_info["signature"].native)
    digest = _hash(signer_info["digest_algorithm"]["algorithm"].native, fail)
    algorithm = signer_info["signature_algorithm"]
    kind = algorithm.signature_algo
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            key.verify(signature, message, padding.PKCS1v15(), digest)
        elif isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            params = algorithm["parameters"]
            pss_hash = _hash(params["hash_algorithm"]["algorithm"].native, fail)
            mgf_hash = _hash(params["mask_gen_algorithm"]["parameters"]["algorithm"].native, fail)
            key.verify(
                signature,
                message,
                padding.PSS(padding.MGF1(mgf_hash), int(params["salt_length"].native)),
                pss_hash,
            )
        elif isinstance(key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            key.verify(signature, message, ec.ECDSA(digest))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) and kind in (
            "ed25519",
            "ed448",
        ):
            key.verify(signature, message)
        else:
            raise fail(f"signature algorithm {kind!r} does not fit the signer's key")
    except InvalidSignature as exc:
        raise fail("bad signature: the token was not signed by its certificate's key") from exc


def _check_tsa_certificate(signer: x509.Certificate, gen_time: datetime, fail: _Fail) -> None:
    try:
        usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
        raise fail(f"the signer {signer.subject.rfc4514_string()} is not a TSA (no timeStamping)")
    if not usage.critical:
        raise fail("the signer's timeStamping key usage is not critical (RFC 3161 2.3)")
    _check_valid(signer, gen_time, fail)


def _check_valid(certificate: x509.Certificate, gen_time: datetime, fail: _Fail) -> None:
    if not certificate.not_valid_before_utc <= gen_time <= certificate.not_valid_after_utc:
        raise fail(
            f"certificate {certificate.subject.rfc4514_string()} was not valid at the stamped "
            f"time {gen_time.isoformat()}"
        )


def _check_chain(
    signer: x509.Certificate,
    carried: list[x509.Certificate],
    anchors: list[x509.Certificate],
    gen_time: datetime,
    fail: _Fail,
) -> None:
    """The signer is a trusted certificate or chains to one, every link checked."""
    trusted = {_der(a) for a in anchors}
    current = signer
    for _ in range(_MAX_CHAIN):
        if _der(current) in trusted:
            return
        issuer = _issuer_of(current, [*anchors, *carried])
        if issuer is None:
            raise fail(
                f"the TSA certificate {signer.subject.rfc4514_string()} does not chain to the "
                "trusted certificate: the token comes from another TSA"
            )
        _check_valid(issuer, gen_time, fail)
        current = issuer
    raise fail(f"the certificate chain is longer than {_MAX_CHAIN}")


def _issuer_of(
    certificate: x509.Certificate, candidates: list[x509.Certificate]
) -> x509.Certificate | None:
    """The candidate whose key signed ``certificate`` (a CA), if any."""
    for candidate in candidates:
        if candidate.subject != certificate.issuer or _der(candidate) == _der(certificate):
            continue
        try:
            constraints = candidate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            continue
        if not constraints.value.ca:
            continue
        try:
            certificate.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None
