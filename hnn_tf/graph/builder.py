"""ONNX model -> layer graph (paper 3.2: the graph generator, f_onnx then f_merg).

The clean-up (docs/design.md "The graph builder") is applied while building:

- Identity nodes are removed and their consumers linked to the real producer; parameter
  inputs are followed back through Identity chains to the initializer.
- Constant nodes, and every node that does not depend on the model's input data (constant
  folding, and the shape computations Shape/Size -> Gather/Unsqueeze/Concat/... that only
  compute a Reshape target), are removed.
- Inference-time Dropout is removed like Identity.
- A control-flow node (Loop, Scan, If) reads the tensors its subgraphs use from the
  enclosing graph as inputs too (an RNN's loop reads the sequence and the weights so).

The remaining nodes are the layers. Each carries its op type, FLOPs (2 x MACs, see
:mod:`hnn_tf.graph.cost`) and parameter count from shape inference on the trigger input
(:mod:`hnn_tf.graph.shapes`).

The layers become a :class:`~hnn_tf.graph.ir.GraphIR` in one loop, for every variant. With
``canonical=True`` it then goes through the canonical rule sets of :mod:`hnn_tf.graph.rules`
(BatchNorm folding, layout Transposes, Pads, Softmax, ...; the engine is
:mod:`hnn_tf.graph.rewrite`), so that exports of one architecture from different frameworks,
exporters and weights give one graph. Without it (the default) the graph is the paper's raw
graph, exactly as exported. Which graph a hasher reads is its variant's recipe
(:mod:`hnn_tf.graph.recipes`).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hnn_tf.errors import GraphError, HNNError
from hnn_tf.graph.ir import SMALL_CONST, Const, GraphIR, Node
from hnn_tf.graph.rewrite import canonicalize
from hnn_tf.graph.rules import CANONICAL_SETS
from hnn_tf.graph.cost import node_flops, node_params
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.graph.merge import CANONICAL_MERGE_RULES, PAPER_MERGE_RULES, MergeRule, merge_graph
from hnn_tf.graph.propagate import evaluate
from hnn_tf.graph.shapes import DEFAULT_SPATIAL, infer_shapes
from hnn_tf.graph.validate import check_declared, check_model, outer_names, topological_order

#: Ops removed from the data path, their consumers linked to their producer.
PASS_THROUGH = {"Identity", "Dropout"}
#: Ops whose outputs are shape values, never data (docs/design.md "The graph builder": bookkeeping, not layers).
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


def _subgraph_attrs(node: onnx.NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)


def _small_value(tensor: onnx.TensorProto) -> np.ndarray | None:
    """The value of a small tensor stored in the model, else None (large, external or unreadable)."""
    n = int(np.prod(tensor.dims, dtype=np.int64)) if len(tensor.dims) else 1
    if n > SMALL_CONST or tensor.data_location == onnx.TensorProto.EXTERNAL:
        return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # noqa: BLE001 - absent data (weights stripped): the value is unknown
        return None


def build_graph(
    model: onnx.ModelProto,
    merge: bool = False,
    rules: tuple[MergeRule, ...] | list[MergeRule] | None = None,
    spatial: int = DEFAULT_SPATIAL,
    source: str | None = None,
    canonical: bool = False,
    trace: list | None = None,
) -> LayerGraph:
    """Build the layer graph of an ONNX model.

    Args:
        model: an ``onnx.ModelProto`` (initializer data may be external or absent: only dims
            are read, and the values of small constants such as axes, pads and Clip bounds).
        merge: apply the merge rules (paper 3.2.2): ``False`` gives the paper's raw data,
            ``True`` its merged data.
        rules: the merge rules used when ``merge`` is True; default
            :data:`~hnn_tf.graph.merge.PAPER_MERGE_RULES`, or
            :data:`~hnn_tf.graph.merge.CANONICAL_MERGE_RULES` when ``canonical`` is True.
        spatial: size of unknown non-batch input dimensions of the trigger input.
        source: file name used in error messages.
        canonical: ``True`` applies the canonical rule sets
            (:data:`hnn_tf.graph.rules.CANONICAL_SETS`) before merging; a sequence of rule-set
            names applies those; ``False`` (the default) gives the paper's raw graph unchanged.
        trace: with ``canonical``, a list that receives ``("clean-up", N)`` then
            ``(step name, N)`` after each rule or pass of the first pass (N = layer count).
    Returns:
        LayerGraph whose nodes are in topological order (the ONNX graph's order when it is
        already topological).
    Raises:
        GraphError: the model fails :func:`hnn_tf.graph.validate.check_model` (limits,
            malformed structure), has no node that depends on its input, or its shapes cannot
            be inferred; any other failure while reading a hostile graph is reported as a
            GraphError naming ``source`` too.
    """
    with _one_line_errors(source):
        ir = _build_ir(model, spatial, source)
    return graph_from_ir(ir, merge=merge, rules=rules, canonical=canonical, trace=trace, source=source)


def build_ir(model: onnx.ModelProto, spatial: int = DEFAULT_SPATIAL, source: str | None = None) -> GraphIR:
    """The cleaned-up layers of an ONNX model with their shapes, FLOPs and parameters, before any rule.

    The expensive half of :func:`build_graph` (validation, clean-up, shape inference, costs);
    :func:`graph_from_ir` is the cheap half. The broad zoo stores this IR
    (:meth:`GraphIR.to_dict`), so a change of the rules rebuilds graphs without exporting again.

    Raises:
        GraphError: as :func:`build_graph`.
    """
    with _one_line_errors(source):
        return _build_ir(model, spatial, source)


def graph_from_ir(ir: GraphIR, merge: bool = False, rules=None, canonical=False, trace: list | None = None,
                  source: str | None = None) -> LayerGraph:
    """The layer graph of an IR from :func:`build_ir` (arguments as :func:`build_graph`).

    The IR is rewritten in place when ``canonical`` is set.

    Raises:
        GraphError: a rule failed on a hostile graph, or the canonical rules left no layer (both
            named by ``source``).
    """
    with _one_line_errors(source):
        if canonical:
            if trace is not None:
                trace.append(("clean-up", len(ir)))
            canonicalize(ir, sets=CANONICAL_SETS if canonical is True else tuple(canonical), trace=trace)
            if not len(ir):  # e.g. only QuantizeLinear/DequantizeLinear, Casts or a Relu of a ReLU
                raise GraphError("no layer is left once quantization, precision casts and layers that "
                                 "compute the identity are removed: the model computes nothing to hash", source)
        graph = ir.to_layer_graph()
        if rules is None:
            rules = CANONICAL_MERGE_RULES if canonical else PAPER_MERGE_RULES
        return merge_graph(graph, rules) if merge else graph


@contextmanager
def _one_line_errors(source: str | None):
    """Let HNNErrors through; turn any other failure on a hostile graph into a GraphError naming ``source``."""
    try:
        yield
    except HNNError:
        raise
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - a hostile graph must give one clear line
        raise GraphError(f"cannot build the layer graph ({type(exc).__name__}: {str(exc)[:160]})", source) from exc


def _build_ir(model: onnx.ModelProto, spatial, source) -> GraphIR:
    """The body of :func:`build_ir`."""
    check_model(model, source)
    g = model.graph
    weight_dims: dict[str, tuple[tuple[int, ...], int]] = {
        t.name: (tuple(int(d) for d in t.dims), t.data_type) for t in g.initializer
    }
    init_names = set(weight_dims)
    outer = {k: outer_names(n) for k, n in enumerate(g.node) if _subgraph_attrs(n)}
    order = topological_order(list(g.node), {vi.name for vi in g.input} | init_names, outer, source)
    outer_of = {id(g.node[k]): names for k, names in outer.items()}
    tensors: dict[str, onnx.TensorProto] = {t.name: t for t in g.initializer}  # for small values
    data: set[str] = {vi.name for vi in g.input if vi.name not in init_names}
    if not data:
        raise GraphError("the ONNX graph has no data input", source)
    alias: dict[str, str] = {}  # Identity/Dropout output -> the tensor it forwards
    layers: list[onnx.NodeProto] = []
    computed: dict[str, int] = {}  # outputs of constant-folded nodes -> their ONNX element type
    folded: dict[str, np.ndarray] = {}  # small values of constant-folded outputs

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for k_node in order:
        node = g.node[k_node]
        op = node.op_type
        if op == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    weight_dims[node.output[0]] = (tuple(int(d) for d in a.t.dims), a.t.data_type)
                    tensors[node.output[0]] = a.t
            continue
        if op == "ConstantOfShape" and node.input and resolve(node.input[0]) in tensors:
            # a constant of a constant shape: parameters written without their values
            # (hnn_tf.converters.keras_tf leaves weights out so)
            shape = _small_value(tensors[resolve(node.input[0])])
            if shape is not None:
                dtype = onnx.TensorProto.FLOAT
                for a in node.attribute:
                    if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                        dtype = a.t.data_type
                dims = tuple(int(d) for d in np.asarray(shape).reshape(-1))
                check_declared(node.output[0], list(dims), dtype, "constant", source)
                weight_dims[node.output[0]] = (dims, dtype)
            continue
        if op in PASS_THROUGH and node.input and node.input[0]:
            # forwards data or a weight: either way it is not a layer
            for o in node.output[:1]:
                alias[o] = resolve(node.input[0])
            continue
        ins = [resolve(i) for i in list(node.input) + outer.get(k_node, []) if i]
        if op in SHAPE_OPS or not any(i in data for i in ins):
            # shape computation or constant folding: not a layer; its outputs' element type is kept
            dtype = _folded_dtype(node, ins, weight_dims, computed)
            computed.update((o, dtype) for o in node.output if o)
            _fold_value(node, resolve, tensors, folded)
            continue
        data.update(o for o in node.output if o)
        layers.append(node)
    if not layers:
        raise GraphError("no layer depends on the model input", source)

    needed: set[str] = set()
    wanted: set[str] = set()  # computed constants the layers read: their shapes give parameter counts
    for node in layers:
        for i in node.input:
            r = resolve(i) if i else ""
            if r in data:
                needed.add(r)
            elif r and r not in weight_dims:
                wanted.add(r)
        needed.update(o for o in node.output if o)
    shapes = infer_shapes(model, needed=needed, spatial=spatial, source=source, wanted=wanted,
                          order=None if order == list(range(len(g.node))) else order)
    for name in needed:
        shape = shapes.get(name)
        if shape is not None and any(d is not None and d < 0 for d in shape):
            raise GraphError(f"the tensor {name!r} would have the negative shape {list(shape)} (a window larger "
                             "than its input?)", source)

    return _layers_to_ir(model, layers, resolve, weight_dims, tensors, data, shapes, outer_of, computed, folded)


#: Ops whose output is boolean whatever their inputs' type.
_BOOL_OPS = frozenset({"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor",
                       "IsNaN", "IsInf"})


def _folded_dtype(node: onnx.NodeProto, ins: list[str], weight_dims: dict, computed: dict[str, int]) -> int:
    """The element type of a constant-folded node's outputs (ONNX's type rules of the op): a
    DequantizeLinear gives floats (its ``output_dtype``), a QuantizeLinear its zero point's type,
    a Cast its ``to`` type, Shape and Size int64, a comparison or logical op bool, ConstantOfShape
    its ``value``'s type (float by default), Where its branches' type, anything else its first
    input's type (UNDEFINED when unknown). A float result counts as a parameter of the layer
    reading it (:func:`_layers_to_ir`), so a mask computed in the graph (``Where(cond, -100,
    0)``) counts as the same mask stored as an initializer does."""
    op, attrs = node.op_type, _attrs(node)

    def type_of(name: str) -> int:
        if name in weight_dims:
            return weight_dims[name][1]
        return computed.get(name, onnx.TensorProto.UNDEFINED)

    if op == "DequantizeLinear":
        return int(attrs.get("output_dtype", 0) or onnx.TensorProto.FLOAT)
    if op == "QuantizeLinear":
        zp = type_of(ins[2]) if len(ins) > 2 and ins[2] else onnx.TensorProto.UNDEFINED
        return int(attrs.get("output_dtype", 0) or zp or onnx.TensorProto.UINT8)
    if op == "Cast":
        return int(attrs.get("to", onnx.TensorProto.UNDEFINED))
    if op in SHAPE_OPS:
        return onnx.TensorProto.INT64
    if op in _BOOL_OPS:
        return onnx.TensorProto.BOOL
    if op == "ConstantOfShape":
        value = attrs.get("value")
        return int(value.data_type) if isinstance(value, onnx.TensorProto) else onnx.TensorProto.FLOAT
    if op == "Where" and len(ins) > 2:
        return type_of(ins[1]) or type_of(ins[2])
    for i in ins:
        t = type_of(i)
        if t != onnx.TensorProto.UNDEFINED:
            return t
    return onnx.TensorProto.UNDEFINED


def _fold_value(node: onnx.NodeProto, resolve, tensors: dict, folded: dict[str, np.ndarray]) -> None:
    """Compute the small outputs of a constant-folded node whose inputs are all small known values
    (a dequantized scalar, a Cast constant), with numpy only (:func:`hnn_tf.graph.propagate.evaluate`)."""
    if node.op_type in SHAPE_OPS or not node.input or any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return
    values = []
    for name in node.input:
        if not name:
            values.append(None)
            continue
        r = resolve(name)
        v = folded.get(r)
        if v is None and r in tensors:
            v = _small_value(tensors[r])
        if v is None:
            return
        values.append(v)
    try:
        out = evaluate(node, values, reference=False)
    except Exception:  # noqa: BLE001 - a malformed constant: its value stays unknown
        return
    for name, v in zip(node.output, out or ()):
        if name and v.size <= SMALL_CONST:
            folded[name] = v


def _layers_to_ir(model, layers, resolve, weight_dims, tensors, data, shapes, outer_of, computed,
                  folded) -> GraphIR:
    """The layers as a :class:`GraphIR`: each with its resolved inputs, shapes, FLOPs and parameters.

    The one loop over the layers, for the raw graph and the canonical one alike. A tensor that
    nodes dropped as constant folding compute (a dequantized, cast or transposed weight) is a
    constant of its inferred shape and folded element type, and counts as a parameter of the
    layer reading it like a stored weight would (:func:`hnn_tf.graph.cost.node_params`).
    """
    g = model.graph
    nodes = []
    consts: dict[str, Const] = {}
    for k, node in enumerate(layers):
        ins = [resolve(i) if i else "" for i in list(node.input) + outer_of.get(id(node), [])]
        for i in ins:
            if not i or i in data or i in consts:
                continue
            if i in weight_dims:
                dims, dtype = weight_dims[i]
                consts[i] = Const(dims=dims, dtype=dtype, value=_small_value(tensors[i]) if i in tensors else None)
            else:  # computed by nodes dropped as constant folding: its shape is known, not its value
                shape = shapes.get(i)
                known = shape is not None and all(d is not None for d in shape)
                dtype = computed.get(i, onnx.TensorProto.UNDEFINED) if known else onnx.TensorProto.UNDEFINED
                consts[i] = Const(dims=tuple(shape) if known else (), dtype=dtype, value=folded.get(i))
                if known and dtype != onnx.TensorProto.UNDEFINED:
                    weight_dims[i] = (tuple(int(d) for d in shape), dtype)
        in_shapes = [shapes.get(i) if i else None for i in ins]
        out_shapes = [shapes.get(o) if o else None for o in node.output]
        attrs = _attrs(node)
        nodes.append(Node(
            op=node.op_type,
            name=node.name or f"{node.op_type}_{k}",
            inputs=ins,
            outputs=list(node.output),
            attrs=attrs,
            flops=node_flops(node.op_type, in_shapes, out_shapes, attrs),
            params=node_params(node.op_type, ins, weight_dims),
            in_shapes=in_shapes,
            out_shapes=out_shapes,
        ))
    return GraphIR(
        nodes=nodes,
        inputs={vi.name for vi in g.input if vi.name in data},
        outputs=[resolve(o.name) for o in g.output],
        consts=consts,
    )
