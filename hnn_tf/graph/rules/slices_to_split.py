"""Rule ``slices_to_split``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.ir import Node
from hnn_tf.graph.rules.base import Rule, register_rule


def _scalar(g, n, k, default):
    """Constant scalar input ``k`` of ``n`` as an int: ``default`` when absent, None when not a known constant."""
    if k >= len(n.inputs) or not n.inputs[k]:
        return default
    c = g.const(n, k)
    if c is None or c.value is None or np.size(c.value) != 1:
        return None
    return int(np.asarray(c.value).reshape(-1)[0])


def _axis(g, n, rank):
    """The axis of a Slice on one axis with step 1, normalised; None otherwise (or unknown)."""
    axis, step = _scalar(g, n, 3, 0), _scalar(g, n, 4, 1)
    return None if axis is None or step != 1 else axis % rank


def _slice_range(g, n, shape):
    """(axis, start, end) of a Slice on one axis with step 1 and known bounds, normalised; else None."""
    axis, start, end = _axis(g, n, len(shape)), _scalar(g, n, 1, None), _scalar(g, n, 2, None)
    if axis is None or start is None or end is None:
        return None
    dim = shape[axis]
    start = max(0, min(dim, start + dim if start < 0 else start))
    end = max(0, min(dim, end + dim if end < 0 else end))
    return axis, start, end


def _symbolic_parts(g, slices, shape):
    """The slices in order along one axis when their bounds are computed tensors (a split size
    derived from the input's shape): the first starts at 0, each next one starts at the tensor
    the one before ends at, and their output extents along the axis add up to the axis.
    Returns ``(axis, ordered slices)`` or None."""
    axes = {_axis(g, r, len(shape)) for r in slices}
    if len(axes) != 1 or None in axes:
        return None
    axis = axes.pop()
    extents = []
    for r in slices:
        out = r.out_shapes[0] if r.out_shapes else None
        if out is None or len(out) != len(shape) or not isinstance(out[axis], int) or any(
                out[k] != shape[k] for k in range(len(shape)) if k != axis):
            return None
        extents.append(out[axis])
    if sum(extents) != shape[axis]:
        return None
    first = [r for r in slices if _scalar(g, r, 1, None) == 0]
    if not first:
        return None
    order, left = first[-1:], [r for r in slices if r is not first[-1]]
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
