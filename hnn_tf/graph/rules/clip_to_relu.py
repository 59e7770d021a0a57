"""Rule ``clip_to_relu``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules._helpers import value
from hnn_tf.graph.rules.base import Rule, register_rule


def _bounds(g, n):
    lo = value(g.const(n, 1))
    hi = value(g.const(n, 2))
    if lo is None and "min" in n.attrs:
        lo = np.asarray(n.attrs["min"])
    if hi is None and "max" in n.attrs:
        hi = np.asarray(n.attrs["max"])
    return lo, hi


@register_rule
class ClipToRelu(Rule):
    """Clip(0, 6) is relabelled ``Relu6`` and Clip(0, +inf) ``Relu``.

    PyTorch exports ReLU6 as Clip with constant bounds (inputs from opset 11 on, attributes
    before); tf2onnx and TFLite do the same for Keras' ReLU(max_value=6). A Clip whose
    bounds are unknown or other stays ``Clip``.
    """

    name, group, order = "clip_to_relu", "spelling", 70
    ops = frozenset({"Clip"})

    def match(self, g, n):
        lo, hi = _bounds(g, n)
        if lo is None or np.size(lo) != 1 or float(np.asarray(lo).reshape(-1)[0]) != 0.0:
            return None
        has_hi = len(n.inputs) > 2 and n.inputs[2] or "max" in n.attrs
        if hi is None and has_hi:
            return None  # an upper bound we cannot read
        top = float("inf") if hi is None else float(np.asarray(hi).reshape(-1)[0])
        return n, top

    def check(self, g, m):
        return None if m[1] in (6.0, float("inf")) else f"its upper bound {m[1]:g} is neither 6 nor infinite"

    def rewrite(self, g, m):
        n, top = m
        n.op = "Relu6" if top == 6.0 else "Relu"
        return True
