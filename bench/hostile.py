"""Timings of hostile graph shapes: long chains and wide fan-outs (README "Security").

A graph of N nodes in a chain (Relu and Neg alternating: a Relu of a Relu is the identity,
which drop_redundant_relu removes), and N LeakyRelu nodes all reading one tensor then summed
(a fan-out), built into the canonical layer graph and hashed with the shipped hasher, in this
process. The canonical rules edit in time proportional to the nodes they touch, so both grow
linearly; before that, a 50,000-node chain took 28 s and a 100,000-node fan-out did not
finish in 120 s.

Usage: ``python bench/hostile.py [N ...]`` (default 10000 50000 100000 300000).
"""

from __future__ import annotations

import sys
import time

import hnn_tf  # noqa: F401 - sets up the environment before TensorFlow loads
from onnx import TensorProto, helper


def chain(n: int):
    nodes = [helper.make_node("Relu" if i % 2 else "Neg", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"])
             for i in range(n)]
    return _model(nodes, f"t{n - 1}")


def fan_out(n: int):
    # distinct branches: identical ones are one computation, merged by merge_duplicate_layers
    nodes = [helper.make_node("LeakyRelu", ["x"], [f"f{i}"], alpha=1.0 / (i + 2)) for i in range(n)]
    nodes.append(helper.make_node("Sum", [f"f{i}" for i in range(n)], ["s"]))
    return _model(nodes, "s")


def _model(nodes, output):
    graph = helper.make_graph(nodes, "hostile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main(sizes: list[int]) -> None:
    from hnn_tf.graph import build_graph
    from hnn_tf.hashing import analyse_model

    analyse_model(chain(10))  # load the hasher once
    print(f"{'shape':<10} {'nodes':>8} {'build_graph s':>14} {'hash s':>8}")
    for n in sizes:
        for name, make in (("chain", chain), ("fan-out", fan_out)):
            model = make(n)
            start = time.perf_counter()
            build_graph(model, canonical=True, merge=True)
            built = time.perf_counter() - start
            start = time.perf_counter()
            analyse_model(model)
            hashed = time.perf_counter() - start
            print(f"{name:<10} {n:>8} {built:>14.2f} {hashed:>8.2f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 50_000, 100_000, 300_000])
