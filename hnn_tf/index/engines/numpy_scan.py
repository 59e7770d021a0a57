"""Engine ``numpy``: XOR against the packed codes and ``numpy.bitwise_count``; the fallback without faiss."""

from __future__ import annotations

import numpy as np

from hnn_tf.index.engines.base import SearchEngine, register_engine


@register_engine
class NumpyScanEngine(SearchEngine):
    """Exact search by a numpy scan, viewing codes as uint64 words when Q is a multiple of 64."""

    name = "numpy"
    preference = 10

    def __init__(self, codes, bits):
        super().__init__(codes, bits)
        self.words = codes.view(np.uint64) if codes.shape[1] % 8 == 0 else None

    def distances(self, row: np.ndarray) -> np.ndarray:
        """Distances of one packed query to every code, (N,) integers."""
        if self.words is not None:
            q = row.view(np.uint64)
            if q.size == 1:
                return np.bitwise_count(self.words[:, 0] ^ q[0])
            return np.bitwise_count(self.words ^ q).sum(axis=1, dtype=np.int32)
        return np.bitwise_count(self.codes ^ row).sum(axis=1, dtype=np.int32)

    def search(self, rows, k):
        n = len(self.codes)
        dist = np.full((len(rows), k), -1, dtype=np.int64)
        pos = np.full((len(rows), k), -1, dtype=np.int64)
        for qi, row in enumerate(rows):
            d = self.distances(row)
            if k >= n:
                order = np.argsort(d, kind="stable")
            else:
                # the k-th smallest distance from a histogram, then every code at most that far
                counts = np.bincount(d, minlength=self.bits + 1)
                kth = int(np.searchsorted(np.cumsum(counts), k))
                cand = np.flatnonzero(d <= kth)
                order = cand[np.argsort(d[cand], kind="stable")[:k]]
            m = order.size
            dist[qi, :m] = d[order]
            pos[qi, :m] = order
        return dist, pos

    def within(self, row, radius):
        dist = self.distances(row)
        pos = np.flatnonzero(dist <= radius)
        d = dist[pos].astype(np.int64)
        order = np.argsort(d, kind="stable")
        return d[order], pos[order].astype(np.int64)
