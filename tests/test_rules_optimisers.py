"""What graph optimisers (onnxsim, onnxslim) write, and the canonical rules that read it back:
a fused query/key/value projection cut by a Split (``split_fused_gemm``), one flattening
Reshape shared by several Gemms (``drop_gemm_reshapes``), a scale folded into a projection's
weights (``fold_scale_into_gemm``) and a norm whose scale of ones was dropped
(``count_norm_affine``). Each test writes one computation in two ways with onnx.helper and
compares canonical graphs, and checks a near miss that must stay; the last one passes a
small transformer block through both optimisers."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from hnn_tf.graph import build_graph
from test_rules_layout import _onnx  # noqa: E402  (tests/ is on sys.path)

RNG = np.random.default_rng(0)


def _w(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _heads():
    """Three different activations of q, k, v, summed: the graph's output."""
    return [helper.make_node("Relu", ["q"], ["q1"]), helper.make_node("Sigmoid", ["k"], ["k1"]),
            helper.make_node("Tanh", ["v"], ["v1"]), helper.make_node("Sum", ["q1", "k1", "v1"], ["y"])]


def _same(a, b):
    ga, gb = build_graph(a, canonical=True), build_graph(b, canonical=True)
    assert ga.fingerprint() == gb.fingerprint(), (ga.ops, gb.ops)
    assert int(ga.flops.sum()) == int(gb.flops.sum()) and int(ga.params.sum()) == int(gb.params.sum())
    return ga


W, B = _w(32, 96), _w(96)
SEPARATE = _onnx(
    [node for k, t in enumerate("qkv") for node in (
        helper.make_node("MatMul", ["x", f"w{t}"], [f"m{t}"]), helper.make_node("Add", [f"m{t}", f"b{t}"], [t]))]
    + _heads(), [("x", [2, 5, 32])],
    [(f"w{t}", W[:, 32 * k:32 * (k + 1)]) for k, t in enumerate("qkv")]
    + [(f"b{t}", B[32 * k:32 * (k + 1)]) for k, t in enumerate("qkv")])


def test_split_fused_gemm():
    fused = _onnx([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["qkv"]),
                   helper.make_node("Split", ["qkv", "parts"], ["q", "k", "v"], axis=-1)] + _heads(),
                  [("x", [2, 5, 32])], [("w", W), ("b", B), ("parts", np.array([32, 32, 32]))])
    g = _same(fused, SEPARATE)
    assert g.ops.count("Gemm") == 3 and "Split" not in g.ops
    assert sorted(int(p) for o, p in zip(g.ops, g.params) if o == "Gemm") == [32 * 32 + 32] * 3
    # unequal parts (a grouped-query attention's q, k, v): each Gemm gets its width's share
    gqa = _onnx([helper.make_node("MatMul", ["x", "w"], ["m"]),
                 helper.make_node("Split", ["m", "parts"], ["q", "k", "v"], axis=2)] + _heads()[:3]
                + [helper.make_node("Concat", ["q1", "k1", "v1"], ["y"], axis=2)],
                [("x", [2, 5, 32])], [("w", W), ("parts", np.array([64, 16, 16]))])
    g = build_graph(gqa, canonical=True)
    widths = sorted(int(f) // (2 * 10 * 32) for o, f in zip(g.ops, g.flops) if o == "Gemm")
    assert widths == [16, 16, 64]
    # a Split of the rows, not of the features, is not a fused projection
    rows = _onnx([helper.make_node("MatMul", ["x", "w"], ["m"]),
                  helper.make_node("Split", ["m", "parts"], ["q", "k", "v"], axis=1)] + _heads(),
                 [("x", [2, 6, 32])], [("w", W), ("parts", np.array([2, 2, 2]))])
    assert build_graph(rows, canonical=True).ops.count("Split") == 1


def test_drop_gemm_reshapes_shared_by_several_gemms():
    # onnxslim flattens the tensor once for q, k and v: Reshape -> 3 x (Gemm -> Reshape)
    nodes = [helper.make_node("Reshape", ["x", "to2"], ["x2"])]
    for k, t in enumerate("qkv"):
        nodes += [helper.make_node("Gemm", ["x2", f"w{t}", f"b{t}"], [f"{t}2"]),
                  helper.make_node("Reshape", [f"{t}2", "to3"], [t])]
    flat = _onnx(nodes + _heads(), [("x", [2, 5, 32])],
                 [("to2", np.array([10, 32])), ("to3", np.array([2, 5, 32]))]
                 + [(f"w{t}", W[:, 32 * k:32 * (k + 1)]) for k, t in enumerate("qkv")]
                 + [(f"b{t}", B[32 * k:32 * (k + 1)]) for k, t in enumerate("qkv")])
    g = _same(flat, SEPARATE)
    assert "Reshape" not in g.ops
    # a shared Reshape that also reshapes for the model (to (5, 64) rows) stays
    odd = _onnx([helper.make_node("Reshape", ["x", "to2"], ["x2"]),
                 helper.make_node("Gemm", ["x2", "wa"], ["a"]), helper.make_node("Gemm", ["x2", "wb"], ["b"]),
                 helper.make_node("Add", ["a", "b"], ["y"])],
                [("x", [2, 5, 32])], [("to2", np.array([5, 64])), ("wa", _w(64, 8)), ("wb", _w(64, 8))])
    assert build_graph(odd, canonical=True).ops.count("Reshape") == 1


def test_fold_scale_into_gemm():
    def scaled(const, op="Mul"):
        return _onnx([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
                      helper.make_node(op, ["a", "s"], ["q"]), helper.make_node("Relu", ["q"], ["y"])],
                     [("x", [2, 5, 32])], [("w", W[:, :32]), ("b", B[:32]), ("s", const)])

    plain = _onnx([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
                   helper.make_node("Relu", ["a"], ["y"])], [("x", [2, 5, 32])], [("w", W[:, :32]), ("b", B[:32])])
    _same(scaled(np.float32(0.125)), plain)  # Whisper's query scale
    _same(scaled(np.float32(8.0), "Div"), plain)
    _same(scaled(_w(32)), plain)  # a LayerScale
    # a per-token constant is not a scale of the weights: it stays a layer (as a per-channel
    # affine of axis 1, a BatchNormalization)
    ops = build_graph(scaled(_w(5, 1)), canonical=True).ops
    assert len(ops) == 3 and ops[0] == "Gemm" and ops[2] == "Relu", ops


def test_count_norm_affine():
    def norm(inputs, inits):
        return _onnx([helper.make_node("LayerNormalization", inputs, ["n"], axis=-1),
                      helper.make_node("Relu", ["n"], ["y"])], [("x", [2, 5, 32])], inits)

    full = norm(["x", "scale", "bias"], [("scale", _w(32)), ("bias", _w(32))])
    g = _same(norm(["x", "scale"], [("scale", np.ones(32, np.float32))]), full)
    assert int(g.params[g.ops.index("LayerNormalization")]) == 2 * 32


def test_optimised_transformer_block_keeps_its_canonical_graph():
    """A pre-norm attention block (separate q, k, v projections, a scaled query, RMSNorm with a
    scale of ones) through onnxsim and onnxslim gives the exported graph's canonical graph."""
    torch = pytest.importorskip("torch")
    from hnn_tf.converters.pytorch import export_module
    from hnn_tf.zoo.variants import make_variant

    class Block(torch.nn.Module):
        def __init__(self, d=32, heads=4):
            super().__init__()
            self.gamma = torch.nn.Parameter(torch.ones(d))  # an untrained RMSNorm's scale
            self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
            self.heads, self.scale = heads, (d // heads) ** -0.5

        def forward(self, x):
            b, t, d = x.shape
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.gamma  # RMSNorm as transformers writes it
            q = (self.q(h) * self.scale).view(b, t, self.heads, -1).transpose(1, 2)
            k = self.k(h).view(b, t, self.heads, -1).transpose(1, 2)
            v = self.v(h).view(b, t, self.heads, -1).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2), -1) @ v
            return x + self.o(a.transpose(1, 2).reshape(b, t, d))

    torch.manual_seed(0)
    src = export_module(Block().eval(), (torch.zeros(2, 6, 32),), keep_weights=True)
    base = build_graph(src, canonical=True)
    for name in ("onnxsim", "onnxslim"):
        g = build_graph(make_variant(src, name), canonical=True)
        assert g.fingerprint() == base.fingerprint(), (name, g.ops, base.ops)
        assert int(g.params.sum()) == int(base.params.sum()), name
