"""Pass ``canonical_order``."""

from __future__ import annotations

import hashlib
import heapq

from hnn_tf.graph.rules.base import Pass, register_pass

#: Ops whose result does not depend on the order of their inputs.
COMMUTATIVE_OPS = frozenset({"Add", "Mul", "Max", "Min", "Sum", "Mean", "And", "Or", "Xor", "Equal"})


def _digest(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def _slot(node, tensor: str) -> int:
    """Which output of ``node`` ``tensor`` is (0 for a single-output layer)."""
    return node.outputs.index(tensor) if len(node.outputs) > 1 else 0


@register_pass
class CanonicalOrder(Pass):
    """The layers are put in one canonical topological order, whatever order the exporter wrote them in.

    Two exports of one architecture often list parallel branches in different orders (a
    residual block's shortcut before or after its main path; an optimiser re-sorting nodes),
    which changes node numbering and so the graph's fingerprint but not the architecture.
    Each layer gets a structural key: a digest of its op, FLOPs and parameters with its
    producers' keys and the output slot read from each (sorted for commutative ops) and its
    readers' keys with the input slot it fills in each (but for commutative ops); layers are then emitted
    by Kahn's algorithm, the ready layer with the smallest (upward key, downward key) first.
    Changes no count.
    """

    name, group, order = "canonical_order", "order", 140

    def run(self, g):
        nodes = g.nodes
        producer = g.producers()
        up: dict[int, str] = {}
        for n in nodes:
            # how a weight or bias is stored is no part of the key; which output of a
            # multi-output producer (a Split's q, k or v) is
            ins = [(up.get(id(producer[i]), "in"), _slot(producer[i], i)) if i in producer else ("in", 0)
                   for i in n.inputs if i and i not in g.consts]
            if n.op in COMMUTATIVE_OPS:
                ins = sorted(ins)
            up[id(n)] = _digest(n.op, n.flops, n.params, tuple(ins))
        consumers = g.consumers()
        down: dict[int, str] = {}
        for n in reversed(nodes):
            outs = sorted((down[id(r)], -1 if r.op in COMMUTATIVE_OPS else r.inputs.index(o))
                          for o in n.outputs for r in consumers.get(o, ()) if id(r) in down)
            down[id(n)] = _digest(up[id(n)], tuple(outs), any(g.is_output(o) for o in n.outputs))
        preds = {id(n): {id(producer[i]) for i in n.inputs if i in producer and producer[i] is not n} for n in nodes}
        waiting = {id(n): len(p) for n, p in ((n, preds[id(n)]) for n in nodes)}
        readers: dict[int, list] = {id(n): [] for n in nodes}
        for n in nodes:
            for p in preds[id(n)]:
                readers[p].append(n)
        index = {id(n): k for k, n in enumerate(nodes)}
        heap = [(up[id(n)], down[id(n)], index[id(n)]) for n in nodes if waiting[id(n)] == 0]
        heapq.heapify(heap)
        out = []
        while heap:
            *_, k = heapq.heappop(heap)
            n = nodes[k]
            out.append(n)
            for r in readers[id(n)]:
                waiting[id(r)] -= 1
                if waiting[id(r)] == 0:
                    heapq.heappush(heap, (up[id(r)], down[id(r)], index[id(r)]))
        if len(out) != len(nodes) or all(a is b for a, b in zip(out, nodes)):
            return False  # a cycle (never in a valid graph) or already in order
        g.reorder(out)
        return True
