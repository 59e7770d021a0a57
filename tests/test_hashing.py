"""ModelHash (hex, Hamming distance, versions) and hamming_matrix (paper section 3.1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hnn_tf import codes as codes_module
from hnn_tf.errors import HashError, HNNError
from hnn_tf.codes import ModelHash, check_comparable, hamming_matrix, stack_codes

RNG_SEED = 1234


def random_code(q: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 2, size=q).astype(bool)


# -- hex form ---------------------------------------------------------------------------


def test_first_bit_is_most_significant_hex_digit():
    h = ModelHash([1] + [0] * 63, "v1")
    assert str(h) == "8000000000000000"
    assert h.to_int() == 2**63
    assert h.to_bytes() == b"\x80" + bytes(7)


def test_last_bit_is_least_significant():
    h = ModelHash([0] * 63 + [1], "v1")
    assert str(h) == "0000000000000001"
    assert h.to_int() == 1
    assert h.to_bytes() == bytes(7) + b"\x01"


def test_nibble_pattern():
    # 1010 0101 1111 0000 -> a 5 f 0
    bits = [1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    h = ModelHash(bits, None)
    assert str(h) == "a5f0"
    assert h.bits == 16 and len(h) == 16
    assert ModelHash.from_hex("A5F0").code.tolist() == [bool(b) for b in bits]


@pytest.mark.parametrize("q", [4, 12, 16, 32, 64, 128])
def test_hex_round_trip(q):
    rng = np.random.default_rng(RNG_SEED + q)
    for _ in range(20):
        code = random_code(q, rng)
        versioned = ModelHash.from_bits(code, "hasher-1.0")
        text = str(versioned)
        assert len(text) == q // 4
        assert text == text.lower()
        assert ModelHash.from_hex(text, hasher_version="hasher-1.0") == versioned
        assert ModelHash.from_hex(text, bits=q, hasher_version="hasher-1.0") == versioned
        unversioned = ModelHash(code, None)
        assert ModelHash.from_hex(str(unversioned)) == unversioned
        # to_int computed independently from the bits, bit 0 most significant
        expected_int = sum(int(b) << (q - 1 - i) for i, b in enumerate(code))
        assert versioned.to_int() == expected_int
        raw = versioned.to_bytes()
        assert len(raw) == (q + 7) // 8
        assert int.from_bytes(raw, "big") == expected_int


def test_from_hex_ignores_case_and_surrounding_whitespace():
    h = ModelHash.from_hex("  DEADbeef\n")
    assert str(h) == "deadbeef"
    assert h.bits == 32
    assert h.hasher_version is None


@pytest.mark.parametrize(
    "text, bits",
    [
        ("xyz0", None),  # not hex
        ("12g4", None),  # one bad digit
        ("", None),  # empty
        ("   ", None),  # only whitespace
        ("0x12", None),  # prefix is not accepted
        ("12 34", None),  # inner whitespace
        ("１２", None),  # non-ASCII digits that int() would accept
        ("1_2", None),  # underscore that int() would accept
        ("abc", 16),  # too short for 16 bits
        ("abcde", 16),  # too long for 16 bits
        ("ab", 6),  # bits not a multiple of 4
        ("ab", 0),
    ],
)
def test_malformed_hex_raises(text, bits):
    with pytest.raises(HashError):
        ModelHash.from_hex(text, bits=bits)


def test_from_hex_length_message_names_the_counts():
    with pytest.raises(HashError, match=r"3 digits.*16-bit.*4"):
        ModelHash.from_hex("abc", bits=16)


def test_from_hex_refuses_non_string():
    with pytest.raises(HashError):
        ModelHash.from_hex(b"abcd")  # type: ignore[arg-type]


def test_hash_error_is_an_hnn_error():
    with pytest.raises(HNNError):
        ModelHash.from_hex("zz")


# -- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        np.zeros((2, 8), dtype=bool),  # not 1-D
        [0, 1, 2, 0],  # value 2
        [0.5, 1, 0, 0],  # value 0.5
        [1, 0, 1],  # 3 bits: not a multiple of 4
        [],  # no bits
        ["1", "0", "1", "0"],  # strings
    ],
)
def test_constructor_refuses_bad_codes(code):
    with pytest.raises(HashError):
        ModelHash(code, "v1")


@pytest.mark.parametrize("version", ["", "  ", 3, b"v1"])
def test_constructor_refuses_bad_versions(version):
    with pytest.raises(HashError):
        ModelHash([0, 1, 0, 1], version)


def test_code_is_read_only_copy():
    src = np.array([1, 0, 0, 0, 1, 1, 1, 1], dtype=np.uint8)
    h = ModelHash(src, "v1")
    src[0] = 0  # changing the source does not change the code
    assert str(h) == "8f"
    assert h.code.dtype == np.bool_ and h.code.shape == (8,)
    with pytest.raises(ValueError):
        h.code[0] = False


def test_repr_shows_bits_hex_and_version():
    r = repr(ModelHash.from_hex("00ff", hasher_version="v2"))
    assert "bits=16" in r and "'00ff'" in r and "'v2'" in r


def test_to_dict_is_json_and_round_trips():
    h = ModelHash.from_hex("0123456789abcdef", hasher_version="v3")
    d = json.loads(json.dumps(h.to_dict()))
    assert d == {"bits": 64, "hex": "0123456789abcdef", "hasher_version": "v3"}
    assert ModelHash.from_dict(d) == h
    with pytest.raises(HashError):
        ModelHash.from_dict({"hex": "00"})


# -- distance and equality --------------------------------------------------------------


def test_subtraction_is_count_of_differing_bits():
    rng = np.random.default_rng(RNG_SEED)
    for q in (4, 16, 64, 256):
        for _ in range(20):
            a, b = random_code(q, rng), random_code(q, rng)
            expected = sum(1 for x, y in zip(a.tolist(), b.tolist()) if x != y)
            d = ModelHash(a, "v1") - ModelHash(b, "v1")
            assert d == expected
            assert type(d) is int
            assert ModelHash(b, "v1") - ModelHash(a, "v1") == expected


def test_known_distances():
    zero = ModelHash.from_hex("0000")
    assert zero - ModelHash.from_hex("ffff") == 16
    assert zero - ModelHash.from_hex("8001") == 2
    assert zero - zero == 0


def test_different_bit_lengths_are_refused():
    with pytest.raises(HashError, match="64-bit.*32-bit"):
        ModelHash.from_hex("0" * 16, hasher_version="v1") - ModelHash.from_hex("0" * 8, hasher_version="v1")


def test_different_versions_are_refused():
    a = ModelHash.from_hex("00ff", hasher_version="v1")
    b = ModelHash.from_hex("00ff", hasher_version="v2")
    with pytest.raises(HashError, match="'v1'.*'v2'"):
        a - b
    with pytest.raises(HashError):
        check_comparable(b, a)


def test_unversioned_code_compares_with_any_version():
    a = ModelHash.from_hex("00ff", hasher_version="v1")
    b = ModelHash.from_hex("00fe")  # unversioned
    c = ModelHash.from_hex("00fc", hasher_version="v2")
    assert a - b == 1
    assert b - c == 1
    assert b - a == 1


def test_subtracting_a_non_hash_is_a_type_error():
    with pytest.raises(TypeError):
        ModelHash.from_hex("00") - 3  # type: ignore[operator]


def test_equality_and_hash_agree():
    a1 = ModelHash.from_hex("1234", hasher_version="v1")
    a2 = ModelHash.from_bits(a1.code.astype(np.uint8), "v1")
    other_bits = ModelHash.from_hex("1235", hasher_version="v1")
    other_version = ModelHash.from_hex("1234", hasher_version="v2")
    unversioned = ModelHash.from_hex("1234")
    assert a1 == a2 and hash(a1) == hash(a2)
    assert a1 != other_bits
    assert a1 != other_version  # equality includes the version ...
    assert a1 != unversioned
    assert a1 - unversioned == 0  # ... while the distance says the bits match
    assert len({a1, a2, other_bits, other_version, unversioned}) == 4
    assert ModelHash.from_hex("0" * 4) != ModelHash.from_hex("0" * 8)
    assert a1 != "1234"


def test_stack_codes():
    a = ModelHash.from_hex("0f", hasher_version="v1")
    b = ModelHash.from_hex("f0")
    codes, version = stack_codes([b, a])
    assert version == "v1"
    assert codes.shape == (2, 8) and codes.dtype == np.bool_
    assert codes[0].tolist() == b.code.tolist() and codes[1].tolist() == a.code.tolist()
    assert stack_codes([b])[1] is None
    with pytest.raises(HashError):
        stack_codes([a, ModelHash.from_hex("0f", hasher_version="v2")])
    with pytest.raises(HashError):
        stack_codes([a, ModelHash.from_hex("0f0f", hasher_version="v1")])
    with pytest.raises(HashError):
        stack_codes([])


# -- hamming_matrix ---------------------------------------------------------------------


def naive_hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)), dtype=np.int64)
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = sum(1 for x, y in zip(a[i].tolist(), b[j].tolist()) if bool(x) != bool(y))
    return out


@pytest.mark.parametrize("q", [1, 7, 16, 64, 100])
def test_hamming_matrix_matches_double_loop(q):
    rng = np.random.default_rng(RNG_SEED + q)
    a = rng.integers(0, 2, size=(13, q)).astype(bool)
    b = rng.integers(0, 2, size=(9, q)).astype(np.uint8)
    d = hamming_matrix(a, b)
    assert d.shape == (13, 9) and d.dtype == np.int64
    np.testing.assert_array_equal(d, naive_hamming(a, b))
    np.testing.assert_array_equal(hamming_matrix(b, a), d.T)


def test_hamming_matrix_agrees_with_model_hash():
    rng = np.random.default_rng(RNG_SEED)
    hashes = [ModelHash(random_code(32, rng), "v1") for _ in range(6)]
    codes, _ = stack_codes(hashes)
    d = hamming_matrix(codes, codes)
    for i, hi in enumerate(hashes):
        for j, hj in enumerate(hashes):
            assert d[i, j] == hi - hj


def test_hamming_matrix_in_several_blocks(monkeypatch):
    # force blocks of a few rows so the chunked path is exercised
    monkeypatch.setattr(codes_module, "_HAMMING_CHUNK_CELLS", 3 * 5 * 2)
    rng = np.random.default_rng(RNG_SEED)
    a = rng.integers(0, 2, size=(11, 16))
    b = rng.integers(0, 2, size=(5, 16))
    np.testing.assert_array_equal(hamming_matrix(a, b), naive_hamming(a, b))


def test_hamming_matrix_refuses_bad_input():
    with pytest.raises(HashError, match="16-bit.*8-bit"):
        hamming_matrix(np.zeros((2, 16)), np.zeros((2, 8)))
    with pytest.raises(HashError):
        hamming_matrix(np.zeros(16), np.zeros((2, 16)))  # 1-D
    with pytest.raises(HashError):
        hamming_matrix(np.full((2, 4), 2), np.zeros((2, 4)))  # value 2
