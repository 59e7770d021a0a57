"""Keras models: Keras 3 and tf_keras ``Model`` objects, ``.keras`` and ``.h5`` files.

Conversion uses tf2onnx (``tf2onnx.convert.from_keras``) with an input signature
made from ``model.inputs``: batch 1, unknown sizes 224, the input's dtype. tf2onnx
1.17 converts both Keras 3 (``keras.src...`` classes) and tf_keras
(``tf_keras.src...`` classes) models directly. Its optimisers fold BatchNorm into
the preceding Conv and the graphs of the two Keras versions differ slightly (Keras 3
keeps some Mul nodes); the graph builder normalises both.

Files are loaded without compiling:

- ``.keras`` zip archives by the Keras version recorded in their ``metadata.json``:
  Keras 3 with ``keras.saving.load_model``, Keras 2 with ``tf_keras.models.load_model``.
- ``.h5`` / ``.hdf5`` by the ``keras_version`` attribute of the file: Keras 2 files
  with ``tf_keras.models.load_model``, Keras 3 files with ``keras.saving.load_model``.

If the recorded version is missing, or its loader fails, the other loader is tried.
Loading is safe by default (``safe_mode=True``): a Lambda layer whose Python
bytecode is stored in the file is refused, since loading it would run that code.
Keras 3 checks this itself; tf_keras does not for ``.h5`` files, so the stored
model config is inspected before loading.

``TF_USE_LEGACY_KERAS=1`` is set (if unset) when this module is imported, so that a
later ``import tensorflow`` in the same process gives tf_keras as ``tf.keras``, which
Spektral needs; ``import keras`` still gives Keras 3.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from hnn_tf._tf import import_tensorflow
from hnn_tf.errors import ConversionError

from .registry import Converter, FileInfo, exception_summary, parse_input_shapes, register

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # must precede any tensorflow import

DEFAULT_OPSET = 17
#: Size used for input dimensions the model leaves unknown (other than the batch).
DEFAULT_SPATIAL = 224


def keras_flavour(obj: Any) -> str | None:
    """``"keras3"``, ``"tf_keras"`` or None, from the classes of ``obj`` (nothing imported).

    Keras 3 model classes live in ``keras.src...`` (``keras.src.models.model.Model``),
    tf_keras ones in ``tf_keras.src...`` (``tf_keras.src.engine.training.Model``).
    """
    for cls in type(obj).__mro__:
        if cls.__name__ != "Model":
            continue
        root = cls.__module__.split(".")[0]
        if root == "tf_keras":
            return "tf_keras"
        if root == "keras":
            return "keras3" if cls.__module__.startswith("keras.src") else "tf_keras"
    return None


def _major(version: Any) -> int | None:
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    try:
        return int(str(version).split(".")[0])
    except (TypeError, ValueError):
        return None


def _saved_info(path: Path) -> tuple[int | None, Any]:
    """(major Keras version, model config) recorded in a ``.keras`` or HDF5 file; None when absent."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            meta = json.loads(zf.read("metadata.json")) if "metadata.json" in names else {}
            config = json.loads(zf.read("config.json")) if "config.json" in names else None
        return _major(meta.get("keras_version")), config
    import h5py

    with h5py.File(path, "r") as fh:
        version = fh.attrs.get("keras_version")
        raw = fh.attrs.get("model_config")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return _major(version), (json.loads(raw) if raw else None)


def _has_bytecode_lambda(config: Any) -> bool:
    """True if a saved model config holds marshalled Python code (a Lambda layer's lambda).

    Keras 3 stores such a function as ``{"class_name": "__lambda__", ...}``; tf_keras
    marks it with ``function_type`` / ``output_shape_type`` ``"lambda"`` in the Lambda
    layer's config. Functions referenced by name are not code and pass.
    """
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__":
            return True
        if config.get("class_name") == "Lambda":
            inner = config.get("config") or {}
            if "lambda" in (inner.get("function_type"), inner.get("output_shape_type")):
                return True
        return any(_has_bytecode_lambda(v) for v in config.values())
    if isinstance(config, list):
        return any(_has_bytecode_lambda(v) for v in config)
    return False


@contextmanager
def _with_suffix(path: Path, suffix: str) -> Iterator[Path]:
    """``path`` itself if it has ``suffix``, else a temporary link (or copy) that has it.

    Keras chooses the file format from the suffix, so content-detected files with
    another name need one.
    """
    if path.suffix.lower() == suffix:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="hnn-keras-") as tmp:
        target = Path(tmp) / f"model{suffix}"
        try:
            os.symlink(path.resolve(), target)
        except OSError:
            shutil.copyfile(path, target)
        yield target


def load_keras_file(path: Path, safe_mode: bool = True) -> Any:
    """Load a ``.keras`` or ``.h5`` model without compiling it (see the module doc).

    Returns:
        a Keras 3 or tf_keras ``Model``.

    Raises:
        ConversionError: unreadable/corrupt file, refused Lambda bytecode, or neither
            Keras version can load it.
    """
    where = str(path)
    try:
        major, config = _saved_info(path)
    except Exception as exc:  # BadZipFile, OSError from h5py, JSON errors
        raise ConversionError(
            f"not a readable Keras file (corrupt or truncated): {exception_summary(exc)}", path=where
        ) from exc
    is_zip = zipfile.is_zipfile(path)
    if safe_mode and _has_bytecode_lambda(config):
        raise ConversionError(
            "refused: the model has a Lambda layer whose Python code is stored in the file and "
            "loading it runs that code; if you trust its source pass safe_mode=False",
            path=where,
        )
    suffix = ".keras" if is_zip else ".h5"

    def load_keras3(p: Path) -> Any:
        import_tensorflow()
        import keras

        return keras.saving.load_model(str(p), compile=False, safe_mode=safe_mode)

    def load_tf_keras(p: Path) -> Any:
        import_tensorflow()
        import tf_keras

        return tf_keras.models.load_model(str(p), compile=False, safe_mode=safe_mode)

    loaders = [("Keras 3", load_keras3), ("tf_keras", load_tf_keras)]
    if major is not None and major < 3:
        loaders.reverse()
    errors = []
    with _with_suffix(path, suffix) as p, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, loader in loaders:
            try:
                return loader(p)
            except Exception as exc:  # each Keras raises its own types for unknown layers, bad files ...
                text = str(exc)
                if "safe_mode" in text or "arbitrary code" in text:
                    raise ConversionError(
                        "refused: the model stores Python code (a Lambda layer) and loading it runs "
                        "that code; if you trust its source pass safe_mode=False",
                        path=where,
                    ) from exc
                errors.append(f"{label}: {exception_summary(exc)}")
                if major is not None:
                    break  # the recorded version's loader is authoritative
    raise ConversionError(f"cannot load the Keras model ({'; '.join(errors)})", path=where)


def input_signature(model: Any, input_shape: Any = None, path: str | None = None) -> list:
    """``tf.TensorSpec`` list for ``model.inputs``: batch 1, unknown sizes 224.

    ``input_shape`` (one shape or a list, batch included) overrides the model's shapes.

    Raises:
        ConversionError: the model has no defined inputs (an unbuilt subclassed or
            Sequential model) and no ``input_shape`` is given, or shapes do not match.
    """
    tf = import_tensorflow()

    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError):
        inputs = []
    dtypes = [getattr(t, "dtype", None) or "float32" for t in inputs]
    if input_shape is not None:
        shapes = parse_input_shapes(input_shape, path)
        if inputs and len(shapes) != len(inputs):
            raise ConversionError(
                f"input_shape gives {len(shapes)} shapes but the model has {len(inputs)} inputs", path=path
            )
        dtypes = dtypes or ["float32"] * len(shapes)
    elif not inputs:
        raise ConversionError(
            f"the Keras model {getattr(model, 'name', '')!r} has no defined inputs (not built); "
            "build it or pass input_shape=...",
            path=path,
        )
    else:
        shapes = [
            tuple(1 if i == 0 else DEFAULT_SPATIAL if d is None else int(d) for i, d in enumerate(t.shape))
            for t in inputs
        ]
    return [
        tf.TensorSpec(shape, tf.as_dtype(dtype), name=f"input_{k}")
        for k, (shape, dtype) in enumerate(zip(shapes, dtypes))
    ]


def keras_to_onnx(model: Any, opset: int = DEFAULT_OPSET, input_shape: Any = None, path: str | None = None):
    """Convert a Keras 3 or tf_keras model with ``tf2onnx.convert.from_keras``.

    Returns:
        ``onnx.ModelProto`` with initializers.

    Raises:
        ConversionError: tf2onnx failed, or left TensorFlow ops it could not convert.
    """
    import onnx
    import tf2onnx

    sig = input_signature(model, input_shape, path)

    what = f"Keras model {getattr(model, 'name', type(model).__name__)!r}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                proto, _ = tf2onnx.convert.from_keras(model, input_signature=sig, opset=int(opset))
            except KeyError:
                # from_keras looks up Keras 3 Sequential models' output tensors by names that
                # their traced graph does not use; tracing the call as a tf.function works.
                proto = _from_function(model, sig, int(opset))
    except Exception as exc:  # tf2onnx/TensorFlow raise many types
        raise ConversionError(
            f"tf2onnx could not convert the {what} ({exception_summary(exc)})", path=path
        ) from exc
    unknown = sorted(
        {n.op_type for n in proto.graph.node if n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op_type)}
    )
    if unknown:
        raise ConversionError(
            f"tf2onnx left TensorFlow ops it cannot express in ONNX in the {what}: {', '.join(unknown)}",
            path=path,
        )
    return proto


def _from_function(model: Any, sig: list, opset: int):
    """``tf2onnx.convert.from_function`` on the model's inference call (``training=False``)."""
    import tf2onnx

    tf = import_tensorflow()
    fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False), input_signature=sig)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=sig, opset=opset)
    return proto


class KerasConverter(Converter):
    """Keras 3 / tf_keras models and ``.keras`` / ``.h5`` files to ONNX through tf2onnx.

    Options: ``opset`` (int, default 17), ``input_shape`` (overrides the model's input
    shapes, batch included), ``safe_mode`` (bool, default True).
    """

    name = "keras"
    aliases = ("tf_keras", "tensorflow", "tf")
    suffixes = (".keras", ".h5", ".hdf5")
    options = frozenset({"opset", "input_shape", "safe_mode"})

    def accepts_object(self, obj: Any) -> bool:
        return keras_flavour(obj) is not None

    def accepts_file(self, info: FileInfo) -> bool:
        if info.is_hdf5:
            return True
        names = set(info.zip_names or ())
        return "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names)

    def convert(self, model_or_path: Any, **options: Any):
        """Convert a Keras model object or a ``.keras`` / ``.h5`` file (see the module doc).

        Raises:
            ConversionError: unreadable or refused file, model without inputs, or tf2onnx failure.
        """
        opset = options.get("opset") or DEFAULT_OPSET
        if isinstance(model_or_path, (str, Path)):
            path = Path(model_or_path)
            model = load_keras_file(path, safe_mode=options.get("safe_mode", True))
            return keras_to_onnx(model, opset, options.get("input_shape"), str(path))
        if keras_flavour(model_or_path) is None:
            raise ConversionError(f"expected a keras Model, got {type(model_or_path).__name__}")
        return keras_to_onnx(model_or_path, opset, options.get("input_shape"))


register(KerasConverter())
