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


def _symbolic_parts(g, slices, shape):
    """The slices in order along one axis when their bounds are computed tensors (a split size
    derived from the input's shape): the first starts at 0, each next one starts at the tensor
    the one before ends at, and their output extents along the axis add up to the axis.
    Returns ``(axis, ordered slices)`` or None."""
    info = []
    for r in slices:
        axis_c = g.const(r, 3) if len(r.inputs) > 3 and r.inputs[3] else None
        step_c = g.const(r, 4) if len(r.inputs) > 4 and r.inputs[4] else None
        if (len(r.inputs) > 3 and r.inputs[3] and (axis_c is None or axis_c.value is None)) or \
                (len(r.inputs) > 4 and r.inputs[4] and (step_c is None or step_c.value is None
                                                        or not np.all(np.asarray(step_c.value) == 1))):
            return None
        axis = 0 if axis_c is None else int(np.asarray(axis_c.value).reshape(-1)[0]) % len(shape)
        out = r.out_shapes[0] if r.out_shapes else None
        if out is None or len(out) != len(shape) or any(
                out[k] != shape[k] for k in range(len(shape)) if k != axis) or not isinstance(out[axis], int):
            return None
        info.append((axis, r, out[axis]))
    if len({a for a, _, _ in info}) != 1:
        return None
    axis = info[0][0]
    if sum(e for _, _, e in info) != shape[axis]:
        return None
    start = None
    for _, r, _ in info:
        c = g.const(r, 1)
        if c is not None and c.value is not None and np.size(c.value) == 1 and int(np.asarray(c.value).reshape(-1)[0]) == 0:
            start = r
    if start is None:
        return None
    order, left = [start], [r for _, r, _ in info if r is not start]
    while left:
        nxt = [r for r in left if r.inputs[1] == order[-1].inputs[2]]
        if len(nxt) != 1:
            return None
        order.append(nxt[0])
        left.remove(nxt[0])
    return axis, order


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
        slices = [r for r in g.readers(x) if r.op == "Slice" and r.inputs[0] == x]
        if len(slices) < 2:
            return None
        parts = []
        for r in slices:
            rng = _slice_range(g, r, shape)
            if rng is None:
                sym = _symbolic_parts(g, slices, shape)
                return None if sym is None else (x, sym[1], sym[0])
            if rng[1] < rng[2]:  # an empty slice (a partial rotary's empty pass-through) is no part
                parts.append((rng, r))
        if len(parts) < 2 or min(p[1].key for p in parts) != n.key:
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
