"""Deployment variants of one ONNX model: quantized, half precision, optimised.

What people share is rarely the float export itself: a model is quantized with
onnxruntime (dynamic int8, static QDQ, static QOperator), converted to float16
(onnxconverter-common), or simplified (onnxsim, onnxslim, onnxruntime's ``quant_pre_process``).
Each is the same architecture, and the canonical graph must read it so
(docs/method.md "Exporter invariance"): the precision rules (:mod:`hnn_tf.graph.rules`,
set ``precision``) see through quantization and casts, the layout rules through what
optimisers fold. This module makes the variants, for the tests, ``bench/equivalence.py`` and
the evaluation's known-family variants.

Each function takes an ``onnx.ModelProto`` whose weights are stored (quantizers read them;
export with ``keep_weights=True``) and returns a new ``onnx.ModelProto``. Work files go to a
private temporary folder that is removed afterwards; the onnxruntime tools run with that
folder as the working directory (``quant_pre_process`` saves files into it when its symbolic
shape inference is incomplete), so these functions are not for threads sharing a cwd. Sources: the libraries named per variant.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx

from hnn_tf.converters.registry import exception_summary
from hnn_tf.errors import ConversionError

#: Static quantization calibrates on this many seeded random batches.
CALIBRATION_BATCHES = 2


def _feeds(model: onnx.ModelProto, seed: int) -> dict[str, np.ndarray]:
    """One batch for the model's data inputs: standard normal floats, zeros for integer inputs;
    unknown dimensions are 1."""
    rng = np.random.default_rng(seed)
    stored = {t.name for t in model.graph.initializer}
    out = {}
    for vi in model.graph.input:
        if vi.name in stored:
            continue
        t = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in t.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        out[vi.name] = (rng.standard_normal(shape).astype(dtype) if np.issubdtype(dtype, np.floating)
                        else np.zeros(shape, dtype))
    return out


def _in_folder(fn: Callable[[Path, Path], None], model: onnx.ModelProto, what: str) -> onnx.ModelProto:
    """Save ``model`` to a private folder, run ``fn(source, target)``, load the target."""
    with tempfile.TemporaryDirectory(prefix="hnn-variant-") as d:
        src, dst = Path(d) / "model.onnx", Path(d) / "variant.onnx"
        onnx.save(model, str(src))
        try:
            with contextlib.chdir(d):  # onnxruntime's shape inference saves work files into the cwd
                fn(src, dst)
            return onnx.load(str(dst))
        except Exception as exc:  # noqa: BLE001 - any library error is this variant's failure
            raise ConversionError(f"{what} failed ({exception_summary(exc)})") from None


def quantize_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's dynamic int8 quantization (``quantize_dynamic``, weights QInt8): MatMul and
    Conv become MatMulInteger/ConvInteger after a DynamicQuantizeLinear.

    Raises:
        hnn_tf.errors.ConversionError: onnxruntime refused the model.
    """
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as qd

    return _in_folder(lambda s, t: qd(str(s), str(t), weight_type=QuantType.QInt8), model, "dynamic quantization")


def _static(model: onnx.ModelProto, fmt: str) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([_feeds(model, k) for k in range(CALIBRATION_BATCHES)])

        def get_next(self):
            return next(self.batches, None)

    return _in_folder(lambda s, t: quantize_static(str(s), str(t), Reader(), quant_format=getattr(QuantFormat, fmt),
                                                   per_channel=False), model, f"static {fmt} quantization")


def quantize_qdq(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's static quantization in QDQ format (QuantizeLinear/DequantizeLinear around
    float ops), calibrated on :data:`CALIBRATION_BATCHES` seeded random batches.

    Raises:
        hnn_tf.errors.ConversionError: onnxruntime refused the model.
    """
    return _static(model, "QDQ")


def quantize_qoperator(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's static quantization in QOperator format (QLinearConv, QLinearMatMul, ...).

    Raises:
        hnn_tf.errors.ConversionError: onnxruntime refused the model.
    """
    return _static(model, "QOperator")


def pre_process(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's ``quant_pre_process`` (symbolic shape inference, graph optimisation), the
    step its docs advise before quantizing.

    Raises:
        hnn_tf.errors.ConversionError: onnxruntime refused the model.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    return _in_folder(lambda s, t: quant_pre_process(str(s), str(t)), model, "quant_pre_process")


def float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxconverter-common's ``convert_float_to_float16`` (inputs and outputs stay float32).

    Raises:
        hnn_tf.errors.ConversionError: the converter failed.
    """
    from onnxconverter_common import float16 as f16

    try:
        return f16.convert_float_to_float16(model, keep_io_types=True)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"float16 conversion failed ({exception_summary(exc)})") from None


def onnxsim(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnx-simplifier's ``simplify`` (constant folding, dead code, fusions).

    Raises:
        hnn_tf.errors.ConversionError: it failed or could not check its result.
    """
    import onnxsim as sim

    try:
        out, ok = sim.simplify(model)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"onnxsim failed ({exception_summary(exc)})") from None
    if not ok:
        raise ConversionError("onnxsim could not check its simplified model")
    return out


def onnxslim(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxslim's ``slim`` (constant folding, pattern fusions, dead code).

    Raises:
        hnn_tf.errors.ConversionError: it failed.
    """
    import onnxslim as slim

    try:
        return slim.slim(model)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"onnxslim failed ({exception_summary(exc)})") from None


#: Variant name -> function, in the order the reports print them.
VARIANTS: dict[str, Callable[[Any], Any]] = {
    "pre_process": pre_process,
    "dynamic": quantize_dynamic,
    "qdq": quantize_qdq,
    "qoperator": quantize_qoperator,
    "fp16": float16,
    "onnxsim": onnxsim,
    "onnxslim": onnxslim,
}


def make_variant(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """The variant ``name`` (a key of :data:`VARIANTS`) of ``model``.

    Raises:
        hnn_tf.errors.HNNError: unknown variant name.
        hnn_tf.errors.ConversionError: the tool failed on this model.
    """
    from hnn_tf.errors import HNNError

    try:
        fn = VARIANTS[name]
    except KeyError:
        raise HNNError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}") from None
    return fn(model)
