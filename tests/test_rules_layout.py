"""The layout rules and the canonical order: how data is moved, sliced and ordered is the
exporter's choice; the canonical graph says it one way. Each test writes one computation in
two ways (small PyTorch modules, or onnx.helper graphs) and compares canonical graphs, and
checks a near miss that must stay."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch")
nn = torch.nn

from hnn_tf.converters.pytorch import export_module  # noqa: E402
from hnn_tf.graph import build_graph  # noqa: E402
from test_rules_transformer import Lambda  # noqa: E402  (tests/ is on sys.path, as for test_model)


def _export(module, shape):
    torch.manual_seed(0)
    return export_module(module.eval(), (torch.zeros(*shape),))


def _canon(module, shape=(2, 5, 32)):
    return build_graph(_export(module, shape), canonical=True)


def _seq(*fns_or_modules):
    return nn.Sequential(*(m if isinstance(m, nn.Module) else Lambda(m) for m in fns_or_modules))


def _onnx(nodes, inputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                          [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
                          initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_drop_transposes():
    # the key transpose of attention, written before or after the projection's reshape
    plain = _canon(_seq(nn.Linear(32, 32), lambda x: x @ x.transpose(1, 2)))
    assert "Transpose" not in plain.ops and plain.ops.count("MatMul") == 1
    # a channel shuffle (Reshape -> Transpose -> Reshape) is the architecture and stays
    shuffle = _seq(nn.Conv2d(8, 8, 1), lambda x: x.reshape(1, 2, 4, 6, 6).transpose(1, 2).reshape(1, 8, 6, 6),
                   nn.ReLU())
    plain = _canon(_seq(nn.Conv2d(8, 8, 1), nn.ReLU()), (1, 8, 6, 6))
    g = _canon(shuffle, (1, 8, 6, 6))
    assert g.ops == ["Conv", "Reshape", "Relu"] and g.fingerprint() != plain.fingerprint()


def test_drop_neutral_arithmetic():
    base = _canon(_seq(nn.Linear(32, 32), nn.ReLU()))
    for fn in (lambda x: x * 1.0, lambda x: x / 1.0, lambda x: x + 0.0, lambda x: x - 0.0):
        assert _canon(_seq(nn.Linear(32, 32), fn, nn.ReLU())).fingerprint() == base.fingerprint()
    # a scale by 2 is not neutral (after a ReLU: right after the Linear it would fold into it)
    assert "Mul" in _canon(_seq(nn.Linear(32, 32), nn.ReLU(), lambda x: x * 2.0)).ops


def test_drop_noops():
    base = _canon(_seq(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()), (1, 4, 8, 8))
    noops = (lambda x: torch.nn.functional.pad(x, (0, 0, 0, 0)),  # Swin's window padding of 0
             lambda x: x[:, :, :8],  # a slice of the whole axis
             lambda x: x.reshape(1, 4, 8, 8))
    for fn in noops:
        g = _canon(_seq(nn.Conv2d(4, 4, 3, padding=1), fn, nn.ReLU()), (1, 4, 8, 8))
        assert g.fingerprint() == base.fingerprint()
    # a flip (a Slice with step -1) keeps its shape but is not a copy
    flipped = _canon(_seq(nn.Conv2d(4, 4, 3, padding=1), lambda x: x.flip(3), nn.ReLU()), (1, 4, 8, 8))
    assert flipped.fingerprint() != base.fingerprint()


def test_slices_to_split():
    # q, k, v cut from one projection: a Split (TorchScript's unbind/chunk) or one Slice per part
    w = np.random.default_rng(0).standard_normal((32, 96)).astype(np.float32)
    tail = [helper.make_node("Mul", ["q", "k"], ["qk"]), helper.make_node("Add", ["qk", "v"], ["y"])]
    # the parts of a ReLU's output (a Linear's would be one Linear per part: split_fused_gemm)
    split = _onnx([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["h"]),
                   helper.make_node("Split", ["h", "sizes"], ["q", "k", "v"], axis=-1), *tail],
                  [("x", [2, 5, 32])], [("w", w), ("sizes", np.array([32, 32, 32]))])

    def sliced(bounds):
        nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["h"])]
        inits = [("w", w), ("axis", np.array([-1]))]
        for name, (a, b) in zip("qkv", bounds):
            inits += [(f"{name}0", np.array([a])), (f"{name}1", np.array([b]))]
            nodes.append(helper.make_node("Slice", ["h", f"{name}0", f"{name}1", "axis"], [name]))
        return _onnx([*nodes, *tail], [("x", [2, 5, 32])], inits)

    parts = sliced([(0, 32), (32, 64), (64, 96)])
    assert build_graph(parts).ops.count("Slice") == 3
    g = build_graph(parts, canonical=True)
    assert "Split" in g.ops and g.fingerprint() == build_graph(split, canonical=True).fingerprint()
    # in another order of the parts too; parts that overlap or leave a gap are no split
    assert build_graph(sliced([(64, 96), (0, 32), (32, 64)]), canonical=True).ops.count("Split") == 1
    assert "Split" not in build_graph(sliced([(0, 32), (40, 72), (64, 96)]), canonical=True).ops


def test_drop_gemm_reshapes():
    # onnxruntime's optimiser writes a Linear on (batch, tokens, features) as Reshape -> Gemm -> Reshape
    w = np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32)
    b = np.zeros(64, np.float32)
    flat = _onnx([helper.make_node("Reshape", ["x", "to2"], ["x2"]),
                  helper.make_node("Gemm", ["x2", "w", "b"], ["y2"]),
                  helper.make_node("Reshape", ["y2", "to3"], ["y3"]),
                  helper.make_node("Relu", ["y3"], ["y"])],
                 [("x", [2, 5, 32])], [("to2", np.array([10, 32])), ("w", w), ("b", b), ("to3", np.array([2, 5, 64]))])
    direct = _onnx([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y3"]),
                    helper.make_node("Relu", ["y3"], ["y"])], [("x", [2, 5, 32])], [("w", w), ("b", b)])
    a, c = build_graph(flat, canonical=True), build_graph(direct, canonical=True)
    assert a.ops == ["Gemm", "Relu"] and a.fingerprint() == c.fingerprint()
    # a Reshape that also splits heads stays, as the un-flattened tensor's reshape
    heads = _onnx([helper.make_node("Reshape", ["x", "to2"], ["x2"]),
                   helper.make_node("Gemm", ["x2", "w", "b"], ["y2"]),
                   helper.make_node("Reshape", ["y2", "to4"], ["y4"]),
                   helper.make_node("Relu", ["y4"], ["y"])],
                  [("x", [2, 5, 32])], [("to2", np.array([10, 32])), ("w", w), ("b", b), ("to4", np.array([2, 5, 4, 16]))])
    g = build_graph(heads, canonical=True)
    assert g.ops == ["Gemm", "Reshape", "Relu"]


def test_collapse_data_movement():
    chain = _seq(nn.Conv2d(4, 8, 3), lambda x: x.permute(0, 2, 3, 1).unsqueeze(1).squeeze(1).reshape(1, -1, 8),
                 nn.Linear(8, 8))
    g = _canon(chain, (1, 4, 8, 8))
    assert g.ops == ["Conv", "Reshape", "Gemm"]
    flat = _canon(_seq(nn.Conv2d(4, 8, 3), lambda x: x.unsqueeze(1).reshape(1, -1), nn.Linear(288, 8)), (1, 4, 8, 8))
    assert flat.ops == ["Conv", "Flatten", "Gemm"]
    assert flat.fingerprint() == _canon(_seq(nn.Conv2d(4, 8, 3), nn.Flatten(), nn.Linear(288, 8)), (1, 4, 8, 8)).fingerprint()


class Residual(nn.Module):
    """A block with a projection shortcut; ``shortcut_first`` changes only the export order."""

    def __init__(self, shortcut_first: bool):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.short = nn.Conv2d(4, 8, 1)
        self.first = shortcut_first

    def forward(self, x):
        if self.first:
            s = self.short(x)
            return torch.relu(self.main(x) + s)
        m = self.main(x)
        return torch.relu(self.short(x) + m)


def test_canonical_order():
    a, b = (_export(Residual(f), (1, 4, 8, 8)) for f in (True, False))
    assert build_graph(a).ops != build_graph(b).ops  # the exports list the branches in other orders
    ga, gb = build_graph(a, canonical=True), build_graph(b, canonical=True)
    assert ga.fingerprint() == gb.fingerprint() and ga.ops == gb.ops
    # parameters and FLOPs are unchanged by the order
    assert int(ga.params.sum()) == int(build_graph(a).params.sum())


def test_slices_to_split_symbolic_and_empty_parts():
    # TorchScript's split of a size computed from the input's shape: bounds are tensors, the
    # second part starts where the first ends; an empty part (a partial rotary's pass-through of
    # nothing) is no part of the split
    half = _canon(_seq(nn.Linear(32, 32), nn.Tanh(), lambda x: (lambda a, b: a * b)(*x.split(x.shape[-1] // 2, dim=-1))))
    const = _canon(_seq(nn.Linear(32, 32), nn.Tanh(), lambda x: x[..., :16] * x[..., 16:]))
    assert "Split" in half.ops and half.fingerprint() == const.fingerprint()
    with_empty = _canon(_seq(nn.Linear(32, 32), nn.Tanh(),
                             lambda x: torch.cat([x[..., :16] * x[..., 16:], x[..., 32:]], -1)))
    assert with_empty.fingerprint() == const.fingerprint()
    # parts of uneven, computed sizes that do not cover the axis stay slices
    gap = _canon(_seq(nn.Linear(32, 32), nn.Tanh(), lambda x: x[..., : x.shape[-1] // 4] * x[..., x.shape[-1] // 2: 24]))
    assert "Split" not in gap.ops


def test_drop_empty_concat_inputs():
    plain = _canon(_seq(nn.Linear(32, 32), nn.ReLU()))
    empty = _canon(_seq(nn.Linear(32, 32), lambda x: torch.cat([x, x[..., 32:]], -1), nn.ReLU()))
    assert "Concat" not in empty.ops and empty.fingerprint() == plain.fingerprint()
    # a Concat of two real tensors stays
    assert "Concat" in _canon(_seq(nn.Linear(32, 32), lambda x: torch.cat([x, x[..., 16:]], -1), nn.ReLU())).ops


class TwoMasks(nn.Module):
    """One mask expanded twice (as the TorchScript exporter writes it for each stack) or once."""

    def __init__(self, twice: bool):
        super().__init__()
        self.twice = twice
        self.a, self.b = nn.Linear(32, 32), nn.Linear(32, 32)

    def forward(self, x):
        m1 = (x[:, :, :1] > 0).float().reshape(x.shape[0], 1, -1)
        m2 = (x[:, :, :1] > 0).float().reshape(x.shape[0], 1, -1) if self.twice else m1
        return self.a(x) * m1.transpose(1, 2) + self.b(x) * m2.transpose(1, 2)


def test_merge_duplicate_layers():
    once, twice = _canon(TwoMasks(False)), _canon(TwoMasks(True))
    assert twice.fingerprint() == once.fingerprint()
    # two projections with their own weights read the same input and stay two layers
    assert once.ops.count("Gemm") == 2


def test_canonical_order_of_split_readers():
    # q, k, v of one Split, normalised in either order (XCA attention): one canonical graph.
    # (This order invariance held before the output slot was part of the keys too; the slot
    # was needed for timm's edgenext, whose exports list a Split's readers in other orders.)
    def attn(k_first):
        def fn(x):
            q, k, v = x.chunk(3, dim=-1)
            if k_first:
                k = torch.nn.functional.normalize(k, dim=-1)
                q = torch.nn.functional.normalize(q, dim=-1)
            else:
                q = torch.nn.functional.normalize(q, dim=-1)
                k = torch.nn.functional.normalize(k, dim=-1)
            return torch.softmax(q @ k.transpose(1, 2), -1) @ v
        return fn
    a = build_graph(_export(_seq(nn.Linear(32, 96), attn(False)), (2, 5, 32)))
    b = build_graph(_export(_seq(nn.Linear(32, 96), attn(True)), (2, 5, 32)))
    assert a.fingerprint() != b.fingerprint()  # the exports list the branches in other orders
    assert _canon(_seq(nn.Linear(32, 96), attn(False))).fingerprint() == \
        _canon(_seq(nn.Linear(32, 96), attn(True))).fingerprint()


def test_layout_reshape_of_a_pooled_tensor():
    # a channels-last LayerNorm of a pooled (N, C, 1, 1) tensor: permute (Transpose) or view (Reshape)
    def head(view):
        def fn(x):
            p = x.mean((2, 3), keepdim=True)
            p = p.reshape(1, 1, 1, 8) if view else p.permute(0, 2, 3, 1)
            return torch.nn.functional.layer_norm(p, (8,)).flatten(1)
        return fn
    a = _canon(_seq(nn.Conv2d(4, 8, 3), head(False)), (1, 4, 8, 8))
    b = _canon(_seq(nn.Conv2d(4, 8, 3), head(True)), (1, 4, 8, 8))
    assert a.fingerprint() == b.fingerprint()
    # a view of an unpooled map into channels-last order is a reshape of the data and stays
    c = _canon(_seq(nn.Conv2d(4, 8, 3), lambda x: torch.nn.functional.layer_norm(x.reshape(1, 6, 6, 8), (8,)).flatten(1)),
               (1, 4, 8, 8))
    assert "Reshape" in c.ops
