"""Keras models: Keras 3 and tf_keras ``Model`` objects, ``.keras`` and ``.h5`` files.

Conversion traces the model's inference call (``training=False``) as a ``tf.function``
with an input signature made from ``model.inputs`` (batch 1, unknown sizes 224, the
input's dtype) and converts it with tf2onnx, leaving the weights out
(:mod:`converters.tf_graph`): keras.applications ResNet50 converts in about 2 s and 1.2 GB
instead of 12-33 s and 7.9 GB, VGG16 at all (it needed more than 24 GB). This works for Keras 3
(``keras.src...`` classes) and tf_keras (``tf_keras.src...`` classes) models alike. The raw
graphs of the two Keras versions differ (Keras 3 writes BatchNorm as Mul/Add); the canonical
graph builder normalises both. ``keep_weights=True`` gives the usual conversion with the
weights as initializers.

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
from .tf_graph import check_onnx_ops, function_to_onnx

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


def keras_to_onnx(model: Any, opset: int = DEFAULT_OPSET, input_shape: Any = None, path: str | None = None,
                  keep_weights: bool = False):
    """Convert a Keras 3 or tf_keras model: its inference call traced as a ``tf.function``, then
    tf2onnx with the weights left out (:func:`converters.tf_graph.function_to_onnx`).

    Args:
        model: a built Keras 3 or tf_keras model.
        opset: ONNX opset.
        input_shape: overrides the model's input shapes (batch included).
        path: the file the model came from, for error messages.
        keep_weights: keep the weights as ONNX initializers (slower, uses more memory).
    Returns:
        ``onnx.ModelProto``; without ``keep_weights`` each parameter tensor is a
        ``ConstantOfShape`` of zeros of its shape.
    Raises:
        ConversionError: the model cannot be traced, tf2onnx failed, or it left TensorFlow
            ops it could not convert.
    """
    tf = import_tensorflow()
    sig = input_signature(model, input_shape, path)
    what = f"Keras model {getattr(model, 'name', type(model).__name__)!r}"
    fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False), input_signature=sig)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cf = fn.get_concrete_function()
    except Exception as exc:  # Keras raises many types for inputs that do not fit
        raise ConversionError(
            f"cannot run the {what} on a trigger input of shape(s) "
            f"{', '.join(str(tuple(s.shape)) for s in sig)} ({exception_summary(exc)}); "
            "pass input_shape=... if the model expects another input",
            path=path,
        ) from exc
    proto = function_to_onnx(cf, int(opset), what, path, keep_weights=keep_weights)
    check_onnx_ops(proto, what, path)
    return proto


class KerasConverter(Converter):
    """Keras 3 / tf_keras models and ``.keras`` / ``.h5`` files to ONNX through tf2onnx.

    Options: ``opset`` (int, default 17), ``input_shape`` (overrides the model's input
    shapes, batch included), ``safe_mode`` (bool, default True), ``keep_weights`` (bool,
    default False: parameters become ``ConstantOfShape`` nodes of their shapes).
    """

    name = "keras"
    aliases = ("tf_keras", "tensorflow", "tf")
    suffixes = (".keras", ".h5", ".hdf5")
    options = frozenset({"opset", "input_shape", "safe_mode", "keep_weights"})

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
            return keras_to_onnx(model, opset, options.get("input_shape"), str(path),
                                 keep_weights=bool(options.get("keep_weights")))
        if keras_flavour(model_or_path) is None:
            raise ConversionError(f"expected a keras Model, got {type(model_or_path).__name__}")
        return keras_to_onnx(model_or_path, opset, options.get("input_shape"),
                             keep_weights=bool(options.get("keep_weights")))


register(KerasConverter())
