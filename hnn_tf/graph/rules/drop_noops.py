"""Rule ``drop_noops``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules.base import Rule, register_rule

_SHAPE_KEEPING = frozenset({"Pad", "Slice", "Reshape", "Expand", "Tile", "Squeeze", "Unsqueeze", "Flatten", "Resize"})


@register_rule
class DropNoops(Rule):
    """A Pad, Slice, Reshape, Expand, Tile, Squeeze, Unsqueeze, Flatten or Resize whose output has its input's shape is removed.

    On the trigger input such a layer copies its input: a window padding of 0 (Swin pads
    to a multiple of the window, which the default input already is), a slice of the whole
    tensor, a reshape to the same shape. Optimisers (onnxsim, onnxslim) delete them, exporters
    keep them: either way they are not layers. A Slice with a step other than 1 (a flip) stays.
    """

    name, group, order = "drop_noops", "layout", 34
    ops = _SHAPE_KEEPING

    def check(self, g, n):
        a, b = n.in_shape(0), n.out_shape(0)
        if a is None or b is None or a != b or not n.inputs or n.inputs[0] in g.consts:
            return "its output shape differs from its input's (or is unknown)"
        if n.attrs.get("reorders"):
            return "it reorders elements (collapse_data_movement)"
        if n.op == "Slice":
            steps = g.const(n, 4)
            if len(n.inputs) > 4 and n.inputs[4] and (steps is None or steps.value is None
                                                     or not np.all(np.asarray(steps.value) == 1)):
                return "a Slice with steps other than 1"
        return None

    def rewrite(self, g, n):
        return g.bypass_to_data_input(n)
