"""Static shapes on the trigger input by one pass over the graph, with the shape values folded.

Exporters write shape arithmetic into the graph: ``Shape -> Gather -> Cast -> Mul -> Floor ->
Concat -> Resize`` (torchvision's detection transform), ``Shape -> Mod -> Sub -> Pad``
(Swin's window padding), ``Shape -> Div -> Cast -> Reshape``. ONNX's own inference propagates
values through only a few of those ops, so it stops at the first such layer and every tensor
after it has an unknown shape. This module completes it (docs/design.md "Shape inference has
fallbacks"): it walks the nodes once in topological order, keeping each tensor's element type
and static shape, and the *value* of every small tensor that does not depend on the input's
data (constants, ``Shape`` outputs, and what is computed from them). A node whose inputs all
have values is evaluated (numpy, or onnx's reference implementation for rarer ops); any other
node gets its output types from its ONNX schema's inference function
(``onnx.shape_inference.infer_node_outputs``), given the values of its shape-like inputs. So a
graph of thousands of nodes costs well under a second, where running it in onnxruntime
costs a full inference and onnxruntime's symbolic inference minutes.

What stays unknown: the outputs of ops whose output size depends on the data (``NonZero``,
``NonMaxSuppression``, ``Unique``, ``Compress``: detection post-processing) and what follows
them; the outputs of control-flow ops (``Loop``, ``Scan``, ``If``) and sequence ops whose
schema inference (which reads their bodies) gives no static shape, such as a Loop that
builds a sequence of run-time length (torchvision's MViT pools so), and what follows them; ops
of other domains and model-local functions. onnxruntime's quantized ``com.microsoft`` ops
(QOperator format: ``QLinearAdd``, ``QLinearMul``, ``QGemm``, ``QLinearConcat``, ...) are inferred
by the schema of the float op they compute (:data:`QUANTIZED_AS`), their output keeping the
quantized element type.
:func:`propagate` reports which unknown tensors are data-dependent, so that the caller
(:func:`hnn_tf.graph.shapes.infer_shapes`) can accept those as unknown and fall back to an
onnxruntime run only for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["DATA_DEPENDENT_OPS", "QUANTIZED_AS", "RUNTIME_SHAPED_OPS", "Propagation", "propagate"]

#: Ops whose output shape depends on the input's values, not only its shape.
DATA_DEPENDENT_OPS = frozenset({"NonZero", "NonMaxSuppression", "Unique", "Compress", "StringSplit"})
#: Control-flow ops and ops on tensor sequences: when their schema's inference cannot give
#: static output shapes (a trip count or branch computed at run time, a sequence whose length
#: is), their outputs are treated as data-dependent too.
RUNTIME_SHAPED_OPS = frozenset({"Loop", "Scan", "If", "SequenceEmpty", "SequenceConstruct", "SequenceInsert",
                                "SequenceErase", "SequenceAt", "SequenceLength", "SplitToSequence",
                                "ConcatFromSequence", "SequenceMap"})
#: onnxruntime's quantized ops of the ``com.microsoft`` domain -> (the ONNX op whose shape
#: inference gives their output's shape, the indices of that op's inputs (None: QLinearConcat,
#: one (tensor, scale, zero point) triplet per input after Y_scale and Y_zero_point), the index
#: of the output zero point). The ops of the ONNX domain (QLinearConv, QLinearMatMul) have schemas.
QUANTIZED_AS: dict[str, tuple[str, tuple[int, ...] | None, int]] = {
    "QLinearAdd": ("Add", (0, 3), 7),
    "QLinearMul": ("Mul", (0, 3), 7),
    "QLinearSigmoid": ("Sigmoid", (0,), 4),
    "QLinearLeakyRelu": ("LeakyRelu", (0,), 4),
    "QLinearSoftmax": ("Softmax", (0,), 4),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", (0,), 4),
    "QLinearAveragePool": ("AveragePool", (0,), 4),
    "QGemm": ("Gemm", (0, 3, 6), 8),
    "QLinearConcat": ("Concat", None, 1),
}
#: Attributes of the quantized ops that their float op's schema does not know.
_QUANTIZED_ONLY_ATTRS = frozenset({"opset", "channels_last"})
#: Values with more elements than this are not kept (shape values are short vectors).
MAX_VALUE_ELEMENTS = 4096

_FLOATS = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}
#: Ops whose output can be much larger than their inputs: their size is checked before evaluation.
_GROWING = frozenset({"ConstantOfShape", "Expand", "Tile", "Range"})


@dataclass
class Propagation:
    """What :func:`propagate` found.

    Attributes:
        shapes: tensor name -> static shape (tuple of int) for every tensor it could infer.
        dynamic: names of tensors whose shape is unknown because it depends on the input's
            values (downstream of :data:`DATA_DEPENDENT_OPS`, or of a
            :data:`RUNTIME_SHAPED_OPS` node whose output shapes are not static).
        unresolved: op types (with their domain when not the ONNX one) of nodes it could not
            infer for another reason; their outputs are unknown and not in ``dynamic``.
    """

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dynamic: set[str] = field(default_factory=set)
    unresolved: set[str] = field(default_factory=set)


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _broadcast(*xs: np.ndarray):
    return np.broadcast_arrays(*xs)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.trunc(a.astype(np.float64) / np.where(b == 0, 1, b))
        return q.astype(np.result_type(a, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a / b).astype(np.result_type(a, b))


def _mod(node, a, b):
    if _attr(node, "fmod", 0):
        return np.fmod(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mod(a, np.where(b == 0, 1, b))


def _slice(node, x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else [int(a) % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    index = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        n = x.shape[a]
        s, e = int(s), int(e)
        if st > 0:
            s = max(0, min(n, s + n if s < 0 else s))
            e = max(0, min(n, e + n if e < 0 else e))
        else:
            s = max(-1, min(n - 1, s + n if s < 0 else s))
            e = max(-1, min(n - 1, e + n if e < 0 else e))
            if e == -1:
                e = None
        index[a] = slice(s, e, st)
    return x[tuple(index)]


def _axes(node, inputs, k=1):
    axes = inputs[k] if len(inputs) > k and inputs[k] is not None else _attr(node, "axes")
    return None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]


def _unsqueeze(node, x, axes=None):
    axes = _axes(node, [x, axes])
    rank = x.ndim + len(axes)
    out = x
    for a in sorted(int(a) % rank for a in axes):
        out = np.expand_dims(out, a)
    return out


def _squeeze(node, x, axes=None):
    axes = _axes(node, [x, axes])
    return np.squeeze(x, axis=tuple(int(a) % x.ndim for a in axes) if axes else None)


def _reduce(fn):
    def run(node, x, axes=None):
        ax = _axes(node, [x, axes])
        keep = bool(_attr(node, "keepdims", 1))
        if not ax:
            if _attr(node, "noop_with_empty_axes", 0):
                return x
            return fn(x, axis=None, keepdims=keep)
        return fn(x, axis=tuple(a % x.ndim for a in ax), keepdims=keep)
    return run


def _cast(node, x):
    to = _attr(node, "to")
    return x.astype(helper.tensor_dtype_to_np_dtype(to))


def _dequantize(node, x, scale, zero_point=None):
    axis = int(_attr(node, "axis", 1))
    x = x.astype(np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.zeros_like(scale) if zero_point is None else np.asarray(zero_point, dtype=np.float32)
    if scale.ndim == 1 and x.ndim > 1:  # per-axis
        shape = [1] * x.ndim
        shape[axis % x.ndim] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return (x - zp) * scale


def _quantize(node, x, scale, zero_point=None):
    axis = int(_attr(node, "axis", 1))
    x = np.asarray(x, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.zeros((), np.uint8) if zero_point is None else np.asarray(zero_point)
    if scale.ndim == 1 and x.ndim > 1:  # per-axis
        shape = [1] * x.ndim
        shape[axis % x.ndim] = -1
        scale, zpf = scale.reshape(shape), zp.astype(np.float32).reshape(shape)
    else:
        zpf = zp.astype(np.float32)
    info = np.iinfo(zp.dtype)
    return np.clip(np.rint(x / scale) + zpf, info.min, info.max).astype(zp.dtype)


def _constant_of_shape(node, shape):
    value = _attr(node, "value")
    fill = numpy_helper.to_array(value).reshape(-1)[0] if value is not None else np.float32(0)
    return np.full(tuple(int(d) for d in shape), fill, dtype=fill.dtype)


def _range(node, start, limit, delta):
    return np.arange(start, limit, delta).astype(np.result_type(start, limit, delta))


def _gather(node, x, idx):
    axis = int(_attr(node, "axis", 0))
    return np.take(x, idx, axis=axis)


#: numpy evaluations of the ops that shape arithmetic uses; each takes (node, *input values).
_EVAL = {
    "Add": lambda n, a, b: a + b,
    "Sub": lambda n, a, b: a - b,
    "Mul": lambda n, a, b: a * b,
    "Div": lambda n, a, b: _div(a, b),
    "Mod": _mod,
    "Neg": lambda n, a: -a,
    "Abs": lambda n, a: np.abs(a),
    "Floor": lambda n, a: np.floor(a),
    "Ceil": lambda n, a: np.ceil(a),
    "Round": lambda n, a: np.round(a),
    "Sqrt": lambda n, a: np.sqrt(a),
    "Pow": lambda n, a, b: np.power(a, b).astype(a.dtype),
    "Max": lambda n, *xs: np.maximum.reduce(_broadcast(*xs)) if len(xs) > 1 else xs[0],
    "Min": lambda n, *xs: np.minimum.reduce(_broadcast(*xs)) if len(xs) > 1 else xs[0],
    "Equal": lambda n, a, b: np.equal(a, b),
    "Less": lambda n, a, b: np.less(a, b),
    "Greater": lambda n, a, b: np.greater(a, b),
    "LessOrEqual": lambda n, a, b: np.less_equal(a, b),
    "GreaterOrEqual": lambda n, a, b: np.greater_equal(a, b),
    "Not": lambda n, a: np.logical_not(a),
    "And": lambda n, a, b: np.logical_and(a, b),
    "Or": lambda n, a, b: np.logical_or(a, b),
    "Where": lambda n, c, a, b: np.where(c, a, b),
    "Cast": _cast,
    "Identity": lambda n, a: a,
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda n, *xs: np.concatenate(xs, axis=int(_attr(n, "axis", 0))),
    "Slice": lambda n, x, s, e, a=None, st=None: _slice(n, x, s, e, a, st),
    "Range": _range,
    "Reshape": lambda n, x, s: x.reshape([x.shape[k] if d == 0 and not _attr(n, "allowzero", 0) else int(d)
                                          for k, d in enumerate(s)]),
    "ConstantOfShape": _constant_of_shape,
    "DequantizeLinear": _dequantize,
    "QuantizeLinear": _quantize,
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
    "Expand": lambda n, x, s: x * np.ones(tuple(int(d) for d in s), dtype=x.dtype),
    "Transpose": lambda n, x: np.transpose(x, _attr(n, "perm")),
    "Tile": lambda n, x, r: np.tile(x, tuple(int(d) for d in r)),
    "Sign": lambda n, a: np.sign(a),
    "Clip": lambda n, x, lo=None, hi=None: np.clip(x, lo, hi),
    "Relu": lambda n, a: np.maximum(a, 0),
}


def _value_of_constant(node: onnx.NodeProto) -> np.ndarray | None:
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name == "value_int":
            return np.array(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64)
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
    return None


def _output_size(node: onnx.NodeProto, values: list[np.ndarray | None]) -> float:
    """Elements of the output of a :data:`_GROWING` op, computed before evaluating it."""
    op = node.op_type
    if op == "ConstantOfShape":
        return float(np.prod(np.asarray(values[0], dtype=np.float64)))
    if op == "Expand":
        x, s = np.asarray(values[0]), [float(d) for d in np.asarray(values[1]).reshape(-1)]
        rank = max(x.ndim, len(s))
        xs = (1,) * (rank - x.ndim) + x.shape
        ss = (1.0,) * (rank - len(s)) + tuple(s)
        return float(np.prod([max(a, b) for a, b in zip(xs, ss)]))
    if op == "Tile":
        return float(np.asarray(values[0]).size) * float(np.prod(np.asarray(values[1], dtype=np.float64)))
    start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in values[:3])
    return abs((limit - start) / delta) if delta else float("inf")


def evaluate(node: onnx.NodeProto, values: list[np.ndarray | None], reference: bool = True) -> list[np.ndarray] | None:
    """The outputs of ``node`` computed from its input values (numpy for the ops of shape
    arithmetic and dequantization, else onnx's reference implementation when ``reference``).

    Returns:
        a list of arrays, or None when the op is not evaluated here (an op without a numpy
        evaluation and ``reference`` False; a growing op whose output would exceed
        :data:`MAX_VALUE_ELEMENTS`).
    Raises:
        Exception: whatever the evaluation raises on malformed inputs; callers catch it.
    """
    if node.op_type in _GROWING and not _output_size(node, values) <= MAX_VALUE_ELEMENTS:
        return None  # a large constant: only its type matters (the schema infers it)
    fn = _EVAL.get(node.op_type)
    if fn is not None:
        with np.errstate(all="ignore"):
            out = fn(node, *values)
        return [np.asarray(out)]
    if not reference:
        return None
    from onnx.reference import ReferenceEvaluator

    feeds = {name: v for name, v in zip(node.input, values) if name}
    with np.errstate(all="ignore"):
        return [np.asarray(v) for v in ReferenceEvaluator(node).run(None, feeds)]


def _as_float_op(node: onnx.NodeProto, types: dict) -> tuple[onnx.NodeProto, int] | None:
    """The float op a :data:`QUANTIZED_AS` node computes, on the same tensor names, and the
    element type of its quantized output; None for a channels-last layout (no ONNX op has it)."""
    op, picks, zp_index = QUANTIZED_AS[node.op_type]
    if _attr(node, "channels_last", 0):
        return None
    ins = list(node.input)
    if picks is None:
        picks = tuple(range(2, len(ins), 3))
    inputs = [ins[k] for k in picks if k < len(ins) and ins[k]]
    attrs = [a for a in node.attribute if a.name not in _QUANTIZED_ONLY_ATTRS]
    float_node = helper.make_node(op, inputs, list(node.output), name=node.name)
    float_node.attribute.extend(attrs)
    zp = ins[zp_index] if zp_index < len(ins) else ""
    if zp and zp in types:
        elem = types[zp][0]
    elif node.op_type == "QGemm":  # no output scale: a float output
        elem = TensorProto.FLOAT
    else:
        elem = types.get(inputs[0], (TensorProto.UINT8,))[0] if inputs else TensorProto.UINT8
    return float_node, elem


def _type_proto(elem: int, shape) -> onnx.TypeProto:
    return helper.make_tensor_type_proto(elem, list(shape))


def propagate(model: onnx.ModelProto, feeds: dict[str, tuple[int, ...]]) -> Propagation:
    """Infer static shapes on the trigger input in one topological pass, folding shape values.

    Args:
        model: an ONNX model whose nodes are in topological order (the light copy that
            :func:`hnn_tf.graph.shapes.infer_shapes` makes: large initializers are typed
            graph inputs, data inputs have static shapes).
        feeds: data input name -> its trigger shape.
    Returns:
        :class:`Propagation`. Never raises on a malformed graph: what cannot be inferred is
        left out of ``shapes``.
    """
    g = model.graph
    opsets = {o.domain or "": o.version for o in model.opset_import}
    local_functions = {(f.domain, f.name) for f in model.functions}
    types: dict[str, tuple[int, tuple]] = {}
    values: dict[str, np.ndarray] = {}
    dynamic: set[str] = set()
    unresolved: set[str] = set()
    unquantized: dict[str, np.ndarray] = {}  # QuantizeLinear output -> the float value it quantized
    for vi in g.input:
        tt = vi.type.tensor_type
        if vi.name in feeds:
            types[vi.name] = (tt.elem_type, tuple(feeds[vi.name]))
        elif tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            types[vi.name] = (tt.elem_type, tuple(int(d.dim_value) for d in tt.shape.dim))
    for t in g.initializer:
        types[t.name] = (t.data_type, tuple(int(d) for d in t.dims))
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        if n <= MAX_VALUE_ELEMENTS and t.data_location != TensorProto.EXTERNAL:
            try:
                values[t.name] = numpy_helper.to_array(t)
            except Exception:  # noqa: BLE001 - no data: the type is enough
                pass

    for node in g.node:
        outs = [o for o in node.output if o]
        ins = list(node.input)
        op, domain = node.op_type, node.domain or ""
        if op == "Constant" and not domain:
            v = _value_of_constant(node)
            if v is not None and outs:
                types[outs[0]] = (helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                if v.size <= MAX_VALUE_ELEMENTS:
                    values[outs[0]] = v
            continue
        if any(i in dynamic for i in ins if i) or (op in DATA_DEPENDENT_OPS and not domain):
            dynamic.update(outs)
            continue
        if not domain and op in ("Shape", "Size") and ins and ins[0] in types:
            shape = types[ins[0]][1]
            if op == "Size":
                v = np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
            else:
                start, end = _attr(node, "start", 0), _attr(node, "end", None)
                v = np.array(shape[start:end], dtype=np.int64)
            types[outs[0]] = (TensorProto.INT64, v.shape)
            values[outs[0]] = v
            continue
        quantized_elem = None  # a QUANTIZED_AS op: its output's element type
        if domain == "com.microsoft" and op in QUANTIZED_AS:
            as_float = _as_float_op(node, types)
            if as_float is not None:
                node, quantized_elem = as_float
                op, domain, ins = node.op_type, "", list(node.input)
        known = [i for i in ins if i]
        if (domain, op) in local_functions or domain not in ("", "ai.onnx"):
            unresolved.add(op if not domain else f"{domain}.{op}")
            continue
        if quantized_elem is None and known and all(i in values for i in known) and not any(
                a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            try:
                results = evaluate(node, [values.get(i) if i else None for i in ins])
            except Exception:  # noqa: BLE001 - fall through to the schema's inference
                results = None
            if results is not None and op == "QuantizeLinear" and outs and ins[0] in values:
                unquantized[outs[0]] = values[ins[0]]
            elif results is not None and op == "DequantizeLinear" and ins[0] in unquantized:
                # a value the quantizer wrapped in Q/DQ (onnxruntime quantizes a Resize's computed
                # scales): the round trip would turn a scale of 2 into 1.98 and change the size
                # the float model computes, so the value goes through unchanged
                results = [np.asarray(unquantized[ins[0]]).astype(results[0].dtype)]
            if results is not None and len(results) >= len(outs):
                for o, v in zip(node.output, results):
                    if o:
                        types[o] = (helper.np_dtype_to_tensor_dtype(v.dtype), tuple(int(d) for d in v.shape))
                        if v.size <= MAX_VALUE_ELEMENTS:
                            values[o] = v
                continue
        runtime_shaped = op in RUNTIME_SHAPED_OPS
        if any(i not in types for i in known) and not runtime_shaped:
            unresolved.add(op)
            continue
        inferred: dict = {}
        try:
            schema = onnx.defs.get_schema(op, opsets.get("", 1), "")
            scope = types if runtime_shaped else {i: types[i] for i in known}  # bodies read outer tensors
            input_types = {i: _type_proto(*t) for i, t in scope.items()}
            data = {i: numpy_helper.from_array(values[i], i) for i in known if i in values}
            if quantized_elem is not None:  # integer codes: the float op's schema sees floats
                input_types = {i: _type_proto(TensorProto.FLOAT, t[1]) for i, t in scope.items()}
                data = {}
            try:
                inferred = onnx.shape_inference.infer_node_outputs(schema, node, input_types, data,
                                                                   opset_imports=list(model.opset_import))
            except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError):
                # mixed float types (an fp16 conversion that left a constant in float32): the
                # shapes do not depend on them, so infer with the first float input's type for
                # every float input (a Where's condition stays bool)
                first = next((types[i][0] for i in known if types[i][0] in _FLOATS), TensorProto.FLOAT)
                input_types = {i: _type_proto(first if t[0] in _FLOATS else t[0], t[1]) for i, t in scope.items()}
                data = {i: numpy_helper.from_array(values[i].astype(helper.tensor_dtype_to_np_dtype(first))
                                                   if values[i].dtype.kind == "f" else values[i], i)
                        for i in known if i in values}
                inferred = onnx.shape_inference.infer_node_outputs(schema, node, input_types, data,
                                                                   opset_imports=list(model.opset_import))
        except Exception:  # noqa: BLE001 - unknown op, malformed node: unknown outputs
            pass
        for o in outs:
            tp = inferred.get(o)
            dims = tp.tensor_type.shape.dim if tp is not None and tp.HasField("tensor_type") \
                and tp.tensor_type.HasField("shape") else None
            if dims is not None and all(d.HasField("dim_value") for d in dims):
                types[o] = (quantized_elem or tp.tensor_type.elem_type, tuple(int(d.dim_value) for d in dims))
            elif runtime_shaped:
                dynamic.add(o)
            else:
                unresolved.add(op)
    return Propagation(shapes={k: v[1] for k, v in types.items()}, dynamic=dynamic, unresolved=unresolved)
