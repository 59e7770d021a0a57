"""What the quantization rules share (not a rule: files starting with ``_`` are not loaded).

Quantizers fold a ReLU into the layer before it: onnxruntime's QDQ and QOperator quantizers
remove a Relu (or Clip) whose input no other layer reads and give the layer's output the
ReLU's quantization range, which starts at 0, so its zero point is the smallest value of the
integer type (0 for uint8, -128 for int8). :func:`folded_relu` reads that back.
"""

from __future__ import annotations

import numpy as np
import onnx

_FLOATS = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
                     onnx.TensorProto.DOUBLE})
#: The (smallest, largest) value of each quantized element type.
_RANGE = {onnx.TensorProto.UINT8: (0, 255), onnx.TensorProto.INT8: (-128, 127),
          onnx.TensorProto.UINT16: (0, 65535), onnx.TensorProto.INT16: (-32768, 32767),
          onnx.TensorProto.UINT4: (0, 15), onnx.TensorProto.INT4: (-8, 7)}
#: Layers whose output is never negative: a range starting at 0 after them says nothing.
NONNEGATIVE_OPS = frozenset({"Relu", "Relu6", "Sigmoid", "Softmax", "HardSigmoid", "Exp", "Abs", "Sqrt",
                             "QLinearSigmoid", "QLinearSoftmax", "ReduceL2", "ReduceSumSquare", "ReduceL1"})
#: Layers that keep their input's sign: non-negative if their data inputs are.
SIGN_KEEPING_OPS = frozenset({
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Concat", "Reshape", "Flatten", "Transpose",
    "Resize", "Pad", "Slice", "Split", "Gather", "Squeeze", "Unsqueeze", "Identity", "QuantizeLinear",
    "DequantizeLinear", "QLinearConcat", "QLinearGlobalAveragePool", "QLinearAveragePool", "ReduceMax",
    "ReduceMean", "DepthToSpace", "SpaceToDepth", "Tile", "Expand",
})


def folded_activation(g, zero_point: str, scale: str) -> str:
    """The op of the activation a quantizer folded into a range from 0 (zero point ``zero_point``,
    scale ``scale``): ``Relu6`` when the range ends at 6 (a ReLU6 whose bound the calibration
    reached: onnxruntime gives the removed Clip's range, ``(qmax - zero point) * scale = 6``),
    else ``Relu`` (a ReLU6 that never reached 6 cannot be told from a ReLU)."""
    z, s = g.consts.get(zero_point), g.consts.get(scale)
    if z is None or s is None or z.value is None or s.value is None or z.dtype not in _RANGE:
        return "Relu"
    zv, sv = np.asarray(z.value, np.float64).reshape(-1), np.asarray(s.value, np.float64).reshape(-1)
    if zv.size != 1 or sv.size != 1:
        return "Relu"
    top = (_RANGE[z.dtype][1] - zv[0]) * sv[0]
    return "Relu6" if abs(top - 6.0) <= 6e-3 else "Relu"


def zero_point_at_min(g, name: str) -> bool:
    """True if constant ``name`` is a zero point equal to its integer type's smallest value."""
    c = g.consts.get(name)
    if c is None or c.value is None or c.dtype not in _RANGE:
        return False
    v = np.asarray(c.value).reshape(-1)
    return v.size >= 1 and bool(np.all(v == _RANGE[c.dtype][0]))


def clipped_at_zero(g, n) -> bool:
    """True if ``n`` is a float Clip whose lower bound is a known constant >= 0 (a ReLU6 before
    ``clip_to_relu`` has named it so)."""
    if n.op != "Clip":
        return False
    if len(n.inputs) > 1 and n.inputs[1]:
        c = g.consts.get(n.inputs[1])
        v = None if c is None or c.dtype not in _FLOATS else c.value
        return v is not None and np.size(v) == 1 and float(np.asarray(v).reshape(-1)[0]) >= 0
    return "min" in n.attrs and float(n.attrs["min"]) >= 0


#: QOperator op -> (float op, indices of the float op's inputs, index of the output zero point,
#: indices whose constants are parameters); ops as onnxruntime's contrib ops define them.
QOPS: dict[str, tuple[str, tuple[int, ...] | None, int, tuple[int, ...] | None]] = {
    "QLinearConv": ("Conv", (0, 3, 8), 7, (3, 8)),
    "QLinearConvTranspose": ("ConvTranspose", (0, 3, 8), 7, (3, 8)),
    "QLinearMatMul": ("MatMul", (0, 3), 7, (3,)),
    "QGemm": ("Gemm", (0, 3, 6), 8, (3, 6)),
    "QLinearAdd": ("Add", (0, 3), 7, (0, 3)),
    "QLinearMul": ("Mul", (0, 3), 7, (0, 3)),
    "QLinearSigmoid": ("Sigmoid", (0,), 4, ()),
    "QLinearLeakyRelu": ("LeakyRelu", (0,), 4, ()),
    "QLinearSoftmax": ("Softmax", (0,), 4, ()),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", (0,), 4, ()),
    "QLinearAveragePool": ("AveragePool", (0,), 4, ()),
    "QLinearConcat": ("Concat", None, 1, None),  # inputs: Y_s, Y_zp, then (X, X_s, X_zp) per input
}


def _output_zero_point_index(n) -> int | None:
    k = QOPS[n.op][2]
    return k if k < len(n.inputs) else None


def output_zero_point(n) -> str:
    """The name of the zero point QOperator op ``n`` quantizes its output with ("" if it has none)."""
    k = _output_zero_point_index(n)
    return n.inputs[k] if k is not None else ""


def output_scale(n) -> str:
    """The name of the scale QOperator op ``n`` quantizes its output with ("" if it has none): the
    input just before its output zero point."""
    k = _output_zero_point_index(n)
    return n.inputs[k - 1] if k is not None and k >= 1 else ""


def dequantized_at_min(g, n) -> bool:
    """True if ``n`` gives a tensor quantized with a zero point equal to its integer type's
    smallest value (a QOperator op: :func:`output_zero_point`), or is the DequantizeLinear of
    one: ``(q - zero point) * scale`` is then non-negative for every ``q`` (a range that starts
    at 0, such as the output of a QLinearConv or QLinearAdd with a ReLU folded into it)."""
    if n.op == "DequantizeLinear":
        zp = n.inputs[2] if len(n.inputs) > 2 else ""
    else:
        zp = output_zero_point(n) if n.op in QOPS else ""
    return bool(zp) and zero_point_at_min(g, zp)


def squares(g, n) -> bool:
    """True if ``n`` squares its input: ``Pow`` by a constant even integer, or ``Mul`` of a tensor by itself."""
    if n.op == "Mul":
        data = [i for i in n.inputs if i]
        return len(data) == 2 and data[0] == data[1] and data[0] not in g.consts
    if n.op == "Pow" and len(n.inputs) > 1:
        c = g.consts.get(n.inputs[1])
        if c is None or c.value is None or np.size(c.value) != 1:
            return False
        e = float(np.asarray(c.value).reshape(-1)[0])
        return e == int(e) and int(e) % 2 == 0
    return False


#: Layers whose output is non-negative when all their operands are (a constant operand must
#: have a known non-negative value): sums and products.
_ARITHMETIC = frozenset({"Add", "Sum", "Mul", "MatMul", "QLinearAdd", "QLinearMul", "QLinearMatMul"})


def _constant_nonnegative(g, name: str) -> bool:
    c = g.consts.get(name)
    return c is not None and c.value is not None and bool(np.all(np.asarray(c.value) >= 0))


#: How many layers :func:`nonnegative` looks back (ShuffleNet passes half its channels through
#: five layers per block: split, concatenation and the shuffle's reshapes).
LOOK_BACK = 32


def nonnegative(g, tensor: str, depth: int = LOOK_BACK, _seen: dict | None = None) -> bool:
    """True if the layers computing ``tensor`` provably make it non-negative (looking back
    ``depth`` layers): a non-negative op (Relu, Sigmoid, a square, a Clip at 0), or sign-keeping
    layers and sums and products over such tensors and known non-negative constants."""
    seen = {} if _seen is None else _seen  # tensor -> answer, so shared branches are read once
    if tensor in seen:
        return seen[tensor]
    p = g.producer(tensor)
    if p is None or depth <= 0:
        return False
    if clipped_at_zero(g, p) or squares(g, p) or dequantized_at_min(g, p):
        answer = True
    else:
        answer = output_nonnegative(g, p.op, p.inputs, depth, seen)
    seen[tensor] = answer
    return answer


#: Layers a quantizer folds a ReLU into (onnxruntime removes a Relu or Clip whose input is a
#: quantized tensor; in practice these, and a Concat: EfficientViT's heads, concatenated, then a
#: ReLU): only after them is a range starting at 0 read as a folded ReLU. A layout layer is one
#: when its input can be negative (RAFT's context split, timm's LayerNorm2d: Transpose,
#: LayerNorm, Transpose, ReLU).
_LAYOUT_HOSTS = frozenset({"Split", "Slice", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"})
RELU_HOSTS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization",
                        "LayerNormalization", "GroupNormalization", "Add", "Sum", "Concat", *_LAYOUT_HOSTS})
#: Layers with weights: a sum or a slice hosts a folded ReLU only when one of its operands comes
#: from one of these (a residual block); the box arithmetic of a detection head (anchors plus
#: scaled offsets, non-negative on every input) hosts none.
_WEIGHTED = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization",
                       "LayerNormalization", "GroupNormalization", "QLinearConv", "QLinearMatMul", "QGemm",
                       "ConvInteger", "MatMulInteger"})


def from_weighted_layer(g, tensor: str, depth: int = 6) -> bool:
    """True if ``tensor`` is the output of a layer with weights (:data:`_WEIGHTED`), possibly
    through sign-keeping layers (reshapes, slices, pooling, quantization), sums, concatenations,
    scales by a constant (a Mul, or a Div of the tensor) and products of two activations one of
    which is (attention's values), ``depth`` layers back."""
    p = g.producer(tensor)
    if p is None or depth <= 0:
        return False
    data = [i for i in p.inputs if i and i not in g.consts]
    if p.op in _WEIGHTED:
        if p.op in ("MatMul", "QLinearMatMul", "MatMulInteger") and len(data) > 1:
            # a product of two activations (attention's scores times its values): from a
            # weighted layer when one factor is (the values' projection), not otherwise (a
            # correlation of two feature maps' own products)
            return any(from_weighted_layer(g, i, depth - 1) for i in data)
        return True
    if p.op in ("Add", "Sum", "Concat"):
        return any(from_weighted_layer(g, i, depth - 1) for i in data)
    if p.op in ("Mul", "Div") and len(p.inputs) == 2 and len(data) == 1 and (p.op == "Mul" or p.inputs[0] == data[0]):
        # a scale by a constant (a GroupNorm's per-channel scale, which PyTorch writes after its
        # InstanceNormalization) keeps what the tensor comes from
        return from_weighted_layer(g, data[0], depth - 1)
    return p.op in SIGN_KEEPING_OPS and bool(data) and from_weighted_layer(g, data[0], depth - 1)


#: Bounded activations: adding a constant to them can make a non-negative range on its own.
_BOUNDED = frozenset({"Erf", "Tanh", "Sigmoid", "Softmax", "HardSigmoid", "Sin", "Cos"})


def output_nonnegative(g, op: str, inputs: list[str], depth: int = LOOK_BACK, _seen: dict | None = None) -> bool:
    """True if a layer ``op`` reading ``inputs`` (data and constants, in the op's order) always
    gives a non-negative output (see :func:`nonnegative`)."""
    if op in NONNEGATIVE_OPS:
        return True
    if op not in SIGN_KEEPING_OPS and op not in _ARITHMETIC:
        return False  # Conv, Gemm, ...: any sign
    operands = [i for i in inputs if i]
    if op.startswith("QLinear") and op != "QLinearConcat":  # (x, scale, zero point) triplets
        operands = operands[:1] if op in ("QLinearGlobalAveragePool", "QLinearAveragePool") else operands[0::3]
    elif op == "QLinearConcat":
        operands = operands[2::3]
    elif op not in _ARITHMETIC:  # the data operand (every one of a Concat); the rest are shapes, indices
        operands = [i for i in operands if i not in g.consts][:None if op == "Concat" else 1]
    return any(i not in g.consts for i in operands) and all(
        _constant_nonnegative(g, i) if i in g.consts else nonnegative(g, i, depth - 1, _seen) for i in operands)


def _batchnorm_keeps_sign(g, inputs: list[str]) -> bool:
    """True if a ``BatchNormalization(x, scale, bias, mean, var)`` maps a non-negative ``x`` to a
    non-negative output: ``scale / sqrt(var + eps) >= 0`` and ``bias - mean * scale / sqrt(var +
    eps) >= 0`` in every channel, or, where those values are not stored in the graph (over
    :data:`hnn_tf.graph.ir.SMALL_CONST` channels), as it is at initialisation (scale 1, bias 0,
    mean 0, variance 1)."""
    values = [g.consts[i].value if i in g.consts else None for i in inputs[1:5]]
    if len(values) < 4 or any(v is None for v in values):
        return True
    try:
        scale, bias, mean, var = (np.asarray(v, dtype=np.float64).reshape(-1) for v in values)
        a = scale / np.sqrt(np.maximum(var, 0.0) + 1e-5)
        return bool(np.all(a >= 0) and np.all(bias - mean * a >= 0))
    except ValueError:  # channel counts that do not broadcast: no claim
        return False


def folded_relu(g, zero_point: str, op: str, inputs: list[str]) -> bool:
    """True if the output of a layer ``op`` reading ``inputs`` (data and constants), quantized
    with zero point ``zero_point``, had a ReLU folded into it: its range starts at 0 and the
    layer does not explain that.

    A BatchNormalization of a non-negative tensor explains it when its affine keeps the sign
    (:func:`_batchnorm_keeps_sign`): RepVGG-style blocks (TextNet) add a BatchNorm of their
    post-ReLU input to the sum of their branches, and no ReLU follows that BatchNorm."""
    if op not in RELU_HOSTS or not zero_point_at_min(g, zero_point):
        return False
    if (op == "BatchNormalization" and inputs and inputs[0] and inputs[0] not in g.consts
            and nonnegative(g, inputs[0]) and _batchnorm_keeps_sign(g, inputs)):
        return False
    if op == "MatMul" and not any(i in g.consts for i in inputs if i):
        return False  # a product of two activations (attention scores, a correlation) hosts no ReLU
    if (op in ("Add", "Sum", "Concat") or op in _LAYOUT_HOSTS) and not any(
            from_weighted_layer(g, i) for i in inputs if i and i not in g.consts):
        return False
    if op in ("Add", "Sum") and any(p is not None and p.op in _BOUNDED for p in map(g.producer, inputs)):
        return False
    return not output_nonnegative(g, op, inputs)


def add_relu_after(g, node, index: int = 0, op: str = "Relu") -> None:
    """Insert a ``Relu`` (or ``op``: ``Relu6``) layer reading output ``index`` of ``node``; its
    readers read the new layer."""
    from hnn_tf.graph.ir import Node
    from hnn_tf.graph.rules._helpers import numel

    out = node.outputs[index]
    inner = f"{out}::before_relu"
    shapes = list(node.out_shapes)
    g.set_outputs(node, [inner if k == index else o for k, o in enumerate(node.outputs)])
    relu = Node(op=op, name=f"{node.name}::folded_relu", inputs=[inner], outputs=[out],
                flops=numel(shapes[index] if index < len(shapes) else None),
                in_shapes=[shapes[index] if index < len(shapes) else None],
                out_shapes=[shapes[index] if index < len(shapes) else None])
    g.insert_after(node, relu)  # the readers of ``out`` now read the Relu's output


#: Element types of a quantized table that a Gather reads before its output is dequantized.
INTEGER_TABLES = frozenset(_RANGE)


def restore_table_params(g, tensor: str) -> None:
    """If ``tensor`` (read by a DequantizeLinear or a QOperator op) is a Gather of an integer
    table, the Gather gets the table's elements as its parameters, as the float Gather has
    (onnxruntime's quantized embedding: quantize the table, gather, then dequantize)."""
    src = g.producer(tensor) if tensor else None
    if src is None or src.op != "Gather" or src.params or not src.inputs:
        return
    table = g.consts.get(src.inputs[0])
    if table is not None and table.dtype in INTEGER_TABLES:
        src.params = table.numel

