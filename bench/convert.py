"""Keras conversion benchmark: time and peak memory from a keras.applications object (``make bench``).

Each model runs in a fresh process (so that its peak RSS, ``ru_maxrss``, is its own):
Keras 3 builds it with ``weights=None``, then the script times

- ``convert``: ``hnn_tf.converters.to_onnx(model)`` (weights left out, :mod:`hnn_tf.converters.tf_graph`);
- ``object->hash``: ``hnn_tf.hashing.analyse_model(model)`` in the same process, the hasher
  loaded on first use (the cost a user sees);

and reports the process's peak RSS after building the model and at the end. Targets: every
keras.applications model at most 4 GB peak, ResNet50 from object to hash in at most 10 s.

``--before`` also runs tf2onnx's default route (``tf2onnx.convert.from_keras`` with the
weights) on MobileNetV2 and ResNet50, the figures this converter replaced (VGG16 is left
out: that route needs more than 24 GB for it).

Usage: ``python bench/convert.py [--before] [MODEL ...]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import hnn_tf  # noqa: F401  (sets up TensorFlow's environment first)

#: The default selection: small, typical and the largest keras.applications models.
MODELS = ["MobileNetV2", "ResNet50", "DenseNet121", "InceptionV3", "VGG16", "EfficientNetB0",
          "NASNetLarge", "ConvNeXtXLarge"]
BEFORE = ["MobileNetV2", "ResNet50"]
ROOT = Path(__file__).resolve().parent.parent


def _child(name: str, mode: str) -> dict:
    """Runs in the child process: build, convert and hash one model; returns the figures."""
    import resource
    import time
    import warnings

    from hnn_tf._tf import import_tensorflow

    def peak_gb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux

    import_tensorflow()
    import keras

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(keras.applications, name)(weights=None)
    out = {"model": name, "mode": mode, "params_m": model.count_params() / 1e6, "rss_model_gb": peak_gb()}
    t0 = time.perf_counter()
    if mode == "before":
        import tf2onnx

        from hnn_tf.converters.keras_tf import input_signature

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tf2onnx.convert.from_keras(model, input_signature=input_signature(model), opset=17)
        out["convert_s"] = time.perf_counter() - t0
    else:
        from hnn_tf.converters import to_onnx
        from hnn_tf.hashing import analyse_model

        proto = to_onnx(model)
        out["convert_s"] = time.perf_counter() - t0
        out["onnx_mb"] = proto.ByteSize() / 1e6
        t0 = time.perf_counter()
        report = analyse_model(model)
        out["hash_s"] = time.perf_counter() - t0
        out["hash"] = str(report.hash)
    out["rss_peak_gb"] = peak_gb()
    return out


def run(name: str, mode: str) -> dict:
    """One model in a fresh process; its figures, or an ``error`` entry."""
    code = f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r}); " \
           f"import convert; print(json.dumps(convert._child({name!r}, {mode!r})))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"model": name, "mode": mode, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def main(argv: list[str]) -> None:
    before = "--before" in argv
    names = [a for a in argv if not a.startswith("--")] or MODELS
    rows = [run(n, "after") for n in names]
    if before:
        rows += [run(n, "before") for n in BEFORE]
    print(f"{'model':<16}{'route':<22}{'params':>9}{'convert':>10}{'object->hash':>14}{'peak RSS':>10}{'after build':>13}")
    for r in rows:
        route = "tf2onnx defaults" if r["mode"] == "before" else "hnn (weights left out)"
        if "error" in r:
            print(f"{r['model']:<16}{route:<22}  failed: {r['error']}")
            continue
        hash_s = f"{r['hash_s']:.1f} s" if "hash_s" in r else "-"
        print(f"{r['model']:<16}{route:<22}{r['params_m']:>8.1f}M{r['convert_s']:>8.1f} s{hash_s:>14}"
              f"{r['rss_peak_gb']:>8.2f} GB{r['rss_model_gb']:>10.2f} GB")
    after = [r for r in rows if r["mode"] == "after" and "error" not in r]
    if after:
        worst = max(after, key=lambda r: r["rss_peak_gb"])
        print(f"largest peak RSS: {worst['model']} {worst['rss_peak_gb']:.2f} GB (target <= 4 GB)")
        for r in after:
            if r["model"] == "ResNet50":
                print(f"ResNet50 object->hash: {r['hash_s']:.1f} s (target <= 10 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
