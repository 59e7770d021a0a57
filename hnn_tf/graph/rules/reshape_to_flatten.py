"""Rule ``reshape_to_flatten``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class ReshapeToFlatten(Rule):
    """A Reshape / Squeeze / Flatten taking an (N, ...) tensor of rank >= 3 to (N, product) becomes ``Flatten``.

    torchvision flattens after global pooling with ``torch.flatten`` (ONNX Flatten, or
    Reshape from the dynamo exporter), tf2onnx squeezes the pooled axes, Keras' Flatten
    becomes a Reshape. All are one reshape to 2-D with the batch axis kept.
    """

    name, group, order = "reshape_to_flatten", "pooling", 120
    ops = frozenset({"Reshape", "Squeeze", "Flatten"})

    def check(self, g, n):
        if not n.inputs:
            return "no input"
        a, b = n.in_shape(0), n.out_shape(0)
        if a is None or b is None or len(a) < 3 or len(b) != 2:
            return "not a reshape of a rank >= 3 tensor to 2-D"
        if b[0] != a[0] or b[1] != int(np.prod(a[1:], dtype=np.int64)):
            return "the batch axis is not kept"
        if n.op == "Flatten" and n.attrs.get("axis", 1) == 1 and len(n.inputs) == 1:
            return "already a Flatten"
        return None

    def rewrite(self, g, n):
        n.op = "Flatten"
        g.set_inputs(n, [n.inputs[0]])
        n.in_shapes = n.in_shapes[:1]
        n.attrs = {"axis": 1}
        return True
