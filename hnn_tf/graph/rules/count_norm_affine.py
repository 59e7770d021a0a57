"""Rule ``count_norm_affine``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import Recount, numel
from hnn_tf.graph.rules.base import register_rule

#: Parameters per normalised feature: a scale and a bias (LayerNorm), a scale (RMSNorm).
PER_FEATURE = {"LayerNormalization": 2, "RMSNormalization": 1}


@register_rule
class CountNormAffine(Recount):
    """Every LayerNormalization counts a scale and a bias per normalised feature, every RMSNormalization a scale, stored or not.

    An untrained model's norms scale by ones and add zeros, and optimisers drop a
    multiplication by ones and an addition of zeros (onnxslim does), so whether the scale is
    stored says nothing about the architecture; like ``count_affine_bias`` for Conv and
    Gemm biases, the count is the one of the affine norm. The features are the input's
    axes from ``axis`` on. FLOPs are unchanged.
    """

    name, group, order = "count_norm_affine", "counts", 131
    ops = frozenset(PER_FEATURE)

    def match(self, g, n):
        shape = n.in_shape(0)
        if shape is None or not shape or any(not isinstance(d, int) for d in shape):
            return None
        axis = int(n.attrs.get("axis", -1)) % len(shape)
        return n, PER_FEATURE[n.op] * numel(shape[axis:])
