"""RFC 6962 Merkle trees: reference roots, hand-computed small trees, and proofs over many sizes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfl.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The Certificate Transparency reference inputs and the roots of their prefixes (RFC 6962 test
# data, as used by the CT implementations' merkle tree tests).
CT_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_LEAVES = [leaf_hash(bytes.fromhex(x)) for x in CT_INPUTS]


def _hex(path: list[bytes]) -> list[str]:
    return [p.hex() for p in path]


def test_leaf_and_node_hashes_are_prefixed_sha256() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]


def test_roots_match_the_certificate_transparency_reference() -> None:
    tree = MerkleTree(CT_LEAVES)
    for size in range(9):
        assert tree.root(size).hex() == CT_ROOTS[size], size
        assert root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


def test_reference_inclusion_and_consistency_proofs() -> None:
    tree = MerkleTree(CT_LEAVES)
    assert _hex(tree.inclusion_proof(0, 8)) == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert _hex(tree.inclusion_proof(5, 8)) == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert _hex(tree.consistency_proof(2, 8)) == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert _hex(tree.consistency_proof(6, 8)) == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]


def test_the_seven_leaf_example_of_rfc6962_section_2_1_3() -> None:
    """The RFC's figure, node by node::

                hash
               /    \\
              k      l
             / \\    / \\
            g   h  i   j
           / \\ / \\ / \\  |
           a b c d e f  d6
    """
    data = [f"d{i}".encode() for i in range(7)]
    a, b, c, d, e, f, j = (leaf_hash(x) for x in data)
    g, h, i = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    k, l_ = node_hash(g, h), node_hash(i, j)
    tree = MerkleTree([leaf_hash(x) for x in data])
    assert tree.root() == node_hash(k, l_)
    assert tree.inclusion_proof(0) == [b, h, l_]
    assert tree.inclusion_proof(3) == [c, g, l_]
    assert tree.inclusion_proof(4) == [f, j, k]
    assert tree.inclusion_proof(6) == [i, k]
    assert tree.consistency_proof(3, 7) == [c, d, g, l_]
    assert tree.consistency_proof(4, 7) == [l_]
    assert tree.consistency_proof(6, 7) == [i, j, k]
    for m, proof in [(3, [c, d, g, l_]), (4, [l_]), (6, [i, j, k])]:
        assert verify_consistency(m, 7, tree.root(m), tree.root(), proof)


LEAVES = [leaf_hash(hashlib.sha256(f"leaf {i}".encode()).digest()) for i in range(70)]
BIG = MerkleTree(LEAVES)


@pytest.mark.parametrize("size", range(70))
def test_every_proof_in_every_small_tree_verifies(size: int) -> None:
    tree_root = BIG.root(size)
    assert tree_root == root(LEAVES[:size])
    for index in range(size):
        proof = BIG.inclusion_proof(index, size)
        assert len(proof) <= max(size - 1, 0).bit_length()
        assert verify_inclusion(LEAVES[index], index, size, proof, tree_root)
        assert not verify_inclusion(LEAVES[index], index, size, proof, EMPTY_ROOT)
        if size > 1:
            other = (index + 1) % size
            assert not verify_inclusion(LEAVES[other], index, size, proof, tree_root)
            assert not verify_inclusion(LEAVES[index], other, size, proof, tree_root)
            assert not verify_inclusion(LEAVES[index], index, size, [*proof, b"\0" * 32], tree_root)
        if proof:
            assert not verify_inclusion(LEAVES[index], index, size, proof[:-1], tree_root)
            flipped = bytearray(proof[0])
            flipped[5] ^= 1
            assert not verify_inclusion(
                LEAVES[index], index, size, [bytes(flipped), *proof[1:]], tree_root
            )
    for first in range(size + 1):
        proof = BIG.consistency_proof(first, size)
        assert verify_consistency(first, size, BIG.root(first), tree_root, proof)
        if 0 < first < size:
            assert not verify_consistency(first, size, BIG.root(first), BIG.root(first), proof)
            assert not verify_consistency(first, size, tree_root, tree_root, proof)
            assert not verify_consistency(first, size, BIG.root(first), tree_root, proof[:-1])
            assert not verify_consistency(
                first, size, BIG.root(first), tree_root, [*proof, b"\1" * 32]
            )
            assert not verify_consistency(first, size, BIG.root(first), tree_root, [])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=3000))
def test_proofs_over_random_large_trees(data: st.DataObject, size: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(0, size))
    assert verify_inclusion(leaves[index], index, size, tree.inclusion_proof(index), tree.root())
    assert verify_consistency(
        first, size, tree.root(first), tree.root(), tree.consistency_proof(first)
    )
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    assert compact.size == size
    assert compact.root() == tree.root()


def test_compact_range_matches_every_prefix_and_copies_independently() -> None:
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for size, leaf in enumerate(LEAVES, start=1):
        compact.append(leaf)
        assert compact.root() == BIG.root(size)
    trial = compact.copy()
    trial.append(leaf_hash(b"extra"))
    assert compact.size == len(LEAVES) and trial.size == len(LEAVES) + 1
    assert compact.root() == BIG.root()


def test_degenerate_consistency_cases_follow_the_rfc() -> None:
    four, five = BIG.root(4), BIG.root(5)
    assert verify_consistency(4, 4, four, four, [])
    assert not verify_consistency(4, 4, four, five, [])
    assert not verify_consistency(4, 4, four, four, [b"\0" * 32])
    assert verify_consistency(0, 8, EMPTY_ROOT, BIG.root(8), [])
    assert not verify_consistency(0, 8, BIG.root(1), BIG.root(8), [])
    assert not verify_consistency(5, 4, five, four, BIG.consistency_proof(4, 5))
    assert not verify_inclusion(LEAVES[0], 8, 8, BIG.inclusion_proof(0, 8), BIG.root(8))
    assert not verify_inclusion(LEAVES[0], 0, 8, [b"\0" * 31], BIG.root(8))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="outside"):
        BIG.root(71)
    with pytest.raises(ValueError, match="not in a tree"):
        BIG.inclusion_proof(8, 8)
    with pytest.raises(ValueError, match="no consistency proof"):
        BIG.consistency_proof(9, 8)
