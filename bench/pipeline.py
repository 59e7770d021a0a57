"""Benchmarks of the pipeline's slow steps; prints the figures (``make bench``).

- zoo graph build, cold (empty cache) and warm;
- graph builder on densenet201 (target: under 2 s);
- GED targets of the merged training pairs (cold cache);
- seconds per training epoch (merged, Q = 64);
- ``hnn hash`` wall time on resnet50.onnx (a fresh process, as a user runs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hnn_tf  # noqa: F401  (sets up TensorFlow's environment first)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    import numpy as np
    import onnx

    from hnn_tf.converters import to_onnx
    from hnn_tf.graph import build_graph
    from hnn_tf.zoo.models import PAPER_ZOO, build_torch_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HNN_CACHE"] = tmp
        from hnn_tf.zoo import dataset

        _, cold = timed(dataset.load_originals, PAPER_ZOO, progress=False)
        _, warm = timed(dataset.load_originals, PAPER_ZOO, progress=False)
        rows.append(("zoo graphs (22 models), cold cache", f"{cold:.1f} s"))
        rows.append(("zoo graphs (22 models), warm cache", f"{warm:.2f} s"))

        proto = to_onnx(build_torch_model("densenet201"), framework="pytorch")
        _, build = timed(build_graph, proto)
        rows.append(("graph builder, densenet201 (target < 2 s)", f"{build:.3f} s"))

        from hnn_tf.train import ged_matrix

        data = dataset.zoo_dataset("merged", progress=False)
        train, _ = dataset.split(data)
        _, ged_s = timed(ged_matrix, [z.graph for z in train], 10.0, Path(tmp) / "ged.json", False)
        rows.append((f"GED targets, {len(train) * (len(train) - 1) // 2} merged training pairs, R = 10", f"{ged_s:.1f} s"))

        from hnn_tf.model import HasherConfig
        from hnn_tf.train import train_hasher

        labels = np.array([sorted({z.category for z in train}).index(z.category) for z in train])
        ged = np.full((len(train), len(train)), 10.0, np.float32)
        cfg = HasherConfig(bits=64, num_classes=10, epochs=6)
        _, hist = train_hasher([z.graph for z in train], labels, cfg, ged, progress=False)
        rows.append(("training epoch, merged, Q = 64 (median of epochs 2-6)", f"{np.median(hist.seconds[1:]):.3f} s"))

        model = Path(tmp) / "resnet50.onnx"
        onnx.save(to_onnx(build_torch_model("resnet50"), framework="pytorch"), str(model))
        hnn = Path(sys.executable).with_name("hnn")
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([str(hnn), "hash", str(model)], check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
        rows.append(("`hnn hash resnet50.onnx` wall time, fresh process (median of 3)", f"{np.median(walls):.2f} s"))

    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
