"""Rule ``drop_single_input_concat``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class DropSingleInputConcat(Rule):
    """A Concat (or variadic Sum/Max/Min/Mean) of a single input copies it and is removed."""

    name, group, order = "drop_single_input_concat", "layout", 40
    ops = frozenset({"Concat", "Sum", "Max", "Min", "Mean"})

    def check(self, g, node):
        return None if len([i for i in node.inputs if i]) == 1 else "it has several inputs"

    def rewrite(self, g, node):
        return g.bypass_to_data_input(node)
