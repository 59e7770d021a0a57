"""Rule ``drop_layout_transposes``."""

from __future__ import annotations

from typing import Any

from hnn_tf.graph.rules.base import Rule, register_rule


def is_layout_perm(perm: Any) -> bool:
    """True for a permutation that only moves the channel axis between position 1 and the last."""
    perm = [int(p) for p in perm] if perm is not None else []
    r = len(perm)
    if r < 3:
        return False
    to_last = [0] + list(range(2, r)) + [1]  # NCHW -> NHWC
    to_first = [0, r - 1] + list(range(1, r - 1))  # NHWC -> NCHW
    return perm in (to_last, to_first)


@register_rule
class DropLayoutTransposes(Rule):
    """A Transpose that only moves the channel axis between position 1 and the last (NHWC <-> NCHW) is removed.

    tf2onnx keeps Keras' NHWC interface by transposing the input to NCHW (and back before
    NHWC-only ops such as a Flatten); a Transpose with any other permutation (a channel
    shuffle) is architecture and stays.
    """

    name, group, order = "drop_layout_transposes", "layout", 30
    ops = frozenset({"Transpose"})

    def check(self, g, node):
        return None if is_layout_perm(node.attrs.get("perm")) else "its permutation is not a layout change"

    def rewrite(self, g, node):
        return g.bypass_to_data_input(node)
