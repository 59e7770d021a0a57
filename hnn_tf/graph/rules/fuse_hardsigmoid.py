"""Rule ``fuse_hardsigmoid``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import fused, only_reader, other, scalar
from hnn_tf.graph.rules.base import Rule, register_rule


def scaled_by_sixth(g, n, tensor: str) -> bool:
    """True if ``n`` is ``tensor / 6`` or ``tensor * (1/6)``."""
    c = other(n, tensor)
    if c is None or c not in g.consts:
        return False
    v = scalar(g, c)
    if v is None:
        return False
    if n.op == "Div":
        return n.inputs[0] == tensor and abs(v - 6.0) < 1e-6
    return n.op == "Mul" and abs(v - 1.0 / 6.0) < 1e-6


@register_rule
class FuseHardSigmoid(Rule):
    """``Relu6(x + 3) / 6`` becomes one ``HardSigmoid`` (alpha 1/6, beta 1/2).

    Keras' hard_sigmoid and MobileNetV3's hard activations written out (tf2onnx, hand-written
    PyTorch modules) are this chain; PyTorch's Hardsigmoid exports as the ONNX op. Runs after
    ``clip_to_relu`` (Clip(0, 6) is then ``Relu6``). FLOPs: one per output element.
    """

    name, group, order = "fuse_hardsigmoid", "activations", 73
    ops = frozenset({"Add"})

    def match(self, g, n):
        data = [i for i in n.inputs if i not in g.consts]
        if len(n.inputs) != 2 or len(data) != 1 or scalar(g, other(n, data[0]) or "") != 3.0:
            return None
        relu6 = only_reader(g, n, {"Relu6"})
        scale = only_reader(g, relu6, {"Mul", "Div"}) if relu6 is not None else None
        if scale is None or not scaled_by_sixth(g, scale, relu6.outputs[0]):
            return None
        return data[0], [n, relu6, scale]

    def rewrite(self, g, m):
        x, chain = m
        g.replace(chain, fused("HardSigmoid", chain, [x], {"alpha": 1.0 / 6.0, "beta": 0.5},
                               in_shapes=[chain[0].in_shape(chain[0].inputs.index(x))]))
        return True
