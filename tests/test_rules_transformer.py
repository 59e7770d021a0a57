"""The activation and normalization fusions: GELU, SiLU, HardSigmoid, HardSwish, LayerNorm and
RMSNorm written out by an exporter, an optimiser or hand-written code give the canonical graph
of the native ONNX op. Each test exports small PyTorch modules in both spellings (opsets
before and after the op existed, or hand-written against ``torch.nn``) and compares the
canonical graphs; a near miss (a gate, a wrong constant) stays unfused."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch")
nn = torch.nn

from hnn_tf.converters.pytorch import export_module  # noqa: E402
from hnn_tf.graph import build_graph  # noqa: E402


def _canon(module, shape=(2, 5, 32), opset=17, dynamo=False):
    torch.manual_seed(0)
    return build_graph(export_module(module.eval(), (torch.zeros(*shape),), opset=opset, dynamo=dynamo),
                       canonical=True)


def _raw_ops(module, shape=(2, 5, 32), opset=17):
    return build_graph(export_module(module.eval(), (torch.zeros(*shape),), opset=opset)).ops


class Block(nn.Module):
    """Linear -> activation -> Linear, the activation given."""

    def __init__(self, act):
        super().__init__()
        self.a, self.act, self.b = nn.Linear(32, 64), act, nn.Linear(64, 32)

    def forward(self, x):
        return self.b(self.act(self.a(x)))


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_fuse_gelu():
    for approximate in ("none", "tanh"):
        written = _raw_ops(Block(nn.GELU(approximate=approximate)), opset=17)
        assert ("Erf" if approximate == "none" else "Tanh") in written and "Gelu" not in written
        native = _raw_ops(Block(nn.GELU(approximate=approximate)), opset=20)
        assert "Gelu" in native
        a, b = _canon(Block(nn.GELU(approximate=approximate)), opset=17), _canon(Block(nn.GELU(approximate=approximate)), opset=20)
        assert a.ops == ["Gemm", "Gelu", "Gemm"] and a.fingerprint() == b.fingerprint()
    # the tanh form by hand, as transformers' gelu_new writes it (x ** 3 with Pow)
    new_gelu = Lambda(lambda x: 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * torch.pow(x, 3.0)))))
    assert _canon(Block(new_gelu)).fingerprint() == _canon(Block(nn.GELU(approximate="tanh")), opset=20).fingerprint()
    # x * erf(x) is no GELU
    assert "Gelu" not in _canon(Block(Lambda(lambda x: x * torch.erf(x)))).ops


def test_fuse_silu():
    a = _canon(Block(nn.SiLU()))
    assert a.ops == ["Gemm", "SiLU", "Gemm"]
    assert _canon(Block(Lambda(lambda x: x * torch.sigmoid(x)))).fingerprint() == a.fingerprint()
    # a gate (sigmoid of one tensor times another) is not a SiLU
    gate = Lambda(lambda x: x[..., :32] * torch.sigmoid(x[..., 32:]))
    assert "SiLU" not in _canon(nn.Sequential(nn.Linear(32, 64), gate)).ops


def test_drop_redundant_relu():
    """A ReLU of what is already non-negative is the identity and goes; one that can clip stays."""
    relu_of_sum = Lambda(lambda x: torch.relu(torch.relu(x[..., :32]) + torch.relu(x[..., 32:]) * 2.0))
    # (the Linear cut in two halves is one Linear per half: split_fused_gemm)
    assert sorted(_canon(nn.Sequential(nn.Linear(32, 64), relu_of_sum)).ops) == ["Add", "Gemm", "Gemm", "Mul", "Relu", "Relu"]
    for keeps in (lambda x: torch.relu(torch.relu(x) - 1.0),      # a negative constant
                  lambda x: torch.relu(torch.relu(x) * -2.0),
                  lambda x: torch.relu(torch.tanh(x) + torch.relu(x))):  # tanh can be negative
        assert _canon(Block(Lambda(keeps))).ops.count("Relu") == 2


def test_fuse_hardsigmoid():
    native = _canon(Block(nn.Hardsigmoid()), opset=17)
    assert native.ops == ["Gemm", "HardSigmoid", "Gemm"]
    written = Lambda(lambda x: torch.nn.functional.relu6(x + 3.0) / 6.0)
    assert "Clip" in _raw_ops(Block(written))
    assert _canon(Block(written)).fingerprint() == native.fingerprint()
    # relu6(x + 3) / 5 is something else
    assert "HardSigmoid" not in _canon(Block(Lambda(lambda x: torch.nn.functional.relu6(x + 3.0) / 5.0))).ops


def test_fuse_hardswish():
    native = _canon(Block(nn.Hardswish()), opset=17)
    assert native.ops == ["Gemm", "HardSwish", "Gemm"]
    for fn in (lambda x: x * torch.nn.functional.relu6(x + 3.0) / 6.0,  # MobileNetV3 by hand
               lambda x: x * torch.nn.functional.hardsigmoid(x)):
        assert _canon(Block(Lambda(fn))).fingerprint() == native.fingerprint()


def test_relu6_as_relu():
    """A ReLU6 is read as a ReLU (the quantizers erase its bound), after the HardSwish written
    with a ReLU6 has been fused; the raw graph keeps the Clip."""
    relu = _canon(Block(nn.ReLU()))
    assert relu.ops == ["Gemm", "Relu", "Gemm"]
    assert _canon(Block(nn.ReLU6())).fingerprint() == relu.fingerprint()
    assert "Clip" in _raw_ops(Block(nn.ReLU6()))
    by_hand = _canon(Block(Lambda(lambda x: x * torch.nn.functional.relu6(x + 3.0) / 6.0)))
    assert by_hand.ops == ["Gemm", "HardSwish", "Gemm"]


class WrittenLayerNorm(nn.Module):
    def __init__(self, d, square="pow", divide=True):
        super().__init__()
        self.w, self.b = nn.Parameter(torch.ones(d)), nn.Parameter(torch.zeros(d))
        self.square, self.divide = square, divide

    def forward(self, x):
        mu = x.mean(-1, keepdim=True)
        d = x - mu
        var = (d.pow(2) if self.square == "pow" else d * d).mean(-1, keepdim=True)
        norm = d / torch.sqrt(var + 1e-5) if self.divide else d * (1.0 / torch.sqrt(var + 1e-5))
        return norm * self.w + self.b


def test_fuse_layernorm():
    native = _canon(nn.Sequential(nn.Linear(32, 32), nn.LayerNorm(32)), opset=17)
    assert native.ops == ["Gemm", "LayerNormalization"]
    assert int(native.params[1]) == 64 and int(native.flops[1]) == 2 * 2 * 5 * 32
    decomposed = nn.Sequential(nn.Linear(32, 32), nn.LayerNorm(32))
    assert "LayerNormalization" not in _raw_ops(decomposed, opset=13)
    assert _canon(decomposed, opset=13).fingerprint() == native.fingerprint()
    for square, divide in (("pow", True), ("mul", False)):
        written = nn.Sequential(nn.Linear(32, 32), WrittenLayerNorm(32, square, divide))
        assert _canon(written).fingerprint() == native.fingerprint(), (square, divide)


class WrittenRMSNorm(nn.Module):
    """As Llama-style decoders write it: float32 upcast, rsqrt, cast back, gamma."""

    def __init__(self, d):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))

    def forward(self, x):
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)
        return self.w * h.to(x.dtype)


def _native_rmsnorm() -> "object":
    """Linear then ONNX's own RMSNormalization (opset 23), written with onnx.helper."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((32, 32)).astype(np.float32), "wt"),
             numpy_helper.from_array(np.zeros(32, np.float32), "bias"),
             numpy_helper.from_array(np.ones(32, np.float32), "gamma")]
    nodes = [helper.make_node("MatMul", ["x", "wt"], ["m"]), helper.make_node("Add", ["m", "bias"], ["h"]),
             helper.make_node("RMSNormalization", ["h", "gamma"], ["y"], axis=-1, epsilon=1e-6)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 32])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5, 32])], initializer=inits)
    return build_graph(helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)]), canonical=True)


def test_fuse_rmsnorm():
    native = _native_rmsnorm()
    assert native.ops == ["Gemm", "RMSNormalization"] and int(native.params[1]) == 32
    written = _canon(nn.Sequential(nn.Linear(32, 32), WrittenRMSNorm(32)))
    assert written.fingerprint() == native.fingerprint()
    torch_rms = _canon(nn.Sequential(nn.Linear(32, 32), nn.RMSNorm(32, eps=1e-6)), dynamo=True)  # TorchScript lacks it
    assert torch_rms.fingerprint() == native.fingerprint()
    # a LayerNorm is not an RMSNorm (it centres first)
    assert _canon(nn.Sequential(nn.Linear(32, 32), WrittenLayerNorm(32))).ops == ["Gemm", "LayerNormalization"]


class Attention(nn.Module):
    """A pre-norm transformer block: LayerNorm, one qkv projection cut in three, scaled dot-product
    attention over 2 heads, output projection, residual, then an MLP with GELU."""

    def __init__(self, d=32, heads=2):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


def test_torchscript_and_dynamo_exports_give_one_graph():
    """The two PyTorch exporters write one transformer block very differently (Split or Slices,
    where the transposes stand, LayerNorm and GELU as ops or written out); the canonical graphs
    are one (docs/method.md "Exporter invariance")."""
    ts = export_module(Attention().eval(), (torch.zeros(2, 5, 32),))
    dy = export_module(Attention().eval(), (torch.zeros(2, 5, 32),), dynamo=True)
    assert [n.op_type for n in ts.graph.node] != [n.op_type for n in dy.graph.node]
    a, b = build_graph(ts, canonical=True), build_graph(dy, canonical=True)
    assert a.ops.count("LayerNormalization") == 2 and a.ops.count("Gelu") == 1
    assert a.fingerprint() == b.fingerprint()


class HalfRotate(nn.Module):
    """Rotary-style halves: two Slices of one tensor's last axis (the shape onnxscript's
    ``SlicesSplit`` rule looks for)."""

    def forward(self, x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:2 * half], x[..., :half]), dim=-1) * x


def test_dynamo_export_without_the_slow_rewrite_gives_the_fully_optimised_graph():
    """export_module(dynamo=True) runs onnxscript's optimiser without the quadratic rules of
    ``SLOW_REWRITE_RULES`` (converters/pytorch.py ``optimize_dynamo_program``). The rules it
    leaves out are real rule names of the installed onnxscript (a rename would run them again
    unnoticed), and the canonical graph equals that of torch's fully optimised export."""
    from onnxscript import rewriter

    from hnn_tf.converters.pytorch import SLOW_REWRITE_RULES

    assert SLOW_REWRITE_RULES <= {getattr(r, "name", None) for r in rewriter._DEFAULT_REWRITE_RULES}
    for module, shape in ((HalfRotate(), (1, 4, 8)), (Attention(), (2, 5, 32))):
        ours = export_module(module.eval(), (torch.zeros(shape),), dynamo=True)
        with torch.no_grad():
            full = torch.onnx.export(module.eval(), (torch.zeros(shape),), dynamo=True, optimize=True,
                                     verbose=False).model_proto
        assert build_graph(ours, canonical=True).fingerprint() == build_graph(full, canonical=True).fingerprint()


def test_gathernd_to_gather():
    """A router's ``table[idx]``: Gather from the TorchScript exporter, Unsqueeze + GatherND from
    the dynamo one; both give one canonical graph (rule gathernd_to_gather). A GatherND that
    addresses two axes stays."""

    class Router(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = nn.Linear(32, 4)
            self.table = nn.Parameter(torch.randn(4, 32))

        def forward(self, x):
            return x + self.table[self.gate(x).argmax(-1)]

    script, dynamo = _canon(Router()), _canon(Router(), dynamo=True)
    assert "Gather" in script.ops and "GatherND" not in dynamo.ops
    assert script.fingerprint() == dynamo.fingerprint()

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3, 8])
    idx = helper.make_tensor_value_info("i", TensorProto.INT64, [5, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("GatherND", ["r", "i"], ["y"])],
                              "g", [x, idx], [y])
    from hnn_tf.graph.builder import build_ir
    from hnn_tf.graph.rules import RULES

    ir = build_ir(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    gathernd = next(n for n in ir.nodes if n.op == "GatherND")
    assert RULES["gathernd_to_gather"].check(ir, gathernd) == "its index does not address exactly one axis"
