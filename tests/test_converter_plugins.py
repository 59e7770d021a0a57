"""Converter plugins: other packages add frameworks through the entry-point group ``hnn.converters``."""

from __future__ import annotations

import sys
import textwrap

import pytest

import hnn_tf.converters as converters
from hnn_tf.converters import detect_framework, to_onnx
from hnn_tf.converters.registry import PLUGIN_GROUP
from hnn_tf.graph import build_graph


# --------------------------------------------------------------------------- plugins

PLUGIN = '''
"""hnn converter plugin for ".demonet" files: one line "DEMONET <channels>", read as x -> Conv -> Relu."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from hnn_tf.converters import Converter


class DemoNetConverter(Converter):
    name = "demonet"
    suffixes = (".demonet",)
    options = frozenset({"opset"})

    def accepts_file(self, info):
        return info.head.startswith(b"DEMONET")

    def convert(self, path, **options):
        channels = int(open(path).read().split()[1])
        w = numpy_helper.from_array(np.zeros((channels, 3, 3, 3), np.float32), "w")
        nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                 helper.make_node("Relu", ["c"], ["y"])]
        graph = helper.make_graph(nodes, "demonet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", options.get("opset") or 17)])
'''


def _install_plugin(root, module: str, value: str, source: str | None) -> None:
    """A distribution on ``root`` (as pip would leave it): module + dist-info with the entry point."""
    if source is not None:
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{PLUGIN_GROUP}]\n{value}\n")


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """sys.path gains tmp_path for the test; the plugin's module and converter are removed after."""
    before = set(converters.available_frameworks())  # installed plugins loaded before the test's
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in set(converters.available_frameworks()) - before:
        converters.unregister(name)
    for mod in [m for m in sys.modules if m.startswith("hnn_demo")]:
        del sys.modules[mod]


def test_plugin_adds_a_framework(plugin_path):
    _install_plugin(plugin_path, "hnn_demo_plugin", "demonet = hnn_demo_plugin:DemoNetConverter", PLUGIN)
    model = plugin_path / "tiny.model"
    model.write_text("DEMONET 16\n")
    assert converters.load_plugins(force=True) == ["demonet"]
    assert "demonet" in converters.available_frameworks()
    assert detect_framework(model) == "demonet"
    g = build_graph(to_onnx(model), canonical=True)
    assert g.ops == ["Conv", "Relu"] and g.params.tolist() == [16 * 27 + 16, 0]

    from hnn_tf.hashing import analyse_model

    report = analyse_model(str(model))
    assert report.framework == "demonet" and report.hash.bits == 64


def test_broken_plugin_warns_and_the_rest_works(plugin_path):
    _install_plugin(plugin_path, "hnn_demo_broken", "broken = hnn_demo_broken_missing:Converter", None)
    with pytest.warns(RuntimeWarning, match="plugin 'broken'"):
        assert converters.load_plugins(force=True) == []
    assert "pytorch" in converters.available_frameworks()
