"""Rule ``fold_scale_into_gemm``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class FoldScaleIntoGemm(Rule):
    """A Mul or Div of a Gemm's output by a constant scalar or per-feature vector is folded into the Gemm.

    A scale after a linear layer is a scale of its weights and bias: Whisper scales its query
    projection's output by ``head_dim ** -0.5``, a LayerScale multiplies a block's last
    projection by one learned value per feature, and optimisers (onnxslim, onnxsim) fold
    either into the weights. The canonical graph folds it as they do, as it folds BatchNorm
    into a Conv: the Mul goes with its FLOPs and parameters, and the Gemm keeps its own
    (weights + bias, ``count_affine_bias``). A constant of another shape (a mask, a per-token
    scale) and a scale of a Gemm whose output has other readers stay.
    Source: ONNX ``Gemm`` (``alpha * A @ B + beta * C``; a scale of the output is one of B and C).
    """

    name, group, order = "fold_scale_into_gemm", "spelling", 83
    ops = frozenset({"Mul", "Div"})

    def match(self, g, n):
        if len(n.inputs) != 2:
            return None
        data = [k for k, t in enumerate(n.inputs) if t not in g.consts]
        if len(data) != 1 or (n.op == "Div" and data[0] != 0):
            return None
        prod = g.producer(n.inputs[data[0]])
        if prod is None or prod.op != "Gemm" or g.sole_reader(prod) is not n:
            return None
        c = g.consts[n.inputs[1 - data[0]]]
        out = prod.out_shape(0)
        if c.numel != 1:
            dims = [d for d in c.dims if d != 1]
            if out is None or len(dims) != 1 or c.dims[-1] != out[-1] or len(c.dims) > len(out):
                return None
        return prod, n

    def rewrite(self, g, m):
        prod, n = m
        g.absorb(prod, n)
        return True
