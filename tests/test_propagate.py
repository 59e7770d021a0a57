"""The one-pass shape propagation (hnn_tf/graph/propagate.py) against onnxruntime runs."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hnn_tf.graph import build_graph
from hnn_tf.graph.propagate import propagate
from hnn_tf.graph.shapes import _run_shapes, _shape_model, infer_shapes


def _c(name, value, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def resize_by_shape_arithmetic() -> onnx.ModelProto:
    """x -> Conv -> Resize to floor(1.5 * H) x floor(1.5 * W) computed from Shape -> Conv ->
    Pad to a multiple of 7 (Swin's window padding) -> NonZero -> Gather (data-dependent)."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Shape", ["c"], ["s"]),
        helper.make_node("Gather", ["s", "i23"], ["hw"]),
        helper.make_node("Cast", ["hw"], ["hwf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hwf", "scale"], ["hws"]),
        helper.make_node("Floor", ["hws"], ["hwfl"]),
        helper.make_node("Cast", ["hwfl"], ["hwi"], to=TensorProto.INT64),
        helper.make_node("Slice", ["s", "zero", "two"], ["nc"]),
        helper.make_node("Concat", ["nc", "hwi"], ["size"], axis=0),
        helper.make_node("Resize", ["c", "", "", "size"], ["r"], mode="nearest"),
        helper.make_node("Shape", ["r"], ["rs"]),
        helper.make_node("Gather", ["rs", "i23"], ["rhw"]),
        helper.make_node("Mod", ["rhw", "seven"], ["m"]),
        helper.make_node("Sub", ["seven", "m"], ["pad0"]),
        helper.make_node("Mod", ["pad0", "seven"], ["pad"]),
        helper.make_node("Concat", ["zeros6", "pad"], ["pads"], axis=0),
        helper.make_node("Pad", ["r", "pads"], ["p"]),
        helper.make_node("Relu", ["p"], ["y"]),
        helper.make_node("NonZero", ["y"], ["nz"]),
        helper.make_node("Transpose", ["nz"], ["nzt"]),
        helper.make_node("GatherND", ["y", "nzt"], ["picked"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("picked", TensorProto.FLOAT, None)],
        initializer=[
            numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w"),
            _c("i23", [2, 3]), _c("scale", [1.5, 1.5], np.float32), _c("zero", [0]), _c("two", [2]),
            _c("seven", 7), _c("zeros6", [0, 0, 0, 0, 0, 0]),
        ],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_propagation_folds_shape_arithmetic_like_a_run():
    model = resize_by_shape_arithmetic()
    light, feeds = _shape_model(model, 30)
    found = propagate(light, feeds)
    assert found.shapes["r"] == (1, 8, 45, 45)
    assert found.shapes["p"] == (1, 8, 49, 49)  # padded up to a multiple of 7
    assert {"nz", "nzt", "picked"} <= found.dynamic and "picked" not in found.shapes
    ran = _run_shapes(light, feeds, {o for n in light.graph.node for o in n.output})
    for name, shape in found.shapes.items():
        if name in ran:
            assert tuple(ran[name]) == shape, name
    # onnx's own inference alone does not get past the Resize
    inferred = onnx.shape_inference.infer_shapes(light, data_prop=True)
    known = {vi.name for vi in inferred.graph.value_info
             if all(d.HasField("dim_value") for d in vi.type.tensor_type.shape.dim)}
    assert "p" not in known


def test_data_dependent_shapes_stay_unknown_and_count_no_flops():
    model = resize_by_shape_arithmetic()
    shapes = infer_shapes(model, spatial=30)
    assert shapes["p"] == (1, 8, 49, 49)
    assert shapes.get("picked") is None or None in shapes["picked"]
    g = build_graph(model, spatial=30)
    flops = dict(zip(g.ops, g.flops))
    assert flops["Relu"] == 8 * 49 * 49 and flops["GatherND"] == 0


def test_large_constants_are_typed_not_evaluated():
    # ConstantOfShape of a huge shape: only its type is inferred, nothing is allocated
    nodes = [
        helper.make_node("ConstantOfShape", ["big"], ["z"], value=numpy_helper.from_array(np.zeros(1, np.float32))),
        helper.make_node("Shape", ["z"], ["zs"]),
        helper.make_node("Range", ["zero", "huge", "one"], ["rng"]),
        helper.make_node("Add", ["x", "x"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[_c("big", [1 << 20, 1 << 20]), _c("zero", 0), _c("huge", 1 << 40), _c("one", 1)],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    light, feeds = _shape_model(model, 4)
    found = propagate(light, feeds)
    assert found.shapes["z"] == (1 << 20, 1 << 20)
    assert found.shapes["zs"] == (2,)
    assert found.shapes["rng"] == (1 << 40,)  # from the schema's inference, not by evaluating it
    assert found.shapes["y"] == (1, 4)


def test_incomplete_symbolic_inference_writes_nothing(tmp_path, monkeypatch):
    """onnxruntime's own ``infer_shapes`` saves the model (weights as external data) into the
    working directory when inference is incomplete; hnn's driver of it must not."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    from hnn_tf.graph.shapes import _symbolic_shapes

    def incomplete(self, *args):
        self.run_ = False
        return False

    monkeypatch.setattr(SymbolicShapeInference, "_infer_impl", incomplete)
    monkeypatch.chdir(tmp_path)
    model = resize_by_shape_arithmetic()
    with np.errstate(all="ignore"):
        inferred = _symbolic_shapes(model)
    assert isinstance(inferred, onnx.ModelProto) and len(inferred.graph.node) == len(model.graph.node)
    assert list(tmp_path.iterdir()) == []
    with __import__("pytest").raises(Exception, match="Incomplete"):
        SymbolicShapeInference.infer_shapes(model, auto_merge=True, guess_output_rank=True)
    assert "sym_shape_infer_temp.onnx" in [p.name for p in tmp_path.iterdir()]  # what is avoided


def test_graph_ir_round_trips_through_json():
    """The zoo caches the graph IR as JSON (hnn_tf/zoo/broad.py) and rebuilds canonical graphs
    from it when the rules change: the round trip gives the same graphs."""
    import json

    from hnn_tf.graph import build_ir, graph_from_ir
    from hnn_tf.graph.ir import GraphIR

    model = resize_by_shape_arithmetic()
    ir = build_ir(model)
    back = GraphIR.from_dict(json.loads(json.dumps(ir.to_dict())))
    assert [n.op for n in back.nodes] == [n.op for n in ir.nodes] and back.outputs == ir.outputs
    for canonical in (False, True):
        assert graph_from_ir(back, canonical=canonical).fingerprint() == build_graph(model, canonical=canonical).fingerprint()


def test_mixed_float_types_still_give_shapes():
    # an fp16 conversion that left one operand in float32 (onnxconverter-common keeps some ops
    # in float32): ONNX's checker rejects the Mul's types, propagation infers its shape anyway
    nodes = [
        helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
        helper.make_node("Pow", ["x32", "two"], ["sq"]),
        helper.make_node("Mul", ["x", "sq"], ["m"]),
        helper.make_node("Shape", ["m"], ["ms"]),
        helper.make_node("Reshape", ["m", "ms"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)],
        initializer=[_c("two", 2.0, np.float32)],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    light, feeds = _shape_model(model, 4)
    found = propagate(light, feeds)
    assert found.shapes["m"] == (2, 3) and found.shapes["y"] == (2, 3)


def test_fallbacks_are_bounded_on_large_graphs(monkeypatch):
    """Above FALLBACK_MAX_NODES nodes, no onnxruntime session and no symbolic inference is tried
    for what propagation leaves unknown (each takes about a millisecond per node)."""
    import hnn_tf.graph.shapes as shapes

    calls = []
    monkeypatch.setattr(shapes, "_run_shapes", lambda *a: calls.append("run") or {})
    monkeypatch.setattr(shapes, "_symbolic_shapes", lambda *a: calls.append("symbolic"))
    model = resize_by_shape_arithmetic()
    model.graph.node.append(helper.make_node("CustomOp", ["y"], ["z"], domain="example.custom"))
    model.graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    model.opset_import.append(helper.make_opsetid("example.custom", 1))
    with np.errstate(all="ignore"):
        infer_shapes(model)
        assert calls == ["run", "symbolic"]  # an op of another domain: the fallbacks run
        calls.clear()
        monkeypatch.setattr(shapes, "FALLBACK_MAX_NODES", len(model.graph.node) - 1)
        found = infer_shapes(model)
    assert calls == [] and found["y"][:2] == (1, 8)


def test_quantized_contrib_ops_get_their_float_ops_shapes():
    """onnxruntime's QOperator ops of the com.microsoft domain (QLinearMul, QLinearAdd,
    QLinearConcat, QLinearSigmoid) have no ONNX schema: their shapes are those of the float op on
    the same operands, and what follows them (an Unsqueeze of a quantized rotary table) is known."""
    ms = "com.microsoft"
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"]),
        helper.make_node("QLinearMul", ["xq", "s", "zp", "tq", "s", "zp", "s", "zp"], ["m"], domain=ms),
        helper.make_node("QLinearAdd", ["m", "s", "zp", "bq", "s", "zp", "s", "zp"], ["a"], domain=ms),
        helper.make_node("QLinearSigmoid", ["a", "s", "zp", "s", "zp"], ["sg"], domain=ms),
        helper.make_node("QLinearConcat", ["s", "zp", "sg", "s", "zp", "m", "s", "zp"], ["c"], domain=ms, axis=1),
        helper.make_node("Unsqueeze", ["c", "zero"], ["u"]),
        helper.make_node("DequantizeLinear", ["u", "s", "zp"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[_c("s", 0.1, np.float32), _c("zp", 0, np.uint8), _c("tq", np.ones((3, 4)), np.uint8),
                     _c("bq", np.ones((4,)), np.uint8), _c("zero", [0])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)])
    light, feeds = _shape_model(model, 4)
    found = propagate(light, feeds)
    assert found.shapes["m"] == (2, 3, 4) and found.shapes["a"] == (2, 3, 4) and found.shapes["sg"] == (2, 3, 4)
    assert found.shapes["c"] == (2, 6, 4) and found.shapes["u"] == (1, 2, 6, 4) and found.shapes["y"] == (1, 2, 6, 4)
    assert not found.unresolved


def test_a_float_mask_computed_in_the_graph_counts_as_parameters():
    """``Where(cond, 0, -100)`` computed from the input's shape (Swin's shifted-window mask) is a
    float constant: the Add reading it counts its elements, as it counts the same mask stored as
    an initializer (what onnxruntime's quant_pre_process and onnxsim make of it)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["xs", "two"], ["n"]),
        helper.make_node("Range", ["zero_s", "n", "one_s"], ["idx"]),
        helper.make_node("Less", ["idx", "half"], ["cond"]),
        helper.make_node("Where", ["cond", "fzero", "fneg"], ["mask"]),
        helper.make_node("Add", ["x", "mask"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[_c("two", 2), _c("zero_s", 0), _c("one_s", 1), _c("half", 4), _c("fzero", 0.0, np.float32),
                     _c("fneg", -100.0, np.float32)],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    stored = helper.make_model(helper.make_graph(
        [helper.make_node("Add", ["x", "mask"], ["y"])], "g", list(g.input), list(g.output),
        initializer=[_c("mask", np.where(np.arange(8) < 4, 0.0, -100.0), np.float32)]),
        opset_imports=[helper.make_opsetid("", 17)])
    computed, initializer = build_graph(model, canonical=True), build_graph(stored, canonical=True)
    assert computed.ops == ["Add"] and int(computed.params[0]) == 8
    assert computed.fingerprint() == initializer.fingerprint()


def test_mixed_float_types_in_a_where_keep_its_condition_bool():
    """An fp16 conversion that left one branch of a Where in float32 (Swin v2's shifted-window
    mask): the retyped inference must not give the branches the condition's bool type."""
    nodes = [
        helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
        helper.make_node("Greater", ["x32", "zero32"], ["cond"]),
        helper.make_node("Where", ["cond", "neg16", "x32"], ["mask"]),
        helper.make_node("Add", ["x", "mask"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)],
        initializer=[_c("zero32", 0.0, np.float32), _c("neg16", -100.0, np.float16)],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    light, feeds = _shape_model(model, 4)
    found = propagate(light, feeds)
    assert found.shapes["mask"] == (2, 3) and found.shapes["y"] == (2, 3)


def test_a_quantized_shape_value_keeps_its_float_value():
    """onnxruntime's QDQ quantizer wraps a Resize's computed scales in QuantizeLinear and
    DequantizeLinear (timm's CoaT): the round trip would turn a scale of 2 into 1.99 and the
    output size 10 into 9; propagation keeps the float value, the size the float model computes."""
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["xs", "two"], ["h"]),
        helper.make_node("Cast", ["h"], ["hf"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["ten", "hf"], ["s"]),  # 10 / 5 = 2, computed from the shape
        helper.make_node("Concat", ["ones", "s", "s"], ["scales"], axis=0),
        helper.make_node("QuantizeLinear", ["scales", "qs", "zp"], ["scales_q"]),
        helper.make_node("DequantizeLinear", ["scales_q", "qs", "zp"], ["scales_dq"]),
        helper.make_node("Resize", ["x", "", "scales_dq"], ["y"], mode="linear"),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[_c("two", [2]), _c("ten", [10.0], np.float32), _c("ones", [1.0, 1.0], np.float32),
                     _c("qs", 2.0 / 127.4, np.float32), _c("zp", 0, np.uint8)],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    light, feeds = _shape_model(model, 5)
    assert propagate(light, feeds).shapes["y"] == (1, 3, 10, 10)
