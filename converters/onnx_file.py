"""ONNX models: ``.onnx`` files and ``onnx.ModelProto`` objects (no conversion needed).

Files are read once, as regular files within the size limit (:func:`hnn_tf.safe_io.read_regular`),
and parsed with ``onnx.load_model_from_string``: tensors kept in external data files are
never read (their dims, all the graph builder needs, are in the model file itself), so an
ONNX file cannot make hnn open another file. ONNX holds no code: a model is data that the
graph builder reads; hnn never runs a model's custom operators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnn_tf.errors import ConversionError

from hnn_tf.safe_io import read_regular

from .registry import Converter, FileInfo, exception_summary, register

# Tags (field number << 3 | wire type) of onnx.ModelProto fields that can follow
# ir_version (field 1, the first field every serialiser writes).
_MODEL_PROTO_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xCA}


def _read_varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value, shift = 0, 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def looks_like_onnx(head: bytes) -> bool:
    """True if ``head`` (a file's first bytes) starts like a serialised ``onnx.ModelProto``.

    The test is the protobuf header: field 1 (``ir_version``, a varint between 1 and
    63) followed by the tag of another ModelProto field. It is a heuristic; the
    ``.onnx`` suffix is the fallback.
    """
    if len(head) < 3 or head[0] != 0x08:
        return False
    version, pos = _read_varint(head, 1)
    return version is not None and 1 <= version < 64 and pos < len(head) and head[pos] in _MODEL_PROTO_TAGS


class OnnxConverter(Converter):
    """Pass-through for models that are ONNX already.

    Objects: ``onnx.ModelProto`` is returned as it is. Files: ``.onnx`` or any file
    whose first bytes look like a ModelProto (see :func:`looks_like_onnx`).
    """

    name = "onnx"
    aliases = ("onnx-file",)
    suffixes = (".onnx",)
    options = frozenset({"opset", "input_shape"})

    def accepts_object(self, obj: Any) -> bool:
        cls = type(obj)
        return cls.__name__ == "ModelProto" and cls.__module__.split(".")[0] == "onnx"

    def accepts_file(self, info: FileInfo) -> bool:
        return looks_like_onnx(info.head)

    def convert(self, model_or_path: Any, **options: Any):
        """Return the ModelProto (objects as given; files loaded without external data).

        ``opset`` and ``input_shape`` are ignored: the model is used as it was saved.

        Raises:
            ConversionError: the object is not a ModelProto, or the file cannot be
                parsed as one (corrupt, truncated) or holds no graph nodes.
        """
        import onnx

        if isinstance(model_or_path, onnx.ModelProto):
            return model_or_path
        if not isinstance(model_or_path, (str, Path)):
            raise ConversionError(
                f"expected an onnx.ModelProto or an .onnx file, got {type(model_or_path).__name__}"
            )
        path = str(model_or_path)
        data = read_regular(path)
        try:
            model = onnx.load_model_from_string(data)
        except Exception as exc:  # DecodeError, OSError, ValueError ... from protobuf/onnx
            raise ConversionError(
                f"not a readable ONNX model (corrupt or truncated file): {exception_summary(exc)}",
                path=path,
            ) from exc
        if len(model.graph.node) == 0:
            raise ConversionError(
                "holds no ONNX graph nodes (empty file, or not an ONNX model)", path=path
            )
        return model


register(OnnxConverter())
