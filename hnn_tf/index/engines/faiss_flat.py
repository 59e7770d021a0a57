"""Engine ``faiss``: faiss ``IndexBinaryFlat``, an exhaustive scan with hardware popcount."""

from __future__ import annotations

import functools
from contextlib import contextmanager

import numpy as np

from hnn_tf.index.engines.base import SearchEngine, register_engine


@functools.lru_cache(maxsize=1)
def _faiss():
    """The faiss module, or None when faiss-cpu is not installed."""
    try:
        import faiss
    except ImportError:
        return None
    return faiss


@contextmanager
def single_thread(faiss, nq: int):
    """Run faiss on one thread for a single query, restoring its setting afterwards.

    A one-query scan of 1e6 codes takes about 1 ms on one core; OpenMP threads gain nothing
    there but, on a busy machine, wait for each other (measured: p90 latency 290 ms with 2
    threads vs 17 ms with 1 while both cores were busy).
    """
    if nq > 1:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@register_engine
class FaissFlatEngine(SearchEngine):
    """Exact search with faiss ``IndexBinaryFlat`` (faiss-cpu); top-k keeps the lower position among equal distances."""

    name = "faiss"
    preference = 0

    def __init__(self, codes, bits):
        super().__init__(codes, bits)
        self.index = _faiss().IndexBinaryFlat(8 * codes.shape[1])
        if len(codes):
            self.index.add(codes)

    @classmethod
    def available(cls) -> bool:
        return _faiss() is not None

    def search(self, rows, k):
        with single_thread(_faiss(), len(rows)):
            d, pos = self.index.search(rows, int(k))
        return d.astype(np.int64), pos.astype(np.int64)

    def within(self, row, radius):
        with single_thread(_faiss(), 1):
            _, d, pos = self.index.range_search(row[None, :], int(radius) + 1)  # faiss keeps distance < radius
        d = d.astype(np.int64)
        order = np.lexsort((pos, d))
        return d[order], pos[order].astype(np.int64)
