"""PyTorch export time with and without skipping products of all-zero operands (``make bench``).

The TorchScript exporter traces a model by running it; :mod:`hnn_tf.converters.zero_products`
skips the arithmetic of matrix products and convolutions whose smaller operand is all zeros,
which a zoo model (zero weights, zero trigger input) is full of. For a seeded sample of timm
models (and the named ones), the script exports each model both ways, in alternating order in
one process (this machine's speed drifts), with
:func:`hnn_tf.converters.pytorch.export_module` (weights left out, as the zoo does), and prints
the seconds of each and whether the two ONNX files are byte-identical (target: all identical,
the sum lower with the skip).

Usage: ``python bench/export.py [--sample N] [--seed S] [--repeat R] [MODEL ...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
import warnings

import hnn_tf  # noqa: F401  (sets up TensorFlow's environment first)

#: Models always measured: a ViT at 518 x 518 (DINOv2), a large-image CNN, a hybrid.
NAMED = ["vit_base_patch14_reg4_dinov2", "tf_efficientnet_b7", "maxvit_small_tf_512"]


def main() -> None:
    import timm
    import torch

    import hnn_tf.converters.pytorch as pt
    from hnn_tf.zoo.sources.timm import build_timm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="timm model names (default: a sample and NAMED)")
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="exports of each kind per model (the minimum counts)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    names = args.models
    if not names:
        pool = sorted(n for n in timm.list_models() if not n.startswith("test_"))
        names = random.Random(args.seed).sample(pool, args.sample) + NAMED
    skip = pt.zero_products
    kinds = {"skip": skip, "compute": contextlib.nullcontext}
    totals = {k: 0.0 for k in kinds}
    same = measured = 0
    print(f"{'model':42s} {'compute s':>10s} {'skip s':>8s} {'identical':>10s}")
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                built = build_timm(name, 100_000_000)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
            print(f"{name:42s} not built ({str(exc)[:60]})")
            continue
        best, protos = {k: float("inf") for k in kinds}, {}
        try:
            for r in range(args.repeat):
                for kind in (kinds if r % 2 == 0 else reversed(list(kinds))):
                    pt.zero_products = kinds[kind]
                    t0 = time.perf_counter()
                    protos[kind] = pt.export_module(built.model, built.args, what=name)
                    best[kind] = min(best[kind], time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001
            print(f"{name:42s} export failed ({str(exc)[:60]})")
            continue
        finally:
            pt.zero_products = skip
        identical = protos["skip"].SerializeToString() == protos["compute"].SerializeToString()
        measured += 1
        same += identical
        for k in kinds:
            totals[k] += best[k]
        print(f"{name:42s} {best['compute']:10.2f} {best['skip']:8.2f} {str(identical):>10s}", flush=True)
    if measured:
        print(f"\n{measured} models: compute {totals['compute']:.1f} s, skip {totals['skip']:.1f} s "
              f"({1 - totals['skip'] / totals['compute']:.0%} less); byte-identical {same}/{measured}")


if __name__ == "__main__":
    main()
