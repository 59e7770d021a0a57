"""Rule ``collapse_data_movement``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules._helpers import numel
from hnn_tf.graph.rules.base import Rule, register_rule

#: Ops that only move, select or retype data, read one data tensor and compute nothing.
MOVERS = frozenset({"Reshape", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "GatherND", "GatherElements",
                    "Expand", "Tile", "Cast", "Identity", "Flatten"})


def reorders(g, n) -> bool:
    """True if mover ``n`` changes the order of elements, not only the shape: a Transpose, a
    Slice with a step other than 1 (a flip), a Gather of any kind (a selection in a given order)."""
    if n.op == "Transpose":
        perm = n.attrs.get("perm")
        return perm is None or list(perm) != sorted(perm)
    if n.op == "Slice" and len(n.inputs) > 4 and n.inputs[4]:
        steps = g.const(n, 4)
        return steps is None or steps.value is None or not np.all(np.asarray(steps.value) == 1)
    return n.op in ("Gather", "GatherND", "GatherElements")


def _mover(g, n) -> bool:
    return n.op in MOVERS and n.params == 0 and len([i for i in n.inputs if i and i not in g.consts]) <= 2 \
        and len([o for o in n.outputs if o]) == 1


@register_rule
class CollapseDataMovement(Rule):
    """A chain of layers that only move data (Reshape, Squeeze, Unsqueeze, Transpose, Slice, Gather, Cast, Expand, ...) becomes one ``Reshape``, or ``Flatten`` when it flattens (N, ...) to (N, features).

    How a tensor is rearranged between two layers that compute is spelt differently by every
    exporter: the TorchScript exporter writes an attention mask's expansion as Flatten,
    Gather, Reshape, Reshape and Cast where the dynamo exporter writes one GatherND, a
    ``view`` becomes a Reshape or an ``as_strided`` Gather. Such a chain (each layer the only
    reader of the one before, none with parameters) is one data movement; its label says
    only whether it flattens. Index tensors computed from the data (a Gather's indices) stay
    inputs of the collapsed layer. A chain that reorders elements (a Transpose, a flip, a
Gather) is marked ``reorders`` so that ``drop_noops`` keeps it where the shape comes out
unchanged (a channel shuffle). 0 FLOPs, 0 parameters.
    """

    name, group, order = "collapse_data_movement", "pooling", 125
    ops = MOVERS

    def match(self, g, n):
        if not _mover(g, n):
            return None
        p = g.producer(n.inputs[0]) if n.inputs and n.inputs[0] else None
        if p is not None and _mover(g, p) and g.sole_reader(p) is n:
            return None  # not the head of its chain
        chain = [n]
        while True:
            r = g.sole_reader(chain[-1])
            if r is None or not _mover(g, r) or r.inputs[0] != chain[-1].outputs[0]:
                break
            chain.append(r)
        a, b = chain[0].in_shape(0), chain[-1].out_shape(0)
        flat = (a is not None and b is not None and len(a) >= 3 and len(b) == 2 and a[0] == b[0]
                and b[1] == numel(a[1:]))
        op = "Flatten" if flat else "Reshape"
        if len(chain) == 1 and n.op == op and (op != "Reshape" or len(n.inputs) <= 2):
            return None
        return chain, op

    def rewrite(self, g, m):
        from hnn_tf.graph.ir import Node

        chain, op = m
        head = chain[0]
        extra = [i for c in chain for i in c.inputs[1:] if i and i not in g.consts]
        attrs = {"axis": 1} if op == "Flatten" else ({"reorders": 1} if any(reorders(g, c) for c in chain) else {})
        node = Node(op=op, name="+".join(c.name for c in chain), inputs=[head.inputs[0], *extra],
                    outputs=list(chain[-1].outputs), attrs=attrs, flops=0,
                    params=0, in_shapes=[head.in_shapes[0] if head.in_shapes else None],
                    out_shapes=list(chain[-1].out_shapes))
        g.replace(chain, node)
        return True
