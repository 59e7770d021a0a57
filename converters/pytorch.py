"""PyTorch models: ``nn.Module`` / ``ExportedProgram`` objects and ``.pt``, ``.pth``, ``.pt2`` files.

Every model is exported with the TorchScript-based exporter
(``torch.onnx.export(..., dynamo=False)``) on an all-zeros trigger input, in eval
mode, with ``training=TrainingMode.PRESERVE`` and ``do_constant_folding=False``.
With these settings BatchNormalization nodes stay in the graph (one output each,
inference form) instead of being folded into the preceding Conv, so the graph
shows the layers the model was built from. (``TrainingMode.EVAL`` gives the same
graph; constant folding is what would fold BatchNorm away, and ``TRAINING`` would
give BatchNormalization nodes with three outputs.) Where the TorchScript exporter lacks an
operator, an ``nn.Module`` object is exported by the dynamo exporter instead
(:func:`export_with_fallback`); a file's module is not.

Files are read from strangers (README "Security"), once, with the size limit of
:mod:`hnn_tf.safe_io`; nothing from a file runs unless the caller passes ``trust=True``
(the CLI's ``--trust``):

- ``.pt2`` (``torch.export.save``): rebuilt by :func:`hnn_tf.converters.torch_archive.sanitize_pt2`
  (no pickle, no compiled code, no names that torch would evaluate, only allowed operators),
  then loaded with ``torch.export.load``; the ``ExportedProgram.module()`` graph is put in
  inference form (see :func:`exported_module_in_eval_mode`), run once on fake tensors to
  bound the memory every operator would allocate (:func:`dry_run`), and exported. Its
  trigger input is zeros of the program's declared input shapes unless ``input_shape`` is
  given.
- TorchScript archives (``torch.jit.save``; a zip with ``constants.pkl`` / ``code/``) hold
  code: ``torch.jit.load`` runs their ``__setstate__`` and the export runs their
  ``forward``. They are refused unless ``trust=True``.
- Other ``torch.save`` files: their pickle is read opcode by opcode
  (:func:`hnn_tf.converters.torch_archive.checkpoint_globals`, nothing unpickled). A file that only
  rebuilds tensors (a state_dict) holds no architecture and is refused; one that pickles
  Python objects (a whole ``nn.Module``) is refused too, since unpickling runs code from the
  file, unless ``trust=True``.

torch is imported only inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import operator
import warnings
from pathlib import Path
from typing import Any, Callable

from hnn_tf.errors import ConversionError

from hnn_tf.safe_io import current_limits, read_regular

from .registry import (
    Converter,
    FileInfo,
    exception_summary,
    inspect_file,
    parse_input_shapes,
    register,
)
from .tf_graph import weights_to_constant_of_shape
from .zero_products import zero_products
from .torch_archive import checkpoint_globals, is_weights_only, sanitize_pt2

#: Trigger input shape (NCHW) when the ``input_shape`` option is not given.
DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)
#: Class names whose default trigger input differs from :data:`DEFAULT_INPUT_SHAPE`.
INPUT_SHAPE_BY_CLASS = {"Inception3": (1, 3, 299, 299)}
DEFAULT_OPSET = 17
#: Names given to the trigger inputs of an export; every other graph input is a parameter.
_INPUT_PREFIX = "hnn_input_"

# Members (below the archive's top folder) that only torch archives have.
_TORCH_ZIP_MEMBERS = {"data.pkl", "constants.pkl", "archive_format", "byteorder", ".data/version"}


def _mro_names(obj: Any) -> set[tuple[str, str]]:
    return {(c.__module__, c.__name__) for c in type(obj).__mro__}


def _is_module(obj: Any) -> bool:
    return ("torch.nn.modules.module", "Module") in _mro_names(obj)


def _is_exported_program(obj: Any) -> bool:
    return ("torch.export.exported_program", "ExportedProgram") in _mro_names(obj)


def _archive_kind(info: FileInfo) -> str:
    """``"pt2"``, ``"torchscript"`` or ``"checkpoint"`` (anything for ``torch.load``)."""
    members = info.zip_basenames()
    if "archive_format" in members or "serialized_exported_program.json" in members \
            or (info.suffix == ".pt2" and not members):
        return "pt2"
    if "constants.pkl" in members or any(m.startswith("code/") for m in members):
        return "torchscript"
    return "checkpoint"


def default_input_shape(model: Any) -> tuple[int, ...]:
    """Trigger input shape for ``model``: (1, 3, 299, 299) for Inception3, else (1, 3, 224, 224)."""
    for cls in type(model).__mro__:
        if cls.__name__ in INPUT_SHAPE_BY_CLASS:
            return INPUT_SHAPE_BY_CLASS[cls.__name__]
    return DEFAULT_INPUT_SHAPE


def exported_module_in_eval_mode(exported_program: Any) -> Any:
    """The ``torch.fx.GraphModule`` of an ExportedProgram, rewritten to inference form.

    ``ExportedProgram.module()`` cannot be switched with ``.eval()``: the training flag
    of batch norm and dropout is a constant argument in its graph. This sets it to
    False (``aten.batch_norm``, ``aten.*dropout``), bypasses ``aten.native_dropout``
    (the decomposed dropout; identity at inference) and replaces the decomposed batch
    norm ops (``_native_batch_norm_legit_no_training`` / ``_functional``, found after
    ``run_decompositions``), which the TorchScript exporter cannot export, with
    ``aten.batch_norm(training=False)``. Programs exported in train or eval mode, with or
    without decompositions, then all export to the same BatchNormalization graph.
    """
    import torch

    aten = torch.ops.aten
    flag_index = {
        aten.batch_norm.default: 5,
        aten.dropout.default: 2,
        aten.feature_dropout.default: 2,
        aten.alpha_dropout.default: 2,
        aten.feature_alpha_dropout.default: 2,
    }
    legit = {
        aten._native_batch_norm_legit_no_training.default: False,  # (x, w, b, rm, rv, momentum, eps)
        aten._native_batch_norm_legit_functional.default: True,  # (x, w, b, rm, rv, training, momentum, eps)
    }
    gm = exported_program.module(check_guards=False)  # guards are code generated from strings
    graph = gm.graph
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if node.target in flag_index:
            args = list(node.args)
            i = flag_index[node.target]
            if len(args) > i:
                args[i] = False
                node.args = tuple(args)
        elif node.target == aten.native_dropout.default:  # (x, p, train) -> (out, mask)
            for user in list(node.users):
                if user.op == "call_function" and user.target is operator.getitem and user.args[1] == 0:
                    user.replace_all_uses_with(node.args[0])
                    graph.erase_node(user)
        elif node.target in legit:
            if legit[node.target]:
                x, w, b, rm, rv, _training, momentum, eps = node.args[:8]
            else:
                x, w, b, rm, rv, momentum, eps = node.args[:7]
            with graph.inserting_after(node):
                bn = graph.call_function(
                    aten.batch_norm.default, (x, w, b, rm, rv, False, momentum, eps, False)
                )
            for user in list(node.users):
                if user.op == "call_function" and user.target is operator.getitem and user.args[1] == 0:
                    user.replace_all_uses_with(bn)
                    graph.erase_node(user)
    graph.eliminate_dead_code()
    gm.recompile()
    return gm


#: Passes of the TorchScript exporter that hnn skips (``torch._C`` names).
SKIPPED_PASSES = (
    # The exporter infers shapes node by node while it converts (its symbolic functions read
    # those shapes to choose ONNX operators, so that inference stays), and then twice over the
    # whole converted graph, which only annotates the output's value_info and is discarded when
    # it fails. hnn infers shapes itself (hnn_tf.graph.shapes, hnn_tf.graph.propagate). On 127
    # zoo models exported both ways (in pairs, beside another job) exports took 183 s instead
    # of 234 s and the canonical graphs are identical; torchvision's mvit_v2_s, whose passes
    # each build a protobuf over 2 GiB before failing, exports in 6 s instead of 190 s.
    "_jit_pass_onnx_graph_shape_type_inference",
    # Ten consistency checks of the TorchScript graph between the exporter's passes: each walks
    # the whole graph and only raises on a graph the passes broke (which the ONNX parse and
    # hnn's IR check would refuse too). In a profile of 40 timm exports they took 1.1 s of
    # 32.7 s, and 1.6 s of 26.5 s in 24 transformers exports.
    "_jit_pass_lint",
)


@contextlib.contextmanager
def _skipped_passes():
    """Skip the TorchScript exporter's passes in :data:`SKIPPED_PASSES` for one export: each is
    replaced by a function that does nothing, and restored afterwards (docs/method.md
    "Exporter invariance").

    Source: ``torch/onnx/_internal/torchscript_exporter/utils.py`` (``_model_to_graph`` and
    ``_optimize_graph`` call the passes through ``torch._C``; a pass this torch lacks is left
    alone).
    """
    import torch

    saved = {name: getattr(torch._C, name) for name in SKIPPED_PASSES if hasattr(torch._C, name)}
    for name in saved:
        setattr(torch._C, name, lambda *args, **kwargs: None)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(torch._C, name, function)


def _solve_triangular_symbolic(g: Any, a: Any, b: Any, upper: Any, left: Any, unitriangular: Any) -> Any:
    """TorchScript symbolic of ``aten::linalg_solve_triangular``: see :data:`WRITTEN_AS_MATMUL`."""
    from torch.onnx import symbolic_helper

    return g.op("MatMul", a, b) if symbolic_helper._maybe_get_const(left, "b") else g.op("MatMul", b, a)


def _solve_triangular_translation(a: Any, b: Any, upper: bool = False, left: bool = True,
                                  unitriangular: bool = False) -> Any:
    """Dynamo translation of ``aten.linalg_solve_triangular``: see :data:`WRITTEN_AS_MATMUL`."""
    from onnxscript import opset18 as op

    return op.MatMul(a, b) if left else op.MatMul(b, a)


#: Operators ONNX has no op for, written as the ``MatMul`` of their operands (``A @ B``, or
#: ``B @ A`` for ``left=False``) by both exporters. The TorchScript exporter lacks
#: ``aten::linalg_solve_triangular`` (the chunked gated delta rule of Qwen3-Next, Qwen3.5,
#: OLMo-Hybrid and their kin), so those models fell back to the dynamo exporter, under which
#: transformers' code writes the solve as a forward substitution unrolled over the 64 rows of a
#: chunk: about 1,900 of the 2,200 layers of a 4-layer Qwen3.5 graph, and 35 s of export. As one
#: MatMul the solve is one layer, of the output shape of the solve and of the cost of the product
#: (2·n²·k FLOPs for an n×n matrix and n×k right side; a substitution costs half of that).
#: docs/method.md "Exporter invariance".
WRITTEN_AS_MATMUL = {"aten::linalg_solve_triangular": (_solve_triangular_symbolic, _solve_triangular_translation)}


@contextlib.contextmanager
def _missing_symbolics(opset: int):
    """Register the TorchScript symbolics of :data:`WRITTEN_AS_MATMUL` and
    :data:`hnn_tf.converters.symbolics.MISSING_SYMBOLICS` for one export, where the exporter has
    none, and remove them afterwards (a caller's own registration is left alone).

    Source: ``torch.onnx.register_custom_op_symbolic`` / ``unregister_custom_op_symbolic``.
    """
    import torch

    try:
        from torch.onnx._internal.torchscript_exporter.registration import registry
    except ImportError:  # pragma: no cover - another torch layout: register nothing
        yield
        return
    from .symbolics import MISSING_SYMBOLICS

    wanted = {name: symbolic for name, (symbolic, _) in WRITTEN_AS_MATMUL.items()}
    wanted.update({name: make(opset) for name, make in MISSING_SYMBOLICS.items()})
    added = []
    for name, symbolic in wanted.items():
        if not registry.is_registered_op(name, opset):
            torch.onnx.register_custom_op_symbolic(name, symbolic, 9)
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            torch.onnx.unregister_custom_op_symbolic(name, 9)
            group = registry.get_function_group(name)
            if group is not None and not getattr(group, "_functions", True):
                # an empty group is not "no symbolic": the exporter would fail on min() of nothing
                registry._registry.pop(name, None)


def _translation_table() -> dict:
    """The dynamo exporter's ``custom_translation_table`` for :data:`WRITTEN_AS_MATMUL`."""
    import torch

    table = {}
    for name, (_, translation) in WRITTEN_AS_MATMUL.items():
        overload = getattr(getattr(torch.ops.aten, name.split("::")[1], None), "default", None)
        if overload is not None:
            table[overload] = translation
    return table


def export_module(
    module: Any,
    args: tuple,
    kwargs: dict | None = None,
    opset: int = DEFAULT_OPSET,
    what: str = "PyTorch model",
    path: str | None = None,
    set_eval: bool = True,
    keep_weights: bool = False,
    dynamo: bool = False,
):
    """Export a torch module with the TorchScript exporter (or the dynamo one) into memory and parse it.

    Args:
        module: ``torch.nn.Module`` (including ScriptModule and fx GraphModule).
        args: positional trigger inputs (tensors).
        kwargs: keyword trigger inputs, or None.
        opset: ONNX opset version.
        what: how to name the model in error messages.
        path: the file the model came from, for error messages.
        set_eval: switch every submodule to eval mode for the export; the previous
            training flags are restored afterwards.
        keep_weights: export the parameters as initializers. By default they are left out
            (``export_params=False``, several times faster, kilobytes instead of megabytes)
            and each becomes a ``ConstantOfShape`` of its shape
            (:func:`hnn_tf.converters.tf_graph.weights_to_constant_of_shape`), which is all the
            graph builder reads of it. Without weights the exporter's initializer
            deduplication (``keep_initializers_as_inputs=True`` skips it) has nothing to do
            but compare parameters: on two samples of 30 timm models (paired, in one process)
            exports took 6% less time, and the zoo's 1,713 canonical graphs are the same.
        dynamo: use the dynamo exporter (``torch.onnx.export(dynamo=True)``, onnxscript) instead:
            slower, and it folds BatchNorm and writes other spellings; the canonical graph
            reads both alike (docs/method.md "Exporter invariance"). Used to test that.

    Returns:
        ``onnx.ModelProto``; BatchNormalization kept by the TorchScript exporter (see module doc).

    Raises:
        ConversionError: the exporter failed (unsupported op, wrong trigger input ...).
    """
    import onnx
    import torch

    from torch.utils._pytree import tree_leaves

    if dynamo:
        return _export_dynamo(module, args, kwargs, opset, what, path, keep_weights)
    flags = [(m, m.training) for m in module.modules()] if set_eval else []
    buf = io.BytesIO()
    n_inputs = sum(1 for t in tree_leaves((tuple(args), kwargs or {})) if isinstance(t, torch.Tensor))
    input_names = [f"{_INPUT_PREFIX}{k}" for k in range(n_inputs)]
    fastpath = torch.backends.mha.get_fastpath_enabled()
    try:
        if set_eval:
            module.eval()
        # nn.MultiheadAttention's inference fast path is one fused op no exporter knows
        torch.backends.mha.set_fastpath_enabled(False)
        with warnings.catch_warnings(), torch.no_grad(), _skipped_passes(), \
                _missing_symbolics(int(opset)), zero_products():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                tuple(args),
                buf,
                kwargs=kwargs or None,
                dynamo=False,
                opset_version=int(opset),
                training=torch.onnx.TrainingMode.PRESERVE,
                do_constant_folding=False,
                export_params=keep_weights,
                # without weights there is nothing to deduplicate: skip the exporter's pass that
                # compares every pair of equal-shaped parameters (all zeros here; see below)
                keep_initializers_as_inputs=None if keep_weights else True,
                input_names=input_names,
            )
    except Exception as exc:  # the exporter raises many types (RuntimeError, UnsupportedOperatorError, ...)
        shapes = ", ".join(str(tuple(a.shape)) for a in args if hasattr(a, "shape"))
        raise ConversionError(
            f"ONNX export of the {what} failed on a trigger input of shape {shapes or '?'} "
            f"({exception_summary(exc)}); pass input_shape=... if the model expects another input",
            path=path,
        ) from exc
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        for m, flag in flags:
            m.training = flag
    try:
        proto = onnx.load_model_from_string(buf.getvalue())
    except Exception as exc:
        raise ConversionError(
            f"the ONNX export of the {what} cannot be parsed ({exception_summary(exc)})", path=path
        ) from exc
    if keep_weights:
        return proto
    weights = {i.name for i in proto.graph.input if not i.name.startswith(_INPUT_PREFIX)}
    return weights_to_constant_of_shape(proto, weights) if weights else proto


def export_with_fallback(module: Any, args: tuple, what: str, opset: int | None = None, keep_weights: bool = False,
                         dynamo: bool = False, kwargs: dict | None = None) -> tuple[Any, bool]:
    """:func:`export_module`, with the dynamo exporter where the TorchScript one fails.

    The TorchScript exporter lacks operators that the dynamo one decomposes: ``col2im`` (VOLO's
    fold), ``Unfold`` of an unknown size (HaloNet), the anti-aliased ``upsample_*_aa`` (Hiera,
    NaFlex ViTs), an ``adaptive_avg_pool2d`` whose output size does not divide its input
    (CSATv2), a convolution by a computed kernel (CondConv), ``index_add_`` with repeated
    indices, integer ``bitwise_and`` before opset 18 (the symbolics hnn adds for ``rms_norm``,
    ``expm1``, ``asinh``, ``diff`` and boolean ``bitwise_and`` are in
    :mod:`hnn_tf.converters.symbolics`). The canonical graph reads both exporters' graphs
    alike (docs/method.md "Exporter invariance").

    Args:
        module, args, what, opset, keep_weights: as :func:`export_module` (``opset`` None:
            :data:`DEFAULT_OPSET`).
        dynamo: use the dynamo exporter only.
        kwargs: keyword trigger inputs, or None.
    Returns:
        (onnx.ModelProto, used_dynamo).
    Raises:
        ConversionError: both exporters failed (the message gives both errors).
    """
    opset = DEFAULT_OPSET if opset is None else opset
    try:
        return export_module(module, args, kwargs, opset=opset, what=what, keep_weights=keep_weights,
                             dynamo=dynamo), dynamo
    except ConversionError as first:
        if dynamo:
            raise
        try:
            return export_module(module, args, kwargs, opset=opset, what=what, keep_weights=keep_weights,
                                 dynamo=True), True
        except ConversionError as second:
            raise ConversionError(f"{first}; with the dynamo exporter: {second}") from None


def first_export(what: str, opset: int | None = None, keep_weights: bool = False) -> Callable[[Any, tuple], Any]:
    """The first exporter of :func:`export_with_fallback` as a function of (module, args): the
    TorchScript export that :func:`export_with_fallback` returns when it succeeds.

    Used to try a model's inputs by exporting them
    (:func:`hnn_tf.converters.transformers_hf.model_inputs_exported`).

    Args:
        what, opset, keep_weights: as :func:`export_with_fallback`.
    Returns:
        ``export(module, args) -> onnx.ModelProto``, raising ConversionError where
        :func:`export_module` does.
    """
    return functools.partial(export_module, opset=DEFAULT_OPSET if opset is None else opset, what=what,
                             keep_weights=keep_weights)


def _export_dynamo(module: Any, args: tuple, kwargs: dict | None, opset: int, what: str, path: str | None,
                   keep_weights: bool):
    """:func:`export_module` with ``dynamo=True`` (module in eval mode, flags restored)."""
    import torch

    flags = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, tuple(args), kwargs=kwargs or None, dynamo=True,
                                        opset_version=max(int(opset), 18), export_params=keep_weights,
                                        optimize=False, verbose=False,
                                        custom_translation_table=_translation_table())
            optimize_dynamo_program(program)
        return program.model_proto
    except Exception as exc:  # noqa: BLE001 - torch.export and onnxscript raise many types
        raise ConversionError(f"dynamo ONNX export of the {what} failed ({exception_summary(exc)})",
                              path=path) from exc
    finally:
        for m, flag in flags:
            m.training = flag


#: onnxscript rewrite rules left out of :func:`optimize_dynamo_program`.
SLOW_REWRITE_RULES = frozenset({"SlicesSplit"})


def optimize_dynamo_program(program: Any) -> None:
    """onnxscript's optimiser as ``torch.onnx.export(dynamo=True, optimize=True)`` runs it, in
    place, without the rewrite rules in :data:`SLOW_REWRITE_RULES` and without merging
    initializers of equal value.

    ``SlicesSplit`` (Slices reading one tensor -> one Split) has two output nodes, and
    onnxscript's matcher pairs such patterns by trying every node of the graph against every
    Slice: quadratic in the graph's size. A 4-layer Qwen3.5 (linear attention, thousands of
    Slices) exports in 22 s without it, 69 s with it. The canonical graph's own
    :mod:`hnn_tf.graph.rules.slices_to_split` does that rewrite (docs/method.md "Exporter
    invariance"), so the canonical graph is unchanged; on the 40 zoo models that need the
    dynamo exporter it is identical with and without the rule. Where onnxscript lacks the
    pieces (another version), the full optimiser runs.

    ``DeduplicateInitializersPass`` is left out too: it makes one tensor of initializers of
    equal value, and common-subexpression elimination then merges the layers that read them.
    The graph would then depend on weight values: two layers of equal weights (the zeros of
    :func:`zero_random_init`, a constant initialisation) would become one (timm's halonet26t
    loses 6 of its 151 nodes).

    Args:
        program: the ``torch.onnx.ONNXProgram`` of an export with ``optimize=False``.
    Source: onnxscript ``optimizer.optimize_ir`` and ``rewriter.onnx_fusions.fuse`` (the
    passes torch 2.8+ calls; the library's own pass manager, rules and passes).
    """
    try:
        import onnx_ir as ir
        import onnx_ir.passes.common as common
        from onnxscript import rewriter
        from onnxscript.optimizer import _constant_folding as folding
        from onnxscript.rewriter import onnx_fusions
        rules = [r for r in rewriter._DEFAULT_REWRITE_RULES if getattr(r, "name", None) not in SLOW_REWRITE_RULES]
    except (ImportError, AttributeError):
        program.optimize()
        return
    loop = ir.passes.PassManager([
        folding.FoldConstantsPass(shape_inference=True, input_size_limit=folding.DEFAULT_CONSTANT_FOLD_INPUT_SIZE_LIMIT,
                                  output_size_limit=folding.DEFAULT_CONSTANT_FOLD_OUTPUT_SIZE_LIMIT),
        rewriter.RewritePass(rules),
        common.RemoveUnusedNodesPass(), common.RemoveUnusedFunctionsPass(), common.RemoveUnusedOpsetsPass(),
    ], steps=2, early_stop=True)
    ir.passes.Sequential(
        common.InlinePass(), loop, common.RemoveUnusedNodesPass(),
        common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
        common.LiftSubgraphInitializersToMainGraphPass(),
        common.CommonSubexpressionEliminationPass(), common.OutputFixPass(), common.NameFixPass(),
    )(program.model)
    onnx_fusions.fuse(program.model)


#: In-place random fills: the tensor methods that weight initialisers end in, and the
#: ``torch.nn.init`` functions (which run their own fills out of a torch function mode's reach).
RANDOM_FILLS = frozenset({"normal_", "uniform_", "bernoulli_", "cauchy_", "exponential_", "geometric_",
                          "log_normal_", "random_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                          "xavier_uniform_", "xavier_normal_", "orthogonal_", "sparse_"})


#: False inside :func:`library_init`: :func:`zero_random_init` then changes nothing.
_ZERO_INIT = contextvars.ContextVar("hnn_zero_init", default=True)


@contextlib.contextmanager
def library_init():
    """A context in which :func:`zero_random_init` is switched off: models are built with the
    random weights their library draws. For what needs weight values, not only shapes: a
    quantizer's calibration, or an export with its weights (with all-zero weights the
    TorchScript exporter makes one initializer of equal ones, and two layers reading the same
    input then look like one).

    Source: ``contextvars`` (the switch is per thread and per task).
    """
    token = _ZERO_INIT.set(False)
    try:
        yield
    finally:
        _ZERO_INIT.reset(token)


def zero_random_init() -> Any:
    """A context in which the in-place random fills of :data:`RANDOM_FILLS` write zeros instead.

    Building a model with random weights spends much of its time drawing them (timm's 87 M
    parameter ViT-B/16 builds in 0.74 s with its draws, 0.32 s without), and the hash reads
    only shapes. Inside this context a
    model is built with every initialiser's draw replaced by ``zero_()``; what the
    initialiser does next (``erfinv_``, ``mul_``, ``clamp_`` of a truncated normal) runs on
    the zeros. Weights and buffers an initialiser sets to constants (``ones_``, ``arange``)
    are untouched, so a forward pass traces the same operators, and with all-zero weights
    it traces them the same way every time (a random draw could route a mixture of experts
    differently from one build to the next). Tensors created random (``torch.randn``) stay
    random.

    Inside :func:`library_init` it does nothing.

    Returns:
        a ``torch.overrides.TorchFunctionMode``, or a null context inside :func:`library_init`
        (enter it with ``with``).
    Source: ``torch.overrides.TorchFunctionMode`` (PyTorch's documented hook on every torch
    function and tensor method).
    """
    if not _ZERO_INIT.get():
        return contextlib.nullcontext()
    import torch
    from torch.overrides import TorchFunctionMode

    class ZeroRandomFills(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if getattr(func, "__name__", "") in RANDOM_FILLS:
                target = args[0] if args else kwargs.get("tensor")
                if isinstance(target, torch.Tensor):
                    with torch.no_grad():
                        return target.zero_()
            return func(*args, **kwargs)

    return ZeroRandomFills()


def tensors_digest(named: Any) -> bytes:
    """sha256 of ``(name, tensor)`` pairs: each name, dtype, shape and the tensor's bytes, in order.

    Args:
        named: iterable of ``(str, torch.Tensor)`` (a state_dict's items).
    Returns:
        the 32-byte digest.
    """
    import hashlib

    import torch

    h = hashlib.sha256()
    for key, t in named:
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        try:
            h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        except Exception:  # noqa: BLE001 - a tensor without storage (meta, sparse): its metadata only
            pass
    return h.digest()


def _zeros(shapes: list[tuple[int, ...]]) -> tuple:
    import torch

    return tuple(torch.zeros(s, dtype=torch.float32) for s in shapes)


def _trigger(model: Any, options: dict, path: str | None) -> tuple:
    if options.get("input_shape") is not None:
        return _zeros(parse_input_shapes(options["input_shape"], path))
    return _zeros([default_input_shape(model)])



def _trusted(options: dict) -> bool:
    """True when the caller vouches for the file (``trust=True``, or the older ``trust_pickle=True``)."""
    return bool(options.get("trust") or options.get("trust_pickle"))


def dry_run(module: Any, args: tuple, kwargs: dict | None, path: str | None, max_bytes: int | None = None) -> None:
    """Run ``module`` once on fake tensors (no memory is allocated) and refuse it if any operator
    would produce a tensor larger than ``max_bytes`` (default :attr:`Limits.tensor_bytes`).

    A graph read from a file may ask an operator for a tensor far larger than the machine's
    memory (``aten.zeros`` of a huge size); this finds it before the real export runs.
    Wraps ``torch._subclasses.fake_tensor.FakeTensorMode`` and a ``TorchDispatchMode``.

    Raises:
        ConversionError: a tensor over the limit, or the graph cannot run on its trigger input.
    """
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves, tree_map

    limit = current_limits().tensor_bytes if max_bytes is None else max_bytes

    class _Bounded(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, a=(), kw=None):
            out = func(*a, **(kw or {}))
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor):
                    nbytes = int(t.numel()) * t.element_size()
                    if nbytes > limit:
                        raise ConversionError(
                            f"refused: the graph's {func} would allocate a tensor of {nbytes} bytes, more than "
                            f"the limit of {limit} (HNN_MAX_TENSOR_MB)", path=path)
            return out

    mode = FakeTensorMode(allow_non_fake_inputs=True)
    fake = tree_map(lambda t: mode.from_tensor(t) if isinstance(t, torch.Tensor) else t, (tuple(args), kwargs or {}))
    try:
        with warnings.catch_warnings(), torch.no_grad(), mode, _Bounded():
            warnings.simplefilter("ignore")
            module(*fake[0], **fake[1])
    except ConversionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any operator can fail on a malformed graph
        raise ConversionError(f"the program cannot run on its trigger input ({exception_summary(exc)})",
                              path=path) from exc


class PyTorchConverter(Converter):
    """PyTorch models (objects and files) to ONNX with the TorchScript exporter (the dynamo
    exporter for an ``nn.Module`` object where the TorchScript one fails).

    Options: ``opset`` (int, default 17), ``input_shape`` (see :func:`hnn_tf.converters.to_onnx`),
    ``trust`` (bool, default False: allow TorchScript archives and pickled modules, which run
    code from the file; ``trust_pickle`` is the older name).
    """

    name = "pytorch"
    aliases = ("torch",)
    suffixes = (".pt", ".pth", ".pt2", ".ckpt")
    options = frozenset({"opset", "input_shape", "trust", "trust_pickle", "keep_weights"})

    def accepts_object(self, obj: Any) -> bool:
        return _is_module(obj) or _is_exported_program(obj)

    def weights_digest(self, obj: Any) -> bytes | None:
        """sha256 of the module's (or program's) state_dict: names, dtypes, shapes and values."""
        return tensors_digest(obj.state_dict().items())

    def accepts_file(self, info: FileInfo) -> bool:
        if info.zip_names is not None:
            return bool(_TORCH_ZIP_MEMBERS & {n.split("/", 1)[1] for n in info.zip_names if "/" in n})
        return info.is_pickle  # legacy (non-zip) torch.save files are plain pickles

    def convert(self, model_or_path: Any, **options: Any):
        """Export a module, ExportedProgram or PyTorch file to ONNX (see the module doc).

        Raises:
            ConversionError: corrupt file, weights-only checkpoint (no architecture), a file
                refused because loading it would run its code (unless ``trust=True``), or an
                export failure.
        """
        opset = options.get("opset") or DEFAULT_OPSET
        if isinstance(model_or_path, (str, Path)):
            return self._convert_file(Path(model_or_path), opset, options)
        if _is_exported_program(model_or_path):
            return self._convert_exported(model_or_path, opset, options, None)
        if not _is_module(model_or_path):
            raise ConversionError(
                f"expected a torch.nn.Module or ExportedProgram, got {type(model_or_path).__name__}"
            )
        name = type(model_or_path).__name__
        return export_with_fallback(
            model_or_path, _trigger(model_or_path, options, None), f"PyTorch model {name}", opset=opset,
            keep_weights=bool(options.get("keep_weights")),
        )[0]

    # -- files ---------------------------------------------------------------------------
    def _convert_exported(self, ep: Any, opset: int, options: dict, path: str | None, bound: bool = False):
        try:
            gm = exported_module_in_eval_mode(ep)
        except Exception as exc:
            raise ConversionError(
                f"cannot prepare the ExportedProgram for export ({exception_summary(exc)})", path=path
            ) from exc
        kwargs = None
        if options.get("input_shape") is not None:
            args = _zeros(parse_input_shapes(options["input_shape"], path))
        elif ep.example_inputs is not None:
            args, kwargs = ep.example_inputs
        else:
            args = _zeros([DEFAULT_INPUT_SHAPE])
        if bound:
            dry_run(gm, tuple(args), kwargs, path)
        return export_module(
            gm, tuple(args), kwargs, opset=opset, what="ExportedProgram", path=path, set_eval=False,
            keep_weights=bool(options.get("keep_weights")),
        )

    def _convert_file(self, path: Path, opset: int, options: dict):
        info = inspect_file(path)
        kind = _archive_kind(info)
        where = str(path)
        data = read_regular(path)
        if kind == "pt2":
            return self._convert_pt2(data, where, opset, options)
        if kind == "torchscript":
            if not _trusted(options):
                raise ConversionError(
                    "refused: a TorchScript archive holds code (its forward and __setstate__ methods) that "
                    "loading and exporting it would run; pass --trust (trust=True) if you trust its source, "
                    "or save the model with torch.export (.pt2)",
                    path=where,
                )
            return self._convert_torchscript(data, where, opset, options)
        return self._convert_checkpoint(data, where, opset, options)

    def _convert_pt2(self, data: bytes, where: str, opset: int, options: dict):
        import torch

        trusted = _trusted(options)
        payload = data if trusted else sanitize_pt2(data, where)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ep = torch.export.load(io.BytesIO(payload))
        except Exception as exc:
            raise ConversionError(
                f"cannot read the torch.export (.pt2) archive; corrupt or from another torch version "
                f"({exception_summary(exc)})",
                path=where,
            ) from exc
        return self._convert_exported(ep, opset, options, where, bound=not trusted)

    def _convert_torchscript(self, data: bytes, where: str, opset: int, options: dict):
        import torch

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        except Exception as exc:
            raise ConversionError(
                f"cannot read the TorchScript archive; corrupt file ({exception_summary(exc)})",
                path=where,
            ) from exc
        return export_module(module, _trigger(module, options, where), opset=opset,
                             what="TorchScript model", path=where, keep_weights=bool(options.get("keep_weights")))

    def _convert_checkpoint(self, data: bytes, where: str, opset: int, options: dict):
        globals_ = checkpoint_globals(data, where)
        if is_weights_only(globals_):
            raise ConversionError(
                "the file holds only weights (tensors, such as a state_dict) and no architecture; "
                "load them into the model in Python and pass the nn.Module, or save the model "
                "with torch.export (.pt2)",
                path=where,
            )
        if not _trusted(options):
            shown = ", ".join(g.replace(" ", ".") for g in globals_ if not is_weights_only([g]))[:160]
            raise ConversionError(
                f"refused: the file pickles Python objects ({shown}) and unpickling runs code from the "
                "file; pass --trust (trust=True) if you trust its source, or save the model with "
                "torch.export (.pt2)",
                path=where,
            )
        return self._convert_pickled(data, where, opset, options)

    def _convert_pickled(self, data: bytes, where: str, opset: int, options: dict):
        import torch

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
        except Exception as exc:  # missing classes (AttributeError/ModuleNotFoundError), corrupt data
            raise ConversionError(
                f"cannot unpickle the model ({exception_summary(exc)}); the classes it was saved with "
                "must be importable",
                path=where,
            ) from exc
        if isinstance(obj, dict) and not _is_module(obj):
            modules = [v for v in obj.values() if _is_module(v)]
            if len(modules) == 1:
                obj = modules[0]
        if _is_exported_program(obj):
            return self._convert_exported(obj, opset, options, where)
        if not _is_module(obj):
            raise ConversionError(
                f"the file holds a {type(obj).__name__}, not a torch.nn.Module", path=where
            )
        return export_module(obj, _trigger(obj, options, where), opset=opset,
                             what=f"PyTorch model {type(obj).__name__}", path=where,
                             keep_weights=bool(options.get("keep_weights")))


register(PyTorchConverter())
