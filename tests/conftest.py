"""Shared fixtures: small exported models, built once per test session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import hnn_tf  # noqa: E402,F401  (loads Triton before TensorFlow; see hnn_tf/__init__.py)
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def resnet18_onnx():
    """torchvision resnet18 (weights=None) exported with BatchNormalization kept."""
    from hnn_tf.converters import to_onnx
    from hnn_tf.zoo.models import build_torch_model

    return to_onnx(build_torch_model("resnet18"), framework="pytorch", input_shape=(1, 3, 224, 224))


@pytest.fixture(scope="session")
def resnet18_onnx_file(tmp_path_factory, resnet18_onnx):
    """resnet18's ONNX model saved to a file."""
    import onnx

    path = tmp_path_factory.mktemp("models") / "resnet18.onnx"
    onnx.save(resnet18_onnx, str(path))
    return path
