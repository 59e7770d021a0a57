"""Canonical graphs: each rewrite rule, and one architecture giving one graph whatever the
framework, exporter or weights (identical canonical LayerGraphs give identical codes for any
hasher, so the targets are asserted on the graphs: ops, edges, FLOPs and parameters)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hnn_tf.features import f_enc_array
from hnn_tf.graph import CANONICAL_MERGE_RULES, CANONICAL_RULES, LayerGraph, build_graph
from hnn_tf.graph.ir import Const, GraphIR, Node
from hnn_tf.graph.rewrite import apply, canonicalize

# --------------------------------------------------------------------------- IR helpers


def node(op, ins, outs, ins_shapes=None, outs_shapes=None, attrs=None, flops=0, params=0):
    return Node(op=op, name=f"{op}:{outs[0]}", inputs=list(ins), outputs=list(outs), attrs=attrs or {},
                flops=flops, params=params, in_shapes=list(ins_shapes or []), out_shapes=list(outs_shapes or []))


def graph(nodes, consts=None, outputs=None):
    consts = {k: (v if isinstance(v, Const) else Const(dims=tuple(np.shape(v)), dtype=TensorProto.FLOAT,
                                                         value=np.asarray(v, np.float32)))
              for k, v in (consts or {}).items()}
    return GraphIR(nodes=list(nodes), inputs={"x"}, outputs=list(outputs or [nodes[-1].outputs[0]]), consts=consts)


def dims_only(*dims):
    return Const(dims=tuple(dims), dtype=TensorProto.FLOAT, value=None)


def ops(g: GraphIR) -> list[str]:
    return [n.op for n in g.nodes]


X = (1, 8, 6, 6)  # an NCHW activation
X_NHWC = (1, 6, 6, 8)


# --------------------------------------------------------------------------- one test per rule


def test_rule_list():
    assert [r.name for r in CANONICAL_RULES] == [
        "quantized_pad", "drop_float_casts", "dequantize", "qlinear_to_float", "integer_to_float",  # precision
        "strip_trailing_softmax", "remove_dead_nodes", "merge_duplicate_layers",  # clean-up
        "drop_layout_transposes", "drop_transposes", "drop_neutral_arithmetic", "drop_noops", "slices_to_split",
        "drop_empty_concat_inputs", "drop_single_input_concat", "merge_nested_concat", "drop_gemm_reshapes", "fold_pad",  # layout
        "clip_to_relu", "drop_redundant_relu", "fuse_silu", "fuse_hardsigmoid", "fuse_hardswish", "fuse_gelu", "relu6_as_relu", "matmul_add_to_gemm", "split_fused_gemm",
        "gathernd_to_gather", "fold_scale_into_gemm",
        "fuse_layernorm", "fuse_rmsnorm", "affine_to_batchnorm", "fold_batchnorm",
        "global_pool", "reshape_to_flatten", "collapse_data_movement", "count_affine_bias", "count_norm_affine",
        "canonical_order",
    ]
    assert [r.label for r in CANONICAL_MERGE_RULES] == ["Conv-Relu", "Conv-Relu6"]


def test_every_rule_and_pass_has_its_test():
    """Each registered rule or pass is a unit with its own test, ``test_<its name>``, in this
    file or in tests/test_rules_*.py."""
    import pathlib
    import re

    from hnn_tf.graph.rules import PASSES, RULES

    here = pathlib.Path(__file__).parent
    defined = {m for f in (here / "test_canonical.py", *sorted(here.glob("test_rules_*.py")))
               for m in re.findall(r"^def (test_\w+)\(", f.read_text(), flags=re.M)}
    names = {f"test_{n}" for n in (*RULES, *PASSES)}
    assert names <= defined, sorted(names - defined)


def test_strip_trailing_softmax():
    g = graph([node("Gemm", ["x", "w"], ["y"]), node("Softmax", ["y"], ["p"])], {"w": dims_only(4, 4)})
    assert apply(g, "strip_trailing_softmax")
    assert ops(g) == ["Gemm"] and g.outputs == ["y"]
    # a Softmax inside the graph (attention) is a layer and stays
    g = graph([node("Softmax", ["x"], ["s"]), node("MatMul", ["s", "x"], ["y"])])
    assert not apply(g, "strip_trailing_softmax") and ops(g) == ["Softmax", "MatMul"]


def test_remove_dead_nodes():
    g = graph([node("Relu", ["x"], ["a"]), node("Sigmoid", ["x"], ["unused"]), node("Tanh", ["a"], ["y"])])
    assert apply(g, "remove_dead_nodes")
    assert ops(g) == ["Relu", "Tanh"]
    assert not apply(g, "remove_dead_nodes")


def test_drop_layout_transposes():
    g = graph([
        node("Transpose", ["x"], ["t"], attrs={"perm": [0, 3, 1, 2]}),
        node("Relu", ["t"], ["r"]),
        node("Transpose", ["r"], ["u"], attrs={"perm": [0, 2, 3, 1]}),
        node("Reshape", ["u", "s"], ["v"]),
        node("Transpose", ["v"], ["shuffled"], attrs={"perm": [0, 2, 1, 3, 4]}),  # channel shuffle
    ], {"s": dims_only(5)})
    assert apply(g, "drop_layout_transposes")
    assert ops(g) == ["Relu", "Reshape", "Transpose"]
    assert g.nodes[0].inputs == ["x"] and g.nodes[1].inputs[0] == "r"
    assert g.to_layer_graph().edges.tolist() == [[0, 1], [1, 2]]


def test_drop_single_input_concat():
    g = graph([node("Relu", ["x"], ["a"]), node("Concat", ["a"], ["c"], attrs={"axis": 1}),
               node("Concat", ["c", "x"], ["y"], attrs={"axis": 1})])
    assert apply(g, "drop_single_input_concat")
    assert ops(g) == ["Relu", "Concat"] and g.nodes[1].inputs == ["a", "x"]


def test_merge_nested_concat():
    shape = (1, 8, 6, 6)
    g = graph([
        node("Relu", ["x"], ["a"]), node("Sigmoid", ["x"], ["b"]),
        node("Concat", ["a", "b"], ["inner"], outs_shapes=[(1, 16, 6, 6)], attrs={"axis": 1}),
        node("Concat", ["x", "inner"], ["y"], outs_shapes=[(1, 24, 6, 6)], attrs={"axis": -3}),
    ])
    assert apply(g, "merge_nested_concat")
    assert ops(g) == ["Relu", "Sigmoid", "Concat"] and g.nodes[2].inputs == ["x", "a", "b"]
    # along another axis, or read by another layer too, it stays
    g = graph([node("Concat", ["x", "x"], ["inner"], outs_shapes=[(1, 8, 12, 6)], attrs={"axis": 2}),
               node("Concat", ["x", "inner"], ["y"], outs_shapes=[(1, 16, 12, 6)], attrs={"axis": 1})])
    assert not apply(g, "merge_nested_concat")
    g = graph([node("Concat", ["x", "x"], ["inner"], outs_shapes=[shape], attrs={"axis": 1}),
               node("Concat", ["x", "inner"], ["c"], outs_shapes=[shape], attrs={"axis": 1}),
               node("Add", ["inner", "c"], ["y"])])
    assert not apply(g, "merge_nested_concat")


def test_fold_pad():
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)
    g = graph([node("Pad", ["x", "p"], ["xp"]), node("Conv", ["xp", "w"], ["y"])],
              {"p": Const((8,), TensorProto.INT64, pads), "w": dims_only(4, 8, 3, 3)})
    assert apply(g, "fold_pad")
    assert ops(g) == ["Conv"] and g.nodes[0].inputs[0] == "x"
    # NHWC padding of H and W (tf2onnx before a MaxPool) folds too
    nhwc = np.array([0, 1, 1, 0, 0, 1, 1, 0], np.int64)
    g = graph([node("Pad", ["x", "p"], ["xp"]), node("MaxPool", ["xp"], ["y"])],
              {"p": Const((8,), TensorProto.INT64, nhwc)})
    assert apply(g, "fold_pad") and ops(g) == ["MaxPool"]
    # not folded: a Pad feeding an Add, a reflecting Pad, a Pad of the batch axis
    for consumer, attrs, p in (("Add", {}, pads), ("Conv", {"mode": b"reflect"}, pads),
                               ("Conv", {}, np.array([1, 0, 1, 1, 0, 0, 1, 1], np.int64))):
        g = graph([node("Pad", ["x", "p"], ["xp"], attrs=attrs), node(consumer, ["xp", "w"], ["y"])],
                  {"p": Const((8,), TensorProto.INT64, p), "w": dims_only(4, 8, 3, 3)})
        assert not apply(g, "fold_pad") and ops(g) == ["Pad", consumer]


def test_clip_to_relu():
    consts = {"zero": np.float32(0), "six": np.float32(6), "one": np.float32(1), "minus": np.float32(-1)}
    g = graph([
        node("Clip", ["x", "zero", "six"], ["a"]),
        node("Clip", ["a", "zero"], ["b"]),
        node("Clip", ["b", "minus", "one"], ["c"]),
        node("Clip", ["c"], ["d"], attrs={"min": 0.0, "max": 6.0}),  # opset < 11: attributes
        node("Clip", ["d", "zero", "unknown"], ["y"]),  # an upper bound computed at run time
    ], consts)
    assert apply(g, "clip_to_relu")
    assert ops(g) == ["Relu6", "Relu", "Clip", "Relu6", "Clip"]


def test_matmul_add_to_gemm():
    g = graph([
        node("MatMul", ["x", "w"], ["m"], [(1, 16), (16, 10)], [(1, 10)], flops=320, params=160),
        node("Add", ["m", "b"], ["y"], [(1, 10), (10,)], [(1, 10)], flops=10, params=10),
    ], {"w": dims_only(16, 10), "b": dims_only(10)})
    assert apply(g, "matmul_add_to_gemm")
    (gemm,) = g.nodes
    assert gemm.op == "Gemm" and gemm.inputs == ["x", "w", "b"] and gemm.outputs == ["y"]
    assert gemm.flops == 320  # the bias additions are not counted, as for a Gemm
    # a MatMul of two activations (attention) stays
    g = graph([node("MatMul", ["x", "x"], ["y"], [(1, 16), (1, 16)], [(1, 1)])])
    assert not apply(g, "matmul_add_to_gemm") and ops(g) == ["MatMul"]
    # rows of unknown number (a detection head's proposals): still a dense layer
    g = graph([
        node("MatMul", ["x", "w"], ["m"], [None, (16, 10)], [None]),
        node("Add", ["m", "b"], ["y"], [None, (10,)], [None]),
    ], {"w": dims_only(16, 10), "b": dims_only(10)})
    assert apply(g, "matmul_add_to_gemm") and ops(g) == ["Gemm"] and g.nodes[0].inputs == ["x", "w", "b"]
    # a known shape that does not fit the matrix stays
    g = graph([node("MatMul", ["x", "w"], ["y"], [(1, 8), (16, 10)], [(1, 10)])], {"w": dims_only(16, 10)})
    assert not apply(g, "matmul_add_to_gemm")


def test_affine_to_batchnorm():
    # Keras 3's BatchNorm after a depthwise Conv: Mul and Add by (1, C, 1, 1) constants
    g = graph([
        node("Conv", ["x", "w"], ["c"], [X, (8, 1, 3, 3)], [X], flops=100, params=72),
        node("Mul", ["c", "s"], ["m"], [X, (1, 8, 1, 1)], [X]),
        node("Add", ["m", "t"], ["y"], [X, (1, 8, 1, 1)], [X]),
    ], {"w": dims_only(8, 1, 3, 3), "s": dims_only(1, 8, 1, 1), "t": dims_only(1, 8, 1, 1)})
    assert apply(g, "affine_to_batchnorm")
    assert ops(g) == ["Conv", "BatchNormalization"]
    bn = g.nodes[1]
    assert bn.inputs == ["c"] and bn.outputs == ["y"]
    assert bn.flops == 2 * int(np.prod(X)) and bn.params == 2 * 8
    # NHWC: (C,) constants broadcast along the last axis are per-channel too
    g = graph([node("Mul", ["x", "s"], ["m"], [X_NHWC, (8,)], [X_NHWC]),
               node("Sub", ["m", "t"], ["y"], [X_NHWC, (8,)], [X_NHWC])],
              {"s": dims_only(8), "t": dims_only(8)})
    assert apply(g, "affine_to_batchnorm") and ops(g) == ["BatchNormalization"]
    # not a BatchNorm: a scalar scale, c - x, an Add alone after a non-Conv layer
    for op, args, cdims in (("Mul", ["x", "k"], ()), ("Sub", ["k", "x"], (1, 8, 1, 1)), ("Add", ["x", "k"], (1, 8, 1, 1))):
        g = graph([node(op, args, ["y"], [X, cdims], [X])], {"k": dims_only(*cdims)})
        assert not apply(g, "affine_to_batchnorm") and ops(g) == [op]


def test_fold_batchnorm():
    g = graph([
        node("Conv", ["x", "w"], ["c"], flops=100, params=72),
        node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"], flops=50, params=16),
    ], {k: dims_only(8) for k in "gbmv"} | {"w": dims_only(8, 1, 3, 3)})
    assert apply(g, "fold_batchnorm")
    (conv,) = g.nodes
    assert conv.op == "Conv" and conv.outputs == ["y"] and conv.flops == 100
    # a BatchNorm after a Concat (DenseNet) or after a Conv with two readers stays
    g = graph([node("Concat", ["x", "x"], ["c"]), node("BatchNormalization", ["c"], ["y"])])
    assert not apply(g, "fold_batchnorm")
    g = graph([node("Conv", ["x", "w"], ["c"]), node("BatchNormalization", ["c"], ["b"]),
               node("Add", ["b", "c"], ["y"])], {"w": dims_only(8, 8, 1, 1)})
    assert not apply(g, "fold_batchnorm") and ops(g) == ["Conv", "BatchNormalization", "Add"]


def test_global_pool():
    axes = {"a23": Const((2,), TensorProto.INT64, np.array([2, 3])), "a12": Const((2,), TensorProto.INT64, np.array([1, 2])),
            "a1": Const((1,), TensorProto.INT64, np.array([1]))}
    g = graph([node("ReduceMean", ["x", "a23"], ["p"], [X], [(1, 8, 1, 1)], flops=288),
               node("Flatten", ["p"], ["y"], [(1, 8, 1, 1)], [(1, 8)])], axes)
    assert apply(g, "global_pool")
    assert ops(g) == ["GlobalAveragePool", "Flatten"] and g.nodes[0].inputs == ["x"] and g.nodes[0].flops == 288
    # NHWC, keepdims=0 (tf2onnx): the pool is followed by an added Flatten
    g = graph([node("ReduceMean", ["x", "a12"], ["p"], [X_NHWC], [(1, 8)], attrs={"keepdims": 0}),
               node("Gemm", ["p", "w"], ["y"])], axes | {"w": dims_only(8, 4)})
    assert apply(g, "global_pool")
    assert ops(g) == ["GlobalAveragePool", "Flatten", "Gemm"]
    assert g.to_layer_graph().edges.tolist() == [[0, 1], [1, 2]]
    # jax2onnx: a sum over H and W divided by H * W
    g = graph([node("ReduceSum", ["x", "a12"], ["s"], [X_NHWC], [(1, 8)], attrs={"keepdims": 0}),
               node("Div", ["s", "n"], ["p"], [(1, 8), ()], [(1, 8)]),
               node("Gemm", ["p", "w"], ["y"])], axes | {"n": np.float32(36), "w": dims_only(8, 4)})
    assert apply(g, "global_pool")
    assert ops(g) == ["GlobalAveragePool", "Flatten", "Gemm"]
    # a mean over the channels is not a global pool
    g = graph([node("ReduceMean", ["x", "a1"], ["y"], [X], [(1, 1, 6, 6)])], axes)
    assert not apply(g, "global_pool")


def test_reshape_to_flatten():
    g = graph([
        node("Reshape", ["x", "s"], ["a"], [(1, 512, 1, 1), (2,)], [(1, 512)]),
        node("Squeeze", ["x", "ax"], ["b"], [(1, 512, 1, 1), (2,)], [(1, 512)]),
        node("Reshape", ["x", "s2"], ["c"], [(1, 4, 8, 2), (3,)], [(1, 2, 32)]),
    ], {"s": dims_only(2), "ax": dims_only(2), "s2": dims_only(3)}, outputs=["a", "b", "c"])
    assert apply(g, "reshape_to_flatten")
    assert ops(g) == ["Flatten", "Flatten", "Reshape"]
    assert g.nodes[0].inputs == ["x"]


def test_count_affine_bias():
    g = graph([
        node("Conv", ["x", "w"], ["a"], params=8 * 27),  # bias not stored (torchvision, BN kept)
        node("Conv", ["a", "w2", "b2"], ["b"], params=16 * 72 + 16),  # bias stored (BN folded)
        node("Gemm", ["b", "fc"], ["c"], attrs={"transB": 1}, params=10 * 16),
        node("ConvTranspose", ["c", "wt"], ["y"], attrs={"group": 2}, params=16 * 4 * 4),
    ], {"w": dims_only(8, 3, 3, 3), "w2": dims_only(16, 8, 3, 3), "b2": dims_only(16), "fc": dims_only(10, 16),
        "wt": dims_only(16, 4, 2, 2)})
    assert apply(g, "count_affine_bias")
    assert [n.params for n in g.nodes] == [8 * 27 + 8, 16 * 72 + 16, 10 * 16 + 10, 16 * 16 + 8]
    assert not apply(g, "count_affine_bias")  # idempotent


def test_canonicalize_applies_the_rules_in_order():
    # the layout Transpose is dropped before fold_pad looks at the Pad's readers
    pads = np.array([0, 1, 1, 0, 0, 1, 1, 0], np.int64)
    g = graph([
        node("Pad", ["x", "p"], ["xp"]),
        node("Transpose", ["xp"], ["t"], attrs={"perm": [0, 3, 1, 2]}),
        node("Conv", ["t", "w"], ["c"]),
        node("Softmax", ["c"], ["y"]),
    ], {"p": Const((8,), TensorProto.INT64, pads), "w": dims_only(4, 8, 3, 3)})
    trace = []
    canonicalize(g, trace=trace)
    assert ops(g) == ["Conv"]
    assert [name for name, _ in trace] == [r.name for r in CANONICAL_RULES]


# --------------------------------------------------------------------------- through build_graph


def _keras3_style_onnx() -> onnx.ModelProto:
    """NHWC input -> Transpose -> Pad -> Conv (no bias) -> Mul/Add (BN) -> Clip(0, 6) -> ReduceMean
    -> MatMul -> Softmax, with an unused Sigmoid branch: what tf2onnx writes for Keras 3."""
    f = lambda a, n: numpy_helper.from_array(np.asarray(a, np.float32), n)  # noqa: E731
    inits = [
        f(np.ones((8, 3, 3, 3)), "w"), f(np.ones((1, 8, 1, 1)), "s"), f(np.zeros((1, 8, 1, 1)), "t"),
        f(0.0, "lo"), f(6.0, "hi"), f(np.ones((8, 5)), "fc"),
        numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
    ]
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
        helper.make_node("Pad", ["xt", "pads"], ["xp"]),
        helper.make_node("Conv", ["xp", "w"], ["c"], kernel_shape=[3, 3]),
        helper.make_node("Mul", ["c", "s"], ["m"]),
        helper.make_node("Add", ["m", "t"], ["bn"]),
        helper.make_node("Clip", ["bn", "lo", "hi"], ["r"]),
        helper.make_node("Sigmoid", ["r"], ["dead"]),
        helper.make_node("ReduceMean", ["r", "axes"], ["gap"], keepdims=0),
        helper.make_node("MatMul", ["gap", "fc"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"]),
    ]
    g = helper.make_graph(nodes, "k", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 16, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def test_build_graph_canonical_on_a_keras_style_export():
    m = _keras3_style_onnx()
    raw = build_graph(m)
    assert raw.num_nodes == 10
    trace = []
    g = build_graph(m, canonical=True, trace=trace)
    assert g.ops == ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]  # ReLU6 read as ReLU
    assert g.edges.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4]]
    assert g.params.tolist() == [8 * 27 + 8, 0, 0, 0, 8 * 5 + 5]
    assert g.flops[0] == raw.flops[raw.ops.index("Conv")]
    assert trace[0] == ("clean-up", 10) and trace[-1] == ("canonical_order", 5)
    merged = build_graph(m, canonical=True, merge=True)
    assert merged.ops == ["Conv-Relu", "GlobalAveragePool", "Flatten", "Gemm"]


def test_raw_graph_is_not_canonicalised(resnet18_onnx):
    raw = build_graph(resnet18_onnx)
    canon = build_graph(resnet18_onnx, canonical=True)
    assert raw.ops.count("BatchNormalization") == 20 and "BatchNormalization" not in canon.ops
    assert int(raw.params.sum()) == 11_689_512
    # BN folded: its 2C parameters become the Conv's C bias parameters; its FLOPs go
    bn_channels = sum(int(p) // 2 for op, p in zip(raw.ops, raw.params) if op == "BatchNormalization")
    assert int(canon.params.sum()) == 11_689_512 - bn_channels
    bn_flops = sum(int(f) for op, f in zip(raw.ops, raw.flops) if op == "BatchNormalization")
    assert int(canon.flops.sum()) == int(raw.flops.sum()) - bn_flops
    assert build_graph(resnet18_onnx, merge=True).ops.count("Conv-BatchNormalization-Relu") > 0


# --------------------------------------------------------------------------- the targets


def assert_same_graph(a: LayerGraph, b: LayerGraph) -> None:
    """Identical canonical graphs: same ops, edges, and exactly the same FLOPs and parameters
    (so also the same f_enc buckets, the node features the hasher reads)."""
    assert a.ops == b.ops
    assert a.edges.tolist() == b.edges.tolist()
    assert a.flops.tolist() == b.flops.tolist()
    assert a.params.tolist() == b.params.tolist()
    assert (f_enc_array(a.flops) == f_enc_array(b.flops)).all()
    assert (f_enc_array(a.params) == f_enc_array(b.params)).all()


def assert_isomorphic_graph(a: LayerGraph, b: LayerGraph) -> None:
    """The same canonical graph up to node order (the GCN and attention pooling are
    permutation-invariant, so the codes are equal): an isomorphism that keeps each node's
    op type, FLOPs and parameters (networkx VF2)."""
    import networkx as nx

    assert a.num_nodes == b.num_nodes and a.num_edges == b.num_edges
    same = lambda x, y: (x["op"], x["flops"], x["params"]) == (y["op"], y["flops"], y["params"])  # noqa: E731
    assert nx.is_isomorphic(a.to_networkx(), b.to_networkx(), node_match=same)


def _randomise(model, seed: int = 0):
    """Random BatchNorm statistics and affine parameters (trained-like weights)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) + 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen))
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=gen))
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=gen) + 0.5)
            elif isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)) and mod.bias is not None:
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen))
    return model


def torch_export(name: str, how: str, weights: str) -> onnx.ModelProto:
    """torchvision ``name`` exported ``how``: "kept" (the project's converter: eval mode,
    BatchNorm kept), "folded" (TorchScript exporter, eval, do_constant_folding=True) or
    "dynamo" (torch.export-based exporter); ``weights`` "none" (torchvision init) or "random"."""
    import torch

    from hnn_tf.converters import to_onnx
    from hnn_tf.zoo.models import build_torch_model

    model = build_torch_model(name)
    if weights == "random":
        _randomise(model)
    x = torch.zeros(1, 3, 224, 224)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "kept":
            return to_onnx(model, framework="pytorch")
        if how == "folded":
            buf = io.BytesIO()
            torch.onnx.export(model.eval(), (x,), buf, dynamo=False, do_constant_folding=True, opset_version=17)
            return onnx.load_model_from_string(buf.getvalue())
        return torch.onnx.export(model.eval(), (x,), dynamo=True, verbose=False).model_proto


VARIANTS = [(how, w) for how in ("kept", "folded", "dynamo") for w in ("none", "random")]


def check_torch_variants(name: str) -> None:
    protos = {v: torch_export(name, *v) for v in VARIANTS}
    graphs = {v: build_graph(p, canonical=True) for v, p in protos.items()}
    raw = {v: build_graph(protos[v]).num_nodes for v in (("kept", "none"), ("folded", "none"))}
    assert raw[("kept", "none")] != raw[("folded", "none")]  # the raw graphs differ ...
    first = graphs[VARIANTS[0]]
    for v in VARIANTS[1:]:
        assert_same_graph(first, graphs[v])  # ... the canonical ones do not


def test_resnet18_exports_and_weights_give_one_graph():
    check_torch_variants("resnet18")


def test_mobilenet_v2_exports_and_weights_give_one_graph():
    check_torch_variants("mobilenet_v2")


@pytest.mark.slow
def test_densenet121_exports_and_weights_give_one_graph():
    check_torch_variants("densenet121")


def keras_app(flavour: str, name: str):
    from hnn_tf._tf import import_tensorflow

    import_tensorflow()
    k = __import__(flavour)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(k.applications, name)(weights=None)


@pytest.mark.parametrize("name", ["MobileNetV2", "ResNet50"])
def test_keras3_and_tf_keras_give_one_graph(name):
    from hnn_tf.converters import to_onnx

    a = build_graph(to_onnx(keras_app("keras", name)), canonical=True)
    b = build_graph(to_onnx(keras_app("tf_keras", name)), canonical=True)
    assert_same_graph(a, b)


def test_keras_and_torchvision_mobilenet_v2_give_one_graph():
    from hnn_tf.converters import to_onnx

    keras_graph = build_graph(to_onnx(keras_app("keras", "MobileNetV2")), canonical=True)
    assert_same_graph(keras_graph, build_graph(torch_export("mobilenet_v2", "kept", "none"), canonical=True))


def _small_keras_net(k):
    inp = k.Input((32, 32, 3))
    x = k.layers.ZeroPadding2D(1)(inp)
    x = k.layers.Conv2D(8, 3, use_bias=False)(x)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU(6.0)(x)
    x = k.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(5, activation="softmax")(x))


def tflite_file(model, tmp_path, flavour: str):
    """The model converted with TensorFlow's TFLite converter (Keras 3 through a SavedModel)."""
    from hnn_tf._tf import import_tensorflow

    tf = import_tensorflow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if flavour == "tf_keras":
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
        else:
            model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
            conv = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm"))
        path = tmp_path / "model.tflite"
        path.write_bytes(conv.convert())
    return path


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_keras_and_keras_tflite_give_one_graph(tmp_path, flavour):
    from hnn_tf._tf import import_tensorflow

    from hnn_tf.converters import detect_framework, to_onnx

    import_tensorflow()
    model = _small_keras_net(__import__(flavour))
    path = tflite_file(model, tmp_path, flavour)
    assert detect_framework(path) == "tflite"
    direct = build_graph(to_onnx(model), canonical=True)
    assert direct.ops == ["Conv", "Relu", "Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]
    assert_same_graph(direct, build_graph(to_onnx(path), canonical=True))
    # and with the weights kept (tf2onnx's usual route: BatchNorm folded by tf2onnx)
    assert_same_graph(direct, build_graph(to_onnx(model, keep_weights=True), canonical=True))


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_keras_and_keras_tflite_mobilenet_v2_give_one_graph(tmp_path, flavour):
    from hnn_tf.converters import to_onnx

    model = keras_app(flavour, "MobileNetV2")
    direct = build_graph(to_onnx(model), canonical=True)
    assert_same_graph(direct, build_graph(to_onnx(tflite_file(model, tmp_path, flavour)), canonical=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet50", "InceptionV3"])
def test_keras_with_and_without_weights_give_one_graph(name):
    from hnn_tf.converters import to_onnx

    model = keras_app("keras", name)
    # tf2onnx may emit InceptionV3's parallel branches in another order on the two routes
    assert_isomorphic_graph(build_graph(to_onnx(model), canonical=True),
                            build_graph(to_onnx(model, keep_weights=True), canonical=True))


def test_analyse_model_builds_the_hasher_variant(tmp_path, resnet18_onnx):
    """A hasher trained on canonical graphs hashes the canonical merged graph (and ``raw`` /
    ``merged`` hashers the paper's graphs): same report facts as build_graph gives."""
    from hnn_tf.features import OpVocabulary
    from hnn_tf.hasher import Hasher
    from hnn_tf.hashing import analyse_model, load_hasher
    from hnn_tf.model import HasherConfig

    expected = {
        "raw": build_graph(resnet18_onnx),
        "merged": build_graph(resnet18_onnx, merge=True),
        "canonical": build_graph(resnet18_onnx, canonical=True, merge=True),
    }
    assert "Conv-Relu" in expected["canonical"].ops
    for variant, g in expected.items():
        config = HasherConfig(bits=16, num_classes=10, variant=variant, gcn=(8, 8, 8), fc=(8, 8, 8, 8))
        folder = tmp_path / variant
        Hasher(config, OpVocabulary.from_graphs([g])).save(folder)
        load_hasher.cache_clear()
        report = analyse_model(resnet18_onnx, bits=16, hasher_dir=str(folder))
        assert (report.nodes, report.edges) == (g.num_nodes, g.num_edges)
        assert (report.flops, report.params) == (int(g.flops.sum()), int(g.params.sum()))
    load_hasher.cache_clear()
