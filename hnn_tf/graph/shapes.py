"""Tensor shapes of an ONNX graph on the trigger input (paper 3.2: "trace the data flow").

Three methods, tried in order until every tensor the graph builder needs has a static shape
(docs/design.md "Shape inference has fallbacks"):

1. ``onnx.shape_inference.infer_shapes`` (the ONNX library, with data propagation);
2. :func:`hnn_tf.graph.propagate.propagate`: one pass over the nodes that folds the shape
   arithmetic exporters write (``Shape -> Gather -> Mul -> Floor -> Concat -> Resize``) and
   asks each op's schema for its output shape given those values. Tensors whose shape depends
   on the input's *values* (after ``NonZero`` or ``NonMaxSuppression``: detection
   post-processing) stay unknown on purpose: their layers count 0 FLOPs, whatever a zero
   trigger image would have let through;
3. one onnxruntime run on the trigger input with the tensors still unknown exposed as outputs
   (ops of other domains, model-local functions);
4. onnxruntime's symbolic shape inference (``onnxruntime.tools.symbolic_shape_infer``), for
   graphs onnxruntime cannot run.

Methods 3 and 4 are not tried on graphs of more than :data:`FALLBACK_MAX_NODES` nodes: they
take about a millisecond per node (a transformers GLM-5 "next" model of 33,000 nodes: 40 s
and 55 s), and there the tensors method 2 leaves unknown follow an op that is invalid on the
trigger input (a Reshape of an empty split), which they cannot infer either. Those tensors'
layers count 0 FLOPs.

ONNX's own inference stops at the first shape computed at run time (a Pad or Resize whose
sizes come from ``Shape`` ops, as exporters of Swin or detection models write them). Before
method 2, the next step was the pure-Python symbolic inference, which takes minutes on such
graphs (a torchvision Faster R-CNN: over 100 s; timm's swinv2_cr_small: 45 s); method 2 takes
a fraction of a second and the onnxruntime run about as long as one inference. Weights left
out of an export (``ConstantOfShape`` nodes) run as zeros.

Large float initializers are turned into typed graph inputs before inference, so the
(possibly huge, possibly external) weight data is never copied or read.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from hnn_tf.errors import GraphError
from hnn_tf.graph.propagate import propagate

log = logging.getLogger(__name__)

Shape = tuple  # tuple of int (static) or None (unknown) per dimension

#: Initializers with more elements than this are replaced by typed inputs for inference.
_STRIP_ELEMENTS = 64

DEFAULT_SPATIAL = 224
#: Nodes above which methods 3 and 4 are not tried (see the module doc).
FALLBACK_MAX_NODES = 4000


def trigger_shape(value_info: onnx.ValueInfoProto, spatial: int = DEFAULT_SPATIAL) -> tuple[int, ...]:
    """Static shape of the trigger input for one graph input.

    Unknown or symbolic dimensions become 1 for the batch dimension (the first) and
    ``spatial`` elsewhere, the paper's zero trigger image (4.1.1), 224 x 224 by default.

    Args:
        value_info: a graph input.
        spatial: size for unknown non-batch dimensions.
    Returns:
        tuple of positive ints.
    """
    dims = value_info.type.tensor_type.shape.dim
    out = []
    for k, d in enumerate(dims):
        if d.HasField("dim_value") and d.dim_value > 0:
            out.append(int(d.dim_value))
        else:
            out.append(1 if k == 0 else spatial)
    return tuple(out)


def _dims(type_proto: onnx.TypeProto) -> Shape | None:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    return tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in type_proto.tensor_type.shape.dim)


def _shape_model(model: onnx.ModelProto, spatial: int, order: list[int] | None = None
                 ) -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    """A light copy of ``model``: big initializers become typed inputs, inputs get static shapes,
    nodes in ``order`` (default: as stored)."""
    g = model.graph
    init_names = {t.name for t in g.initializer}
    small, stripped = [], []
    for t in g.initializer:
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        if n > _STRIP_ELEMENTS or t.data_location == TensorProto.EXTERNAL:
            stripped.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            small.append(t)
    feeds: dict[str, tuple[int, ...]] = {}
    inputs = []
    for vi in g.input:
        if vi.name in init_names:
            continue
        shape = trigger_shape(vi, spatial)
        feeds[vi.name] = shape
        inputs.append(helper.make_tensor_value_info(vi.name, vi.type.tensor_type.elem_type, list(shape)))
    nodes = list(g.node) if order is None else [g.node[k] for k in order]
    graph = helper.make_graph(
        nodes, g.name or "g", inputs + stripped, list(g.output), initializer=small,
    )
    m = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    m.functions.extend(model.functions)
    return m, feeds


def _collect(m: onnx.ModelProto) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        d = _dims(vi.type)
        if d is not None:
            shapes[vi.name] = d
    for t in m.graph.initializer:
        shapes[t.name] = tuple(int(x) for x in t.dims)
    return shapes


def _complete(shapes: dict[str, Shape], needed: set[str]) -> bool:
    for name in needed:
        s = shapes.get(name)
        if s is None or any(d is None for d in s):
            return False
    return True


def _symbolic_shapes(model: Any) -> Any:
    """onnxruntime's symbolic shape inference on ``model``, keeping what it found when incomplete.

    ``SymbolicShapeInference.infer_shapes`` saves the model (with its weights as external data
    under random names) into the current directory when inference is incomplete, then raises;
    hnn writes nothing outside its temp folder, so this drives the same steps
    (``_preprocess``, ``_infer_impl`` until done) without that save and returns the partly
    inferred model (``onnx.ModelProto``), or None when the opset is below 7.
    Source: ``onnxruntime.tools.symbolic_shape_infer``.
    """
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference, get_opset

    opset = get_opset(model)
    if not opset or opset < 7:
        return None
    sym = SymbolicShapeInference(2**31 - 1, True, True, 0)  # int_max, auto_merge, guess_output_rank, verbose
    sym._preprocess(model)
    while sym.run_:
        sym._infer_impl()
    sym._update_output_from_vi()
    return sym.out_mp_


def infer_shapes(
    model: onnx.ModelProto, needed: set[str] | None = None, spatial: int = DEFAULT_SPATIAL, source: str | None = None,
    order: list[int] | None = None, wanted: set[str] | None = None,
) -> dict[str, tuple[int, ...]]:
    """Static shapes of the model's tensors on the trigger input.

    Args:
        model: the ONNX model (initializer data may be absent or external; only dims are used
            by methods 1, 2 and 4; method 3 feeds zeros for stripped initializers).
        needed: tensor names whose shapes must be fully static; the fallbacks run only while
            some of these are unknown. Default: every node output.
        spatial: size used for unknown non-batch input dimensions.
        source: file name for error messages.
        order: the nodes' topological order as indices, when the stored order is not one.
        wanted: tensors whose shapes are useful but not required (constants computed in the
            graph): when ONNX's inference misses some, method 2 runs for them, never method 3.
    Returns:
        dict tensor name -> tuple of ints; tensors whose shape depends on the input's values,
        or that no method could infer, are absent or have ``None`` entries.
    Raises:
        GraphError: the model is malformed for all three methods.
    """
    light, feeds = _shape_model(model, spatial, order)
    if needed is None:
        needed = {o for n in model.graph.node for o in n.output if o}
    shapes: dict[str, Shape] = {}
    errors = []
    try:
        inferred = onnx.shape_inference.infer_shapes(light, check_type=False, strict_mode=False, data_prop=True)
        shapes = _collect(inferred)
        if _complete(shapes, needed):
            if wanted and not _complete(shapes, wanted):
                found = propagate(light, feeds)
                for k in wanted:
                    if (shapes.get(k) is None or None in shapes[k]) and k in found.shapes:
                        shapes[k] = found.shapes[k]
            return shapes  # type: ignore[return-value]
    except Exception as exc:  # noqa: BLE001 - any failure moves on to the next method
        errors.append(f"onnx shape inference: {exc}")
    try:
        found = propagate(light, feeds)
        for k, v in found.shapes.items():
            if shapes.get(k) is None or None in shapes[k]:
                shapes[k] = v
        unknown = {n for n in needed if shapes.get(n) is None or None in shapes[n]}
        if not unknown - found.dynamic:
            return shapes  # type: ignore[return-value]  # what is unknown depends on the data
    except Exception as exc:  # noqa: BLE001
        errors.append(f"propagation: {exception_line(exc)}")
    if len(model.graph.node) > FALLBACK_MAX_NODES:
        log.debug("%s: some shapes unknown; methods 3 and 4 skipped on %d nodes: %s", source or "model",
                  len(model.graph.node), "; ".join(errors))
        return shapes  # type: ignore[return-value]
    try:
        unknown = {n for n in needed if shapes.get(n) is None or None in shapes[n]}
        shapes.update(_run_shapes(light, feeds, unknown))
        if _complete(shapes, needed):
            return shapes  # type: ignore[return-value]
    except Exception as exc:  # noqa: BLE001
        errors.append(f"onnxruntime run: {exception_line(exc)}")
    try:
        inferred = _symbolic_shapes(light)
        if inferred is not None:
            sym = _collect(inferred)
            for k, v in sym.items():
                if k not in shapes or (None in (shapes[k] or (None,)) and None not in v):
                    shapes[k] = v
    except Exception as exc:  # noqa: BLE001
        errors.append(f"symbolic shape inference: {exception_line(exc)}")
    if not shapes:
        raise GraphError("cannot infer tensor shapes (" + "; ".join(errors) + ")", source) from None
    if errors:
        log.debug("%s: some shapes unknown: %s", source or "model", "; ".join(errors))
    return shapes  # type: ignore[return-value]


def exception_line(exc: BaseException) -> str:
    """The first line of an exception's message, cut to 200 characters."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text[:200]


def _run_shapes(light: onnx.ModelProto, feeds: dict[str, tuple[int, ...]], needed: set[str]) -> dict[str, Shape]:
    """Method 3: run the model once on zeros with the ``needed`` tensors exposed as outputs."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(light)
    # onnxruntime lags onnx in the IR versions it reads; IR 10 covers the opsets in use
    m.ir_version = min(m.ir_version, 10)
    existing = {o.name for o in m.graph.output}
    for name in sorted(needed - existing):
        m.graph.output.append(helper.ValueInfoProto(name=name))
    inputs = {}
    for vi in m.graph.input:
        shape = feeds.get(vi.name) or tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        inputs[vi.name] = np.zeros(shape, dtype=dtype)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, inputs)
    return {n: tuple(int(d) for d in np.shape(v)) for n, v in zip(names, values)}



