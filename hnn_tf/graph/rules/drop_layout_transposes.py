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


def _layout_reshape(node) -> bool:
    """True for a Reshape that is a layout Transpose in disguise: (N, C, 1, ..., 1) <-> (N, 1, ..., 1, C)
    (the dynamo exporter writes a permute of a pooled tensor as a view)."""
    a = node.in_shape(0) if node.inputs else None
    b = node.out_shapes[0] if node.out_shapes else None
    if a is None or b is None or len(a) != len(b) or len(a) < 3 or a == b:
        return False
    r = len(a)
    for perm in ([0] + list(range(2, r)) + [1], [0, r - 1] + list(range(1, r - 1))):
        moved = [a[p] for p in perm]
        if list(b) == moved and all(d == 1 for d in moved[2:-1]) and (moved[1] == 1 or moved[-1] == 1):
            return True
    return False


@register_rule
class DropLayoutTransposes(Rule):
    """A Transpose that only moves the channel axis between position 1 and the last (NHWC <-> NCHW) is removed.

    tf2onnx keeps Keras' NHWC interface by transposing the input to NCHW (and back before
    NHWC-only ops such as a Flatten). A Reshape between (N, C, 1, ..., 1) and (N, 1, ..., 1, C) is
    the same change, spelt as a view (the dynamo exporter's permute of a pooled tensor before a
    channels-last LayerNorm) and is removed too. A Transpose with any other permutation (a channel
    shuffle) is architecture and stays.
    """

    name, group, order = "drop_layout_transposes", "layout", 30
    ops = frozenset({"Transpose", "Reshape"})

    def check(self, g, node):
        if node.op == "Reshape":
            return None if _layout_reshape(node) else "it is not a layout change of a pooled tensor"
        return None if is_layout_perm(node.attrs.get("perm")) else "its permutation is not a layout change"

    def rewrite(self, g, node):
        return g.bypass_to_data_input(node)
