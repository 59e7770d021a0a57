"""Rule ``dequantize``."""

from __future__ import annotations

from hnn_tf.graph.ir import Node
from hnn_tf.graph.rules._helpers import numel
from hnn_tf.graph.rules._quant import folded_activation, folded_relu, restore_table_params
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class Dequantize(Rule):
    """QuantizeLinear and DequantizeLinear on the data path are removed; a ReLU the quantizer folded away comes back.

    A QDQ model (onnxruntime's ``QuantFormat.QDQ``, TensorRT, PyTorch's quantizers) wraps each
    float layer's inputs in DequantizeLinear and its outputs in QuantizeLinear; a QOperator
    model quantizes at its input and dequantizes at its output. The pairs are precision, not
    architecture: both are bypassed. The weights' DequantizeLinear are constant-folded by the
    graph builder (the weight counts as a parameter of the layer reading it). A QuantizeLinear
    whose zero point is its type's smallest value after a layer that can give negative
    values had a Relu folded into it (:mod:`hnn_tf.graph.rules._quant`) and becomes that
    ``Relu`` (``Relu6`` when the range ends at 6). A Gather of an integer table whose output is dequantized (onnxruntime's
    quantized embedding) gets the table's elements as its parameters, as the float Gather
    has. Carries no FLOPs or parameters (a restored Relu: one FLOP per element).
    """

    name, group, order = "dequantize", "precision", 3
    ops = frozenset({"QuantizeLinear", "DequantizeLinear"})

    def check(self, g, n):
        return None if n.inputs and n.inputs[0] not in g.consts else "it does not read data"

    def rewrite(self, g, n):
        zp = n.inputs[2] if len(n.inputs) > 2 else ""
        src = g.producer(n.inputs[0])
        if n.op == "DequantizeLinear":
            restore_table_params(g, n.inputs[0])
        if n.op == "QuantizeLinear" and zp and src is not None and folded_relu(g, zp, src.op, src.inputs):
            op = folded_activation(g, zp, n.inputs[1] if len(n.inputs) > 1 else "")
            g.replace([n], Node(op=op, name=f"{n.name}::folded_relu", inputs=[n.inputs[0]],
                                outputs=list(n.outputs), flops=numel(n.out_shape(0)), in_shapes=n.in_shapes[:1],
                                out_shapes=list(n.out_shapes)))
            return True
        return g.bypass_to_data_input(n)
