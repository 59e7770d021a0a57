"""Checks an ONNX model must pass before the graph builder reads it (README "Security").

An ONNX file from a stranger can be malformed on purpose. :func:`check_model` refuses, with
one line naming the problem, what the graph builder cannot read truthfully:

- more nodes (subgraphs included) than :attr:`hnn_tf.safe_io.Limits.nodes`;
- an opset of the default (``ai.onnx``) or ``ai.onnx.ml`` domain newer than this onnx
  knows, or below 1 (custom domains are allowed: their ops are hashed as unknown ops);
- no graph output, an output nothing provides, or two nodes writing one tensor;
- a node reading a tensor that no node, graph input, initializer or ``Constant`` provides
  (a dangling input), and a cycle (:func:`topological_order` sorts nodes that are merely
  out of order, as the ONNX checker would not);
- a declared tensor (graph input or initializer) with a negative dimension or larger than
  :attr:`Limits.tensor_bytes`;
- a Conv or pooling node whose ``strides``, ``dilations``, ``kernel_shape`` or ``group``
  are not positive (or beyond :data:`MAX_WINDOW`), or whose ``pads`` are negative.

:func:`hnn_tf.graph.build_graph` adds one check after shape inference: a tensor whose inferred
shape has a negative dimension (a kernel larger than its padded input, say) is refused.

Cheap: one pass over the nodes, no tensor data read.
"""

from __future__ import annotations

import math

import onnx
from onnx import TensorProto, helper

from hnn_tf.errors import GraphError
from hnn_tf.safe_io import current_limits

__all__ = ["check_declared", "check_model", "count_nodes", "topological_order"]

_WINDOW_OPS = {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool"}
_POSITIVE_ATTRS = ("strides", "dilations", "kernel_shape")
#: Largest kernel, stride or dilation accepted (no real model comes near; huge values only
#: overflow shape arithmetic).
MAX_WINDOW = 1 << 20
_MAX_DOMAIN_OPSETS = {"": onnx.defs.onnx_opset_version(), "ai.onnx": onnx.defs.onnx_opset_version()}
try:  # the ML domain's newest opset in this onnx
    _MAX_DOMAIN_OPSETS["ai.onnx.ml"] = max(
        s.since_version for s in onnx.defs.get_all_schemas_with_history() if s.domain == "ai.onnx.ml")
except ValueError:  # pragma: no cover
    pass


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    out = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            out.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            out.extend(a.graphs)
    return out


def outer_names(node: onnx.NodeProto) -> list[str]:
    """Tensors of the enclosing graph that a control-flow node's subgraphs (Loop, Scan, If
    bodies) read without declaring them: inputs of the node as much as its listed ones
    (recursively, in first-read order)."""
    out: list[str] = []
    for sg in _subgraphs(node):
        local = {i.name for i in sg.input} | {t.name for t in sg.initializer}
        for n in sg.node:
            for i in list(n.input) + outer_names(n):
                if i and i not in local and i not in out:
                    out.append(i)
            local.update(o for o in n.output if o)
        out.extend(o.name for o in sg.output if o.name not in local and o.name not in out)
    return out


def count_nodes(graph: onnx.GraphProto, limit: int | None = None) -> int:
    """Nodes of ``graph`` and of every subgraph (Loop, If, Scan bodies), without recursion.

    Stops counting once ``limit`` is passed.
    """
    total, stack = 0, [graph]
    while stack:
        g = stack.pop()
        total += len(g.node)
        if limit is not None and total > limit:
            return total
        for n in g.node:
            stack.extend(_subgraphs(n))
    return total


def _describe(node: onnx.NodeProto, k: int) -> str:
    return f"node {node.name or k!r} ({node.op_type})"


def _item_bytes(elem_type: int) -> int:
    try:
        return max(1, helper.tensor_dtype_to_np_dtype(elem_type).itemsize)
    except Exception:  # noqa: BLE001 - strings, undefined: count 8
        return 8


def check_declared(name: str, dims: list[int], elem_type: int, what: str, source: str | None) -> None:
    """Refuse a declared tensor with a negative dimension or more bytes than :attr:`Limits.tensor_bytes`.

    Raises:
        GraphError: naming the tensor and its shape.
    """
    limit = current_limits().tensor_bytes
    if any(d < 0 for d in dims):
        raise GraphError(f"the {what} {name!r} has a negative dimension {list(dims)}", source)
    nbytes = math.prod(dims) * _item_bytes(elem_type) if dims else _item_bytes(elem_type)
    if nbytes > limit:
        raise GraphError(f"the {what} {name!r} of shape {list(dims)} needs {nbytes} bytes, more than the limit "
                         f"of {limit} (HNN_MAX_TENSOR_MB)", source)


def _check_attributes(node: onnx.NodeProto, k: int, source: str | None) -> None:
    if node.op_type not in _WINDOW_OPS:
        return
    for a in node.attribute:
        if a.type not in (onnx.AttributeProto.INTS, onnx.AttributeProto.INT):
            continue
        values = list(a.ints) if a.type == onnx.AttributeProto.INTS else [a.i]
        if (a.name in _POSITIVE_ATTRS or a.name == "group") and any(v <= 0 for v in values):
            raise GraphError(f"{_describe(node, k)} has {a.name} {values}; they must be positive", source)
        if a.name in _POSITIVE_ATTRS and any(v > MAX_WINDOW for v in values):
            raise GraphError(f"{_describe(node, k)} has {a.name} {values}, beyond {MAX_WINDOW}", source)
        if a.name == "pads" and any(v < 0 for v in values):
            raise GraphError(f"{_describe(node, k)} has negative pads {values}", source)


def topological_order(nodes: list[onnx.NodeProto], available: set[str], outer: dict[int, list[str]],
                      source: str | None = None) -> list[int]:
    """Node indices in an order where every node comes after the producers of its inputs.

    Nodes already in order keep it (ONNX requires topological order; some exporters and
    hand-written files break it, which is harmless when there is no cycle).

    Args:
        nodes: the graph's nodes.
        available: tensors present before any node runs (graph inputs, initializers).
        outer: node index -> the outer-scope tensors its subgraphs read.
        source: the file, for messages.
    Returns:
        the indices, a permutation of ``range(len(nodes))``.
    Raises:
        GraphError: a node reads a tensor nothing provides, or the nodes form a cycle.
    """
    producer: dict[str, int] = {}
    for k, n in enumerate(nodes):
        for o in n.output:
            if o:
                producer[o] = k
    needs: list[set[int]] = []
    for k, n in enumerate(nodes):
        deps = set()
        for i in list(n.input) + outer.get(k, []):
            if not i or i in available:
                continue
            if i not in producer:
                raise GraphError(f"{_describe(n, k)} reads the tensor {i!r}, which no node, graph input or "
                                 "initializer provides", source)
            if producer[i] != k:
                deps.add(producer[i])
            elif n.op_type not in ("Loop", "Scan", "If"):
                raise GraphError(f"{_describe(n, k)} reads its own output {i!r} (a cycle)", source)
        needs.append(deps)
    if all(d < k for k, deps in enumerate(needs) for d in deps):
        return list(range(len(nodes)))
    users: list[list[int]] = [[] for _ in nodes]
    missing = [len(d) for d in needs]
    for k, deps in enumerate(needs):
        for d in deps:
            users[d].append(k)
    ready = [k for k, m in enumerate(missing) if m == 0]
    order: list[int] = []
    while ready:
        ready.sort(reverse=True)  # keep the file's order among nodes that are ready together
        k = ready.pop()
        order.append(k)
        for u in users[k]:
            missing[u] -= 1
            if missing[u] == 0:
                ready.append(u)
    if len(order) != len(nodes):
        stuck = next(k for k, m in enumerate(missing) if m > 0)
        raise GraphError(f"the graph has a cycle through {_describe(nodes[stuck], stuck)}", source)
    return order


def check_model(model: onnx.ModelProto, source: str | None = None) -> None:
    """Refuse an ONNX model the graph builder cannot read truthfully (see the module doc).

    Args:
        model: the model (initializer data is not read, only dims and types).
        source: the file, for messages.
    Raises:
        GraphError: the first problem found, in one line.
    """
    limits = current_limits()
    g = model.graph
    total = count_nodes(g, limits.nodes)
    if total > limits.nodes:
        raise GraphError(f"the graph has more than {limits.nodes} nodes (HNN_MAX_NODES)", source)
    for op in model.opset_import:
        newest = _MAX_DOMAIN_OPSETS.get(op.domain)
        if op.version < 1 or (newest is not None and op.version > newest):
            raise GraphError(f"opset {op.version} of domain {op.domain or 'ai.onnx'!r} is not one this onnx knows "
                             f"(1..{newest})", source)
    if not g.output:
        raise GraphError("the graph declares no output", source)
    seen: set[str] = set()
    declared = {vi.name for vi in g.input} | {t.name for t in g.initializer} | {t.name for t in g.sparse_initializer}
    for k, n in enumerate(g.node):
        _check_attributes(n, k, source)
        for o in n.output:
            if not o:
                continue
            if o in seen or o in declared:
                raise GraphError(f"{_describe(n, k)} writes the tensor {o!r}, which something else provides too",
                                 source)
            seen.add(o)
    for vi in g.output:
        if vi.name not in seen and vi.name not in declared:
            raise GraphError(f"the graph output {vi.name!r} is provided by no node, input or initializer", source)
    for t in g.initializer:
        check_declared(t.name, [int(d) for d in t.dims], t.data_type, "initializer", source)
    init_names = {t.name for t in g.initializer}
    for vi in g.input:
        if vi.name in init_names or not vi.type.HasField("tensor_type"):
            continue
        dims = [int(d.dim_value) for d in vi.type.tensor_type.shape.dim if d.HasField("dim_value")]
        check_declared(vi.name, dims, vi.type.tensor_type.elem_type or TensorProto.FLOAT, "graph input", source)
