"""TorchScript symbolics for PyTorch operators the TorchScript ONNX exporter lacks.

Where the TorchScript exporter has no symbolic for an operator, :func:`hnn_tf.converters.pytorch.export_with_fallback`
exports the model again with the dynamo exporter, which has a translation or a decomposition
for it, but takes several times longer: in the broad zoo, 75 models fell back, and their
exports took 487 s of the build's CPU time. The operators below are the ones whose
ONNX form is plain: each symbolic writes the same ONNX operators that the dynamo exporter
writes for it (its onnxscript translation, or PyTorch's decomposition of it), so a model
exported either way gets the same canonical graph (docs/method.md "Exporter invariance").
They are registered for hnn's own TorchScript exports only, where the exporter has none
(:func:`hnn_tf.converters.pytorch._missing_symbolics`), and removed afterwards.

- ``aten::rms_norm`` (timm's ViTs with ``norm_layer=RmsNorm`` through ``F.rms_norm``,
  DiffLlama): ``x * 1/sqrt(mean(x^2) + eps) * weight`` over the normalised axes, as PyTorch's
  decomposition writes it; the canonical graph fuses it into one RMS-norm layer.
- ``aten::expm1`` (Apertus's xIELU activation): ``Exp(x) - 1``, onnxscript's translation.
- ``aten::asinh``: ONNX ``Asinh``.
- ``aten::bitwise_and`` of boolean tensors (masks): ONNX ``And``; of integers from opset 18,
  ``BitwiseAnd`` (earlier opsets have no integer form: the export falls back to dynamo).
- ``aten::diff`` (Mimi's and Voxtral's padding arithmetic): the difference of two ``Slice``
  s along the axis, ``n`` times, after concatenating ``prepend`` and ``append``.

Source: ``torch.onnx.register_custom_op_symbolic`` (the symbolic's ``g.op`` API) and
``torch.onnx.symbolic_helper``; the ONNX operators' definitions in the ONNX operator
documentation (``Slice``, ``ReduceMean``, ``BitwiseAnd``).
"""

from __future__ import annotations

from typing import Any, Callable

#: ``Slice``'s end meaning "to the end of the axis".
_TO_END = 2 ** 63 - 1


def _const(g: Any, value: Any) -> Any:
    import torch

    return g.op("Constant", value_t=torch.tensor(value))


def _is_bool(value: Any) -> bool:
    try:
        return value.type().scalarType() == "Bool"
    except (AttributeError, RuntimeError):
        return False


def rms_norm(opset: int) -> Callable:
    """The symbolic of ``aten::rms_norm(input, normalized_shape, weight=None, eps=None)`` at
    ``opset``: over the last ``len(normalized_shape)`` axes, ``input * Reciprocal(Sqrt(
    ReduceMean(Pow(input, 2)) + eps)) * weight``; ``eps`` None is float32's machine epsilon
    (``torch.finfo(torch.float32).eps``, PyTorch's default). ReduceMean takes its axes as an
    attribute before opset 18 and as an input from it."""

    def symbolic(g: Any, x: Any, normalized_shape: Any, weight: Any, eps: Any) -> Any:
        import torch
        from torch.onnx import symbolic_helper as sh

        dims = sh._get_const(normalized_shape, "is", "normalized_shape")
        axes = list(range(-len(dims), 0))
        e = None if sh._is_none(eps) else sh._maybe_get_const(eps, "f")
        e = torch.finfo(torch.float32).eps if e is None else float(e)
        square = g.op("Pow", x, _const(g, 2.0))
        if opset >= 18:
            mean = g.op("ReduceMean", square, _const(g, axes), keepdims_i=1)
        else:
            mean = g.op("ReduceMean", square, axes_i=axes, keepdims_i=1)
        scale = g.op("Reciprocal", g.op("Sqrt", g.op("Add", mean, _const(g, e))))
        out = g.op("Mul", x, scale)
        return out if sh._is_none(weight) else g.op("Mul", out, weight)

    return symbolic


def expm1(opset: int) -> Callable:
    """The symbolic of ``aten::expm1(x)``: ``Sub(Exp(x), 1)``."""

    def symbolic(g: Any, x: Any) -> Any:
        return g.op("Sub", g.op("Exp", x), _const(g, 1.0))

    return symbolic


def asinh(opset: int) -> Callable:
    """The symbolic of ``aten::asinh(x)``: ONNX ``Asinh``."""

    def symbolic(g: Any, x: Any) -> Any:
        return g.op("Asinh", x)

    return symbolic


def bitwise_and(opset: int) -> Callable:
    """The symbolic of ``aten::bitwise_and(a, b)``: ``And`` of booleans; ``BitwiseAnd`` of
    integers from opset 18. Raises ``torch.onnx.errors.SymbolicValueError`` for integers
    before opset 18 (the exporter reports it, and the dynamo exporter is tried)."""

    def symbolic(g: Any, a: Any, b: Any) -> Any:
        from torch.onnx import errors

        if _is_bool(a) and _is_bool(b):
            return g.op("And", a, b)
        if opset >= 18:
            return g.op("BitwiseAnd", a, b)
        raise errors.SymbolicValueError("bitwise_and of integers needs ONNX opset 18 (BitwiseAnd)", a)

    return symbolic


def diff(opset: int) -> Callable:
    """The symbolic of ``aten::diff(x, n=1, dim=-1, prepend=None, append=None)``: ``prepend``,
    ``x`` and ``append`` concatenated along ``dim``, then ``n`` times ``Sub`` (``Xor`` for
    booleans) of its ``Slice`` from 1 to the end and its ``Slice`` from 0 to -1."""

    def symbolic(g: Any, x: Any, n: Any, dim: Any, prepend: Any, append: Any) -> Any:
        from torch.onnx import symbolic_helper as sh

        times = sh._get_const(n, "i", "n")
        axis = sh._get_const(dim, "i", "dim")
        parts = [p for p in (prepend, x, append) if p is x or not sh._is_none(p)]
        out = parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis_i=axis)
        boolean = _is_bool(x)
        for _ in range(times):
            upper = g.op("Slice", out, _const(g, [1]), _const(g, [_TO_END]), _const(g, [axis]))
            lower = g.op("Slice", out, _const(g, [0]), _const(g, [-1]), _const(g, [axis]))
            out = g.op("Xor" if boolean else "Sub", upper, lower)
        return out

    return symbolic


#: Operator -> the function that makes its symbolic for an opset (see the module doc).
MISSING_SYMBOLICS: dict[str, Callable[[int], Callable]] = {
    "aten::rms_norm": rms_norm,
    "aten::expm1": expm1,
    "aten::asinh": asinh,
    "aten::bitwise_and": bitwise_and,
    "aten::diff": diff,
}
