"""Broad-zoo benchmark: counts per source, cold and warm build time, the slowest models to hash (``make bench``).

Prints, from one run:

- per source: entries, built, distinct architectures, aliases, too large, failed (and how
  many of the failures are documented, :attr:`hnn_tf.zoo.sources.Source.known_failures`),
  families; in total the distinct architectures and families (targets: >= 600 and >= 150);
- ``warm``: the wall time of :func:`hnn_tf.zoo.broad.build_zoo` over the filled cache (target
  <= 30 s);
- ``cold``: the wall time of the build that filled the cache, from the per-entry step times
  the records keep (build, export, graph), summed and divided by the worker count the build
  used; ``--cold`` instead rebuilds everything into a fresh folder and times it (about an hour
  on 2 cores; target <= 30 min);
- the 10 models with the slowest graph step (ONNX -> canonical graph, what hashing an
  exported file costs besides the hasher) according to the records, then each of them
  exported again without weights and hashed end to end with :func:`hnn_tf.hash_model` from
  the file, timed (target: no model above 5 s);
- every failure not documented by its source, with its error.

Usage: ``python bench/zoo.py [--sources torchvision,timm,...] [--jobs N] [--cold]``.
The cache is :func:`hnn_tf.zoo.broad.zoo_dir` (``HNN_CACHE``); the first run fills it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import hnn_tf  # noqa: F401  (sets up TensorFlow's environment first)

SLOWEST = 10
_WARM: list = []


def _hash_from_file(record, folder: Path) -> tuple[float, int]:
    """Export the record's model without weights to a file, then time hashing that file."""
    import onnx

    from hnn_tf.zoo.broad import DEFAULT_MAX_PARAMS
    from hnn_tf.zoo.sources import get_source

    source = get_source(record.entry.source)
    # under the cap the zoo was built with: a transformers config is shrunk as in the build
    # (uncapped, Kimi Linear's default config is 48 B parameters and exhausts the memory)
    built = source.build(record.entry, DEFAULT_MAX_PARAMS)
    path = folder / f"{record.entry.source}-{record.entry.name.replace('/', '_')}.onnx"
    onnx.save(source.export(built), str(path))
    del built
    if not _WARM:
        hnn_tf.hash_model(str(path))  # loads the hasher once, outside the timing
        _WARM.append(True)
    t0 = time.perf_counter()
    hnn_tf.hash_model(str(path))
    return time.perf_counter() - t0, path.stat().st_size


def main() -> None:
    from hnn_tf.zoo.broad import DEFAULT_SOURCES, build_zoo

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=",".join(DEFAULT_SOURCES))
    ap.add_argument("--jobs", type=int, default=None, help="workers of a build (default: all cores)")
    ap.add_argument("--cold", action="store_true", help="rebuild everything into a fresh folder and time it")
    args = ap.parse_args()
    sources = [s for s in args.sources.split(",") if s]
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)

    directory = Path(tempfile.mkdtemp(prefix="hnn-zoo-cold-")) if args.cold else None
    t0 = time.perf_counter()
    zoo = build_zoo(sources, jobs=jobs, directory=directory, progress=True)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = build_zoo(sources, jobs=jobs, directory=directory, progress=False)
    warm_s = time.perf_counter() - t0
    assert warm.rebuilt == 0

    cols = ["entries", "built", "architectures", "aliases", "too-large", "failed", "failed-known", "families"]
    counts = zoo.counts()
    print(f"{'source':14s}" + "".join(f"{c:>14s}" for c in cols))
    for s, c in counts.items():
        print(f"{s:14s}" + "".join(f"{c[k]:14d}" for k in cols))
    print(f"distinct architectures {len(zoo.architectures)} (target >= 600), families {len(zoo.families())} "
          f"(target >= 150)")
    step_sum = sum(sum(v for k, v in r.seconds.items()) for r in zoo.records)
    print(f"cold build: {'measured now' if args.cold or zoo.rebuilt == len(zoo.records) else 'from the records'}: "
          f"{first if args.cold else step_sum / max(1, jobs):.0f} s with {jobs} workers "
          f"(sum of per-model steps {step_sum:.0f} s; target <= 1800 s)")
    if zoo.rebuilt:
        print(f"this run built {zoo.rebuilt} models in {first:.0f} s")
    print(f"warm build (cache read): {warm_s:.1f} s (target <= 30 s)")

    slow = sorted(zoo.built, key=lambda r: -r.seconds.get("graph", 0.0))[:SLOWEST]
    print(f"\nslowest {SLOWEST} to graph (records) and hashed again from an exported file:")
    print(f"{'model':55s} {'nodes':>6s} {'graph s':>8s} {'hash s':>8s} {'file KB':>8s}")
    with tempfile.TemporaryDirectory(prefix="hnn-zoo-bench-") as d:
        worst = 0.0
        for r in slow:
            try:
                secs, size = _hash_from_file(r, Path(d))
                worst = max(worst, secs)
                shown = f"{secs:8.2f} {size / 1e3:8.0f}"
            except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
                shown = f"  failed: {str(exc)[:60]}"
            print(f"{r.key:55s} {r.graph.num_nodes:6d} {r.seconds.get('graph', 0):8.2f} {shown}")
    print(f"slowest hash from a file: {worst:.2f} s (target <= 5 s)")

    unknown = [r for r in zoo.records if r.status == "failed" and not r.known]
    print(f"\nfailures not documented by their source: {len(unknown)}")
    for r in unknown:
        print(f"  {r.key}: {r.error[:200]}")


if __name__ == "__main__":
    main()
