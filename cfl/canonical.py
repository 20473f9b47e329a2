"""Canonical JSON: the exact bytes the ledger hashes.

Keys are sorted, separators carry no whitespace, text is UTF-8, and NaN or infinity are refused
(JSON has no spelling for them, and a record that cannot be re-read exactly cannot be verified).
Floats are written by Python's shortest round-trip ``repr``, so a value read back and written again
gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "sha256_hex"]


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
"""One encoder for every call: ``json.dumps`` with options builds a new one each time."""


def canonical_json(value: Any) -> str:
    """Serialise ``value`` to canonical JSON text.

    Raises:
        ValueError: ``value`` holds NaN, infinity, or something JSON cannot carry.
        TypeError: ``value`` holds something JSON has no type for.
    """
    return _ENCODER.encode(value)


def sha256_hex(text: str) -> str:
    """SHA-256 of the UTF-8 bytes of ``text``, as 64 lowercase hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
