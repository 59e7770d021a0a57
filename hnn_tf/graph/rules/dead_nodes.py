"""Pass ``remove_dead_nodes``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Pass, register_pass


@register_pass
class RemoveDeadNodes(Pass):
    """Layers none of whose outputs reach a model output (unused branches) are removed.

    A pass over the whole graph: liveness is a property of the graph, not of one layer. When no
    model output is produced by a layer, everything is kept rather than nothing.
    """

    name, group, order = "remove_dead_nodes", "cleanup", 20

    def run(self, g):
        live: set[int] = set()
        stack = [p for p in (g.producer(o) for o in g.outputs) if p is not None]
        while stack:
            n = stack.pop()
            if id(n) in live:
                continue
            live.add(id(n))
            stack.extend(p for p in (g.producer(i) for i in n.inputs if i) if p is not None)
        if not live:
            return False
        dead = [n for n in g.nodes if id(n) not in live]
        for n in dead:
            g.remove(n)
        return bool(dead)
