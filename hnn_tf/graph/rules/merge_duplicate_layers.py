"""Pass ``merge_duplicate_layers``."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.rules.base import Pass, register_pass


def _input_key(g, name: str):
    c = g.consts.get(name)
    if c is None:
        return ("data", name)
    if c.value is not None:  # a small constant (a shape, an axis): by value, whatever its name
        v = np.asarray(c.value)
        return ("value", str(v.dtype), v.shape, v.tobytes())
    return ("const", name)  # a weight: by name (two layers with their own weights differ)


@register_pass
class MergeDuplicateLayers(Pass):
    """Layers that compute the same thing from the same inputs are one layer (common subexpression elimination).

    Two layers are the same computation when they have the same op, the same attributes, the
    same data inputs in the same slots, and the same constants (small constants such as
    shapes and axes by value; weights by name, so two layers with their own weights stay two).
    The TorchScript exporter repeats an attention mask's expansion for every stack that reads
    it (a BART encoder and its decoder's cross-attention) where the dynamo exporter computes
    it once; a user's export may do either. The later duplicate's readers read the first
    one; a layer whose output is a model output is kept. Changes no count of the layers kept.
    """

    name, group, order = "merge_duplicate_layers", "cleanup", 22

    def run(self, g):
        seen: dict = {}
        changed = False
        for n in g.nodes:
            if not n.alive or any(g.is_output(o) for o in n.outputs if o):
                continue
            key = (n.op, repr(sorted(n.attrs.items())), n.flops, n.params,
                   tuple(_input_key(g, i) if i else ("absent",) for i in n.inputs), len(n.outputs))
            first = seen.get(key)
            if first is None:
                seen[key] = n
                continue
            for old, new in zip(n.outputs, first.outputs):
                if not old:
                    continue
                for r in g.readers(old):
                    g.set_inputs(r, [new if i == old else i for i in r.inputs])
            g.remove(n)
            changed = True
        return changed
