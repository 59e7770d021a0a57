"""The graph builder: clean-up, shapes, FLOPs, parameters and the merge rules (paper 3.2)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hnn_tf.graph import PAPER_MERGE_RULES, LayerGraph, MergeRule, build_graph, merge_graph
from hnn_tf.graph.shapes import _run_shapes, _shape_model, infer_shapes


def test_resnet18_flops_and_params_match_torchvision(resnet18_onnx):
    import torchvision

    g = build_graph(resnet18_onnx, source="resnet18")
    macs = sum(int(f) for op, f in zip(g.ops, g.flops) if op in ("Conv", "Gemm")) / 2
    assert abs(macs - 1.814e9) / 1.814e9 < 0.01
    expected = sum(p.numel() for p in torchvision.models.resnet18(weights=None).parameters())
    assert expected == 11_689_512
    assert int(g.params.sum()) == expected


def test_resnet18_canonical_graph(resnet18_onnx):
    g = build_graph(resnet18_onnx)
    raw_ops = {n.op_type for n in resnet18_onnx.graph.node}
    assert "Identity" in raw_ops  # the export has them; the layer graph must not
    assert not {"Identity", "Constant", "Shape", "Dropout"} & set(g.ops)
    assert g.ops.count("Conv") == 20 and g.ops.count("BatchNormalization") == 20
    assert g.ops.count("Add") == 8 and g.ops.count("Gemm") == 1
    # every Add joins two branches; the graph is connected and acyclic
    import networkx as nx

    nx_g = g.to_networkx()
    assert nx.is_directed_acyclic_graph(nx_g) and nx.is_weakly_connected(nx_g)
    assert all(nx_g.in_degree(i) == 2 for i, op in enumerate(g.ops) if op == "Add")


def _bookkeeping_model() -> onnx.ModelProto:
    """x -> Conv -> Identity -> Dropout -> Relu -> Reshape(shape from Shape/Gather/Unsqueeze/Concat) -> Gemm."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    fc = numpy_helper.from_array(np.ones((10, 4 * 6 * 6), np.float32), "fc")
    idx0 = numpy_helper.from_array(np.array(0, np.int64), "idx0")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "minus1")
    nodes = [
        helper.make_node("Conv", ["x", "w_alias"], ["c"], kernel_shape=[3, 3]),
        helper.make_node("Identity", ["w"], ["w_alias"]),
        helper.make_node("Identity", ["c"], ["c_id"]),
        helper.make_node("Dropout", ["c_id"], ["c_drop"]),
        helper.make_node("Relu", ["c_drop"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Gather", ["s", "idx0"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
        helper.make_node("Constant", [], ["axes0"], value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Concat", ["batch1", "minus1"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["r", "newshape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc"], ["y"], transB=1),
    ]
    # Constant must come before its use in a valid graph: move it first
    nodes.insert(0, nodes.pop(8))
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[w, fc, idx0, minus1],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_cleanup_removes_identity_dropout_constants_and_shape_computation():
    g = build_graph(_bookkeeping_model())
    assert g.ops == ["Conv", "Relu", "Reshape", "Gemm"]
    assert g.edges.tolist() == [[0, 1], [1, 2], [2, 3]]
    # parameters follow the Identity link back to the initializer
    assert g.params.tolist() == [4 * 3 * 3 * 3, 0, 0, 10 * 144]
    # the dynamic batch dimension becomes 1 on the trigger input: Conv 8x8 -> 6x6
    assert g.flops[0] == 2 * (4 * 6 * 6) * (3 * 3 * 3)
    assert g.flops[3] == 2 * 10 * 144


def test_onnxruntime_fallback_agrees_with_onnx_inference():
    m = _bookkeeping_model()
    light, feeds = _shape_model(m, 224)
    needed = {"c", "r", "flat", "y"}
    ran = _run_shapes(light, feeds, needed)
    inferred = infer_shapes(m, needed=needed)
    for name in needed:
        assert ran[name] == inferred[name]
    assert ran["flat"] == (1, 144)


def test_no_data_input_is_an_error():
    graph = helper.make_graph([], "empty", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    from hnn_tf.errors import GraphError

    with pytest.raises(GraphError, match="model.onnx"):
        build_graph(helper.make_model(graph), source="model.onnx")


def _chain(ops, extra_edges=()):
    n = len(ops)
    edges = [(i, i + 1) for i in range(n - 1)] + list(extra_edges)
    return LayerGraph(ops=ops, flops=np.arange(1, n + 1), params=np.arange(n), edges=edges)


def test_merge_paper_example_conv_relu():
    g = _chain(["Conv", "Relu"])
    m = merge_graph(g, [MergeRule(("Conv", "Relu"))])
    assert m.ops == ["Conv-Relu"] and m.num_edges == 0
    assert m.flops.tolist() == [3] and m.params.tolist() == [1]


def test_merge_prefers_longest_rule_and_conv_conv_bn_relu():
    g = _chain(["Conv", "Conv", "BatchNormalization", "Relu", "MaxPool"])
    m = merge_graph(g, PAPER_MERGE_RULES)
    assert m.ops == ["Conv-Conv-BatchNormalization-Relu", "MaxPool"]
    assert m.edges.tolist() == [[0, 1]]
    assert int(m.flops.sum()) == int(g.flops.sum()) and int(m.params.sum()) == int(g.params.sum())


def test_merge_needs_single_consumer_edges():
    # Conv feeds both Relu and an Add: the Conv -> Relu edge is not single-consumer
    g = LayerGraph(ops=["Conv", "Relu", "Add"], flops=[1, 1, 1], params=[1, 0, 0], edges=[(0, 1), (0, 2), (1, 2)])
    assert merge_graph(g).ops == ["Conv", "Relu", "Add"]


def test_resnet18_merged_variant(resnet18_onnx):
    raw = build_graph(resnet18_onnx)
    merged = build_graph(resnet18_onnx, merge=True)
    assert merged.num_nodes < raw.num_nodes
    assert "Conv-BatchNormalization-Relu" in merged.ops and "Conv-BatchNormalization" in merged.ops
    assert "BatchNormalization" not in merged.ops
    assert int(merged.params.sum()) == int(raw.params.sum())
    assert int(merged.flops.sum()) == int(raw.flops.sum())


def test_indexed_reads_and_writes_move_data_only():
    """GatherND (the dynamo exporter's spelling of a MoE router's Gather) and the other
    indexed reads and writes cost 0 FLOPs, as Gather does (hnn_tf/graph/cost.py)."""
    from hnn_tf.graph.cost import node_flops

    shapes = [(64, 256), (64, 1)]
    for op in ("Gather", "GatherND", "GatherElements", "ScatterND", "ScatterElements"):
        assert node_flops(op, shapes, [(64, 256)], {}) == 0, op
    assert node_flops("Add", shapes, [(64, 256)], {}) == 64 * 256


def test_a_model_of_only_quantize_dequantize_is_an_error_not_a_code():
    """The canonical rules remove Q/DQ pairs; a model of nothing else has no layer to hash and
    gets one GraphError naming it (before, it hashed to the empty graph's code)."""
    from hnn_tf.errors import GraphError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
    zero = helper.make_tensor("z", TensorProto.UINT8, [], [128])
    graph = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                               helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])],
                              "qdq", [x], [y], initializer=[scale, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert build_graph(model, canonical=False).ops == ["QuantizeLinear", "DequantizeLinear"]
    with pytest.raises(GraphError, match="qdq.onnx: no layer is left"):
        build_graph(model, source="qdq.onnx", canonical=True)
