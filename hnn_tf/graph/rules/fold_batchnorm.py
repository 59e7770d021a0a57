"""Rule ``fold_batchnorm``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule

_AFFINE_PRODUCERS = {"Conv", "ConvTranspose"}


@register_rule
class FoldBatchNorm(Rule):
    """A BatchNormalization is folded into the Conv (or ConvTranspose) that is its only input.

    As an eval-mode PyTorch export (``do_constant_folding=True``), the dynamo exporter and
    tf2onnx do: the BN node disappears with its FLOPs; the Conv's parameters become weights
    + bias (``count_affine_bias``). BatchNorms after other layers (DenseNet's pre-activation
    BN after a Concat) stay.
    """

    name, group, order = "fold_batchnorm", "batchnorm", 100
    ops = frozenset({"BatchNormalization"})

    def match(self, g, n):
        src = g.data_inputs(n)
        prod = g.producer(src[0]) if src else None
        return (prod, n) if prod is not None else None

    def check(self, g, m):
        prod, n = m
        if prod.op not in _AFFINE_PRODUCERS:
            return f"it follows a {prod.op}, not a Conv"
        if g.sole_reader(prod) is not n:
            return "the Conv's output has other readers"
        return None

    def rewrite(self, g, m):
        prod, n = m
        g.absorb(prod, n)
        return True
