"""Shared fixtures: small exported models, built once per test session, and synthetic zoo families."""

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


#: The synthetic families' op patterns: family f is a chain of blocks of pattern f.
FAMILY_PATTERNS = [["Conv", "Relu"], ["Gemm", "Gelu", "LayerNormalization"], ["Conv", "BatchNormalization", "Sigmoid"],
                   ["MatMul", "Softmax", "MatMul"], ["LSTM", "Tanh"], ["Conv", "HardSwish", "GlobalAveragePool"]]


@pytest.fixture(scope="session")
def family_items():
    """A factory of synthetic broad-zoo items (:class:`hnn_tf.zoo.generalisation.Item`), small
    enough to train on in seconds, with an outcome known in advance: ``make(families=6,
    depths=(12, 16, 24, 36), source=lambda f: "syn")`` gives, for each family f (``"f<f>"``) and
    depth d, a chain of d blocks of :data:`FAMILY_PATTERNS` [f] keyed ``syn:f<f>-<d>``."""
    from hnn_tf.graph.layer_graph import LayerGraph
    from hnn_tf.zoo.generalisation import Item

    def make(families=6, depths=(12, 16, 24, 36), source=lambda f: "syn"):
        out = []
        for f in range(families):
            for d in depths:
                ops = [op for _ in range(d) for op in FAMILY_PATTERNS[f]]
                n = len(ops)
                g = LayerGraph(ops=ops, flops=[1000 * (i + 1) for i in range(n)], params=[10] * n,
                               edges=[(i, i + 1) for i in range(n - 1)])
                out.append(Item(f"syn:f{f}-{d}", f"f{f}", source(f), g))
        return out

    return make
