"""Rule ``global_pool``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.ir import GraphIR, Node
from hnn_tf.graph.rules._helpers import value
from hnn_tf.graph.rules.base import Rule, register_rule


def reduce_axes(g: GraphIR, n: Node, rank: int) -> list[int] | None:
    """The sorted non-negative axes a Reduce* node reduces over, None when unknown."""
    axes = n.attrs.get("axes")
    if axes is None and len(n.inputs) > 1 and n.inputs[1]:
        axes = value(g.const(n, 1))
        if axes is None:
            return None
    if axes is None:
        return None if n.attrs.get("noop_with_empty_axes", 0) else list(range(rank))
    return sorted(int(a) % rank for a in np.asarray(axes).reshape(-1))


@register_rule
class GlobalPool(Rule):
    """ReduceMean / ReduceMax over every spatial axis becomes GlobalAveragePool / GlobalMaxPool.

    The dynamo exporter and tf2onnx spell global pooling so; jax2onnx writes a mean as
    ReduceSum followed by a Div by the number of pooled elements, which counts too (the
    Div and its FLOPs go). The spatial axes are 2.. of an (N, C, ...) tensor, or 1..r-2 of an
    (N, ..., C) one (NHWC). With ``keepdims=0`` the result is (N, C); a ``Flatten`` node
    (0 FLOPs) is added after the pool so that the graph reads GlobalAveragePool -> Flatten
    either way. FLOPs stay (both count one operation per input element).
    """

    name, group, order = "global_pool", "pooling", 110
    ops = frozenset({"ReduceMean", "ReduceMax", "ReduceSum"})

    def match(self, g, n):
        if not n.inputs or n.inputs[0] in g.consts:
            return None
        shape = n.in_shape(0)
        if shape is None or len(shape) < 3:
            return None
        axes = reduce_axes(g, n, len(shape))
        div = g.sole_reader(n) if n.op == "ReduceSum" else None
        return n, shape, axes, div

    def check(self, g, m):
        n, shape, axes, div = m
        r = len(shape)
        if axes not in (list(range(2, r)), list(range(1, r - 1))):
            return "it does not reduce over exactly the spatial axes"
        if n.op == "ReduceSum":  # a mean written as a sum divided by the pooled size (jax2onnx)
            if div is None or div.op != "Div" or len(div.inputs) != 2 or div.inputs[0] != n.outputs[0]:
                return "a sum that is not divided by the pooled size"
            size = value(g.const(div, 1))
            if size is None or np.size(size) != 1 or float(np.asarray(size).reshape(-1)[0]) != \
                    float(np.prod([shape[a] for a in axes])):
                return "a sum divided by something other than the pooled size"
        return None

    def rewrite(self, g, m):
        n, shape, axes, div = m
        r = len(shape)
        if n.op == "ReduceSum":
            g.absorb(n, div)
        n.op = "GlobalMaxPool" if n.op == "ReduceMax" else "GlobalAveragePool"
        keep = int(n.attrs.get("keepdims", 1))
        g.set_inputs(n, [n.inputs[0]])
        n.attrs = {}
        if not keep:
            channels = shape[1] if axes == list(range(2, r)) else shape[r - 1]
            pooled_shape = (shape[0], channels) + (1,) * (r - 2)
            pooled = n.outputs[0] + "/pooled"
            flat = Node(op="Flatten", name=n.name + "/flatten", inputs=[pooled], outputs=[n.outputs[0]],
                        attrs={"axis": 1}, in_shapes=[pooled_shape], out_shapes=list(n.out_shapes))
            g.set_outputs(n, [pooled], [pooled_shape])
            g.insert_after(n, flat)
        return True
