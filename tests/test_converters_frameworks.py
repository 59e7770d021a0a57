"""Tests of the TFLite, SavedModel and JAX converters and of weight-free TensorFlow conversion."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from hnn_tf.converters import detect_framework, to_onnx
from hnn_tf.errors import ConversionError
from hnn_tf.graph import build_graph


def _tf():
    from hnn_tf._tf import import_tensorflow

    return import_tensorflow()


def small_keras(k, bn: bool = True):
    inp = k.Input((32, 32, 3))
    x = k.layers.Conv2D(8, 3, padding="same", use_bias=not bn)(inp)
    if bn:
        x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(4)(x))


CANONICAL_SMALL = ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]


# --------------------------------------------------------------------------- weights left out


def test_keras_weights_become_constant_of_shape():
    _tf()
    import keras

    model = small_keras(keras)
    proto = to_onnx(model)
    onnx.checker.check_model(proto)
    assert not any(t.dims and int(np.prod(t.dims)) > 64 for t in proto.graph.initializer)  # no weight data
    assert "ConstantOfShape" in {n.op_type for n in proto.graph.node}
    (inp,) = proto.graph.input  # the weights are not graph inputs
    g = build_graph(proto, canonical=True)
    assert g.ops == CANONICAL_SMALL
    # parameters are counted from the shapes: Conv 3x3x3x8 + bias 8, Dense 8x4 + 4
    assert g.params.tolist() == [3 * 3 * 3 * 8 + 8, 0, 0, 0, 8 * 4 + 4]
    full = to_onnx(model, keep_weights=True)
    assert any(int(np.prod(t.dims)) == 3 * 3 * 3 * 8 for t in full.graph.initializer)
    kept = build_graph(full, canonical=True)
    assert kept.ops == g.ops and kept.params.tolist() == g.params.tolist() and kept.flops.tolist() == g.flops.tolist()


def test_weights_to_constant_of_shape():
    from hnn_tf.converters.tf_graph import weights_to_constant_of_shape

    nodes = [
        helper.make_node("Transpose", ["kernel"], ["w"], perm=[3, 2, 0, 1]),  # HWIO -> OIHW, weights only
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
        helper.make_node("Mul", ["c", "scale"], ["y"]),
    ]
    g = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8]),
        helper.make_tensor_value_info("kernel", TensorProto.FLOAT, [3, 3, 3, 4]),
        helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1, 4, 1, 1]),
    ], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])])
    m = weights_to_constant_of_shape(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                                     {"kernel", "scale"})
    onnx.checker.check_model(m)
    assert [i.name for i in m.graph.input] == ["x"]
    assert [n.op_type for n in m.graph.node] == ["ConstantOfShape", "ConstantOfShape", "Conv", "Mul"]
    layers = build_graph(m)
    assert layers.ops == ["Conv", "Mul"] and layers.params.tolist() == [4 * 3 * 3 * 3, 4]


def test_a_weight_tensor_read_inside_a_loop_body_is_kept():
    """A Loop body that reads a weight-derived tensor of the enclosing graph by name (Kimi
    K2.5's position table, flattened outside its Loop) gets it as a ConstantOfShape; before,
    only listed inputs counted as reads and the export lost the tensor."""
    from hnn_tf.converters.tf_graph import weights_to_constant_of_shape

    body = helper.make_graph(
        [helper.make_node("Gather", ["table", "i"], ["row"], axis=0),
         helper.make_node("Add", ["acc", "row"], ["acc_out"]),
         helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [4])])
    nodes = [helper.make_node("Flatten", ["pos"], ["table"], axis=1),  # weights only
             helper.make_node("Loop", ["trips", "", "x"], ["y"], body=body)]
    trips = helper.make_tensor("trips", TensorProto.INT64, [], [3])
    g = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
        helper.make_tensor_value_info("pos", TensorProto.FLOAT, [3, 2, 2]),
    ], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], initializer=[trips])
    m = weights_to_constant_of_shape(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), {"pos"})
    onnx.checker.check_model(m, full_check=True)
    made = {o for n in m.graph.node for o in n.output}
    assert "table" in made and [i.name for i in m.graph.input] == ["x"]


# --------------------------------------------------------------------------- TFLite


def tflite_bytes(model) -> bytes:
    tf = _tf()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def test_tflite_file_by_suffix_and_contents(tmp_path):
    _tf()
    import tf_keras

    model = small_keras(tf_keras)
    path = tmp_path / "net.tflite"
    path.write_bytes(tflite_bytes(model))
    renamed = tmp_path / "net.bin"
    renamed.write_bytes(path.read_bytes())
    assert detect_framework(path) == "tflite" and detect_framework(renamed) == "tflite"
    a, b = build_graph(to_onnx(path), canonical=True), build_graph(to_onnx(renamed), canonical=True)
    assert a.ops == b.ops == CANONICAL_SMALL
    assert a.params.tolist() == build_graph(to_onnx(model), canonical=True).params.tolist()


def test_corrupt_tflite(tmp_path):
    path = tmp_path / "broken.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40)
    with pytest.raises(ConversionError) as err:
        to_onnx(path)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- SavedModel


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """A tf_keras and a Keras 3 SavedModel of the same small network, and its canonical graph."""
    tf = _tf()
    import keras
    import tf_keras

    root = tmp_path_factory.mktemp("saved")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf.saved_model.save(small_keras(tf_keras), str(root / "tf_keras"))
        small_keras(keras).export(str(root / "keras3"), format="tf_saved_model", verbose=False)
    return root / "tf_keras", root / "keras3"


def test_saved_model_directories(saved_models):
    expected = build_graph(to_onnx(small_keras(__import__("keras"))), canonical=True)
    for folder in saved_models:
        assert detect_framework(folder) == "saved_model"
        with pytest.raises(ConversionError, match="refused: loading a SavedModel runs its graphs"):
            to_onnx(folder)  # a SavedModel's graphs run as it loads: only with trust
        proto = to_onnx(folder, trust=True)
        onnx.checker.check_model(proto)
        g = build_graph(proto, canonical=True)
        assert g.ops == CANONICAL_SMALL
        assert g.params.tolist() == expected.params.tolist() and g.flops.tolist() == expected.flops.tolist()


def test_saved_model_objects_and_options(saved_models):
    tf = _tf()
    folder = saved_models[0]
    loaded = tf.saved_model.load(str(folder))
    assert detect_framework(loaded) == "saved_model"
    assert build_graph(to_onnx(loaded), canonical=True).ops == CANONICAL_SMALL
    fn = loaded.signatures["serving_default"]
    assert detect_framework(fn) == "saved_model"
    assert build_graph(to_onnx(fn), canonical=True).ops == CANONICAL_SMALL
    with pytest.raises(ConversionError, match="input_shape"):
        to_onnx(fn, input_shape=(1, 64, 64, 3))  # the signature fixes 32 x 32
    with pytest.raises(ConversionError, match="no signature 'nope'") as err:
        to_onnx(folder, signature="nope", trust=True)
    assert str(folder) in str(err.value)


def test_concrete_function_with_unknown_sizes():
    tf = _tf()
    import tf_keras

    net = tf_keras.Sequential([tf_keras.Input((None, None, 3)), tf_keras.layers.Conv2D(4, 3),
                               tf_keras.layers.GlobalAveragePooling2D()])
    cf = tf.function(lambda x: net(x)).get_concrete_function(tf.TensorSpec((None, None, None, 3)))
    assert detect_framework(cf) == "saved_model"
    default = build_graph(to_onnx(cf), canonical=True)  # batch 1, unknown sizes 224
    small = build_graph(to_onnx(cf, input_shape=(1, 64, 64, 3)), canonical=True)
    assert default.ops == small.ops == ["Conv", "GlobalAveragePool", "Flatten"]
    per_pixel = 2 * 3 * 3 * 3 * 4
    assert default.flops[0] == per_pixel * 222 * 222 and small.flops[0] == per_pixel * 62 * 62


def test_directories_that_are_not_saved_models(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(ConversionError, match="SavedModel") as err:
        to_onnx(tmp_path)
    assert str(tmp_path) in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConversionError, match="directory") as err:
        detect_framework(empty)
    assert str(empty) in str(err.value)


# --------------------------------------------------------------------------- JAX


@pytest.fixture(scope="module")
def flax_cnn():
    from flax import nnx

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.conv = nnx.Conv(3, 8, (3, 3), rngs=rngs)
            self.bn = nnx.BatchNorm(8, use_running_average=True, rngs=rngs)
            self.fc = nnx.Linear(8, 4, rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.bn(self.conv(x)))
            return self.fc(x.mean(axis=(1, 2)))

    return CNN(nnx.Rngs(0))


def test_flax_module(flax_cnn):
    assert detect_framework(flax_cnn) == "jax"
    proto = to_onnx(flax_cnn, input_shape=(1, 32, 32, 3))
    (inp,) = proto.graph.input
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 32, 32, 3]
    g = build_graph(proto, canonical=True)
    assert g.ops == CANONICAL_SMALL  # NHWC Transposes dropped, BatchNorm folded, mean -> global pool
    assert g.params.tolist() == [3 * 3 * 3 * 8 + 8, 0, 0, 0, 8 * 4 + 4]
    # the same network in Keras gives the same canonical graph
    keras_graph = build_graph(to_onnx(small_keras(__import__("keras"))), canonical=True)
    assert g.flops.tolist() == keras_graph.flops.tolist() and g.edges.tolist() == keras_graph.edges.tolist()


def test_jax_function_and_errors(tmp_path):
    import jax
    import jax.numpy as jnp

    w = jnp.ones((16, 4))

    def mlp(x):
        return jax.nn.relu(x @ w)

    with pytest.raises(ConversionError, match="unsupported model object"):
        detect_framework(mlp)  # a plain function is not recognised: name the framework
    g = build_graph(to_onnx(mlp, framework="jax", input_shape=(1, 16)), canonical=True)
    assert g.ops == ["Gemm", "Relu"] and g.params.tolist() == [16 * 4 + 4, 0]
    with pytest.raises(ConversionError, match="input_shape"):
        to_onnx(mlp, framework="jax", input_shape=(1, 3))
    path = tmp_path / "params.msgpack"
    path.write_bytes(b"\x00")
    with pytest.raises(ConversionError, match="no model file format") as err:
        to_onnx(path, framework="jax")
    assert str(path) in str(err.value)

@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_keras_recurrent_model(flavour):
    """An LSTM reads its weights inside a loop: tf2onnx's freezing route is the fallback (tf_keras),
    and the graph builder follows the loop body's reads of the sequence (Keras 3's Loop)."""
    _tf()
    k = __import__(flavour)
    model = k.Sequential([k.Input((10, 4)), k.layers.LSTM(6), k.layers.Dense(2)])
    g = build_graph(to_onnx(model), canonical=True)
    assert {"LSTM", "Loop"} & set(g.ops) and g.ops[-1] == "Gemm"
    recurrent = [i for i, op in enumerate(g.ops) if op in ("LSTM", "Loop")][0]
    assert g.params[recurrent] >= 4 * 6 * (4 + 6)  # the LSTM's kernels at least
    import networkx as nx

    assert nx.has_path(g.to_networkx(), recurrent, len(g.ops) - 1)
