"""TensorFlow SavedModels: directories holding ``saved_model.pb``, loaded SavedModel objects
and ``tf.function`` concrete functions.

A directory is recognised by its ``saved_model.pb`` (or ``saved_model.pbtxt``) entry. A
SavedModel holds TensorFlow graphs, not Python, but loading one runs some of them: the
restore graph, TF1 init ops and the initialisers of its resources (lookup tables read their
asset files), and TensorFlow has ops that read and write files (``ReadFile``, ``WriteFile``,
``Save``...). hnn cannot prove a SavedModel harmless, so a directory is loaded only with
``trust=True`` (the CLI's ``--trust``); it must hold only regular files and folders within
the size limits (:func:`hnn_tf.safe_io.check_directory`). Loaded SavedModel objects and
concrete functions are the caller's and need no trust. The directory is loaded with
``tf.saved_model.load``, a serving signature is picked (the ``signature`` option, else
``serving_default``, else the only one), traced on an all-zeros trigger input (batch 1,
unknown sizes 224, or ``input_shape``) and converted by
:func:`hnn_tf.converters.tf_graph.function_to_onnx`, with the weights left out unless
``keep_weights=True``. Keras 3 ``model.export(...)``, tf_keras ``model.save(dir)`` and
``tf.saved_model.save`` directories all convert this way.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from hnn_tf._tf import import_tensorflow
from hnn_tf.errors import ConversionError
from hnn_tf.safe_io import check_directory

from .registry import Converter, FileInfo, exception_summary, parse_input_shapes, register
from .tf_graph import check_onnx_ops, function_to_onnx

DEFAULT_OPSET = 17
#: Size used for input dimensions the signature leaves unknown (other than the batch).
DEFAULT_SPATIAL = 224
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def _mro_names(obj: Any) -> set[tuple[str, str]]:
    return {(c.__module__, c.__name__) for c in type(obj).__mro__}


def _is_concrete_function(obj: Any) -> bool:
    return any(m.startswith("tensorflow") and n == "ConcreteFunction" for m, n in _mro_names(obj))


def _is_loaded_saved_model(obj: Any) -> bool:
    """A ``tf.saved_model.load`` result: a TensorFlow trackable with a ``signatures`` mapping."""
    if not any(m.startswith("tensorflow.") for m, _ in _mro_names(obj)):
        return False
    try:
        return len(obj.signatures) > 0
    except (AttributeError, TypeError):
        return False


def pick_signature(loaded: Any, name: str | None, path: str | None) -> Any:
    """The serving signature ``name`` (default ``serving_default``, else the only one).

    Raises:
        ConversionError: no such signature, or several and none named ``serving_default``.
    """
    sigs = dict(loaded.signatures)
    if not sigs:
        raise ConversionError("the SavedModel has no serving signature to convert", path=path)
    if name is not None:
        if name not in sigs:
            raise ConversionError(
                f"the SavedModel has no signature {name!r}; it has {', '.join(sorted(sigs))}", path=path
            )
        return sigs[name]
    if "serving_default" in sigs:
        return sigs["serving_default"]
    if len(sigs) == 1:
        return next(iter(sigs.values()))
    raise ConversionError(
        f"the SavedModel has several signatures ({', '.join(sorted(sigs))}); pass signature=...", path=path
    )


def static_function(fn: Any, input_shape: Any = None, path: str | None = None) -> Any:
    """A concrete function of ``fn`` on static input shapes: batch 1, unknown sizes 224.

    Args:
        fn: a concrete function (a SavedModel signature takes keyword tensors, others
            positional ones).
        input_shape: one shape per input (batch included) overriding the signature's.
        path: for error messages.
    Returns:
        a concrete function whose inputs have fully known shapes.
    Raises:
        ConversionError: the shapes do not fit the function.
    """
    tf = import_tensorflow()
    args, kwargs = fn.structured_input_signature
    named = sorted(kwargs.items()) if kwargs else [(None, s) for s in args]
    specs = [s for _, s in named]
    if input_shape is not None:
        shapes = parse_input_shapes(input_shape, path)
        if len(shapes) != len(specs):
            raise ConversionError(
                f"input_shape gives {len(shapes)} shapes but the function has {len(specs)} inputs", path=path
            )
    else:
        shapes = [
            tuple(1 if i == 0 and d is None else DEFAULT_SPATIAL if d is None else int(d)
                  for i, d in enumerate(s.shape))
            for s in specs
        ]
    static = [tf.TensorSpec(shape, s.dtype, name=(k or f"input_{j}")) for j, ((k, s), shape)
              in enumerate(zip(named, shapes))]
    keys = [k for k, _ in named]

    def call(*xs):
        if kwargs:
            return fn(**dict(zip(keys, xs)))
        return fn(*xs)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tf.function(call, input_signature=static).get_concrete_function()
    except Exception as exc:
        raise ConversionError(
            f"cannot trace the TensorFlow function on inputs of shape(s) "
            f"{', '.join(str(s) for s in shapes)} ({exception_summary(exc)}); pass input_shape=...",
            path=path,
        ) from exc


def saved_model_to_onnx(model_or_path: Any, opset: int = DEFAULT_OPSET, signature: str | None = None,
                        input_shape: Any = None, keep_weights: bool = False):
    """Convert a SavedModel directory, a loaded SavedModel or a concrete function (module doc).

    Returns:
        ``onnx.ModelProto`` (parameters as ``ConstantOfShape`` nodes unless ``keep_weights``).
    Raises:
        ConversionError: unreadable SavedModel, unknown signature, bad shapes, or tf2onnx failure.
    """
    tf = import_tensorflow()
    path = str(model_or_path) if isinstance(model_or_path, (str, Path)) else None
    if path is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = tf.saved_model.load(path)
        except Exception as exc:  # corrupt protobuf, missing variables ...
            raise ConversionError(
                f"not a readable TensorFlow SavedModel ({exception_summary(exc)})", path=path
            ) from exc
        fn = pick_signature(loaded, signature, path)
    elif _is_concrete_function(model_or_path):
        fn = model_or_path
    elif _is_loaded_saved_model(model_or_path):
        fn = pick_signature(model_or_path, signature, None)
    else:
        raise ConversionError(
            f"expected a SavedModel directory, a loaded SavedModel or a concrete function, "
            f"got {type(model_or_path).__name__}"
        )
    cf = static_function(fn, input_shape, path)
    what = "TensorFlow SavedModel" if path or not _is_concrete_function(model_or_path) else "TensorFlow function"
    proto = function_to_onnx(cf, int(opset), what, path, keep_weights=keep_weights)
    check_onnx_ops(proto, what, path)
    return proto


class SavedModelConverter(Converter):
    """TensorFlow SavedModel directories, loaded SavedModels and concrete functions to ONNX.

    Options: ``opset`` (int, default 17), ``input_shape``, ``signature`` (str),
    ``keep_weights`` (bool, default False), ``trust`` (bool, default False: directories are
    refused without it).
    """

    name = "saved_model"
    aliases = ("savedmodel", "tf_saved_model")
    options = frozenset({"opset", "input_shape", "signature", "keep_weights", "trust"})

    def accepts_object(self, obj: Any) -> bool:
        return _is_concrete_function(obj) or _is_loaded_saved_model(obj)

    def accepts_file(self, info: FileInfo) -> bool:
        return info.is_dir and any(f in (info.dir_names or ()) for f in SAVED_MODEL_FILES)

    def convert(self, model_or_path: Any, **options: Any):
        """Convert (see :func:`saved_model_to_onnx`).

        Raises:
            ConversionError: a directory without ``saved_model.pb``, or the conversion failed.
        """
        if isinstance(model_or_path, (str, Path)):
            p = Path(model_or_path)
            if not p.is_dir() or not any((p / f).exists() for f in SAVED_MODEL_FILES):
                raise ConversionError("not a TensorFlow SavedModel directory (no saved_model.pb)", path=str(p))
            if not options.get("trust"):
                raise ConversionError(
                    "refused: loading a SavedModel runs its graphs (restore, initialisers), and TensorFlow "
                    "graphs can read and write files; pass --trust (trust=True) if you trust its source, or "
                    "hash the Keras model or a .tflite/.onnx export of it",
                    path=str(p),
                )
            check_directory(p)
        return saved_model_to_onnx(
            model_or_path,
            opset=options.get("opset") or DEFAULT_OPSET,
            signature=options.get("signature"),
            input_shape=options.get("input_shape"),
            keep_weights=bool(options.get("keep_weights")),
        )


register(SavedModelConverter())
