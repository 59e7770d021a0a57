"""Benchmarks of the registry and its Hamming search; prints the figures (``make bench``).

- time per top-10 query on 1e6 random 64-bit codes: our search (``HammingIndex`` with the
  faiss engine, and the whole ``Registry.search`` with the SQLite metadata of the matches)
  vs a bare faiss ``IndexBinaryFlat`` vs the numpy ``bitwise_count`` scan (our fallback
  engine); medians over the same queries, and ratios to faiss (target: ours <= 1.2x);
- add throughput: 1e5 precomputed codes stored with ``Registry.add_entries`` in batched
  transactions (codes per second);
- opening a registry of 1e6 entries in a fresh process and running the first query
  (reading the codes, building the in-memory index), then the next queries.

Run: ``.venv/bin/python bench/search.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import hnn_tf  # noqa: F401  (sets up the environment before anything imports TensorFlow)
import numpy as np

N_CODES = 1_000_000
N_QUERIES = 200
K = 10
N_THROUGHPUT = 100_000
BATCH = 10_000
VERSION = "bench-q64"
ROOT = Path(__file__).resolve().parent.parent


def median_ms(fn, queries) -> float:
    """Median wall time of ``fn(q)`` over the queries, in milliseconds (one warm-up call first)."""
    import numpy as np

    fn(queries[0])
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def random_entries(rng, n: int, start: int = 0):
    """n Entry records of random 64-bit codes with distinct names and sha256 (not timed)."""
    from hnn_tf.codes import ModelHash
    from hnn_tf.index import Entry

    words = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    out = []
    for i, w in enumerate(words.tolist(), start):
        code = ModelHash.from_hex(format(w, "016x"), bits=64, hasher_version=VERSION)
        out.append(Entry(None, f"model-{i:07d}", "bench", "onnx", f"bench/{i}.onnx",
                         hashlib.sha256(str(i).encode()).hexdigest(), code, 50, 60, 10**9, 10**6, ""))
    return out


def fill_registry(path: Path, rng, n: int) -> None:
    """Write n random entries straight through the store's connection (setup, not timed as a figure)."""
    from hnn_tf.index import Registry

    with Registry(path, create=True) as reg:
        conn = reg.store.conn
        words = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
        with reg.store.write():
            conn.executemany(
                "INSERT INTO models (name, label, framework, source, sha256, bits, hash, hasher_version, nodes, "
                "edges, flops, params, added_at) VALUES (?, 'bench', 'onnx', ?, ?, 64, ?, ?, 50, 60, 1000000000, "
                "1000000, '2026-01-01T00:00:00+00:00')",
                ((f"model-{i:07d}", f"bench/{i}.onnx", hashlib.sha256(str(i).encode()).hexdigest(),
                  format(w, "016x"), VERSION) for i, w in enumerate(words.tolist())))


FIRST_QUERY = textwrap.dedent("""
    import sys, time
    t0 = time.perf_counter()
    import hnn_tf
    from hnn_tf.codes import ModelHash
    from hnn_tf.index import Registry
    t1 = time.perf_counter()
    reg = Registry(sys.argv[1], create=False)
    q = ModelHash.from_hex("0123456789abcdef", hasher_version=sys.argv[2])
    t2 = time.perf_counter()
    res = reg.search(q, k=10)
    t3 = time.perf_counter()
    times = []
    for i in range(50):
        s = time.perf_counter()
        reg.search(ModelHash.from_hex(format(i * 7919 + 1, "016x"), hasher_version=sys.argv[2]), k=10)
        times.append(time.perf_counter() - s)
    times.sort()
    print(t1 - t0, t2 - t1, t3 - t2, times[len(times) // 2], len(res))
""")


def main() -> None:
    import faiss

    from hnn_tf.codes import ModelHash
    from hnn_tf.index import HammingIndex, Registry

    rng = np.random.default_rng(2022)
    rows: list[tuple[str, str]] = []

    # -- 1. time per query on 1e6 codes -----------------------------------------------------
    packed = rng.integers(0, 256, size=(N_CODES, 8), dtype=np.uint8)
    ids = np.arange(1, N_CODES + 1, dtype=np.int64)
    qpacked = rng.integers(0, 256, size=(N_QUERIES, 8), dtype=np.uint8)
    queries = [ModelHash.from_hex(bytes(q).hex(), hasher_version=VERSION) for q in qpacked]

    flat = faiss.IndexBinaryFlat(64)
    flat.add(packed)
    ours = HammingIndex(packed, ids, 64, VERSION, engine="faiss")
    scan = HammingIndex(packed, ids, 64, VERSION, engine="numpy")

    def bare_numpy(q):  # the plain scan: XOR, popcount, partial sort
        d = np.bitwise_count(words ^ q.view(np.uint64)[0])
        top = np.argpartition(d, K)[:K]
        return top[np.argsort(d[top], kind="stable")]

    words = packed.view(np.uint64)[:, 0]
    t_faiss = median_ms(lambda i: flat.search(qpacked[i : i + 1], K), range(N_QUERIES))
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    t_faiss1 = median_ms(lambda i: flat.search(qpacked[i : i + 1], K), range(N_QUERIES))
    faiss.omp_set_num_threads(threads)
    t_ours = median_ms(lambda i: ours.search(queries[i], K), range(N_QUERIES))
    t_scan = median_ms(lambda i: scan.search(queries[i], K), range(N_QUERIES))
    t_bare = median_ms(lambda i: bare_numpy(qpacked[i]), range(N_QUERIES))
    agree = all(np.array_equal(ours.search(q, K).ids, scan.search(q, K).ids) for q in queries[:50])

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.sqlite"
        t0 = time.perf_counter()
        fill_registry(big, np.random.default_rng(7), N_CODES)
        t_fill = time.perf_counter() - t0
        with Registry(big, create=False) as reg:
            reg.index(64, VERSION)  # build once; the timed queries use the cached index
            t_reg = median_ms(lambda i: reg.search(queries[i], k=K), range(N_QUERIES))

        rows += [
            (f"top-{K} query, {N_CODES:.0e} codes: faiss IndexBinaryFlat (bare, {threads} threads)", f"{t_faiss:.3f} ms"),
            ("  faiss IndexBinaryFlat (bare, 1 thread)", f"{t_faiss1:.3f} ms  ({t_faiss1 / t_faiss:.2f}x)"),
            ("  ours: HammingIndex, faiss engine", f"{t_ours:.3f} ms  ({t_ours / t_faiss:.2f}x faiss; target <= 1.2x)"),
            ("  ours: Registry.search (+ SQLite metadata of the 10 matches)",
             f"{t_reg:.3f} ms  ({t_reg / t_faiss:.2f}x faiss)"),
            ("  numpy scan: HammingIndex, numpy engine (fallback)", f"{t_scan:.3f} ms  ({t_scan / t_faiss:.2f}x faiss)"),
            ("  numpy scan, bare (bitwise_count + argpartition)", f"{t_bare:.3f} ms  ({t_bare / t_faiss:.2f}x faiss)"),
            ("  faiss and numpy engines agree on 50 queries", str(agree)),
        ]

        # -- 2. add throughput ---------------------------------------------------------------
        entries = random_entries(np.random.default_rng(11), N_THROUGHPUT)
        with Registry(Path(tmp) / "thr.sqlite", create=True) as reg:
            t0 = time.perf_counter()
            for s in range(0, N_THROUGHPUT, BATCH):
                reg.add_entries(entries[s : s + BATCH])
            t_add = time.perf_counter() - t0
            assert len(reg) == N_THROUGHPUT
        rows.append((f"add {N_THROUGHPUT:.0e} precomputed codes, transactions of {BATCH}",
                     f"{N_THROUGHPUT / t_add:,.0f} codes/s ({t_add:.2f} s)"))
        rows.append((f"  (setup: {N_CODES:.0e}-entry registry written in one transaction)", f"{t_fill:.1f} s, "
                     f"{big.stat().st_size / 2**20:.0f} MiB"))

        # -- 3. open 1e6 registry + first query, fresh process -------------------------------
        out = subprocess.run([sys.executable, "-c", FIRST_QUERY, str(big), VERSION], capture_output=True, text=True,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        t_import, t_open, t_first, t_next, n = out.stdout.split()
        rows.append((f"open a {N_CODES:.0e}-entry registry (fresh process)", f"{float(t_open) * 1e3:.1f} ms"))
        rows.append(("  first query (read codes, build index, search)", f"{float(t_first):.2f} s"))
        rows.append(("  next queries (cached index), median", f"{float(t_next) * 1e3:.3f} ms"))
        rows.append(("  (import hnn_tf.index before that)", f"{float(t_import):.2f} s"))

    width = max(len(r[0]) for r in rows)
    print(f"hnn registry/search benchmarks (faiss {faiss.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, {N_QUERIES} queries a figure)")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
