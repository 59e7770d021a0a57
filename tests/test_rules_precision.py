"""The precision rules (set ``precision``): a quantized or half-precision model has its float
source's canonical graph. Each test makes the variant with the tool people use
(hnn_tf/zoo/variants.py: onnxruntime's quantizers, onnxconverter-common's float16) from a small
hand-written network, checks that the variant really holds the ops the rule reads, and that
its canonical graph is the float one (ops, FLOPs, parameters, edges)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hnn_tf.graph import build_graph, build_ir
from hnn_tf.graph.rewrite import apply
from hnn_tf.zoo.variants import VARIANTS, make_variant


def _net(relu6: bool):
    import torch
    from torch import nn

    class Net(nn.Module):
        """Conv-BN-ReLU, Conv-BN-ReLU(6), a residual Add, pooling, Linear-GELU-Linear."""

        def __init__(self):
            super().__init__()
            self.c1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.c2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8),
                                    nn.ReLU6() if relu6 else nn.ReLU())
            self.fc, self.act, self.out = nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 5)

        def forward(self, x):
            a = self.c1(x)
            b = self.c2(a) + a
            return self.out(self.act(self.fc(b.mean((2, 3)))))

    torch.manual_seed(0)
    net = Net().eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return net


@pytest.fixture(scope="module")
def float_models():
    import torch

    from hnn_tf.converters.pytorch import export_module

    return {r6: export_module(_net(r6), (torch.zeros(1, 3, 16, 16),), keep_weights=True) for r6 in (False, True)}


def _same(variant: onnx.ModelProto, source: onnx.ModelProto, must_hold: set[str]):
    raw_ops = {n.op_type for n in variant.graph.node}
    assert must_hold <= raw_ops, f"the variant lacks {must_hold - raw_ops}"
    a, b = build_graph(variant, canonical=True), build_graph(source, canonical=True)
    assert a.ops == b.ops
    assert a.fingerprint() == b.fingerprint()  # FLOPs, parameters and edges too
    return a


def test_drop_float_casts(float_models):
    for src in float_models.values():
        g = _same(make_variant(src, "fp16"), src, {"Cast"})
        assert "Cast" not in g.ops
    # a Cast of a boolean (a mask made float) is computation and stays
    nodes = [helper.make_node("Greater", ["x", "zero"], ["mask"]),
             helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["x", "maskf"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(np.zeros((1,), np.float32), "zero")])
    ir = build_ir(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert [n.op for n in ir.nodes] == ["Greater", "Cast", "Mul"]
    assert not apply(ir, "drop_float_casts") and [n.op for n in ir.nodes] == ["Greater", "Cast", "Mul"]


def test_dequantize(float_models):
    src = float_models[False]
    g = _same(make_variant(src, "qdq"), src, {"QuantizeLinear", "DequantizeLinear"})
    assert g.ops.count("Relu") == 2  # both folded into the quantized ranges, both restored
    # a ReLU6 whose bound the calibration never reached is folded into a range that says
    # only "from 0": it comes back as a Relu (a documented limit, docs/method.md)
    r6 = float_models[True]
    g6 = build_graph(make_variant(r6, "qdq"), canonical=True)
    assert g6.ops == build_graph(src, canonical=True).ops


def test_qlinear_to_float(float_models):
    for src in float_models.values():
        g = _same(make_variant(src, "qoperator"), src, {"QLinearConv", "QLinearAdd", "QGemm"})
        assert not any(op.startswith("Q") for op in g.ops)


def test_integer_to_float(float_models):
    for src in float_models.values():
        _same(make_variant(src, "dynamic"), src, {"DynamicQuantizeLinear", "ConvInteger", "MatMulInteger"})


def test_integer_to_float_keeps_the_bias_of_a_one_channel_conv():
    """A Conv of one output channel (a segmentation head) has a one-element bias, which the
    quantizer adds after the ConvInteger: it is the Conv's bias, as in the float graph."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    torch.manual_seed(0)
    head = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 1)).eval()
    src = export_module(head, (torch.zeros(1, 3, 16, 16),), keep_weights=True)
    g = _same(make_variant(src, "dynamic"), src, {"DynamicQuantizeLinear", "ConvInteger"})
    assert g.ops[-1] == "Conv" and int(g.params[-1]) == 8 + 1


def test_optimisers_keep_the_canonical_graph(float_models):
    """onnxruntime's quant_pre_process, onnxsim and onnxslim fold and fuse; the canonical graph
    stays (the layout rules read what they leave)."""
    src = float_models[True]
    for name in ("pre_process", "onnxsim", "onnxslim"):
        variant = make_variant(src, name)
        assert build_graph(variant, canonical=True).fingerprint() == build_graph(src, canonical=True).fingerprint(), name
    assert set(VARIANTS) == {"pre_process", "dynamic", "qdq", "qoperator", "fp16", "onnxsim", "onnxslim"}


def test_variant_errors_are_one_line(float_models):
    from hnn_tf.errors import ConversionError, HNNError

    with pytest.raises(HNNError, match="unknown variant"):
        make_variant(float_models[False], "int3")
    broken = onnx.ModelProto()
    broken.CopyFrom(float_models[False])
    broken.graph.node[0].input[0] = "missing"
    with pytest.raises(ConversionError, match="quantization failed"):
        make_variant(broken, "dynamic")


def test_variants_write_nothing_into_the_working_directory(float_models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("pre_process", "dynamic"):
        make_variant(float_models[True], name)
    assert list(tmp_path.iterdir()) == []


def _text_net():
    import torch
    from torch import nn

    class TextNet(nn.Module):
        """An embedding table, a decomposed RMSNorm (x * rsqrt(mean(x^2) + eps) * w) and a Linear."""

        def __init__(self):
            super().__init__()
            self.emb, self.w, self.fc = nn.Embedding(50, 16), nn.Parameter(torch.ones(16)), nn.Linear(16, 16)

        def forward(self, ids):
            x = self.emb(ids)
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.w
            return self.fc(x)

    torch.manual_seed(0)
    return TextNet().eval()


def test_quantized_embedding_and_squares():
    """A quantized embedding table keeps its parameters (dynamic and QOperator quantize the table,
    gather, then dequantize); a mean of squares quantized from 0 is no folded ReLU, so the
    RMSNorm is found in the QDQ model too."""
    import torch

    from hnn_tf.converters.pytorch import export_module

    src = export_module(_text_net(), (torch.zeros(1, 6, dtype=torch.long),), keep_weights=True)
    base = build_graph(src, canonical=True)
    assert base.ops.count("RMSNormalization") == 1 and "Gather" in base.ops
    for name in ("dynamic", "qoperator", "qdq"):
        g = build_graph(make_variant(src, name), canonical=True)
        assert g.fingerprint() == base.fingerprint(), name
    # a float square (Pow 3 is no square) quantized from 0 still looks like a folded ReLU's range
    from hnn_tf.graph.rules._quant import squares

    ir = build_ir(src)
    pows = [n for n in ir.nodes if n.op == "Pow"]
    assert pows and all(squares(ir, n) for n in pows)
    ir.consts[pows[0].inputs[1]] = type(ir.consts[pows[0].inputs[1]])(dims=(), dtype=TensorProto.FLOAT,
                                                                        value=np.array(3.0, np.float32))
    assert not squares(ir, pows[0])


def test_quantized_pad():
    """A QOperator model pads quantized data with its zero point: a zero Pad, folded into the conv."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class PadNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 2)

        def forward(self, x):
            return self.b(torch.nn.functional.pad(self.a(x), (0, 1, 0, 1)))

    torch.manual_seed(0)
    src = export_module(PadNet().eval(), (torch.zeros(1, 3, 16, 16),), keep_weights=True)
    variant = make_variant(src, "qoperator")
    pads = [n for n in variant.graph.node if n.op_type == "Pad"]
    assert pads and len(pads[0].input) > 2 and pads[0].input[2]  # filled with the zero point
    assert build_graph(variant, canonical=True).fingerprint() == build_graph(src, canonical=True).fingerprint()


def _raft_like():
    import torch
    from torch import nn

    class RaftLike(nn.Module):
        """RAFT's pieces: Conv-InstanceNorm-ReLU, relu(a + relu(conv(a))) (a redundant ReLU), a
        ReLU of one channel slice and a tanh of the other, a correlation of features (a product of
        two activations, non-negative on the calibration inputs), a rotary-like cosine table."""

        def __init__(self):
            super().__init__()
            self.c1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.InstanceNorm2d(8), nn.ReLU())
            self.c2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
            self.c3, self.c4 = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)

        def forward(self, x):
            a = self.c1(x)
            b = torch.relu(a + self.c2(a))
            y = self.c3(b)
            net, inp = torch.tanh(y[:, :4]), torch.relu(y[:, 4:])
            f = self.c4(b).flatten(2)
            corr = f.transpose(1, 2) @ f
            pos = torch.arange(64, dtype=torch.float32)[:, None] * torch.arange(1, 9, dtype=torch.float32) / 64
            rot = (f.transpose(1, 2) * (torch.cos(pos) * 1.5)).sum(-1)
            return torch.cat([net.flatten(1), inp.flatten(1), torch.sigmoid(corr).flatten(1), rot], 1)

    torch.manual_seed(0)
    return RaftLike().eval()


def test_folded_relus_after_normalisations_and_slices_not_after_products():
    """onnxruntime folds a ReLU into the range of whatever quantized tensor it reads (an
    InstanceNorm, a channel slice) and drops a ReLU of a sum of ReLUs; a correlation whose
    calibration range starts at 0 hosts no ReLU. Every quantized variant has the float graph,
    which itself has no redundant ReLU (rule drop_redundant_relu)."""
    import torch

    from hnn_tf.converters.pytorch import export_module

    src = export_module(_raft_like(), (torch.zeros(1, 3, 8, 8),), keep_weights=True)
    base = build_graph(src, canonical=True)
    assert base.ops.count("Relu") == 3  # after the InstanceNorm, after conv c2, on the slice
    _same(make_variant(src, "qdq"), src, {"QuantizeLinear", "InstanceNormalization", "Slice"})
    _same(make_variant(src, "qoperator"), src, {"QLinearConv", "QLinearMatMul", "QLinearMul"})
    _same(make_variant(src, "dynamic"), src, {"ConvInteger"})


def test_a_relu6_gives_the_float_graph_whether_or_not_calibration_reached_its_bound():
    """The quantizers remove a ReLU6 and give its tensor the range the calibration saw: [0, 6]
    when the calibration inputs drive it past 6 (the rule puts a ``Relu6`` back), [0, max]
    below 6 (a ``Relu`` comes back, as from a ReLU). The canonical graph reads a ReLU6 as a
    ReLU (``relu6_as_relu``), so both quantized models give the float graph (QDQ and QOperator)."""
    import torch

    from hnn_tf.converters.pytorch import export_module

    for gain in (50.0, 1.0):
        net = _net(True)
        with torch.no_grad():
            net.c2[0].weight.mul_(gain)  # 50: the second block's pre-activations reach far past 6
        src = export_module(net, (torch.zeros(1, 3, 16, 16),), keep_weights=True)
        base = build_graph(src, canonical=True)
        assert "Relu6" not in base.ops and base.ops.count("Relu") == 2
        _same(make_variant(src, "qdq"), src, {"QuantizeLinear"})
        _same(make_variant(src, "qoperator"), src, {"QLinearConv"})
    raw = build_graph(src)  # the raw graph keeps what the exporter wrote
    assert "Clip" in raw.ops


def test_a_sum_of_activations_without_weights_hosts_no_folded_relu():
    """Box arithmetic (a detection head adds anchors and scaled offsets) is non-negative on every
    calibration input without being provably so: a sum whose operands come from no layer with
    weights gets no ReLU back, while a residual sum (one operand a Conv) does."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class Boxes(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            h = self.conv(x)
            size = nn.functional.softplus(h[:, :4]) * 2.0
            centre = nn.functional.softplus(h[:, 4:])
            return torch.relu(h) + 1.0, centre + size  # the second sum is never negative

    torch.manual_seed(0)
    src = export_module(Boxes().eval(), (torch.zeros(1, 3, 8, 8),), keep_weights=True)
    assert build_graph(src, canonical=True).ops.count("Relu") == 1
    _same(make_variant(src, "qdq"), src, {"QuantizeLinear"})


def test_qoperator_residual_relu_comes_back():
    """A ResNet block's ReLU after the residual QLinearAdd is folded into the QLinearAdd's output
    range; the float Add gets it back."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.b = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))

        def forward(self, x):
            y = self.a(x)
            return torch.relu(self.b(y) + y).mean((2, 3))

    torch.manual_seed(0)
    src = export_module(Block().eval(), (torch.zeros(1, 3, 8, 8),), keep_weights=True)
    g = _same(make_variant(src, "qoperator"), src, {"QLinearAdd"})
    assert g.ops.count("Relu") == 2


def test_a_relu_folded_into_a_layout_layer_comes_back():
    """timm's LayerNorm2d is Transpose, LayerNorm, Transpose: the ReLU after it is folded into the
    last Transpose's range, and comes back."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class Norm2dRelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.norm, self.out = nn.Conv2d(3, 8, 3, padding=1), nn.LayerNorm(8), nn.Conv2d(8, 4, 1)

        def forward(self, x):
            y = self.norm(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            return self.out(torch.relu(y))

    torch.manual_seed(0)
    src = export_module(Norm2dRelu().eval(), (torch.zeros(1, 3, 8, 8),), keep_weights=True)
    assert build_graph(src, canonical=True).ops.count("Relu") == 1
    _same(make_variant(src, "qdq"), src, {"QuantizeLinear", "Transpose"})


def test_a_relu_folded_into_a_group_norms_affine_comes_back():
    """PyTorch writes GroupNorm as InstanceNormalization between Reshapes, then a Mul by the scale
    and an Add of the shift; a following ReLU is folded into the range of that Add (BiT's
    pre-activation GroupNorm+ReLU). The Add reads the norm through a Mul by a constant, so it
    comes from a layer with weights and hosts the ReLU that comes back."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.gn, self.conv2 = nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.Conv2d(8, 4, 1)

        def forward(self, x):
            return self.conv2(torch.relu(self.gn(self.conv1(x))))

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        net.gn.weight.uniform_(0.5, 1.5)
        net.gn.bias.uniform_(-0.5, 0.5)
    src = export_module(net, (torch.zeros(1, 3, 8, 8),), keep_weights=True)
    assert build_graph(src, canonical=True).ops.count("Relu") == 1
    _same(make_variant(src, "qdq"), src, {"QuantizeLinear", "InstanceNormalization"})
    _same(make_variant(src, "qoperator"), src, {"QLinearConv"})


def test_a_batchnorm_of_a_post_relu_input_hosts_no_folded_relu():
    """RepVGG-style blocks (TextNet) add a BatchNorm of their post-ReLU input to the sum of their
    convolution branches, then apply the ReLU. That BatchNorm's output is non-negative (its
    input is, and its affine keeps the sign), so its quantized range starts at 0 without a
    ReLU: the rules put no Relu after it, in QDQ (where the input is read through the restored
    Relu) and in QOperator (where it is a QLinearAdd's output whose zero point is at the
    range's start). A BatchNorm whose affine can flip the sign still hosts one."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class Rep(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.main = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
            self.side = nn.Sequential(nn.Conv2d(8, 8, (3, 1), padding=(1, 0)), nn.BatchNorm2d(8))
            self.identity = nn.BatchNorm2d(8)
            self.main2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
            self.identity2 = nn.BatchNorm2d(8)
            self.head = nn.Linear(8, 4)

        def forward(self, x):
            x = self.stem(x)
            x = torch.relu(self.main(x) + self.side(x) + self.identity(x))
            x = torch.relu(self.main2(x) + self.identity2(x))
            return self.head(x.mean((2, 3)))

    torch.manual_seed(0)
    net = Rep().eval()
    src = export_module(net, (torch.zeros(1, 3, 16, 16),), keep_weights=True)
    base = build_graph(src, canonical=True)
    assert base.ops.count("Relu") == 3
    _same(make_variant(src, "qdq"), src, {"QuantizeLinear"})
    _same(make_variant(src, "qoperator"), src, {"QLinearConv", "QLinearAdd"})
    with torch.no_grad():  # a shift below 0 in one channel: a non-negative range needs a ReLU
        net.identity.bias[3] = -1.0
    from hnn_tf.graph.rules._quant import _batchnorm_keeps_sign

    g = build_ir(export_module(net, (torch.zeros(1, 3, 16, 16),), keep_weights=True))
    keeps = [_batchnorm_keeps_sign(g, n.inputs) for n in g.nodes if n.op == "BatchNormalization"]
    assert len(keeps) == 6 and keeps.count(False) == 1


def test_a_relu_after_concatenated_attention_heads_comes_back():
    """EfficientViT concatenates its attention heads' outputs (each ``v @ attn^T``, the values
    from a convolution) and applies a ReLU: the quantizers fold that ReLU into the Concat's
    range, and the rules put it back (QDQ and QOperator)."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.ModuleList(nn.Conv2d(8, 12, 1) for _ in range(2))
            self.proj = nn.Conv2d(8, 8, 1)

        def forward(self, x):
            outs = []
            for qkv in self.qkv:
                q, k, v = qkv(x).flatten(2).split([4, 4, 4], dim=1)
                attn = (q.transpose(-2, -1) @ k).softmax(-1)
                outs.append((v @ attn.transpose(-2, -1)).view(1, 4, 4, 4))
            return self.proj(torch.relu(torch.cat(outs, 1)))

    torch.manual_seed(0)
    src = export_module(Heads().eval(), (torch.zeros(1, 8, 4, 4),), keep_weights=True)
    assert build_graph(src, canonical=True).ops.count("Relu") == 1
    _same(make_variant(src, "qdq"), src, {"QuantizeLinear"})
    _same(make_variant(src, "qoperator"), src, {"QLinearConv"})
