"""Rule ``affine_to_batchnorm``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.ir import GraphIR, Node
from hnn_tf.graph.rules._helpers import channel_axis
from hnn_tf.graph.rules.base import Rule, register_rule

_SCALE_SHIFT = {"Mul", "Add", "Sub"}
_AFFINE_PRODUCERS = {"Conv", "ConvTranspose"}


def scale_shift_axis(g: GraphIR, n: Node) -> int | None:
    """Channel axis if ``n`` is ``x * c``, ``x + c`` or ``x - c`` with a per-channel constant c."""
    if n.op not in _SCALE_SHIFT or len(n.inputs) != 2:
        return None
    data = [k for k, i in enumerate(n.inputs) if i not in g.consts]
    consts = [k for k, i in enumerate(n.inputs) if i in g.consts]
    if len(data) != 1 or len(consts) != 1:
        return None
    if n.op == "Sub" and consts[0] != 1:
        return None  # c - x flips the sign of the data: not a scale-shift of x
    return channel_axis(n.out_shape(0), g.consts[n.inputs[consts[0]]])


@register_rule
class AffineToBatchNorm(Rule):
    """A chain of Mul / Add / Sub by per-channel constants becomes one ``BatchNormalization``.

    Keras 3 writes an inference BatchNorm as ``x * scale + shift`` (tf2onnx drops the Add
    when the shift is all zeros, as with untrained weights), and a Keras model converted
    with its weights left out (as :mod:`hnn_tf.converters.keras_tf` does) keeps the bias add of a
    Conv and the BatchNorm as such a chain too; it is the same layer as ONNX's
    BatchNormalization. A chain qualifies if it has a Mul, or if it directly follows a
    Conv (a separate bias add). The new node has BatchNormalization's cost: FLOPs 2 per
    output element, parameters 2 per channel.
    """

    name, group, order = "affine_to_batchnorm", "batchnorm", 90
    ops = frozenset(_SCALE_SHIFT)

    def match(self, g, n):
        axis = scale_shift_axis(g, n)
        if axis is None:
            return None
        src = [i for i in n.inputs if i not in g.consts][0]
        chain = [n]
        while True:
            nxt = g.sole_reader(chain[-1])
            if nxt is None or scale_shift_axis(g, nxt) is None:
                break
            chain.append(nxt)
        return src, chain, axis

    def check(self, g, m):
        src, chain, _ = m
        prod = g.producer(src)
        if not any(c.op == "Mul" for c in chain) and (prod is None or prod.op not in _AFFINE_PRODUCERS):
            return "a shift without a scale that does not follow a Conv"
        return None

    def rewrite(self, g, m):
        src, chain, axis = m
        first = chain[0]
        shape = chain[-1].out_shape(0)
        bn = Node(
            op="BatchNormalization",
            name="+".join(c.name for c in chain),
            inputs=[src],
            outputs=list(chain[-1].outputs),
            attrs={},
            flops=2 * int(np.prod(shape, dtype=np.int64)),
            params=2 * int(shape[axis]),
            in_shapes=list(first.in_shapes[:1]) if first.inputs[0] == src else list(first.in_shapes[1:2]),
            out_shapes=list(chain[-1].out_shapes),
        )
        g.replace(chain, bn)
        return True
