"""Rule ``merge_nested_concat``."""

from __future__ import annotations

from hnn_tf.graph.ir import Node
from hnn_tf.graph.rules.base import Rule, register_rule


def concat_axis(n: Node) -> int | None:
    """The non-negative axis of a Concat, None when its output shape or axis is unknown."""
    shape = n.out_shape(0)
    axis = n.attrs.get("axis")
    if shape is None or axis is None:
        return None
    return int(axis) % len(shape)


@register_rule
class MergeNestedConcat(Rule):
    """A Concat whose only reader is another Concat along the same axis is merged into it.

    ``cat([a, cat([b, c])])`` is ``cat([a, b, c])``: PyTorch's exporter and TensorFlow's
    Grappler write the flat form (Inception blocks), tf2onnx without Grappler (the weight-free
    Keras route) the nested one. Both are data movement (0 FLOPs, 0 parameters).
    """

    name, group, order = "merge_nested_concat", "layout", 50
    ops = frozenset({"Concat"})

    def match(self, g, inner):
        outer = g.sole_reader(inner)
        return (inner, outer) if outer is not None and outer.op == "Concat" else None

    def check(self, g, m):
        inner, outer = m
        if concat_axis(outer) is None or concat_axis(inner) != concat_axis(outer):
            return "the two Concats join along different (or unknown) axes"
        return None

    def rewrite(self, g, m):
        inner, outer = m
        spliced: list[str] = []
        for i in outer.inputs:
            spliced.extend(inner.inputs if i == inner.outputs[0] else [i])
        g.remove(inner)
        g.set_inputs(outer, spliced)
        return True
