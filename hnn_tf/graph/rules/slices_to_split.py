"""Rule ``slices_to_split``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.ir import Node
from hnn_tf.graph.rules.base import Rule, register_rule


def _slice_range(g, n, shape):
    """(axis, start, end) of a Slice on one axis with step 1 and known bounds, normalised; else None."""
    vals = []
    for k in (1, 2, 3, 4):
        if k >= len(n.inputs) or not n.inputs[k]:
            vals.append(None)
            continue
        c = g.const(n, k)
        if c is None or c.value is None or np.size(c.value) != 1:
            return None
        vals.append(int(np.asarray(c.value).reshape(-1)[0]))
    start, end, axis, step = vals
    if start is None or end is None or (step not in (None, 1)):
        return None
    axis = 0 if axis is None else axis % len(shape)
    dim = shape[axis]
    start = max(0, min(dim, start + dim if start < 0 else start))
    end = max(0, min(dim, end + dim if end < 0 else end))
    return axis, start, end


@register_rule
class SlicesToSplit(Rule):
    """Slices that cut one tensor into consecutive parts along one axis become one ``Split``.

    ``torch.unbind``, ``chunk`` and ``split`` export as a Split (TorchScript exporter) or as
    one Slice per part (dynamo exporter); a ViT's q, k, v come out either way. The parts must
    cover the axis exactly, without overlap. Data movement: 0 FLOPs, 0 parameters.
    """

    name, group, order = "slices_to_split", "layout", 35
    ops = frozenset({"Slice"})

    def match(self, g, n):
        x = n.inputs[0] if n.inputs else None
        shape = n.in_shape(0)
        if not x or x in g.consts or shape is None:
            return None
        parts = []
        for r in g.readers(x):
            if r.op != "Slice" or r.inputs[0] != x:
                continue
            rng = _slice_range(g, r, shape)
            if rng is None:
                return None
            parts.append((rng, r))
        if len(parts) < 2 or parts[0][1] is not n and min(p[1].key for p in parts) != n.key:
            return None
        axes = {p[0][0] for p in parts}
        if len(axes) != 1:
            return None
        parts.sort(key=lambda p: p[0][1])
        edge = 0
        for (axis, start, end), _ in parts:
            if start != edge or end <= start:
                return None
            edge = end
        if edge != shape[axes.pop()]:
            return None
        return x, [p[1] for p in parts], parts[0][0][0]

    def rewrite(self, g, m):
        x, slices, axis = m
        split = Node(op="Split", name="+".join(s.name for s in slices), inputs=[x],
                     outputs=[s.outputs[0] for s in slices], attrs={"axis": axis}, flops=0, params=0,
                     in_shapes=[slices[0].in_shape(0)], out_shapes=[s.out_shapes[0] for s in slices])
        g.replace(sorted(slices, key=lambda s: s.key), split)
        return True
