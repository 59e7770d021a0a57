"""The TorchScript symbolics hnn adds for operators the exporter lacks (converters/symbolics.py).

Each symbolic must compute what PyTorch computes (the export, with its weights, is run by
onnxruntime and compared with the module's output), must give the canonical graph that the
dynamo exporter's form gives, and must be registered for hnn's exports only.
"""

from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from hnn_tf.converters.pytorch import export_module, export_with_fallback
from hnn_tf.converters.symbolics import MISSING_SYMBOLICS
from hnn_tf.graph import build_graph


class RmsNormed(nn.Module):
    def __init__(self, eps):
        super().__init__()
        self.norm = nn.RMSNorm(12, eps=eps)
        self.bare = nn.RMSNorm([3, 12], elementwise_affine=False)
        self.proj = nn.Linear(12, 12)

    def forward(self, x):
        return self.bare(self.proj(self.norm(x)))


class Elementwise(nn.Module):
    def forward(self, x, mask):
        keep = (mask > 0) & (x > 0)  # aten::bitwise_and of booleans
        d = torch.diff(x, dim=1)
        d2 = torch.diff(x, n=2, dim=-1, prepend=x[..., :1], append=x[..., -1:])
        return torch.expm1(x) * keep, torch.asinh(x), d, d2


def _ort(proto, args):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: a.numpy() for n, a in zip(names, args)})


@pytest.mark.parametrize("opset", [17, 18])
def test_symbolics_compute_what_torch_computes(opset):
    torch.manual_seed(0)
    cases = [(RmsNormed(1e-5), (torch.randn(2, 3, 12),)), (RmsNormed(None), (torch.randn(2, 3, 12),)),
             (Elementwise(), (torch.randn(2, 5, 7), torch.randn(2, 5, 7)))]
    for module, args in cases:
        module.eval()
        proto = export_module(module, args, opset=opset, keep_weights=True)
        ops = {n.op_type for n in proto.graph.node}
        with torch.no_grad():
            expected = module(*args)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for got, want in zip(_ort(proto, args), expected):
            np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)
        if isinstance(module, RmsNormed):
            assert {"ReduceMean", "Sqrt", "Reciprocal"} <= ops
        else:
            assert {"And", "Asinh", "Exp", "Slice"} <= ops


def test_rms_norm_gives_the_dynamo_exporters_canonical_graph_and_one_norm_layer():
    module, args = RmsNormed(1e-6).eval(), (torch.zeros(1, 3, 12),)
    graphs = []
    for dynamo in (False, True):
        proto, used_dynamo = export_with_fallback(module, args, "model", dynamo=dynamo)
        assert used_dynamo == dynamo  # the TorchScript exporter no longer falls back
        graphs.append(build_graph(proto, canonical=True).to_dict())
        graphs[-1].pop("names")
    assert graphs[0] == graphs[1]
    norms = [p for op, p in zip(graphs[0]["ops"], graphs[0]["params"]) if op == "RMSNormalization"]
    assert sorted(norms) == [12, 36], graphs[0]["ops"]  # a scale per feature, stored or not


def test_integer_bitwise_and_needs_opset_18_and_the_symbolics_are_removed_after_the_export():
    from torch.onnx._internal.torchscript_exporter.registration import registry

    class Ints(nn.Module):
        def forward(self, x):
            return torch.bitwise_and(x.long(), x.long() + 1).float()

    args = (torch.arange(8.0).reshape(2, 4),)
    proto18 = export_module(Ints(), args, opset=18, keep_weights=True)
    assert "BitwiseAnd" in {n.op_type for n in proto18.graph.node}
    np.testing.assert_array_equal(_ort(proto18, args)[0], Ints()(*args).numpy())
    with pytest.raises(Exception, match="opset 18"):
        export_module(Ints(), args, opset=17)
    for name in MISSING_SYMBOLICS:
        assert not registry.is_registered_op(name, 17), name
    with pytest.raises(Exception, match="rms_norm"):
        torch.onnx.export(RmsNormed(1e-5).eval(), (torch.zeros(1, 3, 12),), io.BytesIO(), dynamo=False,
                          opset_version=17)
