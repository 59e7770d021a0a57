"""Rule ``fuse_rmsnorm``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import fused, numel
from hnn_tf.graph.rules._norm import float_params, normalised_tail, reduce_axes, squares
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class FuseRMSNorm(Rule):
    """RMSNorm written out (Pow, ReduceMean, Add, Sqrt, Div or Reciprocal and Mul, then Mul by gamma) becomes one ``RMSNormalization``.

    Llama-style decoders, T5 and many transformers models compute
    ``x / sqrt(mean(x^2) + eps) * gamma`` (``torch.rsqrt`` exports as Sqrt then a Div of 1);
    the casts to float32 and back around it are gone by then (``drop_float_casts``). The new
    node is ONNX's RMSNormalization (opset 23) with ``axis`` and ``epsilon``: FLOPs 2 per
    output element, parameters gamma, as when the exporter writes the op itself. Runs after
    ``fuse_layernorm``: a LayerNorm's centred square is not an RMSNorm.
    """

    name, group, order = "fuse_rmsnorm", "normalization", 86
    ops = frozenset({"ReduceMean"})

    def match(self, g, m):
        axes = reduce_axes(g, m)
        sq = g.producer(m.inputs[0]) if axes is not None else None
        if sq is None or sq.op not in ("Pow", "Mul") or not sq.inputs or g.sole_reader(sq) is not m:
            return None
        x = sq.inputs[0]
        if x in g.consts or not squares(g, sq, x):
            return None
        rest = normalised_tail(g, m, x, axes, ops=("Mul",))
        if rest is None:
            return None
        nodes, eps, (gamma, _) = rest
        return x, [sq, m, *nodes], axes, eps, gamma

    def rewrite(self, g, match):
        x, chain, axes, eps, gamma = match
        out = chain[-1].out_shape(0)
        g.replace(chain, fused("RMSNormalization", chain, [x, gamma] if gamma else [x],
                               {"axis": axes[0], "epsilon": eps}, flops=2 * numel(out),
                               params=float_params(g, [gamma]), in_shapes=[chain[0].in_shape(0)]))
        return True
