"""Rule ``drop_empty_concat_inputs``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule


def _empty(shape) -> bool:
    return shape is not None and any(isinstance(d, int) and d == 0 for d in shape)


@register_rule
class DropEmptyConcatInputs(Rule):
    """Inputs of a Concat that hold no elements (a zero extent in their shape) are removed.

    A partial rotary embedding whose rotary size is the whole head (transformers' Phi-3,
    ``q[..., :rotary_dim]`` and an empty ``q[..., rotary_dim:]`` concatenated back) exports
    with the TorchScript exporter as a Slice of nothing and a Concat that appends it; the
    dynamo exporter drops both. The empty producer is then read by nobody and the clean-up
    removes it (``remove_dead_nodes``); a Concat left with one input is removed by
    ``drop_single_input_concat``. Data movement: 0 FLOPs, 0 parameters.
    """

    name, group, order = "drop_empty_concat_inputs", "layout", 38
    ops = frozenset({"Concat"})

    def check(self, g, node):
        data = [k for k, i in enumerate(node.inputs) if i and i not in g.consts]
        empty = [k for k in data if _empty(node.in_shape(k))]
        if not empty:
            return "no input is empty"
        if len(empty) == len(data):
            return "every input is empty"
        return None

    def rewrite(self, g, node):
        keep = [k for k, i in enumerate(node.inputs) if not (i and i not in g.consts and _empty(node.in_shape(k)))]
        shapes = list(node.in_shapes)
        g.set_inputs(node, [node.inputs[k] for k in keep])
        node.in_shapes = [shapes[k] for k in keep if k < len(shapes)]
        return True
