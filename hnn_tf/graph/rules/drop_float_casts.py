"""Rule ``drop_float_casts``."""

from __future__ import annotations

import onnx

from hnn_tf.graph.rules.base import Rule, register_rule

FLOAT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
                         onnx.TensorProto.DOUBLE})
#: Ops whose outputs are integers or booleans: a Cast of them to a float type is part of the
#: computation (a mask made float, a rounding), not a change of precision.
INTEGER_OUTPUT_OPS = frozenset({
    "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "ArgMax", "ArgMin",
    "NonZero", "Shape", "Size", "IsNaN", "IsInf", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear",
    "QuantizeLinear", "TopK",
})


@register_rule
class DropFloatCasts(Rule):
    """A Cast to a floating-point type of a floating-point tensor is removed (precision is not architecture).

    An fp16 conversion (onnxconverter-common's ``float16``) adds Casts at the inputs and outputs
    and around the ops it keeps in float32; transformers' RMSNorm and attention cast to
    float32 and back; mixed-precision exports cast everywhere. A Cast to float of an integer or
    boolean tensor (a mask, an index, a rounding: outputs of :data:`INTEGER_OUTPUT_OPS` or of a
    Cast to an integer type) is kept. Casts carry no FLOPs or parameters.
    """

    name, group, order = "drop_float_casts", "precision", 2
    ops = frozenset({"Cast"})

    def check(self, g, n):
        if int(n.attrs.get("to", 0)) not in FLOAT_TYPES:
            return "it casts to an integer or boolean type"
        p = g.producer(n.inputs[0]) if n.inputs else None
        if p is not None and (p.op in INTEGER_OUTPUT_OPS
                              or (p.op == "Cast" and int(p.attrs.get("to", 0)) not in FLOAT_TYPES)):
            return "its input is an integer or boolean tensor"
        return None

    def rewrite(self, g, n):
        return g.bypass_to_data_input(n)
