"""Ed25519 signing keys: who may sign which ledger records, and where the keys live.

Signatures are Ed25519 (RFC 8032 §5.1; libsodium through PyNaCl): 32-byte public keys, 64-byte
deterministic signatures, no parameters to choose. A key's id is the first 32 hex digits
(128 bits) of the SHA-256 of its raw public key, so an id names exactly one key and anyone can
recompute it; a verifier never trusts an id it is told, only the public keys it was given.

Which key signs what:

* **The instance key** (``signs_for: instance``) belongs to one CFL installation (one
  ``CFL_HOME``). It signs every record that installation writes for ``cfl``, ``cfl:*``,
  ``planner:*``, ``device:*`` and ``agent:*`` actors, and every signed tree head. An agent's or a
  device's record is therefore signed by the instance that ran the agent or drove the device: the
  signature says which installation wrote it, the record's ``actor_info`` says which model or
  device produced it. It also signs a person's records (approvals, releases, steering requests
  it applies) when that person has no key of their own in this ``CFL_HOME``.
* **A person's key** (``signs_for: human:<id>``), made with ``cfl keys init --actor human:<id>``,
  signs that person's records written by this installation, and nothing else.

Keys are created on first use: the first record an installation writes creates its instance key,
so a fresh ``CFL_HOME`` needs no set-up step. A person's key is never made silently: one made on
their behalf by a process would attest nothing the instance key does not.

Files, under ``$CFL_HOME/keys/`` (folder mode 0700):

* ``<name>.key``: the private key, PEM ``PRIVATE KEY`` (PKCS#8, RFC 8410), mode 0600. Refused
  when group or others can read it.
* ``<name>.pub``: JSON with ``key_id``, ``algorithm``, ``signs_for``, ``public_key`` (base64 of
  the 32 raw bytes) and ``public_key_pem`` (SubjectPublicKeyInfo, for ``openssl``). Public; hand
  these to whoever verifies (``cfl keys export DIR``).

``<name>`` is ``instance`` or ``human-<id>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing
from pydantic import JsonValue

from cfl.errors import CFLError, SpecError

__all__ = [
    "INSTANCE",
    "KeyProblem",
    "Keyring",
    "PublicKey",
    "SigningKey",
    "TrustedKeys",
    "key_id",
]

INSTANCE = "instance"
"""``signs_for`` of an installation's own key."""
ALGORITHM = "ed25519"
_ID_HEX = 32

# RFC 8410: an Ed25519 private key in PKCS#8 and a public key in SubjectPublicKeyInfo are fixed
# DER prefixes (OID 1.3.101.112) followed by the 32 raw bytes.
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class KeyProblem(CFLError):
    """A key file is missing, unreadable, malformed or too open; the message names the fix."""


def key_id(public_key: bytes) -> str:
    """The id of a raw 32-byte public key: ``SHA-256(public_key)`` in hex, first 32 digits."""
    return hashlib.sha256(public_key).hexdigest()[:_ID_HEX]


def _pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _unpem(text: str, label: str, prefix: bytes, where: Path) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise KeyProblem(f"{where} is not a PEM {label}; it must hold an Ed25519 key")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except ValueError as exc:
        raise KeyProblem(f"{where}: the PEM body is not base64 ({exc})") from exc
    if len(der) != len(prefix) + 32 or not der.startswith(prefix):
        raise KeyProblem(f"{where} does not hold an Ed25519 key (RFC 8410 DER expected)")
    return der[len(prefix) :]


def _check_signs_for(signs_for: str) -> str:
    if signs_for == INSTANCE:
        return signs_for
    kind, _, name = signs_for.partition(":")
    if kind != "human" or not name or not all(c.isalnum() or c in "._-@" for c in name):
        raise SpecError(
            f"a key signs for 'instance' or 'human:<id>' (letters, digits, . _ - @), not "
            f"{signs_for!r}",
            field="--actor",
        )
    return signs_for


def _may_own_a_key(actor: str) -> bool:
    try:
        _check_signs_for(actor)
    except SpecError:
        return False
    return True


def _file_stem(signs_for: str) -> str:
    return INSTANCE if signs_for == INSTANCE else "human-" + signs_for.partition(":")[2]


@dataclass(frozen=True)
class PublicKey:
    """A public key and the actor(s) it may sign for."""

    public_key: bytes
    """The 32 raw bytes (RFC 8032 encoding)."""
    signs_for: str
    """``instance``, or ``human:<id>``."""
    created: str = ""
    host: str = ""
    """Where the key was made (informative only)."""
    key_id: str = field(init=False)
    _verifier: nacl.signing.VerifyKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise KeyProblem(f"an Ed25519 public key has 32 bytes, not {len(self.public_key)}")
        object.__setattr__(self, "key_id", key_id(self.public_key))
        object.__setattr__(self, "_verifier", nacl.signing.VerifyKey(self.public_key))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._verifier.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True

    def may_sign(self, actor: str) -> bool:
        """Whether a record of ``actor`` may carry this key's signature (see module docstring)."""
        return self.signs_for == INSTANCE or self.signs_for == actor

    @property
    def is_instance(self) -> bool:
        """Whether this is an installation's key (the only kind that signs tree heads)."""
        return self.signs_for == INSTANCE

    def pem(self) -> str:
        """The key as a PEM SubjectPublicKeyInfo, as ``openssl pkey -pubin`` reads it."""
        return _pem("PUBLIC KEY", _SPKI_PREFIX + self.public_key)

    def to_json(self) -> dict[str, JsonValue]:
        """The ``.pub`` file's content (also what bundles carry)."""
        return {
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "signs_for": self.signs_for,
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
            "public_key_pem": self.pem(),
            "created": self.created,
            "host": self.host,
        }

    @classmethod
    def from_json(cls, value: Any, *, where: str = "public key") -> PublicKey:
        """Read what :meth:`to_json` wrote; a stated ``key_id`` must match the key.

        Raises:
            KeyProblem: the value is not such a key, or its id does not match.
        """
        try:
            if value.get("algorithm", ALGORITHM) != ALGORITHM:
                raise KeyProblem(f"{where}: algorithm {value['algorithm']!r}, expected ed25519")
            raw = base64.b64decode(value["public_key"], validate=True)
            key = cls(
                public_key=raw,
                signs_for=str(value["signs_for"]),
                created=str(value.get("created", "")),
                host=str(value.get("host", "")),
            )
        except KeyProblem:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise KeyProblem(f"{where} is not a CFL public key ({exc!r})") from exc
        stated = value.get("key_id")
        if stated is not None and stated != key.key_id:
            raise KeyProblem(
                f"{where} says its id is {stated} but its key's id is {key.key_id}: the file was "
                "edited; get the public key again from its owner"
            )
        return key


class SigningKey:
    """A private key, for the process that signs; never leaves its ``CFL_HOME``."""

    def __init__(self, seed: bytes, *, signs_for: str, created: str = "", host: str = "") -> None:
        self._key = nacl.signing.SigningKey(seed)
        self.public = PublicKey(
            bytes(self._key.verify_key), signs_for=signs_for, created=created, host=host
        )

    @property
    def key_id(self) -> str:
        """The public key's id."""
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (RFC 8032 §5.1.6)."""
        return bytes(self._key.sign(message).signature)

    @classmethod
    def generate(cls, signs_for: str) -> SigningKey:
        """A new random key (32-byte seed from the OS's CSPRNG)."""
        from cfl.ledger import utc_stamp  # deferred: ledger imports this module

        return cls(
            os.urandom(32), signs_for=signs_for, created=utc_stamp(), host=socket.gethostname()
        )

    def private_pem(self) -> str:
        """The private key as PEM PKCS#8 (RFC 8410), as ``openssl pkey`` reads it."""
        return _pem("PRIVATE KEY", _PKCS8_PREFIX + bytes(self._key))


class Keyring:
    """The keys of one ``CFL_HOME``: its instance key and the keys of people who made one.

    Loading is lazy and cached per process: reading a campaign never creates a key, the first
    signed write does.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: dict[str, SigningKey | None] = {}

    @classmethod
    def default(cls) -> Keyring:
        """The keys folder of the configured ``CFL_HOME``."""
        from cfl.settings import Settings  # deferred: settings are read when asked for

        return cls(Settings().home / "keys")

    def instance(self) -> SigningKey:
        """The instance key, created (with its folder) if this ``CFL_HOME`` has none yet.

        Raises:
            KeyProblem: the key file exists but cannot be used (names the file and the fix).
        """
        key = self._load(INSTANCE)
        if key is None:
            key, _ = self.init(INSTANCE)
        return key

    def signer_for(self, actor: str) -> SigningKey:
        """The key that signs ``actor``'s records: the person's own, else the instance key."""
        if actor.startswith("human:") and _may_own_a_key(actor):
            own = self._load(actor)
            if own is not None:
                return own
        return self.instance()

    def init(self, signs_for: str = INSTANCE) -> tuple[SigningKey, bool]:
        """Make the key for ``signs_for`` unless it exists; ``(key, whether it was made now)``.

        Raises:
            SpecError: ``signs_for`` is neither ``instance`` nor ``human:<id>``.
            KeyProblem: an existing key file cannot be used.
        """
        signs_for = _check_signs_for(signs_for)
        existing = self._load(signs_for)
        if existing is not None:
            return existing, False
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = SigningKey.generate(signs_for)
        private = self.folder / f"{_file_stem(signs_for)}.key"
        partial = self.folder / f".{private.name}.{os.getpid()}.tmp"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key.private_pem())
        try:
            # A hard link appears whole or not at all, and fails if the key exists: of two
            # processes creating it at once, one wins and the other loads the winner's.
            os.link(partial, private)
        except FileExistsError:
            self._loaded.pop(signs_for, None)
            loaded = self._load(signs_for)
            if loaded is None:  # pragma: no cover - the file was removed between the two calls
                raise KeyProblem(
                    f"{private} vanished while it was being created; try again"
                ) from None
            return loaded, False
        finally:
            partial.unlink()
        self._write_public(key.public)
        self._loaded[signs_for] = key
        return key, True

    def public_keys(self) -> list[PublicKey]:
        """The public keys of this folder, from its ``.pub`` files."""
        return TrustedKeys.load(self.folder).all() if self.folder.is_dir() else []

    def export(self, destination: Path) -> list[Path]:
        """Copy the public key files (never the private ones) into ``destination``."""
        destination.mkdir(parents=True, exist_ok=True)
        written = []
        for key in self.public_keys():
            path = destination / f"{_file_stem(key.signs_for)}-{key.key_id[:8]}.pub"
            path.write_text(json.dumps(key.to_json(), indent=2) + "\n")
            written.append(path)
        return written

    def _write_public(self, key: PublicKey) -> None:
        path = self.folder / f"{_file_stem(key.signs_for)}.pub"
        partial = path.with_suffix(f".pub.{os.getpid()}.tmp")
        partial.write_text(json.dumps(key.to_json(), indent=2) + "\n")
        partial.replace(path)

    def _load(self, signs_for: str) -> SigningKey | None:
        if signs_for in self._loaded:
            return self._loaded[signs_for]
        private = self.folder / f"{_file_stem(signs_for)}.key"
        if not private.exists():
            return None
        mode = stat.S_IMODE(private.stat().st_mode)
        if mode & 0o077:
            raise KeyProblem(
                f"private key {private} can be read by others (mode {mode:04o}); run "
                f"chmod 600 {private}, and make a new key if others may have copied it"
            )
        seed = _unpem(private.read_text(), "PRIVATE KEY", _PKCS8_PREFIX, private)
        public = self.folder / f"{_file_stem(signs_for)}.pub"
        stated = None
        if public.exists():
            stated = PublicKey.from_json(json.loads(public.read_text()), where=str(public))
        key = SigningKey(
            seed,
            signs_for=signs_for,
            created=stated.created if stated else "",
            host=stated.host if stated else "",
        )
        if stated is None or stated.public_key != key.public.public_key:
            self._write_public(key.public)  # the private key is the truth; the .pub derives
        self._loaded[signs_for] = key
        return key


class TrustedKeys:
    """The public keys a verifier accepts signatures from, by key id."""

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys: dict[str, PublicKey] = {}
        for key in keys:
            self.add(key)

    def add(self, key: PublicKey) -> None:
        """Trust ``key`` too."""
        self._keys[key.key_id] = key

    def get(self, key_id: str) -> PublicKey | None:
        """The trusted key with this id, if any."""
        return self._keys.get(key_id)

    def all(self) -> list[PublicKey]:
        """Every trusted key, by id."""
        return [self._keys[k] for k in sorted(self._keys)]

    def __len__(self) -> int:
        return len(self._keys)

    @classmethod
    def load(cls, *folders: Path) -> TrustedKeys:
        """The ``*.pub`` files in ``folders`` (a folder that does not exist adds nothing).

        Raises:
            KeyProblem: a ``.pub`` file is not a CFL public key (naming it).
        """
        trusted = cls()
        for folder in folders:
            if folder.is_file():
                paths = [folder]
            elif folder.is_dir():
                paths = sorted(folder.glob("*.pub"))
            else:
                continue
            for path in paths:
                try:
                    value = json.loads(path.read_text())
                except (OSError, ValueError) as exc:
                    raise KeyProblem(f"cannot read public key {path}: {exc}") from exc
                trusted.add(PublicKey.from_json(value, where=str(path)))
        return trusted
