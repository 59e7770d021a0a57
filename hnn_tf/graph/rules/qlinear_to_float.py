"""Rule ``qlinear_to_float``."""

from __future__ import annotations

import numpy as np
import onnx

from hnn_tf.graph.cost import node_flops
from hnn_tf.graph.rules._quant import (QOPS, add_relu_after, folded_activation, folded_relu, output_scale,
                                      output_zero_point, restore_table_params)
from hnn_tf.graph.rules.base import Rule, register_rule

#: Attributes of the quantized ops that the float ops do not have.
_DROP_ATTRS = {"channels_last"}


def dequantized(g, name: str, scale: str, zero_point: str) -> str:
    """The name of a float constant holding ``(q - zero_point) * scale`` of constant ``name``
    (its value when small and known; its dims always), added to the graph's constants."""
    from hnn_tf.graph.ir import Const

    c, s = g.consts[name], g.consts.get(scale)
    if s is None:
        return name
    zp = g.consts.get(zero_point) if zero_point else None
    value = None
    if c.value is not None and s.value is not None and np.size(s.value) == 1:
        z = 0.0 if zp is None or zp.value is None else np.asarray(zp.value, dtype=np.float32)
        value = ((np.asarray(c.value, dtype=np.float32) - z) * np.asarray(s.value, dtype=np.float32))
    new = f"{name}::dequantized"
    g.consts[new] = Const(dims=c.dims, dtype=onnx.TensorProto.FLOAT, value=value)
    return new


@register_rule
class QLinearToFloat(Rule):
    """onnxruntime's QOperator ops (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, QLinearMul,
    QLinearSigmoid, QLinearSoftmax, QLinearConcat, QLinearGlobalAveragePool, ...) become the float
    ops they compute.

    The new layer reads the float op's inputs (data, weight, bias; the scales and zero points
    are dropped) and gets the float op's FLOPs (:func:`hnn_tf.graph.cost.node_flops` on the same
    shapes) and parameters (the weight and bias elements, whatever their integer type), so a
    QOperator model counts like its float source. An output zero point at its type's smallest
    value after a layer that can give negative values is a ReLU the quantizer folded in
    (:mod:`hnn_tf.graph.rules._quant`): a ``Relu`` (``Relu6`` when the range ends at 6) is put
    back after the layer.
    """

    name, group, order = "qlinear_to_float", "precision", 4
    ops = frozenset(QOPS)

    def rewrite(self, g, n):
        op, picks, _, param_idx = QOPS[n.op]
        triplets: tuple[int, ...] = (0, 3)  # (tensor, scale, zero point) start at these inputs
        if picks is None:  # QLinearConcat
            picks = tuple(range(2, len(n.inputs), 3))
            param_idx, triplets = picks, picks
        zp, scale = output_zero_point(n), output_scale(n)
        ins = list(n.inputs)
        for k in triplets:  # constant operands as the float values they stand for
            if k in picks and k + 1 < len(ins) and ins[k] in g.consts:
                ins[k] = dequantized(g, ins[k], ins[k + 1], ins[k + 2] if k + 2 < len(ins) else "")
        picks = tuple(k for k in picks if k < len(ins) and ins[k])
        inputs = [ins[k] for k in picks]
        in_shapes = [n.in_shapes[k] if k < len(n.in_shapes) else None for k in picks]
        data = [i for i in inputs if i not in g.consts]
        for i in data:  # a quantized embedding gathered into a QOperator op
            restore_table_params(g, i)
        relu = bool(zp) and folded_relu(g, zp, op, inputs)
        attrs = {k: v for k, v in n.attrs.items() if k not in _DROP_ATTRS}
        g.set_inputs(n, inputs)
        n.op, n.attrs, n.in_shapes = op, attrs, in_shapes
        n.flops = node_flops(op, in_shapes, n.out_shapes, attrs)
        n.params = sum(g.consts[ins[k]].numel for k in param_idx if k in picks and ins[k] in g.consts)
        if relu:
            add_relu_after(g, n, op=folded_activation(g, zp, scale))
        return True
