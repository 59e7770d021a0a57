"""Rule ``drop_redundant_relu``."""

from __future__ import annotations

from hnn_tf.graph.rules._quant import nonnegative
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class DropRedundantRelu(Rule):
    """A ``Relu`` whose input is provably non-negative is removed: it computes the identity.

    RAFT's residual blocks apply ``relu(relu(a) + relu(b))``; quantizers drop such a Relu (it
    changes nothing, so onnxruntime's QDQ and QOperator quantizers fold it into the Add's
    range and no range says it was there), and so do some optimisers. Non-negative means: the
    output of a Relu, Sigmoid, Softmax, square or Clip at 0, or sums, products and sign-keeping
    layers (pooling, concatenation, reshapes) of such tensors and known non-negative constants
    (:func:`hnn_tf.graph.rules._quant.nonnegative`, up to 32 layers back). A Relu after anything else
    stays. Removes the Relu's FLOPs (one per element).
    """

    name, group, order = "drop_redundant_relu", "activations", 71
    ops = frozenset({"Relu"})

    def check(self, g, n):
        if not n.inputs or n.inputs[0] in g.consts or not nonnegative(g, n.inputs[0]):
            return "its input can be negative"
        return None

    def rewrite(self, g, n):
        return g.bypass_to_data_input(n)
