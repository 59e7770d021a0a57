"""Rule ``fuse_hardswish``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import fused, only_reader, other, scalar
from hnn_tf.graph.rules.base import Rule, register_rule
from hnn_tf.graph.rules.fuse_hardsigmoid import scaled_by_sixth


@register_rule
class FuseHardSwish(Rule):
    """``x * HardSigmoid(x)`` and ``x * Relu6(x + 3) / 6`` become one ``HardSwish``.

    PyTorch's Hardswish exports as the ONNX op; Keras' hard_swish (tf2onnx) and hand-written
    modules give the product with a HardSigmoid (after ``fuse_hardsigmoid``) or the product
    with Relu6(x + 3) divided by 6 afterwards. FLOPs: one per output element.
    """

    name, group, order = "fuse_hardswish", "activations", 74
    ops = frozenset({"HardSigmoid", "Relu6"})

    def match(self, g, n):
        if n.op == "HardSigmoid":
            alpha, beta = float(n.attrs.get("alpha", 0.2)), float(n.attrs.get("beta", 0.5))
            if abs(alpha - 1.0 / 6.0) > 1e-6 or abs(beta - 0.5) > 1e-6 or len(n.inputs) != 1:
                return None
            mul = only_reader(g, n, {"Mul"})
            if mul is None or other(mul, n.outputs[0]) != n.inputs[0]:
                return None
            return n.inputs[0], [n, mul]
        add = g.producer(n.inputs[0]) if n.inputs else None  # Relu6(x + 3)
        if add is None or add.op != "Add" or len(add.inputs) != 2 or g.sole_reader(add) is not n:
            return None
        data = [i for i in add.inputs if i not in g.consts]
        if len(data) != 1 or scalar(g, other(add, data[0]) or "") != 3.0:
            return None
        mul = only_reader(g, n, {"Mul"})
        if mul is None or other(mul, n.outputs[0]) != data[0]:
            return None
        scale = only_reader(g, mul, {"Mul", "Div"})
        if scale is None or not scaled_by_sixth(g, scale, mul.outputs[0]):
            return None
        return data[0], [add, n, mul, scale]

    def rewrite(self, g, m):
        x, chain = m
        first = chain[0]
        g.replace(chain, fused("HardSwish", chain, [x], in_shapes=[first.in_shape(first.inputs.index(x))]))
        return True
