"""ONNX model -> layer graph (paper 3.2: the graph generator, f_onnx then f_merg).

The canonical clean-up of DESIGN.md is applied while building:

- Identity nodes are removed and their consumers linked to the real producer; parameter
  inputs are followed back through Identity chains to the initializer.
- Constant nodes, and every node that does not depend on the model's input data (constant
  folding, and the shape computations Shape/Size -> Gather/Unsqueeze/Concat/... that only
  compute a Reshape target), are removed.
- Inference-time Dropout is removed like Identity.

The remaining nodes are the layers. Each carries its op type, FLOPs (2 x MACs, see
:mod:`hnn_tf.graph.cost`) and parameter count from shape inference on the trigger input
(:mod:`hnn_tf.graph.shapes`).
"""

from __future__ import annotations

import onnx
from onnx import helper

from hnn_tf.errors import GraphError
from hnn_tf.graph.cost import node_flops, node_params
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.graph.merge import PAPER_MERGE_RULES, MergeRule, merge_graph
from hnn_tf.graph.shapes import DEFAULT_SPATIAL, infer_shapes

#: Ops removed from the data path, their consumers linked to their producer.
PASS_THROUGH = {"Identity", "Dropout"}
#: Ops whose outputs are shape values, never data (DESIGN.md: bookkeeping, not layers).
SHAPE_OPS = {"Shape", "Size"}


def _attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            continue
        try:
            out[a.name] = helper.get_attribute_value(a)
        except Exception:  # noqa: BLE001 - an unreadable attribute is not needed for costs
            pass
    return out


def build_graph(
    model: onnx.ModelProto,
    merge: bool = False,
    rules: tuple[MergeRule, ...] | list[MergeRule] = PAPER_MERGE_RULES,
    spatial: int = DEFAULT_SPATIAL,
    source: str | None = None,
) -> LayerGraph:
    """Build the layer graph of an ONNX model.

    Args:
        model: an ``onnx.ModelProto`` (initializer data may be external or absent: only dims
            are read).
        merge: apply the merge rules (paper 3.2.2): ``False`` gives the paper's raw data,
            ``True`` its merged data.
        rules: the merge rules used when ``merge`` is True.
        spatial: size of unknown non-batch input dimensions of the trigger input.
        source: file name used in error messages.
    Returns:
        LayerGraph whose nodes are in the ONNX graph's topological order.
    Raises:
        GraphError: the graph has no node that depends on its input, refers to a tensor that
            nothing produces, or its shapes cannot be inferred.
    """
    g = model.graph
    weight_dims: dict[str, tuple[tuple[int, ...], int]] = {
        t.name: (tuple(int(d) for d in t.dims), t.data_type) for t in g.initializer
    }
    init_names = set(weight_dims)
    data: set[str] = {vi.name for vi in g.input if vi.name not in init_names}
    if not data:
        raise GraphError("the ONNX graph has no data input", source)
    alias: dict[str, str] = {}  # Identity/Dropout output -> the tensor it forwards
    producer: dict[str, int] = {}  # data tensor -> index of the layer that produces it
    layers: list[onnx.NodeProto] = []

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for node in g.node:
        op = node.op_type
        if op == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    weight_dims[node.output[0]] = (tuple(int(d) for d in a.t.dims), a.t.data_type)
            continue
        if op in PASS_THROUGH and node.input and node.input[0]:
            # forwards data or a weight: either way it is not a layer
            for o in node.output[:1]:
                alias[o] = resolve(node.input[0])
            continue
        ins = [resolve(i) for i in node.input if i]
        if op in SHAPE_OPS or not any(i in data for i in ins):
            continue  # shape computation or constant folding: not a layer
        for o in node.output:
            if o:
                data.add(o)
                producer[o] = len(layers)
        layers.append(node)
    if not layers:
        raise GraphError("no layer depends on the model input", source)

    needed: set[str] = set()
    for node in layers:
        needed.update(resolve(i) for i in node.input if i and resolve(i) in data)
        needed.update(o for o in node.output if o)
    shapes = infer_shapes(model, needed=needed, spatial=spatial, source=source)

    ops, flops, params, names, edges = [], [], [], [], set()
    for k, node in enumerate(layers):
        ins = [resolve(i) if i else "" for i in node.input]
        ops.append(node.op_type)
        names.append(node.name or f"{node.op_type}_{k}")
        params.append(node_params(node.op_type, ins, weight_dims))
        flops.append(
            node_flops(
                node.op_type,
                [shapes.get(i) if i else None for i in ins],
                [shapes.get(o) if o else None for o in node.output],
                _attrs(node),
            )
        )
        for i in ins:
            if i in producer and producer[i] != k:
                edges.add((producer[i], k))
    graph = LayerGraph(ops=ops, flops=flops, params=params, edges=sorted(edges), names=names)
    return merge_graph(graph, rules) if merge else graph
