"""Pattern pieces the normalisation-fusion rules share (not a rule: files starting with ``_`` are not loaded)."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules._helpers import only_reader, other, scalar


def reduce_axes(g, n) -> tuple[int, ...] | None:
    """The axes (negative, sorted) a ReduceMean reduces, with ``keepdims`` set; None otherwise."""
    if n.op != "ReduceMean" or not int(n.attrs.get("keepdims", 1)):
        return None
    axes = n.attrs.get("axes")
    if axes is None and len(n.inputs) > 1 and n.inputs[1] in g.consts:
        v = g.consts[n.inputs[1]].value
        axes = None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]
    shape = n.in_shape(0)
    if not axes or shape is None:
        return None
    rank = len(shape)
    return tuple(sorted(int(a) - rank if int(a) >= 0 else int(a) for a in axes))


def squares(g, n, x: str) -> bool:
    """True if ``n`` computes ``x ** 2`` (Pow by 2, or Mul of x by itself)."""
    if n.op == "Pow":
        return len(n.inputs) == 2 and n.inputs[0] == x and scalar(g, n.inputs[1]) == 2.0
    return n.op == "Mul" and len(n.inputs) == 2 and n.inputs[0] == x and n.inputs[1] == x


def inverse_root(g, mean_sq, base: str):
    """From ``mean_sq`` (the mean of squares): ``Add(eps) -> Sqrt`` then ``base / sqrt`` or
    ``base * (1 / sqrt)``; returns (nodes, epsilon, normalised node) or None."""
    add = only_reader(g, mean_sq, {"Add"})
    eps = scalar(g, other(add, mean_sq.outputs[0]) or "") if add is not None else None
    if eps is None or eps < 0 or eps > 1e-1:
        return None
    sqrt = only_reader(g, add, {"Sqrt"})
    if sqrt is None:
        return None
    nxt = only_reader(g, sqrt, {"Div", "Reciprocal"})
    if nxt is None:
        return None
    if nxt.op == "Div":
        if nxt.inputs == [base, sqrt.outputs[0]]:
            return [add, sqrt, nxt], eps, nxt
        if scalar(g, nxt.inputs[0]) == 1.0 and nxt.inputs[1] == sqrt.outputs[0]:
            recip = nxt
        else:
            return None
    else:
        recip = nxt
    mul = only_reader(g, recip, {"Mul"})
    if mul is None or other(mul, recip.outputs[0]) != base:
        return None
    return [add, sqrt, recip, mul], eps, mul


def affine_tail(g, node, size: int | None, ops=("Mul", "Add")):
    """Following ``Mul`` by a per-feature constant (gamma) then ``Add`` of one (beta), each optional.

    Returns (nodes, [gamma or "", beta or ""]).
    """
    nodes, picked, cur = [], ["", ""], node
    for k, op in enumerate(ops):
        nxt = only_reader(g, cur, {op})
        c = other(nxt, cur.outputs[0]) if nxt is not None else None
        if c is None or c not in g.consts:
            continue
        numel = g.consts[c].numel
        if size is None or numel != size:
            continue
        nodes.append(nxt)
        picked[k] = c
        cur = nxt
    return nodes, picked


def float_params(g, names) -> int:
    """Elements of the named float constants (the parameters a fused layer keeps)."""
    from hnn_tf.graph.cost import _FLOAT_TYPES

    return sum(g.consts[c].numel for c in names if c and c in g.consts and g.consts[c].dtype in _FLOAT_TYPES)


def normalised_tail(g, mean_sq, base: str, axes: tuple[int, ...], ops=("Mul", "Add")):
    """After ``mean_sq`` (the mean of squares of ``base`` over ``axes``): the inverse root
    (:func:`inverse_root`) and the affine tail (:func:`affine_tail` with ``ops``) sized by the
    reduced axes. Returns (nodes, epsilon, [gamma or "", beta or ""]) or None."""
    from hnn_tf.graph.rules._helpers import numel

    root = inverse_root(g, mean_sq, base)
    if root is None:
        return None
    nodes, eps, last = root
    shape = last.out_shape(0)
    size = numel(shape[len(shape) + axes[0]:]) if shape is not None else None
    tail, picked = affine_tail(g, last, size, ops=ops)
    return [*nodes, *tail], eps, picked

