"""Per-layer FLOPs and parameter counts (paper 3.2.3: f2 and f3).

Units: FLOPs are 2 x multiply-accumulates (MACs) for Conv, ConvTranspose, Gemm and MatMul
(bias additions are not counted, as in the usual MAC figures: resnet18 = 1.814 G MACs).
Other layers count elementwise work per *output element*: 1 FLOP for activations and
additions, 2 for normalisations (one multiply and one add after folding the statistics),
the kernel area for windowed pooling and the input size for global pooling and reductions.
Layers that only move data (Reshape, Flatten, Concat, Transpose, Slice, ...) have 0 FLOPs.
"""

from __future__ import annotations

import math
from typing import Callable

import onnx

#: Ops whose float initializer inputs are NOT trainable parameters, by input index.
#: BatchNormalization's running mean and variance (inputs 3, 4) are buffers.
NON_PARAMETER_INPUTS: dict[str, set[int]] = {
    "BatchNormalization": {3, 4},
    "Reshape": {1},
    "Resize": {1, 2, 3},
    "Upsample": {1},
    "Pad": {1, 2, 3},
    "Slice": {1, 2, 3, 4},
    "Clip": {1, 2},
    "Gather": {1},
    "Expand": {1},
    "Tile": {1},
    "Split": {1},
    "Squeeze": {1},
    "Unsqueeze": {1},
    "ReduceMean": {1},
    "ReduceSum": {1},
    "TopK": {1},
}

_FLOAT_TYPES = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}


#: Largest FLOPs or parameter count of one node that the graph records (2**62; int64 holds it).
#: Only absurd graphs reach it, and f_enc (paper 3.2.3) saturates at 10 digits long before.
COUNT_CAP = 1 << 62


def _numel(shape) -> int:
    """Elements of a static shape as a Python int (no overflow); 0 when a dimension is unknown."""
    if shape is None:
        return 0
    for d in shape:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            return 0
    return math.prod(shape)


def _dim(value) -> int:
    """A dimension as an int >= 0; 0 when unknown."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def node_params(op_type: str, inputs: list[str], weight_dims: dict[str, tuple[tuple[int, ...], int]]) -> int:
    """Trainable parameters of one ONNX node (f3 of paper 3.2.3).

    Args:
        op_type: the ONNX op type.
        inputs: the node's input names, already resolved through Identity links to the
            initializer (or Constant) that feeds them.
        weight_dims: name -> (dims, ONNX elem_type) of every initializer and Constant output.
    Returns:
        the number of float elements of the node's parameter inputs (int >= 0).
    """
    skip = NON_PARAMETER_INPUTS.get(op_type, set())
    total = 0
    for k, name in enumerate(inputs):
        if k in skip or name not in weight_dims:
            continue
        dims, elem = weight_dims[name]
        if elem in _FLOAT_TYPES:
            total += _numel(dims)
    return min(COUNT_CAP, total)


def _conv_flops(ins, outs, attrs) -> int:
    w = ins[1] if len(ins) > 1 else None
    out = outs[0] if outs else None
    if not w or not out or _numel(out) == 0:
        return 0
    # W: (Cout, Cin/group, k...) ; every output element takes Cin/group * prod(k) MACs.
    return 2 * _numel(out) * _numel(w[1:])


def _conv_transpose_flops(ins, outs, attrs) -> int:
    x, w = (ins + [None, None])[:2]
    if not x or not w:
        return 0
    # every input element is multiplied by Cout/group * prod(k) weights.
    return 2 * _numel(x) * _numel(w[1:])


def _gemm_flops(ins, outs, attrs) -> int:
    a = ins[0] if ins else None
    out = outs[0] if outs else None
    if not a or not out or len(a) != 2:
        return 0
    k = a[0] if attrs.get("transA", 0) else a[1]
    return 2 * _numel(out) * _dim(k)


def _matmul_flops(ins, outs, attrs) -> int:
    a = ins[0] if ins else None
    out = outs[0] if outs else None
    if not a or not out:
        return 0
    return 2 * _numel(out) * _dim(a[-1])


def _pool_flops(ins, outs, attrs) -> int:
    kernel = attrs.get("kernel_shape", [1])
    area = math.prod(k for k in kernel if isinstance(k, int) and k > 0) if isinstance(kernel, (list, tuple)) else 1
    return _numel(outs[0] if outs else None) * area


def _input_size_flops(ins, outs, attrs) -> int:
    return _numel(ins[0] if ins else None)


def _per_output(k: int) -> Callable:
    return lambda ins, outs, attrs: k * _numel(outs[0] if outs else None)


_FLOPS: dict[str, Callable] = {
    "Conv": _conv_flops,
    "ConvTranspose": _conv_transpose_flops,
    "Gemm": _gemm_flops,
    "MatMul": _matmul_flops,
    "MaxPool": _pool_flops,
    "AveragePool": _pool_flops,
    "LpPool": _pool_flops,
    "GlobalAveragePool": _input_size_flops,
    "GlobalMaxPool": _input_size_flops,
    "ReduceMean": _input_size_flops,
    "ReduceMax": _input_size_flops,
    "ReduceSum": _input_size_flops,
    "BatchNormalization": _per_output(2),
    "InstanceNormalization": _per_output(2),
    "LayerNormalization": _per_output(2),
    "RMSNormalization": _per_output(2),
    "SimplifiedLayerNormalization": _per_output(2),
    "Softmax": _per_output(3),
    "LogSoftmax": _per_output(3),
}

#: Ops that only move or reinterpret data: 0 FLOPs.
DATA_MOVEMENT = {
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice",
    "Gather", "Pad", "Expand", "Tile", "Identity", "Dropout", "Cast", "Shape", "Resize",
    "Upsample", "DepthToSpace", "SpaceToDepth",
    # indexed reads and writes: the dynamo exporter writes a MoE router's Gather as GatherND
    "GatherND", "GatherElements", "ScatterND", "ScatterElements",
}


def node_flops(op_type: str, in_shapes: list, out_shapes: list, attrs: dict) -> int:
    """FLOPs of one ONNX node on the trigger input (f2 of paper 3.2.3).

    Args:
        op_type: the ONNX op type.
        in_shapes, out_shapes: shapes (tuples of int, or None when unknown) of the node's
            inputs and outputs, in ONNX order.
        attrs: the node's attributes as a dict (``onnx.helper.get_attribute_value``).
    Returns:
        FLOPs as a Python int in 0..:data:`COUNT_CAP`; 2 x MACs for
        Conv/ConvTranspose/Gemm/MatMul (see module doc). Unknown shapes give 0.
    """
    fn = _FLOPS.get(op_type)
    if fn is not None:
        return min(COUNT_CAP, max(0, int(fn(in_shapes, out_shapes, attrs))))
    if op_type in DATA_MOVEMENT:
        return 0
    return min(COUNT_CAP, _numel(out_shapes[0] if out_shapes else None))  # elementwise default: 1 per output
