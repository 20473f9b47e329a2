"""Signing keys: RFC 8032 vectors, key files and their permissions, who signs for whom."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cfl.errors import SpecError
from cfl.keys import INSTANCE, KeyProblem, Keyring, PublicKey, SigningKey, TrustedKeys, key_id

# RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    key = SigningKey(bytes.fromhex(secret), signs_for=INSTANCE)
    assert key.public.public_key.hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    assert key.public.verify(bytes.fromhex(message), bytes.fromhex(signature))
    assert not key.public.verify(bytes.fromhex(message) + b"x", bytes.fromhex(signature))
    assert not key.public.verify(bytes.fromhex(message), bytes.fromhex(signature)[:63])
    assert key.key_id == hashlib.sha256(bytes.fromhex(public)).hexdigest()[:32]


def test_first_use_creates_the_instance_key_with_private_permissions(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "keys"
    keyring = Keyring(folder)
    assert keyring.public_keys() == []
    key = keyring.instance()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    private, public = folder / "instance.key", folder / "instance.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    stated = json.loads(public.read_text())
    assert stated["key_id"] == key.key_id == key_id(key.public.public_key)
    assert stated["signs_for"] == "instance" and stated["algorithm"] == "ed25519"
    # Another process (a new keyring) loads the same key; init does not replace it.
    again = Keyring(folder)
    assert again.instance().key_id == key.key_id
    assert again.init() == (again.instance(), False)


def test_key_files_are_standard_pem_that_other_tools_read(tmp_path: Path) -> None:
    key = Keyring(tmp_path).instance()
    private = serialization.load_pem_private_key((tmp_path / "instance.key").read_bytes(), None)
    stated = json.loads((tmp_path / "instance.pub").read_text())
    public = serialization.load_pem_public_key(stated["public_key_pem"].encode())
    assert isinstance(public, Ed25519PublicKey)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw == key.public.public_key
    assert (
        private.public_key().public_bytes(  # type: ignore[union-attr]
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        == raw
    )
    public.verify(key.sign(b"cross-checked"), b"cross-checked")  # raises if not RFC 8032


def test_a_private_key_others_can_read_is_refused(tmp_path: Path) -> None:
    Keyring(tmp_path).instance()
    (tmp_path / "instance.key").chmod(0o644)
    with pytest.raises(KeyProblem, match="chmod 600"):
        Keyring(tmp_path).instance()


def test_people_sign_their_own_records_only_with_a_key_they_made(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path)
    instance = keyring.instance()
    assert keyring.signer_for("human:ada") is instance  # no key of her own: the instance signs
    ada, created = keyring.init("human:ada")
    assert created
    assert stat.S_IMODE((tmp_path / "human-ada.key").stat().st_mode) == 0o600
    assert Keyring(tmp_path).signer_for("human:ada").key_id == ada.key_id
    assert keyring.signer_for("human:bob") is instance
    assert keyring.signer_for("agent:gpt@1") is instance
    assert keyring.signer_for("human:not a valid id") is instance
    assert ada.public.may_sign("human:ada")
    assert not ada.public.may_sign("human:bob") and not ada.public.may_sign("cfl")
    assert not ada.public.is_instance
    assert instance.public.may_sign("human:ada") and instance.public.is_instance


@pytest.mark.parametrize("actor", ["agent:gpt", "human:", "human:a b", "cfl"])
def test_init_refuses_actors_that_cannot_own_a_key(tmp_path: Path, actor: str) -> None:
    with pytest.raises(SpecError, match="instance' or 'human:<id>'"):
        Keyring(tmp_path).init(actor)


def test_export_copies_public_keys_only_and_they_load_as_trusted(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keys")
    instance = keyring.instance()
    ada, _ = keyring.init("human:ada")
    written = keyring.export(tmp_path / "out")
    assert sorted(p.suffix for p in written) == [".pub", ".pub"]
    assert not list((tmp_path / "out").glob("*.key"))
    trusted = TrustedKeys.load(tmp_path / "out")
    assert len(trusted) == 2
    assert trusted.get(instance.key_id) == instance.public
    assert trusted.get(ada.key_id) == ada.public
    assert trusted.get("0" * 32) is None
    assert TrustedKeys.load(tmp_path / "missing").all() == []
    assert len(TrustedKeys.load(written[0])) == 1  # a single .pub file works too


def test_a_public_key_file_with_a_wrong_id_is_refused(tmp_path: Path) -> None:
    key = SigningKey.generate("instance")
    stated = key.public.to_json()
    assert PublicKey.from_json(stated) == key.public
    stated["key_id"] = "f" * 32
    (tmp_path / "x.pub").write_text(json.dumps(stated))
    with pytest.raises(KeyProblem, match="was edited"):
        TrustedKeys.load(tmp_path)
    (tmp_path / "x.pub").write_text("{not json")
    with pytest.raises(KeyProblem, match="cannot read public key"):
        TrustedKeys.load(tmp_path)
    with pytest.raises(KeyProblem, match="not a CFL public key"):
        PublicKey.from_json({"signs_for": "instance"})
