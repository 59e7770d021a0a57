"""The WL-SimHash hasher (hnn_tf/wl_hash.py) and its selection as ``--hasher wl``."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.wl_hash import WLConfig, WLHasher, node_labels, subtree_counts, wl_simhash


def _chain(ops, attrs=None):
    n = len(ops)
    return LayerGraph(ops=ops, flops=[1] * n, params=[0] * n, edges=[(i, i + 1) for i in range(n - 1)],
                      attrs=attrs or [])


def _resnetish(blocks: int) -> LayerGraph:
    ops, attrs, edges = ["Conv-Relu"], [{"kernel_shape": [7, 7], "strides": [2, 2]}], []
    for _ in range(blocks):
        a = len(ops)
        ops += ["Conv-Relu", "Conv", "Add", "Relu"]
        attrs += [{"kernel_shape": [3, 3], "strides": [1, 1]}, {"kernel_shape": [3, 3], "strides": [1, 1]}, {}, {}]
        edges += [(a - 1, a), (a, a + 1), (a + 1, a + 2), (a - 1, a + 2), (a + 2, a + 3)]
    ops += ["GlobalAveragePool", "Flatten", "Gemm"]
    attrs += [{}, {}, {}]
    k = len(ops)
    edges += [(k - 4, k - 3), (k - 3, k - 2), (k - 2, k - 1)]
    return LayerGraph(ops=ops, flops=[1] * k, params=[0] * k, edges=edges, attrs=attrs)


def _hamming(a, b) -> int:
    return int(np.count_nonzero(a != b))


def test_labels_carry_structural_attributes():
    g = _chain(["Conv", "Relu"], [{"kernel_shape": [3, 3], "strides": [2, 2], "group": 32}, {}])
    assert node_labels(g) == ["Conv|k3x3|s2x2|g32", "Relu"]
    counts = subtree_counts(g, iterations=2)
    assert counts["0:Relu"] == 1 and sum(counts.values()) == 2 * 3  # 2 layers x depths 0..2


def test_codes_are_deterministic_and_permutation_invariant():
    g = _resnetish(3)
    code = wl_simhash(g)
    assert code.dtype == bool and code.shape == (64,) and code.any() and not code.all()
    assert np.array_equal(code, wl_simhash(LayerGraph.from_dict(g.to_dict())))
    perm = np.random.default_rng(0).permutation(g.num_nodes)
    inv = np.argsort(perm)
    shuffled = LayerGraph(ops=[g.ops[i] for i in perm], flops=g.flops[perm], params=g.params[perm],
                          edges=inv[g.edges], attrs=[g.attrs[i] for i in perm])
    assert np.array_equal(wl_simhash(shuffled), code)
    assert not wl_simhash(LayerGraph(ops=[], flops=[], params=[], edges=[])).any()


def test_distance_follows_structure():
    """A deeper relative is nearer than a different design; a changed kernel size is seen."""
    r3, r4 = wl_simhash(_resnetish(3)), wl_simhash(_resnetish(4))
    mlp = wl_simhash(_chain(["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"]))
    assert _hamming(r3, r4) < _hamming(r3, mlp)
    wide = _resnetish(3)
    wide.attrs[0] = {"kernel_shape": [5, 5], "strides": [2, 2]}
    assert _hamming(r3, wl_simhash(wide)) > 0
    assert WLHasher(WLConfig(bits=128)).encode([_resnetish(3)]).shape == (1, 128)


def test_shipped_wl_hasher_is_selectable(tmp_path):
    import torch

    from hnn_tf.cli import main
    from hnn_tf.converters.pytorch import export_module
    from hnn_tf.errors import HNNError
    from hnn_tf.hashing import analyse_model, load_hasher

    hasher = load_hasher(64, "wl")
    assert isinstance(hasher, WLHasher) and hasher.version.startswith("wl-canonical-q64-")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(4))
    net(torch.zeros(1, 3, 16, 16))
    path = tmp_path / "net.onnx"
    import onnx

    onnx.save(export_module(net, (torch.zeros(1, 3, 16, 16),)), str(path))
    report = analyse_model(str(path), hasher_dir="wl")
    assert report.hash.hasher_version == hasher.version and len(report.hash.code) == 64
    r = CliRunner().invoke(main, ["hash", "--hasher", "wl", str(path)])
    assert r.exit_code == 0 and r.stdout.strip() == str(report.hash)
    with pytest.raises(HNNError, match="no shipped"):
        load_hasher(32, "wl")
