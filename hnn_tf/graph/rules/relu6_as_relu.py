"""Rule ``relu6_as_relu``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class Relu6AsRelu(Rule):
    """A ``Relu6`` layer is read as a ``Relu``: the canonical graph does not tell them apart.

    Int8 quantization erases the bound of 6. onnxruntime's QDQ and QOperator quantizers remove
    a Relu or a Clip(0, 6) and give the tensor the range its calibration saw, so a ReLU6 whose
    calibration never reached 6 comes back from the quantized graph as a ReLU, and a ReLU whose
    calibration reached 6 as a ReLU6 (:func:`hnn_tf.graph.rules._quant.folded_activation`); the
    quantized graph alone cannot say which it was. So that a model and its int8 form get one
    graph, both are ``Relu`` here, after the rules that read the bound of 6 (HardSigmoid and
    HardSwish written with a ReLU6) have run. Two architectures that differ only in ReLU against
    ReLU6 get one canonical graph. FLOPs (one per element) and parameters (none) are unchanged.
    """

    name, group, order = "relu6_as_relu", "activations", 78
    ops = frozenset({"Relu6"})

    def rewrite(self, g, n):
        n.op = "Relu"
        return True
