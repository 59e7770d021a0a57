"""Rule ``fuse_layernorm``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import fused, numel, only_reader
from hnn_tf.graph.rules._norm import float_params, normalised_tail, reduce_axes, squares
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class FuseLayerNorm(Rule):
    """LayerNorm written out (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, then Mul by gamma and Add of beta) becomes one ``LayerNormalization``.

    Exporters below opset 17 and hand-written modules (timm's LayerNorm2d variants, many
    transformers models) compute ``(x - mean) / sqrt(var + eps) * gamma + beta`` with the
    square as Pow or Mul and the division as Div or a Reciprocal and Mul. The new node has
    ONNX LayerNormalization's inputs (x, gamma, beta), ``axis`` (the first reduced axis) and
    ``epsilon``, and its cost: FLOPs 2 per output element, parameters gamma + beta, as when
    the exporter writes the op itself.
    """

    name, group, order = "fuse_layernorm", "normalization", 84
    ops = frozenset({"ReduceMean"})

    def match(self, g, m1):
        axes = reduce_axes(g, m1)
        x = m1.inputs[0]
        if axes is None or x in g.consts:
            return None
        sub = only_reader(g, m1, {"Sub"})
        if sub is None or sub.inputs != [x, m1.outputs[0]]:
            return None
        d = sub.outputs[0]
        sq = next((r for r in g.readers(d) if r.op in ("Pow", "Mul") and squares(g, r, d)), None)
        m2 = only_reader(g, sq, {"ReduceMean"}) if sq is not None else None
        if m2 is None or reduce_axes(g, m2) != axes or len(g.readers(d)) != 2 or g.is_output(d):
            return None
        rest = normalised_tail(g, m2, d, axes)
        if rest is None:
            return None
        nodes, eps, (gamma, beta) = rest
        return x, [m1, sub, sq, m2, *nodes], axes, eps, gamma, beta

    def rewrite(self, g, m):
        x, chain, axes, eps, gamma, beta = m
        inputs = [x, gamma, beta] if beta else ([x, gamma] if gamma else [x])
        out = chain[-1].out_shape(0)
        g.replace(chain, fused("LayerNormalization", chain, inputs, {"axis": axes[0], "epsilon": eps},
                               flops=2 * numel(out), params=float_params(g, [gamma, beta]),
                               in_shapes=[chain[0].in_shape(0)]))
        return True
