"""Rule ``integer_to_float``."""

from __future__ import annotations

from hnn_tf.graph.cost import node_flops
from hnn_tf.graph.rules._helpers import only_reader, other
from hnn_tf.graph.rules.base import Rule, register_rule

_FLOAT_OP = {"MatMulInteger": "MatMul", "ConvInteger": "Conv"}


def _conv_bias(shape, c) -> bool:
    """True when constant ``c`` added to a Conv output of ``shape`` (NCHW) is its bias: broadcast
    with numpy's rules (trailing axes aligned), ``c`` has one element per output channel on axis
    1 and size 1 on every other axis. A Conv of one output channel (a segmentation head) has a
    one-element bias, which ``_helpers.channel_axis`` cannot place because nothing varies."""
    if shape is None or len(shape) < 2 or len(c.dims) > len(shape):
        return False
    padded = (1,) * (len(shape) - len(c.dims)) + tuple(int(d) for d in c.dims)
    return padded[1] == shape[1] and all(d == 1 for k, d in enumerate(padded) if k != 1)


@register_rule
class IntegerToFloat(Rule):
    """Dynamic quantization (DynamicQuantizeLinear, then MatMulInteger or ConvInteger, a Cast to float and a Mul by the scales) becomes the float MatMul or Conv.

    onnxruntime's ``quantize_dynamic`` writes each quantized MatMul or Conv so; the activation is
    quantized at run time by a DynamicQuantizeLinear that several layers may share. The
    integer op reads the float activation and the (integer) weight instead, gets the float
    op's FLOPs and the weight's elements as parameters; the Cast and the Mul by the scale
    product are absorbed; a Conv absorbs the per-channel bias Add that follows, as the float
    Conv holds its bias. The DynamicQuantizeLinear and the scale product are then dead layers.
    """

    name, group, order = "integer_to_float", "precision", 5
    ops = frozenset(_FLOAT_OP)

    def match(self, g, n):
        if len(n.inputs) < 2 or n.inputs[1] not in g.consts:
            return None
        q = g.producer(n.inputs[0])
        if q is None or q.op != "DynamicQuantizeLinear" or q.outputs[0] != n.inputs[0]:
            return None
        return n, q

    def rewrite(self, g, m):
        n, q = m
        x, w = q.inputs[0], n.inputs[1]
        op = _FLOAT_OP[n.op]
        in_shapes = [q.in_shape(0), n.in_shape(1)]
        g.set_inputs(n, [x, w])
        n.op, n.in_shapes = op, in_shapes
        n.flops = node_flops(op, in_shapes, n.out_shapes, n.attrs)
        n.params = g.consts[w].numel
        cast = only_reader(g, n, {"Cast"})
        if cast is not None:
            g.absorb(n, cast)
            scale = only_reader(g, n, {"Mul"})
            s = other(scale, n.outputs[0]) if scale is not None else None
            sp = g.producer(s) if s else None
            # the scale product: a constant, or the activation scale times the weight scale
            if s and (s in g.consts or (sp is not None and len(q.outputs) > 1 and q.outputs[1] in sp.inputs)):
                g.absorb(n, scale)
        if op == "Conv":
            add = only_reader(g, n, {"Add"})
            b = other(add, n.outputs[0]) if add is not None else None
            if b in g.consts and _conv_bias(n.out_shape(0), g.consts[b]):
                g.set_inputs(n, [x, w, b])
                g.absorb(n, add)
        return True
