"""Model converters: any supported model object or file -> ``onnx.ModelProto``.

First step of the hnn flow (docs/design.md "The flow"): :func:`to_onnx` picks a converter from
the registry (:mod:`hnn_tf.converters.registry`) by the object's classes or the file's
contents and suffix, and runs it. Built-in converters:

- ``pytorch`` (:mod:`hnn_tf.converters.pytorch`): ``nn.Module``, ``ExportedProgram``,
  ``.pt``/``.pth`` (TorchScript; pickled modules only with ``trust_pickle=True``), ``.pt2``.
- ``keras`` (:mod:`hnn_tf.converters.keras_tf`): Keras 3 and tf_keras models, ``.keras``, ``.h5``
  (weights left out by default: :mod:`hnn_tf.converters.tf_graph`).
- ``saved_model`` (:mod:`hnn_tf.converters.saved_model`): TensorFlow SavedModel directories, loaded
  SavedModels and concrete functions.
- ``tflite`` (:mod:`hnn_tf.converters.tflite`): ``.tflite`` files.
- ``jax`` (:mod:`hnn_tf.converters.jax_flax`): Flax NNX and Equinox modules, JAX functions.
- ``onnx`` (:mod:`hnn_tf.converters.onnx_file`): ``onnx.ModelProto`` and ``.onnx`` files.
- ``transformers`` (:mod:`hnn_tf.converters.transformers_hf`): ``PreTrainedModel`` objects and
  local folders with a transformers ``config.json`` (no code from the folder runs without ``trust``).

Other packages add frameworks through the entry-point group ``hnn.converters``
(:func:`load_plugins`, loaded on first use; see README "Converters").

Importing this package imports no framework (torch, tensorflow, jax); each converter
imports its framework when it is used.
"""

from __future__ import annotations

from .registry import (
    Converter,
    FileInfo,
    available_frameworks,
    detect_framework,
    get_converter,
    load_plugins,
    register,
    to_onnx,
    unregister,
)

# Built-in converters register themselves on import; the order is the detection order.
from . import onnx_file as _onnx_file  # noqa: E402,F401
from . import transformers_hf as _transformers_hf  # noqa: E402,F401  # before pytorch: PreTrainedModel is a Module
from . import pytorch as _pytorch  # noqa: E402,F401
from . import keras_tf as _keras_tf  # noqa: E402,F401
from . import saved_model as _saved_model  # noqa: E402,F401
from . import tflite as _tflite  # noqa: E402,F401
from . import jax_flax as _jax_flax  # noqa: E402,F401

__all__ = [
    "Converter",
    "FileInfo",
    "available_frameworks",
    "detect_framework",
    "get_converter",
    "load_plugins",
    "register",
    "to_onnx",
    "unregister",
]
