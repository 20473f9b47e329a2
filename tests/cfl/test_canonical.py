from __future__ import annotations

import hashlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfl.canonical import canonical_json, sha256_hex


def test_sorted_keys_no_whitespace_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": [1.5, "°C"], "c": None}) == '{"a":[1.5,"°C"],"b":1,"c":null}'
    )


def test_refuses_nan_and_infinity() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})
    with pytest.raises(ValueError):
        canonical_json([math.inf])


def test_sha256_of_known_text() -> None:
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex("°") == hashlib.sha256("°".encode()).hexdigest()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_read_back_and_written_again_gives_the_same_text(value: object) -> None:
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text
