"""Rule ``count_affine_bias``."""

from __future__ import annotations

from hnn_tf.graph.ir import Const, GraphIR, Node
from hnn_tf.graph.rules._helpers import Recount
from hnn_tf.graph.rules.base import register_rule


def out_channels(g: GraphIR, n: Node, w: Const) -> int | None:
    """Output channels of a Conv, ConvTranspose or Gemm from its weight's dims; None when unknown."""
    if n.op == "Conv" and len(w.dims) >= 2:
        return int(w.dims[0])
    if n.op == "ConvTranspose" and len(w.dims) >= 2:
        return int(w.dims[1]) * int(n.attrs.get("group", 1))
    if n.op == "Gemm" and len(w.dims) == 2:
        return int(w.dims[0] if n.attrs.get("transB", 0) else w.dims[1])
    return None


@register_rule
class CountAffineBias(Recount):
    """Every Conv, ConvTranspose and Gemm with a constant weight counts weights + one bias per output channel, stored or not.

    Exporters store a bias or not for reasons that are not the architecture: a folded
    BatchNorm becomes one, an all-zero bias (untrained weights) is dropped. With this count
    BN-kept, BN-folded, zero-bias-dropped and trained exports agree exactly.
    """

    name, group, order = "count_affine_bias", "counts", 130
    ops = frozenset({"Conv", "ConvTranspose", "Gemm"})

    def match(self, g, n):
        w = g.const(n, 1)
        if w is None or (n.op == "Gemm" and n.attrs.get("transA", 0)):
            return None
        out = out_channels(g, n, w)
        return None if out is None else (n, w.numel + out)
