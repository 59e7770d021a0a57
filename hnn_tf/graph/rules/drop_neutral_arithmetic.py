"""Rule ``drop_neutral_arithmetic``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import scalar
from hnn_tf.graph.rules.base import Rule, register_rule

#: op -> (neutral value, the constant may be either operand)
_NEUTRAL = {"Mul": (1.0, True), "Div": (1.0, False), "Add": (0.0, True), "Sub": (0.0, False), "Pow": (1.0, False)}


@register_rule
class DropNeutralArithmetic(Rule):
    """A Mul or Div by the constant 1, an Add or Sub of the constant 0 (and Pow by 1) is removed.

    Code that scales by a configured factor exports the multiplication even when the factor is
    1 (T5's attention ``scores * scaling``); optimisers such as the dynamo exporter's delete
    it. It computes nothing: its FLOPs and the one-element constant it counted go.
    """

    name, group, order = "drop_neutral_arithmetic", "layout", 33
    ops = frozenset(_NEUTRAL)

    def match(self, g, n):
        if len(n.inputs) != 2:
            return None
        neutral, either = _NEUTRAL[n.op]
        for k in ((0, 1) if either else (1,)):
            data, c = n.inputs[1 - k], n.inputs[k]
            if data not in g.consts and scalar(g, c) == neutral and n.in_shape(1 - k) == n.out_shape(0):
                return n, data
        return None

    def rewrite(self, g, m):
        n, data = m
        g.bypass(n, data)
        return True
