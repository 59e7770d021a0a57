"""Keras models: Keras 3 and tf_keras ``Model`` objects, ``.keras`` and ``.h5`` files.

Conversion traces the model's inference call (``training=False``) as a ``tf.function``
with an input signature made from ``model.inputs`` (batch 1, unknown sizes 224, the
input's dtype) and converts it with tf2onnx, leaving the weights out
(:mod:`hnn_tf.converters.tf_graph`): keras.applications ResNet50 converts in about 2 s and 1.2 GB
instead of 12-33 s and 7.9 GB, VGG16 at all (it needed more than 24 GB). This works for Keras 3
(``keras.src...`` classes) and tf_keras (``tf_keras.src...`` classes) models alike. The raw
graphs of the two Keras versions differ (Keras 3 writes BatchNorm as Mul/Add); the canonical
graph builder normalises both. ``keep_weights=True`` gives the usual conversion with the
weights as initializers.

Files come from strangers (README "Security"). A file is read once, with the size limits of
:mod:`hnn_tf.safe_io`; its stored config is scanned (:mod:`hnn_tf.converters.keras_config`: stored
Lambda bytecode, modules outside Keras, layers that read files or other models, nesting)
and refused unless ``safe_mode=False`` (the CLI's ``--trust``); then only the architecture is
built from the config, no weight read:

- ``.keras`` zip archives by the Keras version recorded in their ``metadata.json``: Keras 3
  with ``keras.saving.deserialize_keras_object``, Keras 2 with
  ``tf_keras.models.model_from_json``.
- ``.h5`` / ``.hdf5`` by the ``keras_version`` attribute of the file: Keras 2 files with
  ``tf_keras.models.model_from_json``; Keras 3 files, whose legacy config only Keras' own
  loader reads, with ``keras.saving.load_model`` on a private copy, after the HDF5 file is
  checked (:func:`check_hdf5`: no links to other files, bounded dataset sizes).

If the recorded version is missing, or its loader fails, the other loader is tried.
``keep_weights=True`` loads the whole file with ``load_model``.

``TF_USE_LEGACY_KERAS=1`` is set (if unset) by importing :mod:`hnn_tf`, so that a later
``import tensorflow`` in the same process gives tf_keras as ``tf.keras``, which Spektral needs;
``import keras`` still gives Keras 3.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hnn_tf._tf import import_tensorflow, quiet_native_output
from hnn_tf.errors import ConversionError
from hnn_tf.safe_io import current_limits, json_depth, open_zip, read_regular, read_zip_member

from .keras_config import config_problem

from .registry import Converter, FileInfo, exception_summary, parse_input_shapes, register
from .tf_graph import check_onnx_ops, function_to_onnx


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


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def check_hdf5(fh: Any, where: str) -> None:
    """Refuse an HDF5 file whose reading would reach outside it or inflate past the limits.

    External links, datasets stored in external files and virtual datasets make h5py read
    other files (any path, a FIFO, ``/dev/zero``); a compressed dataset may declare far more
    bytes than the file holds. Every dataset's declared size must stay within
    :attr:`Limits.tensor_bytes` and their sum within :attr:`Limits.zip_bytes`.

    Args:
        fh: an open ``h5py.File``.
        where: the file name, for messages.
    Raises:
        ConversionError: what was found, naming the object.
    """
    import h5py

    limits = current_limits()
    problems: list[str] = []
    total = [0]

    def link(name: str, lnk: Any) -> Any:
        if isinstance(lnk, h5py.ExternalLink):
            problems.append(f"the HDF5 object {name!r} links to the file {lnk.filename!r}")
            return True
        return None

    def item(name: str, obj: Any) -> Any:
        if isinstance(obj, h5py.Dataset):
            if obj.is_virtual or obj.external:
                problems.append(f"the HDF5 dataset {name!r} is stored in other files")
                return True
            nbytes = int(obj.size or 0) * int(obj.dtype.itemsize)
            total[0] += nbytes
            if nbytes > limits.tensor_bytes or total[0] > limits.zip_bytes:
                problems.append(f"the HDF5 datasets declare more than the limits allow ({name!r}: {nbytes} bytes)")
                return True
        return None

    fh.visititems_links(link)
    if not problems:
        fh.visititems(item)
    if problems:
        raise ConversionError(f"refused: {problems[0]}", path=where)


def _read_saved_model(path: Path) -> tuple[str, int | None, str | None, bytes]:
    """(format ``"keras"``/``"h5"``, major Keras version, model config JSON text, file bytes) of a Keras file.

    The file is read once with the size limit; nothing is loaded by Keras here.
    """
    where = str(path)
    data = read_regular(path)
    if data[:4] == b"PK\x03\x04":
        zf = open_zip(data, where)
        names = set(zf.namelist())
        meta_text = read_zip_member(zf, "metadata.json", where) if "metadata.json" in names else b"{}"
        try:
            meta = json.loads(meta_text)
        except (ValueError, RecursionError):
            meta = {}
        config = read_zip_member(zf, "config.json", where).decode("utf-8") if "config.json" in names else None
        version = meta.get("keras_version") if isinstance(meta, dict) else None
        return "keras", _major(version), config, data
    if data[:8] != HDF5_MAGIC:
        raise ConversionError("not a Keras file (neither a .keras zip archive nor HDF5)", path=where)
    import h5py

    with h5py.File(io.BytesIO(data), "r") as fh:
        check_hdf5(fh, where)
        version = fh.attrs.get("keras_version")
        raw = fh.attrs.get("model_config")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if raw is not None and len(raw) > current_limits().config_bytes:
        raise ConversionError("the stored model config is larger than the limit (HNN_MAX_CONFIG_MB)", path=where)
    return "h5", _major(version), (str(raw) if raw is not None else None), data


def load_keras_file(path: Path, safe_mode: bool = True, keep_weights: bool = False) -> Any:
    """Load a ``.keras`` or ``.h5`` model's architecture without compiling it (see the module doc).

    The stored config is read and scanned first (:func:`hnn_tf.converters.keras_config.config_problem`);
    then the model is built from the config alone: Keras 3 archives with
    ``keras.saving.deserialize_keras_object``, tf_keras ones with
    ``tf_keras.models.model_from_json``. No weight is read: the hash needs shapes only. With
    ``keep_weights=True``, ``safe_mode=False`` (a trusted file), or a Keras 3 ``.h5`` file
    (whose legacy config only Keras' full loader reads) the file is loaded whole from a
    private copy with ``load_model``.

    Args:
        path: the file.
        safe_mode: refuse configs that would run or read code and files (see
            :mod:`hnn_tf.converters.keras_config`); False trusts the file.
        keep_weights: load the weights too.
    Returns:
        a Keras 3 or tf_keras ``Model``.
    Raises:
        ConversionError: unreadable/corrupt file, a refused config, or neither Keras version
            can build it.
    """
    where = str(path)
    try:
        fmt, major, config_text, data = _read_saved_model(path)
    except ConversionError:
        raise
    except Exception as exc:  # BadZipFile, OSError from h5py, JSON errors
        raise ConversionError(
            f"not a readable Keras file (corrupt or truncated): {exception_summary(exc)}", path=where
        ) from exc
    if config_text is None:
        raise ConversionError("the file holds no model config (weights only?); save the whole model", path=where)
    try:
        config = json.loads(config_text)
    except (ValueError, RecursionError) as exc:
        raise ConversionError(f"the stored model config is not valid JSON ({type(exc).__name__})", path=where) from None
    depth = current_limits().config_depth
    if json_depth(config, depth) > depth:  # even a trusted config: the loaders recurse over it
        raise ConversionError(f"refused: the model config nests deeper than {depth} levels (HNN_MAX_CONFIG_DEPTH)",
                              path=where)
    problem = config_problem(config) if safe_mode else None
    if problem:
        raise ConversionError(
            f"refused: the model config holds {problem}; pass --trust (safe_mode=False) if you trust its source",
            path=where,
        )

    def full_load(flavour: str) -> Any:
        import_tensorflow()
        suffix = ".keras" if fmt == "keras" else ".h5"
        with tempfile.TemporaryDirectory(prefix="hnn-keras-") as tmp:
            copy = Path(tmp) / f"model{suffix}"
            copy.write_bytes(data)
            if flavour == "Keras 3":
                import keras

                return keras.saving.load_model(str(copy), compile=False, safe_mode=safe_mode)
            import tf_keras

            return tf_keras.models.load_model(str(copy), compile=False, safe_mode=safe_mode)

    def from_config(flavour: str) -> Any:
        import_tensorflow()
        if keep_weights or not safe_mode or (flavour == "Keras 3" and fmt == "h5"):
            return full_load(flavour)
        if flavour == "Keras 3":
            import keras

            cfg = dict(config) if isinstance(config, dict) else config
            if isinstance(cfg, dict):
                cfg["compile_config"] = None
            return keras.saving.deserialize_keras_object(cfg, safe_mode=safe_mode)
        import tf_keras

        return tf_keras.models.model_from_json(config_text)

    loaders = ["Keras 3", "tf_keras"]
    if major is not None and major < 3:
        loaders.reverse()
    errors = []
    with warnings.catch_warnings(), quiet_native_output():
        warnings.simplefilter("ignore")
        for label in loaders:
            try:
                model = from_config(label)
            except RecursionError:
                raise ConversionError("the model config nests too deeply to build", path=where) from None
            except Exception as exc:  # each Keras raises its own types for unknown layers, bad files ...
                text = str(exc)
                if "safe_mode" in text or "arbitrary code" in text:
                    raise ConversionError(
                        "refused: the model stores Python code (a Lambda layer) and loading it runs "
                        "that code; pass --trust (safe_mode=False) if you trust its source",
                        path=where,
                    ) from exc
                errors.append(f"{label}: {exception_summary(exc)}")
                if major is not None:
                    break  # the recorded version's loader is authoritative
                continue
            if keras_flavour(model) is None:
                raise ConversionError(f"the config describes a {type(model).__name__}, not a Keras model",
                                      path=where)
            return model
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
    tf2onnx with the weights left out (:func:`hnn_tf.converters.tf_graph.function_to_onnx`).

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
    options = frozenset({"opset", "input_shape", "safe_mode", "keep_weights", "trust"})

    def accepts_object(self, obj: Any) -> bool:
        return keras_flavour(obj) is not None

    def weights_digest(self, obj: Any) -> bytes | None:
        """sha256 of the model's weights (``model.weights``): each path, dtype, shape and value."""
        import hashlib

        import numpy as np

        h = hashlib.sha256()
        for k, w in enumerate(obj.weights):
            value = np.asarray(w.numpy())
            h.update(f"{k}|{getattr(w, 'path', getattr(w, 'name', ''))}|{value.dtype}|{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        return h.digest()

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
            safe = options.get("safe_mode", True) and not options.get("trust")
            model = load_keras_file(path, safe_mode=safe, keep_weights=bool(options.get("keep_weights")))
            return keras_to_onnx(model, opset, options.get("input_shape"), str(path),
                                 keep_weights=bool(options.get("keep_weights")))
        if keras_flavour(model_or_path) is None:
            raise ConversionError(f"expected a keras Model, got {type(model_or_path).__name__}")
        return keras_to_onnx(model_or_path, opset, options.get("input_shape"),
                             keep_weights=bool(options.get("keep_weights")))


register(KerasConverter())
