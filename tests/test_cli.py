"""The `hnn` command and the hash_model API with the shipped hasher."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
from click.testing import CliRunner

import hnn_tf
from hnn_tf.cli import main
from hnn_tf.hasher import shipped_hasher_dir



def _run(*args):
    result = CliRunner().invoke(main, list(map(str, args)))
    return result


def test_shipped_hasher_is_installed():
    folder = shipped_hasher_dir(64)
    assert (folder / "config.json").is_file() and (folder / "weights.h5").is_file()


def test_hash_is_16_hex_digits_and_stable(resnet18_onnx_file):
    first = _run("hash", resnet18_onnx_file)
    second = _run("hash", resnet18_onnx_file)
    assert first.exit_code == 0, first.output
    code = first.output.strip()
    assert len(code) == 16 and int(code, 16) >= 0
    assert second.output.strip() == code


def test_hash_json_fields(resnet18_onnx_file):
    result = _run("hash", "--json", resnet18_onnx_file)
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert set(info) >= {"path", "framework", "bits", "hash", "nodes", "flops", "params", "hasher_version"}
    from hnn_tf.graph import build_graph
    from hnn_tf.hashing import load_hasher

    variant = load_hasher(64).config.variant
    graph = build_graph(onnx.load(str(resnet18_onnx_file)), merge=variant != "raw", canonical=variant == "canonical")
    assert info["framework"] == "onnx" and info["bits"] == 64
    assert info["params"] == int(graph.params.sum()) and info["nodes"] == graph.num_nodes
    assert info["hasher_version"] == hnn_tf.hash_model(str(resnet18_onnx_file)).hasher_version


def test_module_and_its_onnx_file_hash_alike(resnet18_onnx_file):
    from hnn_tf.zoo.models import build_torch_model

    h_file = hnn_tf.hash_model(str(resnet18_onnx_file))
    h_module = hnn_tf.hash_model(build_torch_model("resnet18"))
    assert h_file - h_module == 0
    assert _run("compare", resnet18_onnx_file, resnet18_onnx_file).output.strip() == "0"


def test_different_architectures_get_different_codes(resnet18_onnx_file):
    from hnn_tf.zoo.models import build_torch_model

    h_resnet = hnn_tf.hash_model(str(resnet18_onnx_file))
    h_squeeze = hnn_tf.hash_model(build_torch_model("squeezenet1_0"))
    assert h_resnet - h_squeeze > 0


def test_keras_and_pt2_files_hash(tmp_path):
    import keras
    import torch

    km = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)])
    km.save(tmp_path / "small.keras")

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4)).eval()
    torch.export.save(torch.export.export(net, (torch.zeros(1, 3, 32, 32),)), tmp_path / "small.pt2")
    result = _run("hash", tmp_path / "small.keras", tmp_path / "small.pt2")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[0].endswith("small.keras") and lines[1].endswith("small.pt2")
    assert all(len(line.split()[0]) == 16 for line in lines)


@pytest.mark.parametrize("content", [b"not a model at all", b"\x08\x07garbage-protobuf"])
def test_corrupt_file_exits_2_with_one_line(tmp_path, content):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "hnn_tf.cli", "hash", str(bad)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "corrupt.onnx" in lines[0] and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_missing_file_exits_2(tmp_path):
    result = _run("hash", tmp_path / "nope.onnx")
    assert result.exit_code == 2
    assert "nope.onnx" in result.output and "no such file" in result.output


def test_closed_stdout_is_not_reported_as_an_error(resnet18_onnx_file):
    """``hnn hash ... | head -0``: the reader is gone before the first line; no error line, no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "hnn_tf.cli", "hash", "--hasher", "wl", str(resnet18_onnx_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1
    assert "error" not in stderr and "Traceback" not in stderr, stderr
