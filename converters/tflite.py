"""TensorFlow Lite models: ``.tflite`` flatbuffer files, through ``tf2onnx.convert.from_tflite``.

A TFLite file is recognised by its flatbuffer file identifier ``TFL3`` (bytes 4-7), or by
its suffix. tf2onnx reads the flatbuffer itself (TensorFlow is not needed to parse it) and
rewrites the TFLite ops (which compute in NHWC) into ONNX; its optimisers remove most layout
Transposes and the canonical graph builder the rest, so a Keras model converted to TFLite
hashes like the Keras model itself (tests/test_canonical.py).

TFLite files are small (their weights are in the file, and mobile models are small), so
the weights are kept. A TFLite file holds no code, but the TFLite interpreter that tf2onnx
runs is native code that malformed files crash, so conversion runs in a worker process
(:mod:`hnn_tf.converters.isolated`).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

from hnn_tf.errors import ConversionError
from hnn_tf.safe_io import read_regular

from .isolated import run_isolated
from .registry import Converter, FileInfo, exception_summary, register
from .tf_graph import check_onnx_ops, tf2onnx_fast

DEFAULT_OPSET = 17
#: The flatbuffer file identifier of TFLite models, at bytes 4 to 7.
TFLITE_IDENTIFIER = b"TFL3"


def looks_like_tflite(head: bytes) -> bool:
    """True if a file's first bytes carry the TFLite flatbuffer identifier ``TFL3`` at offset 4."""
    return len(head) >= 8 and head[4:8] == TFLITE_IDENTIFIER


def convert_tflite_bytes(data: bytes, opset: int = DEFAULT_OPSET) -> bytes:
    """The ONNX bytes of a TFLite flatbuffer, converted by tf2onnx (run in the isolated worker).

    Args:
        data: the ``.tflite`` file's bytes (already read with the size limit).
        opset: ONNX opset.
    Returns:
        the serialised ``onnx.ModelProto``.
    Raises:
        Exception: whatever tf2onnx raises on a bad file (the caller wraps it).
    """
    import tf2onnx

    from hnn_tf._tf import import_tensorflow, quiet_native_output

    import_tensorflow()  # tf2onnx imports TensorFlow; import it quietly first
    # tf2onnx reads the file by name: give it a private copy of the bytes checked by the parent.
    # The TFLite interpreter that tf2onnx runs prints an INFO line to the process's stderr.
    with tempfile.TemporaryDirectory(prefix="hnn-tflite-") as tmp, warnings.catch_warnings(), \
            tf2onnx_fast(), quiet_native_output():
        warnings.simplefilter("ignore")
        copy = Path(tmp) / "model.tflite"
        copy.write_bytes(data)
        proto, _ = tf2onnx.convert.from_tflite(str(copy), opset=int(opset))
    return b"" if proto is None else proto.SerializeToString()


def tflite_to_onnx(path: Path, opset: int = DEFAULT_OPSET):
    """Convert a ``.tflite`` file with tf2onnx, in an isolated worker process.

    The TFLite interpreter that tf2onnx runs is native code that malformed flatbuffers crash,
    so the conversion runs in :func:`hnn_tf.converters.isolated.run_isolated`: a crash there is a
    ConversionError here.

    Args:
        path: the file.
        opset: ONNX opset.
    Returns:
        ``onnx.ModelProto`` with the model's weights as initializers.
    Raises:
        ConversionError: the file is not a readable TFLite model (or crashed the reader), or
            tf2onnx failed or left ops it could not convert.
    """
    import onnx

    where = str(path)
    data = read_regular(path)
    try:
        payload = run_isolated(convert_tflite_bytes, data, int(opset), what="the TFLite reader", path=where)
        proto = onnx.load_model_from_string(payload)
    except ConversionError:
        raise
    except Exception as exc:  # flatbuffer parse errors, unsupported ops ...
        raise ConversionError(
            f"cannot convert the TFLite model (corrupt file or unsupported ops): {exception_summary(exc)}",
            path=where,
        ) from exc
    if len(proto.graph.node) == 0:
        raise ConversionError("the TFLite model converted to an empty ONNX graph", path=where)
    check_onnx_ops(proto, "TFLite model", where)
    return proto


class TFLiteConverter(Converter):
    """``.tflite`` files to ONNX. Options: ``opset`` (int, default 17)."""

    name = "tflite"
    aliases = ("tensorflow-lite", "litert")
    suffixes = (".tflite",)
    options = frozenset({"opset"})

    def accepts_file(self, info: FileInfo) -> bool:
        return looks_like_tflite(info.head)

    def convert(self, model_or_path: Any, **options: Any):
        """Convert a ``.tflite`` file (a :class:`pathlib.Path` or str).

        Raises:
            ConversionError: not a file path, or the conversion failed (see :func:`tflite_to_onnx`).
        """
        if not isinstance(model_or_path, (str, Path)):
            raise ConversionError(
                f"the TFLite converter takes a .tflite file, not a {type(model_or_path).__name__}"
            )
        path = Path(model_or_path)
        if path.is_dir():
            raise ConversionError("is a directory, not a .tflite file", path=str(path))
        return tflite_to_onnx(path, options.get("opset") or DEFAULT_OPSET)


register(TFLiteConverter())
