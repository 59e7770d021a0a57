"""Rule ``matmul_add_to_gemm``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import absorb_bias
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class MatMulAddToGemm(Rule):
    """A MatMul of a tensor by a constant 2-D matrix, with an optional following Add of a constant bias, becomes one ``Gemm``.

    PyTorch's Linear (on 2-D inputs, and on the (batch, tokens, features) inputs of
    transformers); tf2onnx writes Keras' Dense so. ``Gemm`` here names the fully connected
    layer whatever its input's rank (ONNX's Gemm is 2-D; an optimiser such as onnxruntime's
    reshapes to 2-D around one, see ``drop_gemm_reshapes``). FLOPs stay the MatMul's (bias
    additions are not counted); parameters are recounted by ``count_affine_bias``. A left
    operand of unknown shape (a detection head's proposals, whose number depends on the data)
    is taken as rows: a MatMul by a constant matrix is a dense layer whatever the rows are, and
    the float export of the same Linear is a Gemm (onnxruntime's dynamic quantization writes
    it back as MatMulInteger and an Add).
    """

    name, group, order = "matmul_add_to_gemm", "spelling", 80
    ops = frozenset({"MatMul"})

    def check(self, g, n):
        if len(n.inputs) != 2 or n.inputs[0] in g.consts:
            return "not an activation times a constant"
        w = g.const(n, 1)
        a = n.in_shape(0)
        if w is None or len(w.dims) != 2:
            return "the right operand is not a constant matrix"
        if a is not None and (len(a) < 2 or a[-1] != w.dims[0]):
            return "the left operand is not a matrix or a stack of rows"
        return None

    def rewrite(self, g, n):
        w = g.const(n, 1)
        n.op = "Gemm"
        n.attrs = {"transB": 0}
        absorb_bias(g, n, w.dims[1])
        return True
