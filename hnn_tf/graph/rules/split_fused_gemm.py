"""Rule ``split_fused_gemm``."""

from __future__ import annotations

from hnn_tf.graph.ir import Const, Node
from hnn_tf.graph.rules._helpers import absorb_bias
from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class SplitFusedGemm(Rule):
    """A Gemm whose output only feeds a Split of its features becomes one Gemm per part, each reading the Gemm's input.

    Attention's query, key and value projections (and a gated MLP's gate and up projections)
    are separate Linears in one model and one fused Linear cut in parts in another (GPT-2's
    ``c_attn``, Phi-3's ``qkv_proj``); onnxsim fuses separate ones that read the same tensor
    into one MatMul and a Split. Both compute the same function with the same weights, so the
    canonical graph writes them one way: one Gemm per part. Each part's FLOPs are the fused
    Gemm's times its share of the output features (exact: a Gemm's FLOPs are 2 x rows x K x N);
    its weight and bias are the matching slices, so ``count_affine_bias`` counts each part's
    parameters, which add up to the fused layer's; where onnxsim adds each part's bias after
    the Split, that Add becomes the part's bias, as ``matmul_add_to_gemm`` makes it. The
    Split goes (data movement, 0 FLOPs).
    Source: ONNX ``Split`` and ``Gemm`` (docs/method.md "Canonical rules").
    """

    name, group, order = "split_fused_gemm", "spelling", 81
    ops = frozenset({"Gemm"})

    def match(self, g, n):
        if n.attrs.get("transA", 0) or len(n.inputs) < 2 or not n.inputs[0]:
            return None
        w = g.const(n, 1)
        split = g.sole_reader(n)
        if w is None or len(w.dims) != 2 or split is None or split.op != "Split" or split.inputs[0] != n.outputs[0]:
            return None
        if g.is_output(n.outputs[0]):
            return None
        trans_b = bool(n.attrs.get("transB", 0))
        total = int(w.dims[0] if trans_b else w.dims[1])
        out = n.out_shape(0)
        if out is None or not out or out[-1] != total:
            return None
        axis = split.attrs.get("axis", 0)
        if axis % len(out) != len(out) - 1:
            return None
        parts = []
        for shape in split.out_shapes:
            if shape is None or len(shape) != len(out) or not isinstance(shape[-1], int) or shape[-1] < 1:
                return None
            parts.append(int(shape[-1]))
        if len(parts) < 2 or sum(parts) != total or len(parts) != len(split.outputs):
            return None
        bias = g.const(n, 2) if len(n.inputs) > 2 and n.inputs[2] else None
        if len(n.inputs) > 2 and n.inputs[2] and (bias is None or bias.numel != total):
            return None  # a broadcast or computed bias: not sliced here
        return n, w, split, parts, trans_b, bias

    def rewrite(self, g, m):
        n, w, split, parts, trans_b, bias = m
        total = sum(parts)
        anchor = split
        for k, (width, tensor, shape) in enumerate(zip(parts, split.outputs, split.out_shapes)):
            wname = f"{n.inputs[1]}/part{k}"
            g.consts[wname] = Const((width, int(w.dims[1])) if trans_b else (int(w.dims[0]), width), w.dtype)
            inputs = [n.inputs[0], wname]
            if bias is not None:
                bname = f"{n.inputs[2]}/part{k}"
                g.consts[bname] = Const((width,), bias.dtype)
                inputs.append(bname)
            part = Node(op="Gemm", name=f"{n.name}/part{k}", inputs=inputs, outputs=[tensor],
                        attrs=dict(n.attrs), flops=n.flops * width // total, params=n.params * width // total,
                        in_shapes=[n.in_shape(0), g.consts[wname].dims] + ([(width,)] if bias is not None else []),
                        out_shapes=[shape])
            anchor = g.insert_after(anchor, part) if k else g.replace([split], part)
            if bias is None and absorb_bias(g, part, width):  # onnxsim adds each part's bias after the Split
                part.in_shapes = [*part.in_shapes, (width,)]
        g.remove(n)
        return True
