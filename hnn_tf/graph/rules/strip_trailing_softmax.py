"""Rule ``strip_trailing_softmax``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class StripTrailingSoftmax(Rule):
    """A Softmax or LogSoftmax that produces a model output and that nothing else reads is removed.

    Keras applications end in a Softmax (``classifier_activation``), torchvision models do not;
    it is the classifier's output activation, not a layer of the feature graph.
    """

    name, group, order = "strip_trailing_softmax", "cleanup", 10
    ops = frozenset({"Softmax", "LogSoftmax"})

    def check(self, g, node):
        if not g.is_output(node.outputs[0]):
            return "its output is not a model output"
        if g.readers(node.outputs[0]):
            return "other layers read its output"
        return None

    def rewrite(self, g, node):
        return g.bypass_to_data_input(node)
