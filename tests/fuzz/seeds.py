"""Small valid model files of every format hnn reads: the seeds the fuzz generator mutates.

Built at test time (no file is committed): a small CNN exported to ONNX, ``.pt2``,
TorchScript and ``torch.save`` (state_dict and pickled module), a Keras 3 ``.keras``, a
tf_keras ``.h5``, a ``.tflite`` conversion, and hand-written ONNX graphs with control flow
(``If``), a custom-domain op and external data. Each is a few kilobytes.
"""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["build_seeds"]


def _torch_seeds(out: Path) -> dict[str, Path]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    x = torch.zeros(1, 3, 8, 8)
    seeds = {}
    from hnn_tf.converters import to_onnx
    import onnx

    seeds["cnn.onnx"] = out / "cnn.onnx"
    onnx.save(to_onnx(model, input_shape=(1, 3, 8, 8)), str(seeds["cnn.onnx"]))
    seeds["cnn.pt2"] = out / "cnn.pt2"
    torch.export.save(torch.export.export(model, (x,)), str(seeds["cnn.pt2"]))
    seeds["cnn_script.pt"] = out / "cnn_script.pt"
    torch.jit.save(torch.jit.script(model), str(seeds["cnn_script.pt"]))
    seeds["cnn_state.pth"] = out / "cnn_state.pth"
    torch.save(model.state_dict(), str(seeds["cnn_state.pth"]))
    buf = io.BytesIO()
    torch.save(model, buf)
    seeds["cnn_module.pt"] = out / "cnn_module.pt"
    seeds["cnn_module.pt"].write_bytes(buf.getvalue())
    return seeds


def _onnx_seeds(out: Path) -> dict[str, Path]:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    x = helper.make_tensor_value_info("x", f, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", f, None)
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    then_g = helper.make_graph([helper.make_node("Relu", ["h"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", f, None)])
    else_g = helper.make_graph([helper.make_node("Sigmoid", ["h"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", f, None)])
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("If", ["c"], ["i"], then_branch=then_g, else_branch=else_g),
        helper.make_node("MaxPool", ["i"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("CustomThing", ["p"], ["q"], domain="com.example"),
        helper.make_node("Flatten", ["q"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "handwritten", [x, cond], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    seeds = {"handwritten.onnx": out / "handwritten.onnx"}
    onnx.save(model, str(seeds["handwritten.onnx"]))
    # a weight stored as external data that does not exist next to the file: never read
    ext = onnx.ModelProto()
    ext.CopyFrom(model)
    t = ext.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="/etc/passwd")
    seeds["external.onnx"] = out / "external.onnx"
    onnx.save(ext, str(seeds["external.onnx"]))
    return seeds


def _keras_seeds(out: Path) -> dict[str, Path]:
    from hnn_tf._tf import import_tensorflow

    import_tensorflow()
    import keras
    import tf_keras

    seeds = {}
    for name, k in (("small.keras", keras), ("small.h5", tf_keras)):
        inp = k.Input((8, 8, 3))
        h = k.layers.Conv2D(4, 3, activation="relu")(inp)
        h = k.layers.GlobalAveragePooling2D()(h)
        model = k.Model(inp, k.layers.Dense(2)(h))
        seeds[name] = out / name
        model.save(str(seeds[name]))
    return seeds


def _tflite_seed(out: Path) -> dict[str, Path]:
    from hnn_tf._tf import import_tensorflow, quiet_native_output

    tf = import_tensorflow()
    import tf_keras

    inp = tf_keras.Input((8, 8, 3), batch_size=1)
    h = tf_keras.layers.Conv2D(4, 3, activation="relu")(inp)
    model = tf_keras.Model(inp, tf_keras.layers.Dense(2)(tf_keras.layers.Flatten()(h)))
    with quiet_native_output():
        data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path = out / "small.tflite"
    path.write_bytes(data)
    return {"small.tflite": path}


def build_seeds(out: Path) -> dict[str, Path]:
    """Write the seed files into ``out`` (created) and return them by name.

    Returns:
        dict file name -> path: ``cnn.onnx``, ``cnn.pt2``, ``cnn_script.pt``,
        ``cnn_state.pth``, ``cnn_module.pt``, ``handwritten.onnx``, ``external.onnx``,
        ``small.keras``, ``small.h5``, ``small.tflite``.
    """
    out.mkdir(parents=True, exist_ok=True)
    seeds: dict[str, Path] = {}
    seeds.update(_torch_seeds(out))
    seeds.update(_onnx_seeds(out))
    seeds.update(_keras_seeds(out))
    seeds.update(_tflite_seed(out))
    return seeds
