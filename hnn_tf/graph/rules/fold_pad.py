"""Rule ``fold_pad``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules._helpers import value
from hnn_tf.graph.rules.base import Rule, register_rule

_PAD_TARGETS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"}


@register_rule
class FoldPad(Rule):
    """A constant-zero Pad of the spatial axes whose readers are all Conv or pooling layers is removed.

    Framework spelling: PyTorch puts the padding into the Conv's ``pads``, tf2onnx often
    keeps Keras' ``ZeroPadding2D`` as a Pad node. The Conv's FLOPs do not change (they
    depend on its output shape, which is the same either way). The batch axis and the
    channel axis (1, or the last in NHWC) must not be padded.
    """

    name, group, order = "fold_pad", "layout", 60
    ops = frozenset({"Pad"})

    def check(self, g, n):
        if n.attrs.get("mode", b"constant") not in (b"constant", "constant"):
            return "not a constant Pad"
        fill = value(g.const(n, 2))
        if fill is not None and np.any(fill != 0):
            return "the pad value is not zero"
        pads = value(g.const(n, 1))
        if pads is None and "pads" in n.attrs:
            pads = np.asarray(n.attrs["pads"])
        if pads is not None:
            pads = np.asarray(pads).reshape(-1)
            r = len(pads) // 2
            if r < 3 or len(n.inputs) > 3 and n.inputs[3]:
                return "a Pad of chosen axes only"
            per_axis = pads[:r] + pads[r:]
            if per_axis[0] != 0 or (per_axis[1] != 0 and per_axis[r - 1] != 0):
                return "it pads the batch or the channel axis"
        readers = g.readers(n.outputs[0])
        if not readers or g.is_output(n.outputs[0]) or not all(r.op in _PAD_TARGETS for r in readers):
            return "not every reader is a Conv or pooling layer"
        return None

    def rewrite(self, g, n):
        return g.bypass_to_data_input(n)
