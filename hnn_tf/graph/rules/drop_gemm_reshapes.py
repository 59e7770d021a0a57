"""Rule ``drop_gemm_reshapes``."""

from __future__ import annotations

from hnn_tf.graph.rules._helpers import numel, only_reader
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class DropGemmReshapes(Rule):
    """A Gemm between a Reshape to (rows, K) and a Reshape from (rows, N) is a fully connected layer on the un-flattened tensor; the Reshapes that only flatten are dropped.

    onnxruntime's optimiser (``quant_pre_process``, ``ORT_ENABLE_BASIC``) and some exporters
    turn a MatMul + Add on a (batch, tokens, features) tensor into a 2-D Gemm between two
    Reshapes, merging them with the model's own reshapes next to them (a ViT's head split
    after the qkv projection, the head merge before the output projection). The Gemm then
    reads and writes (batch, tokens, ...) tensors like the MatMul + Add that
    ``matmul_add_to_gemm`` makes a ``Gemm``: a Reshape that only flattened or unflattened the
    leading axes goes, one that also does the model's own reshape stays with the shape of the
    un-flattened tensor. onnxslim flattens once for the query, key and value projections
    that read one tensor: a Reshape that only Gemms read is dropped for each of them (and
    goes when the last one no longer reads it) if it only flattened. Reshapes move no data:
    0 FLOPs.
    """

    name, group, order = "drop_gemm_reshapes", "layout", 55
    ops = frozenset({"Gemm"})

    def match(self, g, n):
        if not n.inputs or n.attrs.get("transA", 0):
            return None
        first = g.producer(n.inputs[0])
        if first is None or first.op != "Reshape" or g.is_output(first.outputs[0]):
            return None
        readers = g.readers(first.outputs[0])
        if n not in readers or any(r.op != "Gemm" or r.inputs[0] != first.outputs[0] for r in readers):
            return None
        last = only_reader(g, n, {"Reshape"})
        mid, out = first.out_shape(0), n.out_shape(0)
        if mid is None or out is None or len(mid) != 2 or len(out) != 2 or mid[0] != out[0]:
            return None
        rows, k, cols = mid[0], mid[1], out[1]
        a = first.in_shape(0)
        b = last.out_shape(0) if last is not None else None
        if b is not None and len(b) >= 3 and b[-1] == cols and numel(b[:-1]) == rows:
            lead, drop_last = tuple(b[:-1]), True
        elif a is not None and len(a) >= 3 and a[-1] == k and numel(a[:-1]) == rows:
            lead, drop_last = tuple(a[:-1]), False
        else:
            return None
        drop_first = a is not None and tuple(a) == lead + (k,)
        if len(readers) > 1 and not drop_first:
            return None  # the Reshape also does the model's own reshape: its shape is every reader's
        return n, first, last if drop_last else None, lead, drop_first

    def rewrite(self, g, m):
        n, first, last, lead, drop_first = m
        k, cols = first.out_shape(0)[1], n.out_shape(0)[1]
        if drop_first and len(g.readers(first.outputs[0])) > 1:
            g.set_inputs(n, [first.inputs[0], *n.inputs[1:]])
        elif drop_first:
            g.bypass(first, first.inputs[0])
        else:
            first.out_shapes = [lead + (k,)]
        n.in_shapes = [lead + (k,), *n.in_shapes[1:]]
        n.out_shapes = [lead + (cols,)]
        if last is not None:
            g.bypass(last, n.outputs[0])
        else:
            reader = g.sole_reader(n)
            if reader is not None and reader.op == "Reshape":
                reader.in_shapes = [lead + (cols,), *reader.in_shapes[1:]]
        return True
