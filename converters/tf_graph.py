"""TensorFlow functions to ONNX through tf2onnx, with the weights left out (shared by the Keras
and SavedModel converters).

A perceptual hash reads the architecture: op types, connections, tensor shapes, FLOPs and
parameter counts; never a weight value. tf2onnx's usual route freezes every variable into a
constant and then copies those constants many times (TensorFlow's constant folding, its own
optimisers, protobuf updates): keras.applications VGG16 needed more than 24 GB and ResNet50
took about 30 s. :func:`function_to_onnx` avoids that:

1. The traced function's variable reads (``ReadVariableOp`` of a captured resource) become
   ``Placeholder`` inputs of the variable's dtype and shape, so the TensorFlow graph carries
   no weight data at all. Nested function calls (SavedModels) are inlined first with
   Grappler's function optimiser.
2. tf2onnx converts that small graph (``from_graph_def``), with its optimisers' per-pass
   graph copies turned off (``TF2ONNX_CATCH_ERRORS=FALSE``).
3. :func:`weights_to_constant_of_shape` turns each weight input, and every tensor computed
   from weights alone (a transposed kernel, a BatchNorm's scale), into a ``ConstantOfShape``
   node of its shape (shapes from ``onnx.shape_inference``). The result is a valid ONNX
   model whose parameters are zeros of the right shapes; the graph builder counts them as
   parameters by their shapes.

Because tf2onnx cannot fold BatchNorm into a Conv whose weights it does not know, nor push
its layout Transposes through a Mul by a non-constant, the raw graph keeps those as Mul/Add
nodes between NHWC <-> NCHW Transposes; the canonical rules
(:mod:`hnn_tf.graph.canonical`) fold them, so the canonical graph equals the one of the
full-weights conversion exactly (tests/test_canonical.py).

With ``keep_weights=True`` the converters use tf2onnx's usual freezing route instead; it is
also the fallback when a variable is used other than by a plain read (a recurrent layer's
loop reads its weights inside the loop) or when one of tf2onnx's rewriters needs constant
weights (tf_keras LSTM).
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

from hnn_tf._tf import import_tensorflow
from hnn_tf.errors import ConversionError

from .registry import exception_summary

#: Graph ops that call other functions (their bodies hold the variable reads of SavedModels).
_CALL_OPS = {"StatefulPartitionedCall", "PartitionedCall"}


@contextmanager
def tf2onnx_fast() -> Iterator[None]:
    """tf2onnx without its optimisers' safety copies (``TF2ONNX_CATCH_ERRORS=FALSE``), quietly.

    By default tf2onnx deep-copies the whole graph before each optimiser so that it can
    restore it if the optimiser fails; with weights in the graph that is most of the time
    and memory of a conversion. The variable is tf2onnx's documented switch. tf2onnx's log
    messages (unsupported ops, rewriters that gave up) are silenced too: a failure reaches
    the caller as an exception, and left-over ops are reported by :func:`check_onnx_ops`.
    Both are restored afterwards.
    """
    key = "TF2ONNX_CATCH_ERRORS"
    old = os.environ.get(key)
    os.environ[key] = "FALSE"
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


#: Function attributes that keep Grappler from inlining a function (a Keras 3 grouped
#: convolution is an XLA-compiled function; LSTM layers name a GPU implementation).
_NO_INLINE_ATTRS = ("api_implements", "_XlaMustCompile", "_noinline")


def _inline_calls(cf: Any):
    """The function's graph_def with nested function calls inlined by Grappler, or None.

    As ``convert_variables_to_constants_v2`` inlines before freezing (Grappler's ``function``
    optimiser, aggressive mode, control flow left functional), but without freezing, and
    with the attributes that forbid inlining removed first.
    """
    try:
        from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, rewriter_config_pb2
        from tensorflow.python.framework.convert_to_constants import disable_lower_using_switch_merge
        from tensorflow.python.grappler import tf_optimizer
        from tensorflow.python.training.saver import export_meta_graph

        gd = disable_lower_using_switch_merge(cf.graph.as_graph_def())
        for f in gd.library.function:
            for key in _NO_INLINE_ATTRS:
                if key in f.attr:
                    del f.attr[key]
            for n in f.node_def:
                for key in _NO_INLINE_ATTRS:
                    if key in n.attr:
                        del n.attr[key]
        for n in gd.node:
            for key in _NO_INLINE_ATTRS:
                if key in n.attr:
                    del n.attr[key]
        meta = export_meta_graph(graph_def=gd, graph=cf.graph)
        fetch = meta_graph_pb2.CollectionDef()
        for t in list(cf.inputs) + list(cf.outputs):
            fetch.node_list.value.append(t.name)
        meta.collection_def["train_op"].CopyFrom(fetch)
        config = config_pb2.ConfigProto()
        rewrite = config.graph_options.rewrite_options
        rewrite.min_graph_nodes = -1
        rewrite.optimizers.append("function")
        rewrite.function_optimization = rewriter_config_pb2.RewriterConfig.AGGRESSIVE
        return tf_optimizer.OptimizeGraph(config, meta)
    except Exception:  # noqa: BLE001 - the caller falls back to freezing the variables
        return None


def weights_as_placeholders(cf: Any) -> tuple[Any, list[str]] | None:
    """The graph of a concrete function with every variable read replaced by a Placeholder.

    Args:
        cf: a ``tf.types.experimental.ConcreteFunction``.
    Returns:
        (graph_def, names of the new placeholders), or None when a variable is used other
        than by a plain read (the caller then freezes the variables instead).
    """
    tf = import_tensorflow()
    graph = cf.graph
    gd = graph.as_graph_def()
    resource = tf.resource.as_datatype_enum
    if any(n.op in _CALL_OPS for n in gd.node):
        gd = _inline_calls(cf)
        if gd is None or any(n.op in _CALL_OPS for n in gd.node):
            return None
    handles = {n.name for n in gd.node if n.op == "Placeholder" and n.attr["dtype"].type == resource}
    # inlined function arguments pass the handles on through Identity nodes
    alias: dict[str, str] = {}
    grew = True
    while grew:
        grew = False
        for n in gd.node:
            if n.op == "Identity" and n.name not in alias and n.attr["T"].type == resource and n.input:
                src = n.input[0].split(":")[0]
                root = src if src in handles else alias.get(src)
                if root is not None:
                    alias[n.name] = root
                    grew = True
    shapes = {}
    for t, placeholder in getattr(graph, "captures", []):
        if getattr(t, "dtype", None) == tf.resource:
            try:
                shapes[placeholder.op.name] = t._handle_data.shape_and_type[0].shape  # noqa: SLF001
            except Exception:  # noqa: BLE001 - the read op's own output shape is used instead
                pass
    gone = handles | set(alias)
    weights: list[str] = []
    for n in gd.node:
        if n.name in gone:
            continue
        src = [i.split(":")[0] for i in n.input if not i.startswith("^")]
        if n.op == "ReadVariableOp" and src and src[0] in gone:
            root = src[0] if src[0] in handles else alias[src[0]]
            try:
                shape = graph.get_operation_by_name(n.name).outputs[0].shape.as_proto()
            except (KeyError, ValueError):
                shape = shapes.get(root)
            if shape is None:
                return None
            dtype = n.attr["dtype"].type
            del n.input[:]
            n.op = "Placeholder"
            n.ClearField("attr")
            n.attr["dtype"].type = dtype
            n.attr["shape"].shape.CopyFrom(shape)
            weights.append(n.name)
        elif any(x in gone for x in src):
            return None  # a variable used otherwise (ResourceGather, assignment, ...)
        else:
            deps = [i for i in n.input if i.startswith("^") and i[1:] in gone]
            for d in deps:
                n.input.remove(d)
    kept = [n for n in gd.node if n.name not in gone]
    del gd.node[:]
    gd.node.extend(kept)
    return gd, weights


def weights_to_constant_of_shape(proto: Any, weight_inputs: set[str]) -> Any:
    """Replace weight inputs, and tensors computed from weights alone, by ``ConstantOfShape`` nodes.

    Args:
        proto: ``onnx.ModelProto`` whose graph inputs ``weight_inputs`` are weights.
        weight_inputs: names of those inputs.
    Returns:
        a new ``onnx.ModelProto``: no weight inputs; each weight-derived tensor that a data
        node (a Loop, Scan or If body included:
        :func:`hnn_tf.graph.validate.outer_names`) or a model output reads
        is a ``ConstantOfShape`` of zeros of its inferred
        shape and element type; nodes computing weights from weights are gone. A
        weight-derived tensor whose shape cannot be inferred keeps its computing nodes.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    g = proto.graph
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    types: dict[str, tuple[int, list[int]]] = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            types[vi.name] = (tt.elem_type, [int(d.dim_value) for d in tt.shape.dim])
    inits = {t.name for t in g.initializer}
    data = {i.name for i in g.input if i.name not in weight_inputs and i.name not in inits}
    valueless = {w for w in weight_inputs if w in types}
    kept = []
    for node in g.node:
        ins = [i for i in node.input if i]
        outs = [o for o in node.output if o]
        if any(i in data for i in ins):
            data.update(outs)
            kept.append(node)
        elif any(i in valueless for i in ins) and node.op_type not in ("Shape", "Size") and all(o in types for o in outs):
            valueless.update(outs)
        else:
            kept.append(node)
    from hnn_tf.graph.validate import outer_names

    used = {i for n in kept for i in (*n.input, *outer_names(n))} | {o.name for o in g.output}
    new_nodes, new_inits = [], []
    for name in sorted(valueless & used):
        elem, dims = types[name]
        shape_name = f"{name}/hnn_shape"
        new_inits.append(numpy_helper.from_array(np.array(dims, dtype=np.int64), shape_name))
        new_nodes.append(helper.make_node(
            "ConstantOfShape", [shape_name], [name], name=f"{name}/hnn_weight",
            value=helper.make_tensor("value", elem, [1], [0]),
        ))
    missing = sorted((set(weight_inputs) - valueless) & used)
    inputs = [i for i in g.input if i.name not in weight_inputs or i.name in missing]
    graph = helper.make_graph(
        new_nodes + kept, g.name or "graph", inputs, list(g.output),
        initializer=list(g.initializer) + new_inits,
    )
    model = helper.make_model(graph, opset_imports=list(proto.opset_import), ir_version=proto.ir_version,
                              producer_name=proto.producer_name, producer_version=proto.producer_version)
    model.functions.extend(proto.functions)
    return model


def rewrite_unsupported_ops(gd: Any) -> Any:
    """Rewrite TensorFlow ops that tf2onnx cannot convert into equivalent ones it can (in place).

    - ``Erfc(x)`` (Keras 3's exact GELU) becomes ``1 - Erf(x)``.

    Returns:
        the same graph_def.
    """
    from tensorflow.core.framework import node_def_pb2

    extra = []
    for n in gd.node:
        if n.op != "Erfc":
            continue
        dtype = n.attr["T"].type
        erf = node_def_pb2.NodeDef(name=n.name + "/hnn_erf", op="Erf", input=list(n.input), device=n.device)
        erf.attr["T"].type = dtype
        one = node_def_pb2.NodeDef(name=n.name + "/hnn_one", op="Const")
        one.attr["dtype"].type = dtype
        one.attr["value"].tensor.dtype = dtype
        one.attr["value"].tensor.tensor_shape.SetInParent()
        one.attr["value"].tensor.float_val.append(1.0)
        n.op = "Sub"
        del n.input[:]
        n.input.extend([one.name, erf.name])
        extra.extend([erf, one])
    gd.node.extend(extra)
    return gd


def function_to_onnx(cf: Any, opset: int, what: str, path: str | None = None, keep_weights: bool = False):
    """Convert a TensorFlow concrete function to ONNX (see the module doc).

    Args:
        cf: the concrete function (inference mode, static input shapes).
        opset: ONNX opset.
        what: how error messages name the model.
        path: the file or folder the model came from, for error messages.
        keep_weights: freeze the variables into the ONNX initializers (tf2onnx's usual route)
            instead of leaving them out.
    Returns:
        ``onnx.ModelProto``.
    Raises:
        ConversionError: tf2onnx failed.
    """
    tf = import_tensorflow()
    inputs = [t.name for t in cf.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in cf.outputs]
    names: list[str] = []
    try:
        with warnings.catch_warnings(), tf2onnx_fast():
            warnings.simplefilter("ignore")
            found = None if keep_weights else weights_as_placeholders(cf)
            proto = None
            if found is not None:
                gd, weights = found
                rewrite_unsupported_ops(gd)
                names = [w + ":0" for w in weights]
                try:
                    proto = _graph_def_to_onnx(gd, inputs + names, outputs, int(opset))
                except Exception:  # noqa: BLE001 - some tf2onnx rewriters (tf_keras LSTM) need constant weights
                    names, proto = [], None
            if proto is None:
                proto, _ = _from_concrete(cf, inputs, outputs, int(opset))
    except Exception as exc:  # tf2onnx/TensorFlow raise many types
        raise ConversionError(f"tf2onnx could not convert the {what} ({exception_summary(exc)})", path=path) from exc
    if not names:
        return proto
    present = {i.name for i in proto.graph.input}
    return weights_to_constant_of_shape(proto, {n for n in names if n in present})


def _graph_def_to_onnx(gd: Any, inputs: list[str], outputs: list[str], opset: int):
    """tf2onnx on a graph_def without TensorFlow's Grappler pass.

    ``tf2onnx.convert.from_graph_def`` first runs Grappler, which allocates a tensor for
    every placeholder of known shape (here: every weight), as much memory as the weights.
    The graph needs none of its rewrites (nested functions are inlined already, tf2onnx
    folds shape computations itself), so this uses tf2onnx's own steps: ``process_tf_graph``,
    ``optimizer.optimize_graph``, ``make_model``.
    """
    import tf2onnx
    from tf2onnx import optimizer, tfonnx

    tf = import_tensorflow()
    with tf.Graph().as_default() as tf_graph:
        tf.import_graph_def(gd, name="")
        g = tfonnx.process_tf_graph(tf_graph, opset=opset, input_names=inputs, output_names=outputs)
    g = optimizer.optimize_graph(g, catch_errors=False)
    return g.make_model(f"converted by hnn with tf2onnx {tf2onnx.__version__}")


def _from_concrete(cf: Any, inputs: list[str], outputs: list[str], opset: int):
    """tf2onnx's freezing route for a concrete function (weights kept)."""
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(cf, lower_control_flow=False, aggressive_inlining=True)
    return tf2onnx.convert.from_graph_def(
        rewrite_unsupported_ops(frozen.graph.as_graph_def()), input_names=inputs, output_names=outputs, opset=opset,
    )


def check_onnx_ops(proto: Any, what: str, path: str | None = None) -> None:
    """Raise if tf2onnx left TensorFlow ops it could not express in ONNX.

    Raises:
        ConversionError: naming the unconverted op types.
    """
    import onnx

    unknown = sorted(
        {n.op_type for n in proto.graph.node if n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op_type)}
    )
    if unknown:
        raise ConversionError(
            f"tf2onnx left TensorFlow ops it cannot express in ONNX in the {what}: {', '.join(unknown)}",
            path=path,
        )
