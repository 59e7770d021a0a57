"""Small helpers several rules share (not a rule: files starting with ``_`` are not loaded as rules)."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.ir import Const
from hnn_tf.graph.rules.base import Rule


def value(c: Const | None) -> np.ndarray | None:
    """The stored value of a constant, or None (no constant, or a large or computed one)."""
    return None if c is None else c.value


def channel_axis(shape: tuple | None, c: Const) -> int | None:
    """The channel axis along which constant ``c``, broadcast against a tensor of ``shape``, varies.

    Per-channel means: ``c`` has one element per channel and, broadcast with numpy's rules
    (trailing axes aligned), varies along one axis only, which is axis 1 (NCHW, or (N, C))
    or the last axis (NHWC, as Keras computes). Returns that axis, or None.
    """
    if shape is None or len(shape) < 2:
        return None
    rank = len(shape)
    dims = tuple(int(d) for d in c.dims)
    if len(dims) > rank:
        return None
    padded = (1,) * (rank - len(dims)) + dims  # numpy broadcasting aligns trailing axes
    varying = [k for k, d in enumerate(padded) if d != 1]
    if len(varying) != 1:
        return None
    axis = varying[0]
    if axis not in (1, rank - 1) or padded[axis] != shape[axis] or shape[axis] <= 1:
        return None
    return axis


def scalar(g, name: str) -> float | None:
    """The value of constant ``name`` if it is one number (any shape with one element), else None."""
    c = g.consts.get(name)
    v = None if c is None else c.value
    if v is None or np.size(v) != 1:
        return None
    return float(np.asarray(v, dtype=np.float64).reshape(-1)[0])


def other(n, tensor: str) -> str | None:
    """The other input of a two-input node that reads ``tensor`` once, else None."""
    if len(n.inputs) != 2 or n.inputs.count(tensor) != 1:
        return None
    return n.inputs[1] if n.inputs[0] == tensor else n.inputs[0]


def only_reader(g, n, ops: set | frozenset | None = None):
    """The one layer reading ``n``'s single output (and no model output), if its op is in ``ops``."""
    r = g.sole_reader(n)
    return r if r is not None and (ops is None or r.op in ops) else None


def numel(shape) -> int:
    """Elements of a static shape (0 when unknown)."""
    if shape is None or any(d is None for d in shape):
        return 0
    return int(np.prod(shape, dtype=np.int64))


def fused(op: str, chain: list, inputs: list[str], attrs: dict | None = None, flops: int | None = None,
          params: int = 0, in_shapes: list | None = None):
    """A new layer replacing ``chain`` (its last node's outputs and shapes), as the fusion rules make them.

    FLOPs default to one per output element (an activation's cost in :mod:`hnn_tf.graph.cost`).
    """
    from hnn_tf.graph.ir import Node

    last = chain[-1]
    return Node(op=op, name="+".join(c.name for c in chain), inputs=list(inputs), outputs=list(last.outputs),
                attrs=dict(attrs or {}), flops=numel(last.out_shape(0)) if flops is None else int(flops),
                params=int(params), in_shapes=list(in_shapes or []), out_shapes=list(last.out_shapes))


def absorb_bias(g, n, width: int) -> bool:
    """Make the Add of a constant of ``width`` elements that alone reads ``n``'s output (a
    Gemm's, MatMul's or a fused projection's part) the bias of ``n``: its third input. Returns
    whether it did."""
    nxt = g.sole_reader(n)
    if nxt is None or nxt.op != "Add" or len(nxt.inputs) != 2:
        return False
    other = [i for i in nxt.inputs if i != n.outputs[0]]
    if len(other) != 1 or other[0] not in g.consts or g.consts[other[0]].numel != width:
        return False
    g.set_inputs(n, [n.inputs[0], n.inputs[1], other[0]])
    g.absorb(n, nxt)
    return True


class Recount(Rule):
    """A rule that sets a layer's parameter count: :meth:`match` returns ``(node, params)``;
    the rewrite applies where the count differs (so the rule is idempotent)."""

    def check(self, g, m):
        n, params = m
        return None if params != n.params else "already counted"

    def rewrite(self, g, m):
        n, params = m
        n.params = params
        return True
