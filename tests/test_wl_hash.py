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


def _sized(graph: LayerGraph, width: int) -> LayerGraph:
    """The graph with every Conv/Gemm layer given width^2 x 9 parameters."""
    params = [width * width * 9 if ("Conv" in op or op == "Gemm") else 0 for op in graph.ops]
    return LayerGraph(ops=graph.ops, flops=graph.flops, params=params, edges=graph.edges, attrs=graph.attrs)


def test_sized_scheme_tells_widths_apart_and_keeps_them_near():
    from hnn_tf.wl_hash import label_weights

    narrow, wide, deeper = _sized(_resnetish(4), 64), _sized(_resnetish(4), 256), _sized(_resnetish(6), 64)
    # scheme 1 cannot see widths: one code for both; scheme 2 tells them apart
    assert _hamming(wl_simhash(narrow), wl_simhash(wide)) == 0
    n2, w2, d2 = (wl_simhash(g, scheme=2) for g in (narrow, wide, deeper))
    assert _hamming(n2, w2) > 0 and _hamming(n2, d2) > 0
    # ... while the other width stays nearer than an unrelated MLP
    mlp = wl_simhash(_sized(_chain(["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"]), 64), scheme=2)
    assert _hamming(n2, w2) < _hamming(n2, mlp)
    # labels: scheme 2 weights by the square root of counts, sized labels at SIZED_WEIGHT
    w = label_weights(narrow, scheme=2)
    assert w["0:Conv-Relu|k3x3|s1x1"] == pytest.approx(np.sqrt(4)) and w["s0:Conv|k3x3|s1x1|p15"] == pytest.approx(1.0)
    assert label_weights(narrow)["0:Conv-Relu|k3x3|s1x1"] == 4.0
    with pytest.raises(ValueError, match="scheme"):
        label_weights(narrow, scheme=3)


def test_shipped_sized_wl_hasher_has_its_own_version_and_the_baselines_is_unchanged():
    from hnn_tf.hashing import load_hasher

    sized, base = load_hasher(64, "wl-sized"), load_hasher(64, "wl")
    assert isinstance(sized, WLHasher) and sized.config.scheme == 2 and base.config.scheme == 1
    assert sized.version.startswith("wlsized-canonical-q64-") and base.version == "wl-canonical-q64-4ec0e8d7e9"
    assert WLHasher.from_meta(sized.meta()).version == sized.version
    g = _sized(_resnetish(3), 32)
    assert np.array_equal(sized.encode([g])[0], wl_simhash(g, scheme=2))
    with pytest.raises(ValueError, match="scheme"):
        WLHasher.from_meta({"config": {"bits": 64, "scheme": 9}})
