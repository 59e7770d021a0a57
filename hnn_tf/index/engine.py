"""Exact Hamming search over stored codes: top-k and radius queries (paper 3.1, Figure 1).

:class:`HammingIndex` holds the codes of one kind (bit length, hasher version) with their ids
and answers queries through a registered engine (:mod:`hnn_tf.index.engines`: ``"faiss"``,
faiss ``IndexBinaryFlat``; ``"numpy"``, a ``numpy.bitwise_count`` scan where faiss is missing).

Result order, for every engine: increasing distance, ties broken by increasing id (=
insertion order, since the ids given to :class:`HammingIndex` must increase). A test checks
that the engines give identical neighbours and order.

Codes are packed as :meth:`hnn_tf.hashing.ModelHash.to_bytes` writes them: ceil(Q/8) bytes,
big-endian, with 4 leading zero bits when Q is not a multiple of 8 (the padding is zero in
every code, so it never adds to a distance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hnn_tf.codes import ModelHash, check_comparable
from hnn_tf.errors import HashError, HNNError
from hnn_tf.index.engines import ENGINES as _REGISTRY
from hnn_tf.index.engines import available_engines, resolve_engine

__all__ = ["ENGINES", "HammingIndex", "Neighbours", "available_engines", "resolve_engine"]

#: The registered engine names, in order of preference.
ENGINES = tuple(sorted(_REGISTRY, key=lambda n: _REGISTRY[n].preference))


@dataclass(frozen=True)
class Neighbours:
    """The answer to one query, nearest first (ties by increasing id).

    Attributes:
        distances: int64 (m,), Hamming distances in 0..Q.
        ids: int64 (m,), the ids of the matching codes.
    """

    distances: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.size)


class HammingIndex:
    """An in-memory, exact Hamming index of N codes of one kind (bit length and hasher version).

    Args:
        packed: uint8 array of shape (N, ceil(Q/8)), rows as ``ModelHash.to_bytes()``.
        ids: int64-compatible array of shape (N,), strictly increasing (insertion order).
        bits: Q.
        hasher_version: the version all codes were made by (``None`` for unversioned codes).
        engine: ``"auto"`` or a registered engine's name (see :func:`resolve_engine`).

    Attributes:
        bits (int): Q; nbytes (int): ceil(Q/8), bytes a packed code.
        ids (np.ndarray): int64 (N,), the ids returned by queries.
        hasher_version (str | None): the codes' hasher version.
        engine (str): the registered engine in use (``"faiss"``, ``"numpy"``).

    Raises:
        HashError: ``packed`` has the wrong shape or dtype for Q bits.
        HNNError: ``ids`` are not strictly increasing or have the wrong length; bad engine.
    """

    def __init__(self, packed: Any, ids: Any, bits: int, hasher_version: str | None, engine: str = "auto"):
        self.bits = int(bits)
        self.nbytes = (self.bits + 7) // 8
        codes = np.ascontiguousarray(packed, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] != self.nbytes:
            raise HashError(f"packed {self.bits}-bit codes must have shape (N, {self.nbytes}), got {codes.shape}")
        self.ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.ids.shape != (codes.shape[0],):
            raise HNNError(f"ids must have shape ({codes.shape[0]},), got {self.ids.shape}")
        if self.ids.size > 1 and not (np.diff(self.ids) > 0).all():
            raise HNNError("ids must be strictly increasing (insertion order breaks ties)")
        self.hasher_version = hasher_version
        self.engine = resolve_engine(engine)
        self._codes = codes
        self._impl = _REGISTRY[self.engine](codes, self.bits)

    @classmethod
    def from_hashes(cls, hashes: Sequence[ModelHash], ids: Any = None, engine: str = "auto") -> "HammingIndex":
        """Build an index from comparable codes (ids default to 0..N-1).

        Raises:
            HashError: empty input or codes that may not be compared (length, version).
        """
        from hnn_tf.codes import stack_codes

        _, version = stack_codes(hashes)
        packed = np.frombuffer(b"".join(h.to_bytes() for h in hashes), dtype=np.uint8).reshape(len(hashes), -1)
        return cls(packed, np.arange(len(hashes)) if ids is None else ids, hashes[0].bits, version, engine)

    def __len__(self) -> int:
        return int(self.ids.size)

    # -- queries --------------------------------------------------------------------------

    def _query_rows(self, query: Any) -> np.ndarray:
        """Queries as packed uint8 rows (nq, nbytes), after refusing codes of another kind."""
        if isinstance(query, ModelHash):
            query = [query]
        if isinstance(query, np.ndarray) and query.dtype == np.uint8:
            rows = np.atleast_2d(query)
            if rows.ndim != 2 or rows.shape[1] != self.nbytes:
                raise HashError(f"packed queries must have {self.nbytes} bytes a row for {self.bits}-bit codes, "
                                f"got shape {query.shape}")
            return np.ascontiguousarray(rows)
        hashes = list(query)
        ref = ModelHash(np.zeros(self.bits, dtype=bool), self.hasher_version)
        for h in hashes:
            if not isinstance(h, ModelHash):
                raise HashError(f"a query must be a ModelHash, got {type(h).__name__}")
            if h.bits != self.bits:
                raise HashError(f"cannot compare a {h.bits}-bit code ({h}) with the index's {self.bits}-bit codes")
            check_comparable(ref, h)
        if not hashes:
            return np.zeros((0, self.nbytes), dtype=np.uint8)
        return np.frombuffer(b"".join(h.to_bytes() for h in hashes), dtype=np.uint8).reshape(len(hashes), self.nbytes)

    def search(self, query: Any, k: int = 10) -> Neighbours:
        """The k nearest codes to one query.

        Args:
            query: a :class:`ModelHash` of the index's length and (known) version, or one packed
                row (uint8, ceil(Q/8) bytes) taken to be of the index's kind.
            k: how many neighbours (>= 1); fewer come back when the index holds fewer codes.
        Returns:
            Neighbours, min(k, N) long, nearest first, ties by increasing id.
        Raises:
            HashError: a code of another length or hasher version; HNNError: k < 1.
        """
        d, i = self.search_batch(query, k)
        keep = i[0] >= 0
        return Neighbours(d[0][keep], i[0][keep])

    def search_batch(self, queries: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-k for several queries.

        Args:
            queries: a sequence of :class:`ModelHash` (or packed uint8 rows of shape (nq, ceil(Q/8))).
            k: neighbours per query (>= 1).
        Returns:
            (distances, ids): int64 arrays of shape (nq, min(k, max(N, 1))), each row nearest
            first with ties by increasing id; with no code at all the row is -1.
        Raises:
            HashError: codes of another kind; HNNError: k < 1.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise HNNError(f"k must be a positive integer, got {k!r}")
        rows = self._query_rows(queries)
        nq, n = len(rows), len(self)
        k = min(int(k), max(n, 1))  # never more slots than codes: k may be any positive int
        dist = np.full((nq, k), -1, dtype=np.int64)
        ids = np.full((nq, k), -1, dtype=np.int64)
        if n == 0 or nq == 0:
            return dist, ids
        d, pos = self._impl.search(rows, k)
        valid = pos >= 0
        dist[valid] = d[valid]
        ids[valid] = self.ids[pos[valid]]
        return dist, ids

    def within(self, query: Any, radius: int, k: int | None = None) -> Neighbours:
        """Every code at Hamming distance <= ``radius`` from one query.

        Args:
            query: as for :meth:`search`.
            radius: the largest distance kept (0..Q; larger values keep everything).
            k: keep at most the k nearest of them (default: all).
        Returns:
            Neighbours nearest first, ties by increasing id.
        Raises:
            HashError: a code of another kind; HNNError: a negative radius or k < 1.
        """
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
            raise HNNError(f"radius must be a non-negative integer, got {radius!r}")
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise HNNError(f"k must be a positive integer, got {k!r}")
        rows = self._query_rows(query)
        if len(rows) != 1:
            raise HNNError("within() takes one query")
        if len(self) == 0:
            return Neighbours(np.zeros(0, np.int64), np.zeros(0, np.int64))
        d, pos = self._impl.within(rows[0], min(int(radius), self.bits))
        if k is not None:
            d, pos = d[:int(k)], pos[:int(k)]
        return Neighbours(np.asarray(d, dtype=np.int64), self.ids[pos])
