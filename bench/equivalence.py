"""Exporter and deployment invariance of the canonical graph, on zoo models (``make bench``).

For a seeded sample of built broad-zoo models (up to 30 M parameters, so that the weights
the quantizers need fit quickly), the script exports each with its weights and compares the
canonical base graph (:data:`hnn_tf.graph.recipes.RECIPES` ``"canonical"``) of

- each deployment variant of :mod:`hnn_tf.zoo.variants`: onnxruntime's ``quant_pre_process``,
  dynamic int8, static QDQ and QOperator quantization, onnxconverter-common's float16,
  onnxsim and onnxslim (target: equal for >= 95% of the quantized and fp16 variants);
- the dynamo exporter's export (PyTorch sources; target: equal for the models tested, at
  least 20),

with the float TorchScript export. A difference is printed with what differs (layer counts
by op, FLOPs, parameters), which is the reason to read; a tool that fails on the model is
printed as such and not counted.

Usage: ``python bench/equivalence.py [--per-source N] [--seed S] [--models source:name ...]
[--variants qdq,dynamo,...]``.
Needs a built zoo (``hnn zoo build``) to sample from unless ``--models`` is given.
"""

from __future__ import annotations

import argparse
import collections
import random
import time
import warnings

import hnn_tf  # noqa: F401  (sets up TensorFlow's environment first)

MAX_PARAMS = 30_000_000
QUANT = ("dynamic", "qdq", "qoperator", "fp16")


def _diff(base, other) -> str:
    a, b = collections.Counter(base.ops), collections.Counter(other.ops)
    ops = {k: b[k] - a[k] for k in sorted(set(a) | set(b)) if a[k] != b[k]}
    df = int(other.flops.sum()) - int(base.flops.sum())
    dp = int(other.params.sum()) - int(base.params.sum())
    parts = [f"ops {ops}"] if ops else ["same op counts, other edges or order"]
    if df:
        parts.append(f"FLOPs {df:+,}")
    if dp:
        parts.append(f"params {dp:+,}")
    return "; ".join(parts)


def _sample(per_source: int, seed: int, sources) -> list[str]:
    from hnn_tf.zoo.broad import load_zoo

    zoo = load_zoo(sources)
    rng = random.Random(seed)
    keys = []
    for s in sources:
        pool = sorted(r.key for r in zoo.architectures if r.entry.source == s and r.params <= MAX_PARAMS)
        keys += rng.sample(pool, min(per_source, len(pool)))
    return keys


def main() -> None:
    from hnn_tf._tf import quiet_native_output
    from hnn_tf.converters.pytorch import library_init
    from hnn_tf.graph.recipes import get_recipe
    from hnn_tf.zoo.broad import select_entries
    from hnn_tf.zoo.sources import get_source
    from hnn_tf.zoo.variants import VARIANTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", default="torchvision,timm,transformers")
    ap.add_argument("--models", nargs="*", help="source:name keys instead of a sample")
    ap.add_argument("--variants", default=None,
                    help="comma-separated subset of the variants and 'dynamo' (default: all)")
    args = ap.parse_args()
    keys = args.models or _sample(args.per_source, args.seed, args.sources.split(","))
    recipe = get_recipe("canonical")
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    diffs: list[str] = []
    t0 = time.perf_counter()
    for key in keys:
        src_name, name = key.split(":", 1)
        source = get_source(src_name)
        entry = select_entries([src_name], [name])[0]
        try:
            with quiet_native_output(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with library_init():  # the quantizers calibrate on the weights: the library's own draws
                    built = source.build(entry, MAX_PARAMS)
                proto = source.export(built, keep_weights=True)
                base = recipe.build_base(proto, source=key)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
            print(f"{key}: cannot build with weights ({str(exc)[:100]})", flush=True)
            continue
        line = [f"{key:50s} {base.num_nodes:5d}"]
        variants = {}
        wanted = set(args.variants.split(",")) if args.variants else None
        for vname, fn in VARIANTS.items():
            if wanted is not None and vname not in wanted:
                continue
            try:
                with quiet_native_output(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    variants[vname] = fn(proto)
            except Exception as exc:  # noqa: BLE001
                variants[vname] = exc
        if source.framework == "pytorch" and (wanted is None or "dynamo" in wanted):
            try:
                with quiet_native_output(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    variants["dynamo"] = source.export(built, dynamo=True)
            except Exception as exc:  # noqa: BLE001
                variants["dynamo"] = exc
        del built
        for vname, v in variants.items():
            if isinstance(v, Exception):
                table[vname]["tool failed"] += 1
                line.append(f"{vname}:tool-failed")
                diffs.append(f"{key} {vname}: the tool failed: {str(v)[:160]}")
                continue
            try:
                g = recipe.build_base(v, source=f"{key}/{vname}")
            except Exception as exc:  # noqa: BLE001
                table[vname]["graph failed"] += 1
                line.append(f"{vname}:graph-failed")
                diffs.append(f"{key} {vname}: no graph: {str(exc)[:160]}")
                continue
            same = g.fingerprint() == base.fingerprint()
            table[vname]["equal" if same else "different"] += 1
            line.append(f"{vname}:{'=' if same else 'DIFF'}")
            if not same:
                diffs.append(f"{key} {vname}: {_diff(base, g)}")
        print(" ".join(line), flush=True)

    print(f"\n{len(keys)} models in {time.perf_counter() - t0:.0f} s")
    print(f"{'variant':12s} {'equal':>6s} {'different':>10s} {'tool failed':>12s} {'graph failed':>13s} {'equal %':>8s}")
    q_eq = q_all = 0
    for vname in (*VARIANTS, "dynamo"):
        c = table.get(vname, collections.Counter())
        done = c["equal"] + c["different"]
        print(f"{vname:12s} {c['equal']:6d} {c['different']:10d} {c['tool failed']:12d} {c['graph failed']:13d} "
              f"{100 * c['equal'] / max(1, done):7.1f}%")
        if vname in QUANT:
            q_eq, q_all = q_eq + c["equal"], q_all + done
    if q_all:
        print(f"quantized and fp16 variants equal to the float graph: {100 * q_eq / q_all:.1f}% (target >= 95%)")
    print("\ndifferences and failures:")
    for d in diffs:
        print("  " + d)


if __name__ == "__main__":
    main()
