"""Shared fixtures: small exported models, built once per test session."""

from __future__ import annotations

import hnn_tf  # noqa: F401  (sets TensorFlow's environment and loads Triton before TensorFlow)
import pytest


@pytest.fixture(scope="session")
def resnet18_onnx():
    """torchvision resnet18 (weights=None) exported with BatchNormalization and its weights kept."""
    from hnn_tf.converters import to_onnx
    from hnn_tf.zoo.models import build_torch_model

    return to_onnx(build_torch_model("resnet18"), framework="pytorch", input_shape=(1, 3, 224, 224),
                   keep_weights=True)


@pytest.fixture(scope="session")
def resnet18_onnx_file(tmp_path_factory, resnet18_onnx):
    """resnet18's ONNX model saved to a file."""
    import onnx

    path = tmp_path_factory.mktemp("models") / "resnet18.onnx"
    onnx.save(resnet18_onnx, str(path))
    return path
