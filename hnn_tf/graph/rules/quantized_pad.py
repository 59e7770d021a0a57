"""Rule ``quantized_pad``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules.base import Rule, register_rule
from hnn_tf.graph.rules._quant import QOPS, output_zero_point


def _output_zero_point(p) -> str:
    """The name of the zero point ``p`` quantizes its output with ("" if none is known)."""
    if p.op == "QuantizeLinear":
        return p.inputs[2] if len(p.inputs) > 2 else ""
    return output_zero_point(p) if p.op in QOPS else ""


@register_rule
class QuantizedPad(Rule):
    """A Pad of quantized data whose fill value is the data's zero point pads with zeros.

    In a QOperator model (onnxruntime's ``QuantFormat.QOperator``) a zero Pad before a
    convolution or pooling (timm's HGNetV2 stem) pads the integer tensor with its zero point,
    the integer that stands for 0.0. The fill input is dropped (ONNX's default fill is 0), so
    ``fold_pad`` folds the Pad into its readers as it does in the float model. Data movement:
    0 FLOPs, 0 parameters.
    """

    name, group, order = "quantized_pad", "precision", 1
    ops = frozenset({"Pad"})

    def check(self, g, n):
        if len(n.inputs) < 3 or not n.inputs[2] or n.inputs[2] not in g.consts:
            return "no constant fill value"
        p = g.producer(n.inputs[0]) if n.inputs and n.inputs[0] else None
        zp = _output_zero_point(p) if p is not None else ""
        if not zp:
            return "its data is not quantized"
        if zp == n.inputs[2]:
            return None
        a, b = g.consts.get(zp), g.consts.get(n.inputs[2])
        if a is None or b is None or a.value is None or b.value is None or \
                not np.array_equal(np.asarray(a.value).reshape(-1), np.asarray(b.value).reshape(-1)):
            return "the fill value is not the zero point"
        return None

    def rewrite(self, g, n):
        g.set_inputs(n, [n.inputs[0], n.inputs[1], "", *n.inputs[3:]])
        return True
