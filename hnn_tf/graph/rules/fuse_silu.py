"""Rule ``fuse_silu``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import fused, other, only_reader
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class FuseSiLU(Rule):
    """``x * Sigmoid(x)`` becomes one ``SiLU`` layer (Swish).

    PyTorch's SiLU, Keras' swish and EfficientNet's activations export as a Sigmoid and a Mul
    by the Sigmoid's own input; a Sigmoid whose output is read elsewhere too (a gate) is not
    a SiLU. FLOPs: one per output element, like any activation (the pair counted two).
    """

    name, group, order = "fuse_silu", "activations", 72
    ops = frozenset({"Sigmoid"})

    def match(self, g, n):
        if len(n.inputs) != 1 or n.inputs[0] in g.consts:
            return None
        mul = only_reader(g, n, {"Mul"})
        if mul is None or other(mul, n.outputs[0]) != n.inputs[0]:
            return None
        return n, mul

    def rewrite(self, g, m):
        sig, mul = m
        g.replace([sig, mul], fused("SiLU", [sig, mul], [sig.inputs[0]], in_shapes=sig.in_shapes[:1]))
        return True
