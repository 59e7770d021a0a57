"""Binary model codes: :class:`ModelHash` and batch Hamming distances (paper section 3.1).

A value type at the bottom of the project: it depends on numpy and on :mod:`hnn_tf.errors`
(the error hierarchy, itself a leaf) only, so comparing codes (evaluation, the registry, the
CLI) never loads the hashing pipeline.

A model's code is a Q-bit binary vector ``h``; two codes are compared by the Hamming
distance ``HAMMING(h1, h2) = ||h1 XOR h2||_1`` (paper 3.1). The class follows the style of
the ``imagehash`` library: ``str(h)`` is hexadecimal and ``h1 - h2`` is the distance.

Versions. Every code carries the version of the hasher that produced it (a string), or
``None`` when the version is unknown ("unversioned", e.g. a code typed in as hex). The
comparison rule, applied by ``h1 - h2``, :func:`check_comparable` and :func:`stack_codes`:

* codes of different bit lengths are never compared (:class:`~hnn_tf.errors.HashError`);
* two codes with two *different known* versions are never compared (``HashError``);
* an unversioned code may be compared with a code of any version: the caller who drops
  the version vouches that the code came from the same hasher.

Equality (``==``) is value identity: same length, same bits *and* same version (``None``
equals only ``None``), so ``==`` and ``hash()`` agree and are transitive. To ask whether
two comparable codes carry the same bits regardless of version, use ``h1 - h2 == 0``.

Bit order. Bit 0 is the most significant bit of the first hex digit: the code
``[1, 0, 0, ..., 0]`` of 64 bits is ``"8000000000000000"``. ``to_int()`` reads the bits
as one big-endian unsigned integer and ``to_bytes()`` writes that integer big-endian.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hnn_tf.errors import HashError

__all__ = ["ModelHash", "ModelReport", "check_comparable", "hamming_matrix", "stack_codes"]

_HEX_DIGITS = frozenset(string.hexdigits)

# Largest number of uint8 cells the XOR temporary of hamming_matrix may hold at once.
_HAMMING_CHUNK_CELLS = 1 << 24


def _as_bits(array: Any, what: str) -> np.ndarray:
    """Return ``array`` as a bool ndarray, refusing values other than 0 and 1.

    Args:
        array: array-like of bool, integers or floats, each 0 or 1.
        what: how the message names the input (e.g. ``"codes_a"``).

    Returns:
        np.ndarray of dtype bool, same shape as ``array`` (a new array).

    Raises:
        HashError: the input is not numeric/bool or holds a value other than 0 and 1.
    """
    try:
        arr = np.asarray(array)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise HashError(f"{what}: not an array of bits ({exc})") from None
    if arr.dtype == np.bool_:
        return arr.copy()
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise HashError(f"{what}: bits must be bool or 0/1 numbers, got dtype {arr.dtype}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = arr[~np.isin(arr, (0, 1))].ravel()[0]
        raise HashError(f"{what}: bits must be 0 or 1, found {bad!r}")
    return arr.astype(bool)


def _check_version(hasher_version: Any) -> str | None:
    """Validate a hasher version: a non-empty string, or ``None`` for "unversioned".

    Raises:
        HashError: anything else.
    """
    if hasher_version is None:
        return None
    if not isinstance(hasher_version, str) or not hasher_version.strip():
        raise HashError(
            f"hasher_version must be a non-empty string or None (unversioned), got {hasher_version!r}"
        )
    return hasher_version


def _check_length(q: int, what: str) -> None:
    """Refuse a bit length that is not a positive multiple of 4 (one hex digit = 4 bits)."""
    if q <= 0 or q % 4:
        raise HashError(f"{what}: a code must have a positive multiple of 4 bits, got {q}")


class ModelHash:
    """A Q-bit binary code of a model, tagged with the version of the hasher that made it.

    Paper section 3.1: the hasher maps a model to ``h`` in {0,1}^Q; models are compared by
    ``HAMMING(h1, h2) = ||h1 XOR h2||_1``. Instances are immutable and hashable.

    Args:
        code: array-like of shape (Q,), bool or 0/1 numbers; Q a positive multiple of 4.
        hasher_version: the hasher's version string, or ``None`` for an unversioned code
            (see the module docstring for how versions are compared).

    Attributes:
        bits (int): Q, the code length in bits.
        code (np.ndarray): shape (Q,), dtype bool, read-only.
        hasher_version (str | None): the hasher's version, ``None`` if unknown.

    Raises:
        HashError: ``code`` is not 1-D, holds values other than 0/1, has a length that is
            not a positive multiple of 4, or ``hasher_version`` is not a non-empty string/None.

    Example:
        >>> h = ModelHash([1] + [0] * 63, "v1")
        >>> str(h)
        '8000000000000000'
        >>> h - ModelHash.from_hex("0000000000000001", hasher_version="v1")
        2
    """

    __slots__ = ("_code", "_version", "_packed")

    def __init__(self, code: Any, hasher_version: str | None):
        arr = _as_bits(code, "ModelHash code")
        if arr.ndim != 1:
            raise HashError(f"ModelHash code must be 1-D of shape (Q,), got shape {arr.shape}")
        _check_length(arr.size, "ModelHash code")
        arr.setflags(write=False)
        self._code = arr
        self._version = _check_version(hasher_version)
        self._packed = np.packbits(arr).tobytes()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_bits(cls, array: Any, hasher_version: str | None) -> ModelHash:
        """Build a code from a bit vector; the same as ``ModelHash(array, hasher_version)``.

        Args:
            array: shape (Q,), bool or 0/1 numbers.
            hasher_version: version string, or ``None`` for unversioned.

        Raises:
            HashError: as for the constructor.
        """
        return cls(array, hasher_version)

    @classmethod
    def from_hex(cls, text: str, bits: int | None = None, hasher_version: str | None = None) -> ModelHash:
        """Parse a code written as hex (the form ``str(h)`` gives).

        Args:
            text: Q/4 hexadecimal digits, either case; surrounding whitespace is ignored;
                no ``0x`` prefix.
            bits: Q; by default ``4 * len(text)``. When given, the text must have exactly
                ``bits / 4`` digits.
            hasher_version: the version the code belongs to. The default ``None`` makes an
                unversioned code, which may be compared with a code of any version (see the
                module docstring); pass the version when it is known.

        Returns:
            ModelHash with ``str(result) == text.strip().lower()``.

        Raises:
            HashError: ``text`` is not a string, is empty, holds a non-hex character, or its
                length does not match ``bits``; ``bits`` is not a positive multiple of 4.
        """
        if not isinstance(text, str):
            raise HashError(f"hex code must be a string, got {type(text).__name__}")
        digits = text.strip()
        if not digits:
            raise HashError("hex code is empty")
        bad = [c for c in digits if c not in _HEX_DIGITS]
        if bad:
            raise HashError(f"hex code {text!r} is not hexadecimal (bad character {bad[0]!r})")
        if bits is None:
            q = 4 * len(digits)
        else:
            if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
                raise HashError(f"bits must be an integer, got {bits!r}")
            q = int(bits)
            _check_length(q, f"hex code {text!r}")
            if len(digits) != q // 4:
                raise HashError(
                    f"hex code {text!r} has {len(digits)} digits; a {q}-bit code needs {q // 4}"
                )
        return cls._from_int(int(digits, 16), q, hasher_version)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelHash:
        """Rebuild a code from :meth:`to_dict` output (e.g. read back from JSON).

        Args:
            data: mapping with ``"hex"``, ``"bits"`` and ``"hasher_version"`` (may be null).

        Raises:
            HashError: a key is missing or the values are inconsistent.
        """
        if not isinstance(data, Mapping):
            raise HashError(f"a code record must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("hex", "bits", "hasher_version") if k not in data]
        if missing:
            raise HashError(f"code record lacks {', '.join(missing)}")
        return cls.from_hex(data["hex"], bits=data["bits"], hasher_version=data["hasher_version"])

    @classmethod
    def _from_int(cls, value: int, q: int, hasher_version: str | None) -> ModelHash:
        """Build a Q-bit code from an unsigned integer whose bit Q-1 is code bit 0."""
        raw = np.frombuffer(value.to_bytes((q + 7) // 8, "big"), dtype=np.uint8)
        return cls(np.unpackbits(raw)[-q:], hasher_version)

    # -- attributes ---------------------------------------------------------------------

    @property
    def bits(self) -> int:
        """Q, the code length in bits."""
        return int(self._code.size)

    @property
    def code(self) -> np.ndarray:
        """The code: shape (Q,), dtype bool, read-only."""
        return self._code

    @property
    def hasher_version(self) -> str | None:
        """Version of the hasher that made the code; ``None`` means unversioned."""
        return self._version

    # -- conversions --------------------------------------------------------------------

    def to_int(self) -> int:
        """The bits as one unsigned integer, bit 0 most significant (range 0 .. 2**Q - 1)."""
        pad = (-self.bits) % 8  # np.packbits pads the last byte with zeros at the end
        return int.from_bytes(self._packed, "big") >> pad

    def to_bytes(self) -> bytes:
        """``to_int()`` written big-endian in ceil(Q/8) bytes (Q/8 when Q is a multiple of 8).

        When Q is not a multiple of 8 the first byte carries 4 leading zero bits, so that
        ``to_bytes().hex()`` is ``str(h)`` left-padded with one ``0``.
        """
        return self.to_int().to_bytes((self.bits + 7) // 8, "big")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: ``{"bits": Q, "hex": str(self), "hasher_version": str | None}``."""
        return {"bits": self.bits, "hex": str(self), "hasher_version": self._version}

    def __str__(self) -> str:
        return format(self.to_int(), f"0{self.bits // 4}x")

    def __repr__(self) -> str:
        return f"ModelHash(bits={self.bits}, hex={str(self)!r}, hasher_version={self._version!r})"

    def __len__(self) -> int:
        return self.bits

    # -- comparison ---------------------------------------------------------------------

    def __sub__(self, other: ModelHash) -> int:
        """Hamming distance ``||self XOR other||_1`` (paper 3.1), an int in 0..Q.

        Raises:
            HashError: the codes differ in length or carry two different known versions.
        """
        if not isinstance(other, ModelHash):
            return NotImplemented
        check_comparable(self, other)
        return int(np.count_nonzero(self._code != other._code))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelHash):
            return NotImplemented
        return (
            self.bits == other.bits
            and self._version == other._version
            and self._packed == other._packed
        )

    def __hash__(self) -> int:
        return hash((self.bits, self._packed, self._version))


def check_comparable(h1: ModelHash, h2: ModelHash) -> None:
    """Raise unless two codes may be compared (rule in the module docstring).

    Args:
        h1, h2: the codes.

    Raises:
        HashError: different bit lengths, or two different known hasher versions.
    """
    if h1.bits != h2.bits:
        raise HashError(
            f"cannot compare a {h1.bits}-bit code ({h1}) with a {h2.bits}-bit code ({h2}): "
            "hash both models with the same --bits"
        )
    v1, v2 = h1.hasher_version, h2.hasher_version
    if v1 is not None and v2 is not None and v1 != v2:
        raise HashError(
            f"cannot compare codes of hasher version {v1!r} and {v2!r}: "
            "hash both models with the same hasher"
        )


def stack_codes(hashes: Iterable[ModelHash]) -> tuple[np.ndarray, str | None]:
    """Stack comparable codes into one matrix for :func:`hamming_matrix`.

    Args:
        hashes: one or more :class:`ModelHash`, all of the same length and with at most
            one known hasher version among them (unversioned codes are allowed).

    Returns:
        (codes, version): codes of shape (N, Q), dtype bool; version is the one known
        version among the inputs, or ``None`` if all are unversioned.

    Raises:
        HashError: empty input, a non-ModelHash item, or codes that are not comparable.
    """
    items = list(hashes)
    if not items:
        raise HashError("no codes to stack")
    for i, h in enumerate(items):
        if not isinstance(h, ModelHash):
            raise HashError(f"item {i} is a {type(h).__name__}, not a ModelHash")
    first_known = next((h for h in items if h.hasher_version is not None), items[0])
    for h in items:
        check_comparable(first_known, h)
    return np.stack([h.code for h in items]), first_known.hasher_version


def _as_code_matrix(codes: Any, what: str) -> np.ndarray:
    """Validate an (N, Q) bit matrix and return it as bool; HashError otherwise."""
    arr = _as_bits(codes, what)
    if arr.ndim != 2:
        raise HashError(f"{what} must be a 2-D (N, Q) array of bits, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise HashError(f"{what} has codes of 0 bits")
    return arr


def hamming_matrix(codes_a: Any, codes_b: Any) -> np.ndarray:
    """All pairwise Hamming distances between two sets of codes (paper 3.1).

    Codes are packed 8 bits per byte (``np.packbits``), XORed and their set bits counted
    with ``np.bitwise_count`` (numpy >= 2). Work is done in row blocks so the XOR
    temporary stays below about 16 MiB.

    Args:
        codes_a: shape (Na, Q), bool or 0/1 integers/floats.
        codes_b: shape (Nb, Q), same Q.

    Returns:
        np.ndarray of shape (Na, Nb), dtype int64: entry (i, j) is the number of bit
        positions where ``codes_a[i]`` and ``codes_b[j]`` differ (0..Q).

    Raises:
        HashError: an input is not 2-D, holds values other than 0/1, or the bit lengths differ.
    """
    a = _as_code_matrix(codes_a, "codes_a")
    b = _as_code_matrix(codes_b, "codes_b")
    if a.shape[1] != b.shape[1]:
        raise HashError(
            f"cannot compare {a.shape[1]}-bit codes (codes_a) with {b.shape[1]}-bit codes (codes_b)"
        )
    pa = np.packbits(a, axis=1)
    pb = np.packbits(b, axis=1)
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.int64)
    per_row = max(1, b.shape[0] * pb.shape[1])
    step = max(1, _HAMMING_CHUNK_CELLS // per_row)
    for start in range(0, a.shape[0], step):
        block = np.bitwise_xor(pa[start : start + step, None, :], pb[None, :, :])
        out[start : start + step] = np.bitwise_count(block).sum(axis=2, dtype=np.int64)
    return out


@dataclass
class ModelReport:
    """A model's code and the graph facts behind it (what ``hnn hash --json`` prints).

    Attributes:
        hash: the :class:`ModelHash`.
        framework: the converter that read the model (``"pytorch"``, ``"keras"``, ``"onnx"``...).
        nodes: N, layers in the hashed (canonical, merged per the hasher) graph.
        edges: E, dataflow edges of that graph.
        flops: total FLOPs on the trigger input (2 x multiply-adds).
        params: total trainable parameters.
        sha256: 64 hex digits: of the file's bytes, or, for a model object, of its ONNX export
            serialised deterministically (None where not computed).
    """

    hash: ModelHash
    framework: str
    nodes: int
    edges: int
    flops: int
    params: int
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: framework, bits, hash (hex), nodes, edges, flops, params, hasher_version, sha256."""
        return {
            "framework": self.framework,
            "bits": self.hash.bits,
            "hash": str(self.hash),
            "nodes": self.nodes,
            "edges": self.edges,
            "flops": self.flops,
            "params": self.params,
            "hasher_version": self.hash.hasher_version,
            "sha256": self.sha256,
        }
