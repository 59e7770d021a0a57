"""Rule ``fuse_gelu``."""

from __future__ import annotations

import math

from hnn_tf.graph.rules._helpers import fused, only_reader, other, scalar
from hnn_tf.graph.rules.base import Rule, register_rule

_CONE_OPS = {"Mul", "Add", "Pow", "Div"}
_MAX_CONE = 6


def _close(v: float | None, target: float, tol: float = 2e-3) -> bool:
    """True if ``v`` is ``target`` within ``tol`` relative (fp16 constants are within 1e-3)."""
    return v is not None and abs(v - target) <= tol * max(1.0, abs(target))


def _half_of(g, t: str):
    """(x, node) if ``t`` is computed as ``x * 0.5`` by a Mul, else None."""
    p = g.producer(t)
    if p is None or p.op != "Mul" or len(p.inputs) != 2:
        return None
    data = [i for i in p.inputs if i not in g.consts]
    if len(data) == 1 and _close(scalar(g, other(p, data[0]) or ""), 0.5):
        return data[0], p
    return None


def _tail(g, add):
    """The Muls after ``1 + erf(...)`` that multiply in x and 1/2: returns (x, nodes) or None.

    Orders: ``(1 + erf) * x * 0.5``, ``(1 + erf) * 0.5 * x``, ``(1 + erf) * (x * 0.5)``, and
    ``(1 + erf) * x`` alone (the 1/2 folded into the next layer).
    """
    mul1 = only_reader(g, add, {"Mul"})
    f1 = other(mul1, add.outputs[0]) if mul1 is not None else None
    if f1 is None:
        return None
    mul2 = only_reader(g, mul1, {"Mul"})
    f2 = other(mul2, mul1.outputs[0]) if mul2 is not None else None
    if _close(scalar(g, f1), 0.5):
        return (f2, [mul1, mul2]) if f2 is not None and f2 not in g.consts else None
    if f1 in g.consts:
        return None
    half = _half_of(g, f1)
    if half is not None and g.sole_reader(half[1]) is mul1:
        return half[0], [mul1, half[1]]
    if f2 is not None and _close(scalar(g, f2), 0.5):
        return f1, [mul1, mul2]
    return f1, [mul1]


def _cone(g, start: str, x: str, reader):
    """The nodes computing ``start`` from ``x`` and constants only (Mul/Add/Pow/Div), each read only
    inside the cone or by ``reader``; None if there is no such small cone."""
    nodes, stack, seen = [], [start], set()
    while stack:
        t = stack.pop()
        if t == x or t in g.consts or t in seen:
            continue
        seen.add(t)
        p = g.producer(t)
        if p is None or p.op not in _CONE_OPS or len(nodes) >= _MAX_CONE:
            return None
        nodes.append(p)
        stack.extend(i for i in p.inputs if i)
    inside = {id(n) for n in nodes} | {id(reader)}
    for n in nodes:
        if g.is_output(n.outputs[0]) or any(id(r) not in inside for r in g.readers(n.outputs[0])):
            return None
    return nodes


@register_rule
class FuseGelu(Rule):
    """GELU written out, ``x * 0.5 * (1 + erf(x / sqrt 2))`` or its tanh approximation, becomes one ``Gelu``.

    The TorchScript exporter below opset 20, tf2onnx and hand-written modules give the Erf form
    (x divided by sqrt 2 or times 1/sqrt 2, Erf, Add 1, Muls by x and 1/2 in either order, or
    without the 1/2 when an optimiser such as onnxsim folded it into the next layer); the
    tanh approximation (``gelu_new``, ``gelu_pytorch_tanh``) computes
    ``tanh(sqrt(2/pi) * (x + 0.044715 x^3))`` from x with Pow or Muls. Both become ``Gelu``
    with ``approximate`` ``"none"`` or ``"tanh"``, like ONNX's own op. FLOPs: one per output
    element, like the native op.
    """

    name, group, order = "fuse_gelu", "activations", 76
    ops = frozenset({"Erf", "Tanh"})

    def match(self, g, n):
        if len(n.inputs) != 1 or n.inputs[0] in g.consts:
            return None
        add = only_reader(g, n, {"Add"})
        if add is None or not _close(scalar(g, other(add, n.outputs[0]) or ""), 1.0):
            return None
        tail = _tail(g, add)
        if tail is None:
            return None
        x, muls = tail
        cone = _cone(g, n.inputs[0], x, n)
        if not cone:
            return None
        values = [scalar(g, i) for c in cone for i in c.inputs if i in g.consts]
        if n.op == "Erf":
            ok = len(cone) == 1 and cone[0].op in ("Div", "Mul") and (
                _close(values[0], math.sqrt(2.0)) if cone[0].op == "Div" else _close(values[0], 1 / math.sqrt(2.0)))
        else:
            ok = any(_close(v, 0.044715) for v in values) or any(_close(v, 0.044715 * math.sqrt(2 / math.pi))
                                                                for v in values)
        if not ok:
            return None
        return x, sorted([*cone, n, add, *muls], key=lambda c: c.key), "none" if n.op == "Erf" else "tanh"

    def rewrite(self, g, m):
        x, chain, approximate = m
        first = next(c for c in chain if x in c.inputs)
        g.replace(chain, fused("Gelu", chain, [x], {"approximate": approximate},
                               in_shapes=[first.in_shape(first.inputs.index(x))]))
        return True
