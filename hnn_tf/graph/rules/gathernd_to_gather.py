"""Rule ``gathernd_to_gather``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule


@register_rule
class GatherNDToGather(Rule):
    """A ``GatherND`` that indexes one axis (index tensor of last axis 1, ``batch_dims`` 0) becomes ``Gather``.

    PyTorch's ``x[idx]`` exports as ``Gather`` from the TorchScript exporter. The dynamo
    exporter (onnxscript's ``aten::index``) writes it as a Transpose that brings the indexed axis
    first, ``Unsqueeze(Expand(idx), -1)`` and ``GatherND``, which reads ``x[idx[..., 0]]``:
    ``Gather`` on axis 0. The Transposes and the index's reshaping are data movement that the
    layout rules drop; the Unsqueeze (or Reshape) that only adds the index's trailing axis of 1
    is removed here. So a MoE router's expert lookup has one spelling. Both move
    data only: 0 FLOPs and 0 parameters before and after (:mod:`hnn_tf.graph.cost`).
    """

    name, group, order = "gathernd_to_gather", "spelling", 82
    ops = frozenset({"GatherND"})

    def check(self, g, n):
        if len(n.inputs) < 2 or int(n.attrs.get("batch_dims", 0)) != 0:
            return "not a GatherND without batch axes"
        index = n.in_shape(1)
        if not index or index[-1] != 1:
            return "its index does not address exactly one axis"
        return None

    def rewrite(self, g, n):
        n.op = "Gather"
        n.attrs = {"axis": 0}
        index = g.producer(n.inputs[1])
        if (index is not None and index.op in ("Unsqueeze", "Reshape") and g.sole_reader(index) is n
                and index.in_shape(0) is not None and tuple(index.out_shape(0) or ()) == (*index.in_shape(0), 1)):
            g.bypass_to_data_input(index)  # the index's trailing axis of 1 that GatherND needed
        return True
