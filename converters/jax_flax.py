"""JAX models: Flax NNX and Equinox modules, and plain JAX functions, through ``jax2onnx``.

Why this route: JAX's own bridge to TensorFlow (``jax.experimental.jax2tf``) now always
emits one opaque ``XlaCallModule`` op (StableHLO) that tf2onnx cannot convert, so JAX cannot
reach ONNX through TensorFlow any more. ``jax2onnx`` (a maintained package on PyPI) traces
the JAX program (its jaxpr) and writes ONNX directly: Conv, BatchNormalization, Gemm, Relu
and so on, in Flax's NHWC layout with Transposes around the convolutions, which the
canonical graph builder removes.

Objects: a ``flax.nnx.Module`` or an ``equinox.Module`` is recognised by its classes; a
plain function (``jax.jit``-able, taking arrays) needs ``framework="jax"``. The trigger
input is zeros of ``input_shape`` (default ``(1, 224, 224, 3)``: JAX image models are
NHWC), float32. JAX has no file format that holds an architecture (checkpoints hold only
weights), so there are no files to convert.
"""

from __future__ import annotations

import warnings
from typing import Any

from hnn_tf.errors import ConversionError

from .registry import Converter, exception_summary, parse_input_shapes, register

DEFAULT_OPSET = 17
#: Trigger input shape when ``input_shape`` is not given (NHWC, as Flax convolutions expect).
DEFAULT_INPUT_SHAPE = (1, 224, 224, 3)


def jax_flavour(obj: Any) -> str | None:
    """``"flax.nnx"`` or ``"equinox"`` from the classes of ``obj`` (nothing imported), else None."""
    for cls in type(obj).__mro__:
        if cls.__name__ != "Module":
            continue
        if cls.__module__.startswith("flax.nnx"):
            return "flax.nnx"
        if cls.__module__.startswith("equinox"):
            return "equinox"
    return None


def jax_to_onnx(fn: Any, input_shape: Any = None, opset: int = DEFAULT_OPSET):
    """Convert a Flax NNX / Equinox module or a JAX function with ``jax2onnx.to_onnx``.

    Args:
        fn: the module or function; called on zeros of ``input_shape``.
        input_shape: one shape or a list of shapes (batch included).
        opset: ONNX opset.
    Returns:
        ``onnx.ModelProto`` with the module's parameters as initializers.
    Raises:
        ConversionError: ``fn`` is not callable, or jax2onnx cannot trace or convert it.
    """
    if not callable(fn):
        raise ConversionError(f"expected a Flax/Equinox module or a JAX function, got {type(fn).__name__}")
    shapes = parse_input_shapes(input_shape if input_shape is not None else DEFAULT_INPUT_SHAPE)
    what = type(fn).__name__ if jax_flavour(fn) else getattr(fn, "__name__", "function")
    try:
        from jax2onnx import to_onnx
    except ImportError as exc:  # pragma: no cover - jax2onnx is a requirement
        raise ConversionError(f"JAX models need the jax2onnx package ({exc})") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proto = to_onnx(fn, [tuple(s) for s in shapes], model_name=str(what), opset=int(opset))
    except Exception as exc:  # jax raises TypeError/ValueError for bad shapes, jax2onnx NotImplementedError ...
        raise ConversionError(
            f"jax2onnx could not convert the JAX model {what} on a trigger input of shape(s) "
            f"{', '.join(str(s) for s in shapes)} ({exception_summary(exc)}); "
            "pass input_shape=... if the model expects another input"
        ) from exc
    return proto


class JaxConverter(Converter):
    """Flax NNX / Equinox modules and JAX functions to ONNX through jax2onnx.

    Options: ``opset`` (int, default 17), ``input_shape`` (default ``(1, 224, 224, 3)``).
    """

    name = "jax"
    aliases = ("flax", "equinox")
    options = frozenset({"opset", "input_shape"})

    def accepts_object(self, obj: Any) -> bool:
        return jax_flavour(obj) is not None

    def convert(self, model_or_path: Any, **options: Any):
        """Convert a module or function (see :func:`jax_to_onnx`).

        Raises:
            ConversionError: a file was given (JAX has no architecture file format), or the
                conversion failed.
        """
        from pathlib import Path

        if isinstance(model_or_path, (str, Path)):
            raise ConversionError(
                "JAX has no model file format that holds an architecture; pass the Flax/Equinox "
                "module or the JAX function itself",
                path=str(model_or_path),
            )
        return jax_to_onnx(model_or_path, options.get("input_shape"), options.get("opset") or DEFAULT_OPSET)


register(JaxConverter())
