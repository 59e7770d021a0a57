"""Tests of converters/: framework detection, PyTorch / Keras / ONNX conversion, refusals."""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
import pytest
import torch
import torchvision

import hnn_tf.converters as converters
from hnn_tf.converters import detect_framework, to_onnx
from hnn_tf.converters.pytorch import default_input_shape
from hnn_tf.errors import ConversionError
from hnn_tf.graph import build_graph

REPO = Path(__file__).resolve().parents[1]

# saving .h5 files on purpose: the legacy-format notice is expected
pytestmark = pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")


def op_counts(model: onnx.ModelProto) -> collections.Counter:
    return collections.Counter(node.op_type for node in model.graph.node)


class SmallCNN(torch.nn.Module):
    """Conv-BN-ReLU, global average pool, linear: 5 layers. Module level so pickles can find it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.drop = torch.nn.Dropout(0.5)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(self.drop(x.mean(dim=(2, 3))))


SMALL_SHAPE = (1, 3, 32, 32)


def assert_small_cnn_graph(model: onnx.ModelProto) -> None:
    ops = op_counts(model)
    assert ops["Conv"] == 1
    assert ops["BatchNormalization"] == 1
    assert ops["Relu"] == 1
    assert ops["Gemm"] == 1
    assert "Dropout" not in ops  # exported in eval mode
    (bn,) = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
    assert len(bn.output) == 1  # inference form, not training_mode outputs
    onnx.checker.check_model(model)


# --------------------------------------------------------------------------- PyTorch objects


@pytest.fixture(scope="module")
def resnet18():
    return torchvision.models.resnet18(weights=None)


@pytest.fixture(scope="module")
def resnet18_proto(resnet18):
    return to_onnx(resnet18)


def test_resnet18_keeps_batchnorm(resnet18_proto):
    ops = op_counts(resnet18_proto)
    assert ops["Conv"] == 20
    assert ops["BatchNormalization"] == 20
    assert {"Relu", "Add", "Gemm", "MaxPool", "GlobalAveragePool"} <= set(ops)
    assert all(len(n.output) == 1 for n in resnet18_proto.graph.node if n.op_type == "BatchNormalization")
    assert resnet18_proto.opset_import[0].version == 17
    (inp,) = resnet18_proto.graph.input
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, 224, 224]
    onnx.checker.check_model(resnet18_proto)


def test_resnet18_weights_left_out_unless_kept(resnet18, resnet18_proto):
    # by default every parameter is a ConstantOfShape of its shape: no weight bytes are exported
    assert not any(int(np.prod(t.dims)) > 64 for t in resnet18_proto.graph.initializer)
    shapes = sorted(tuple(int(v) for v in numpy_helper.to_array(t).reshape(-1))
                    for n in resnet18_proto.graph.node if n.op_type == "ConstantOfShape"
                    for t in [next(i for i in resnet18_proto.graph.initializer if i.name == n.input[0])])
    assert sorted(tuple(p.shape) for p in resnet18.state_dict().values() if p.dim() > 0) == shapes
    kept = to_onnx(resnet18, keep_weights=True)
    init_sizes = sorted(int(np.prod(t.dims)) for t in kept.graph.initializer)
    for p in resnet18.parameters():
        assert p.numel() in init_sizes
    # the graph, its FLOPs and its parameter counts do not depend on the weights being there
    for canonical in (False, True):
        assert build_graph(kept, canonical=canonical).to_dict() == build_graph(resnet18_proto, canonical=canonical).to_dict()


def test_object_sha256_depends_on_weights():
    from hnn_tf.hashing import model_graph

    torch.manual_seed(0)
    a = SmallCNN().eval()
    torch.manual_seed(1)
    b = SmallCNN().eval()
    ga, gb = model_graph(a, "raw", input_shape=SMALL_SHAPE), model_graph(b, "raw", input_shape=SMALL_SHAPE)
    assert ga.graph.fingerprint() == gb.graph.fingerprint()
    assert ga.sha256 != gb.sha256
    assert model_graph(a, "raw", input_shape=SMALL_SHAPE).sha256 == ga.sha256


def test_training_flags_restored():
    model = SmallCNN().train()
    model.bn.eval()  # mixed flags must come back as they were
    to_onnx(model, input_shape=SMALL_SHAPE)
    assert model.training and model.conv.training and not model.bn.training


def test_opset_option():
    proto = to_onnx(SmallCNN(), input_shape=SMALL_SHAPE, opset=13)
    assert proto.opset_import[0].version == 13


def test_input_shape_option_and_export_failure():
    class Mlp(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(10, 2)

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(ConversionError, match="input_shape"):
        to_onnx(Mlp())  # default (1, 3, 224, 224) trigger input does not fit
    proto = to_onnx(Mlp(), input_shape=(1, 10))
    assert op_counts(proto)["Gemm"] == 1


def test_inception_default_input_shape():
    model = torchvision.models.Inception3(aux_logits=False, init_weights=False)
    assert default_input_shape(model) == (1, 3, 299, 299)
    assert default_input_shape(SmallCNN()) == (1, 3, 224, 224)


def test_inception_v3_exports_at_299():
    proto = to_onnx(torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False))
    (inp,) = proto.graph.input
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, 299, 299]
    assert op_counts(proto)["BatchNormalization"] == op_counts(proto)["Conv"]


def test_detect_framework_objects(resnet18, resnet18_proto):
    assert detect_framework(resnet18) == "pytorch"
    assert detect_framework(resnet18_proto) == "onnx"
    assert to_onnx(resnet18_proto) is resnet18_proto
    with pytest.raises(ConversionError, match="unsupported model object"):
        detect_framework(object())


def test_import_does_not_load_frameworks():
    code = (
        "import sys, hnn_tf.converters; "
        "loaded = [m for m in ('torch', 'tensorflow', 'keras', 'tf_keras', 'tf2onnx') if m in sys.modules]; "
        "assert not loaded, loaded; print(hnn_tf.converters.available_frameworks())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "'pytorch'" in out.stdout and "'keras'" in out.stdout and "'onnx'" in out.stdout


# --------------------------------------------------------------------------- PyTorch files


@pytest.mark.parametrize("train_mode", [False, True])
@pytest.mark.parametrize("decompose", [False, True])
def test_pt2_exported_program(tmp_path, train_mode, decompose):
    model = SmallCNN().train(train_mode)
    ep = torch.export.export(model, (torch.zeros(SMALL_SHAPE),))
    if decompose:
        ep = ep.run_decompositions()
    path = tmp_path / "small.pt2"
    torch.export.save(ep, str(path))
    assert detect_framework(path) == "pytorch"
    proto = to_onnx(path)
    assert_small_cnn_graph(proto)
    # the trigger input is the program's stored example input
    (inp,) = proto.graph.input
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == list(SMALL_SHAPE)


def test_exported_program_object():
    ep = torch.export.export(SmallCNN().eval(), (torch.zeros(SMALL_SHAPE),))
    assert detect_framework(ep) == "pytorch"
    assert_small_cnn_graph(to_onnx(ep))


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_file(tmp_path, how):
    model = SmallCNN().eval()
    if how == "script":
        scripted = torch.jit.script(model)
    else:
        scripted = torch.jit.trace(model, torch.zeros(SMALL_SHAPE))
    path = tmp_path / "small.pt"
    torch.jit.save(scripted, str(path))
    proto = to_onnx(path, input_shape=SMALL_SHAPE, trust=True)
    assert_small_cnn_graph(proto)


def test_torchscript_refused_unless_trusted(tmp_path):
    """A TorchScript archive holds code (forward, __setstate__): never loaded without trust."""
    path = tmp_path / "small.pt"
    torch.jit.save(torch.jit.script(SmallCNN().eval()), str(path))
    with pytest.raises(ConversionError, match="refused: a TorchScript archive holds code") as err:
        to_onnx(path, input_shape=SMALL_SHAPE)
    assert str(path) in str(err.value) and "--trust" in str(err.value)


def test_torchscript_detected_by_contents(tmp_path):
    path = tmp_path / "weights.bin"
    torch.jit.save(torch.jit.script(SmallCNN().eval()), str(path))
    assert detect_framework(path) == "pytorch"
    assert_small_cnn_graph(to_onnx(path, input_shape=SMALL_SHAPE, trust=True))


@pytest.mark.parametrize("zipfile_format", [True, False])
def test_state_dict_refused(tmp_path, zipfile_format):
    path = tmp_path / "weights.pth"
    torch.save(SmallCNN().state_dict(), str(path), _use_new_zipfile_serialization=zipfile_format)
    with pytest.raises(ConversionError) as err:
        to_onnx(path)
    assert str(path) in str(err.value)
    assert "only weights" in str(err.value) and "no architecture" in str(err.value)


def test_pickled_module_refused_unless_trusted(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(SmallCNN(), str(path))
    with pytest.raises(ConversionError) as err:
        to_onnx(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "unpickling runs code" in msg and "--trust" in msg
    assert_small_cnn_graph(to_onnx(path, trust=True, input_shape=SMALL_SHAPE))
    assert_small_cnn_graph(to_onnx(path, trust_pickle=True, input_shape=SMALL_SHAPE))


def test_corrupt_pt_file(tmp_path):
    good = tmp_path / "good.pt"
    torch.save(SmallCNN().state_dict(), str(good))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ConversionError, match="not a readable PyTorch file") as err:
        to_onnx(bad)
    assert str(bad) in str(err.value)


# --------------------------------------------------------------------------- Keras


def _small_keras_cnn(k):
    inp = k.Input((None, None, 3))
    x = k.layers.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(10)(x))


@pytest.fixture(scope="module", params=["keras", "tf_keras"])
def keras_cnn(request):
    import tensorflow  # noqa: F401  (after TF_USE_LEGACY_KERAS, set by converters)

    module = __import__(request.param)
    return request.param, _small_keras_cnn(module)


def assert_keras_cnn_graph(proto: onnx.ModelProto) -> None:
    ops = op_counts(proto)
    assert ops["Conv"] == 1
    assert ops["Relu"] == 1
    assert ops["GlobalAveragePool"] + ops["ReduceMean"] == 1  # ReduceMean: NHWC, weights left out
    assert ops["MatMul"] + ops["Gemm"] == 1
    (inp,) = proto.graph.input
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == [1, 224, 224, 3]  # batch 1, unknown sizes 224
    onnx.checker.check_model(proto)


def test_keras_flavours_are_real_modules(keras_cnn):
    flavour, model = keras_cnn
    root = type(model).__module__.split(".")[0]
    assert root == flavour
    assert converters.keras_tf.keras_flavour(model) == ("keras3" if flavour == "keras" else "tf_keras")


def test_keras_object(keras_cnn):
    _, model = keras_cnn
    assert detect_framework(model) == "keras"
    assert_keras_cnn_graph(to_onnx(model))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_files(tmp_path, keras_cnn, suffix):
    flavour, model = keras_cnn
    path = tmp_path / f"{flavour}{suffix}"
    model.save(str(path))
    assert detect_framework(path) == "keras"
    assert_keras_cnn_graph(to_onnx(path))


def test_keras_file_detected_by_contents(tmp_path, keras_cnn):
    flavour, model = keras_cnn
    saved = tmp_path / "model.keras"
    model.save(str(saved))
    renamed = tmp_path / "model.bin"
    shutil.copyfile(saved, renamed)
    assert detect_framework(renamed) == "keras"
    assert_keras_cnn_graph(to_onnx(renamed))


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_keras_sequential_object_and_file(tmp_path, flavour):
    import tensorflow  # noqa: F401  (after TF_USE_LEGACY_KERAS, set by converters)

    k = __import__(flavour)
    model = k.Sequential([k.Input((32, 32, 3)), k.layers.Conv2D(8, 3, activation="relu"),
                          k.layers.GlobalAveragePooling2D(), k.layers.Dense(4)])
    path = tmp_path / "seq.keras" if flavour == "keras" else tmp_path / "seq.h5"
    model.save(str(path))
    for source in (model, path):
        ops = op_counts(to_onnx(source))
        assert ops["Conv"] == 1 and ops["GlobalAveragePool"] == 1 and ops["MatMul"] + ops["Gemm"] == 1


def test_keras_input_shape_option(keras_cnn):
    _, model = keras_cnn
    proto = to_onnx(model, input_shape=(1, 64, 48, 3))
    (inp,) = proto.graph.input
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 64, 48, 3]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_lambda_refused(tmp_path, keras_cnn, suffix):
    flavour, _ = keras_cnn
    k = __import__(flavour)
    inp = k.Input((4,))
    model = k.Model(inp, k.layers.Dense(2)(k.layers.Lambda(lambda t: t * 2.0)(inp)))
    path = tmp_path / f"lambda{suffix}"
    model.save(str(path))
    with pytest.raises(ConversionError, match="safe_mode=False") as err:
        to_onnx(path)
    assert str(path) in str(err.value)


def test_keras_lambda_allowed_with_safe_mode_off(tmp_path):
    import tensorflow  # noqa: F401
    import tf_keras

    inp = tf_keras.Input((4,))
    model = tf_keras.Model(inp, tf_keras.layers.Dense(2)(tf_keras.layers.Lambda(lambda t: t * 2.0)(inp)))
    path = tmp_path / "lambda.h5"
    model.save(str(path))
    proto = to_onnx(path, safe_mode=False)
    assert op_counts(proto)["Mul"] == 1


def test_unbuilt_keras_model_refused():
    import keras

    model = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ConversionError, match="no defined inputs"):
        to_onnx(model)


def test_corrupt_h5(tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(ConversionError) as err:
        to_onnx(path)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- ONNX files and errors


def test_onnx_file_round_trip(tmp_path, resnet18_proto):
    path = tmp_path / "resnet18.onnx"
    onnx.save(resnet18_proto, str(path))
    assert detect_framework(path) == "onnx"
    loaded = to_onnx(path)
    assert len(loaded.graph.node) == len(resnet18_proto.graph.node)
    assert op_counts(loaded) == op_counts(resnet18_proto)
    # an ONNX file is recognised by its contents too
    renamed = tmp_path / "resnet18.model"
    shutil.copyfile(path, renamed)
    assert detect_framework(renamed) == "onnx"


def test_corrupt_onnx(tmp_path, resnet18_proto):
    path = tmp_path / "broken.onnx"
    path.write_bytes(resnet18_proto.SerializeToString()[:5000])
    with pytest.raises(ConversionError, match="not a readable ONNX model") as err:
        to_onnx(path)
    assert str(path) in str(err.value)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ConversionError) as err:
        to_onnx(empty)
    assert str(empty) in str(err.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "model.onnx"
    with pytest.raises(ConversionError, match="no such file") as err:
        to_onnx(path)
    assert str(path) in str(err.value)
    with pytest.raises(ConversionError) as err:
        detect_framework(str(path))
    assert str(path) in str(err.value)


def test_unknown_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a model\n")
    with pytest.raises(ConversionError, match="unknown model format") as err:
        to_onnx(path)
    assert str(path) in str(err.value)
    with pytest.raises(ConversionError, match="directory"):
        to_onnx(tmp_path)


def test_forced_framework(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(SmallCNN().state_dict(), str(path))
    with pytest.raises(ConversionError) as err:
        to_onnx(path, framework="keras")
    assert str(path) in str(err.value)
    with pytest.raises(ConversionError, match="unknown framework"):
        to_onnx(path, framework="caffe")
    assert converters.get_converter("torch").name == "pytorch"


def test_unknown_option():
    with pytest.raises(ConversionError, match="unknown option 'opset_version'"):
        to_onnx(SmallCNN(), opset_version=17)


def test_register_new_framework(tmp_path, resnet18_proto):
    class TextConverter(converters.Converter):
        name = "text-test"
        suffixes = (".txtmodel",)

        def accepts_file(self, info):
            return info.head.startswith(b"TEXTMODEL")

        def convert(self, model_or_path, **options):
            return resnet18_proto

    converters.register(TextConverter())
    try:
        with pytest.raises(ValueError):
            converters.register(TextConverter())
        by_contents = tmp_path / "a.dat"
        by_contents.write_bytes(b"TEXTMODEL v1")
        by_suffix = tmp_path / "b.txtmodel"
        by_suffix.write_bytes(b"whatever")
        assert detect_framework(by_contents) == "text-test"
        assert detect_framework(by_suffix) == "text-test"
        assert to_onnx(by_suffix) is resnet18_proto
    finally:
        converters.unregister("text-test")
    assert "text-test" not in converters.available_frameworks()
    with pytest.raises(ConversionError):
        detect_framework(by_suffix)



def test_torchscript_export_skips_only_the_whole_graph_shape_inference(monkeypatch):
    """The TorchScript exporter's two whole-graph shape-inference passes only annotate
    value_info, and its graph consistency checks only raise on a broken graph: export_module
    skips both (and puts them back, also after a failed export), and the canonical graph is
    the one the exporter gives with them (a transformer block with a rotary-style chunk, whose
    operators the node-by-node inference chooses)."""
    import io
    import warnings

    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)

        def forward(self, x):
            a, b = self.layer(x).chunk(2, dim=-1)
            return torch.cat([-b, a], dim=-1) * x

    def count_calls(name):  # replace torch._C.<name> by a wrapper that records its calls
        calls, original = [], getattr(torch._C, name)

        def counted(*args, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)

        monkeypatch.setattr(torch._C, name, counted)
        return calls, counted

    calls, counted = count_calls("_jit_pass_onnx_graph_shape_type_inference")
    lints, counted_lint = count_calls("_jit_pass_lint")
    model, args = Block().eval(), (torch.zeros(1, 6, 32),)
    skipped = build_graph(export_module(model, args), canonical=True)
    assert calls == [] and torch._C._jit_pass_onnx_graph_shape_type_inference is counted
    assert lints == [] and torch._C._jit_pass_lint is counted_lint
    buf = io.BytesIO()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # as export_module does: the fused op has no ONNX form
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's warnings, as export_module keeps them quiet
            torch.onnx.export(model, args, buf, dynamo=False, opset_version=17, do_constant_folding=False,
                              training=torch.onnx.TrainingMode.PRESERVE)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    assert len(calls) == 2 and len(lints) >= 5
    full = build_graph(onnx.load_model_from_string(buf.getvalue()), canonical=True)
    a, b = skipped.to_dict(), full.to_dict()
    a.pop("names"), b.pop("names")
    assert a == b and "Split" in skipped.ops

    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("no forward")

    with pytest.raises(ConversionError):
        export_module(Broken(), args)
    assert torch._C._jit_pass_onnx_graph_shape_type_inference is counted and torch._C._jit_pass_lint is counted_lint


def test_triangular_solve_is_one_matmul_in_both_exporters_and_the_symbolic_is_removed_afterwards():
    """ONNX has no triangular solve; both exporters write ``torch.linalg.solve_triangular`` as the
    MatMul of its operands (``B @ A`` for ``left=False``): one layer of the solve's output shape, and
    one canonical graph from both exporters (converters/pytorch.py ``WRITTEN_AS_MATMUL``). The
    TorchScript symbolic is registered for the export only."""
    import torch
    from torch import nn
    from torch.onnx._internal.torchscript_exporter.registration import registry

    from hnn_tf.converters.pytorch import export_module

    class Solve(nn.Module):
        def forward(self, a, b, c):
            x = torch.linalg.solve_triangular(a, b, upper=False, unitriangular=True)
            y = torch.linalg.solve_triangular(a, c, upper=False, left=False)
            return torch.relu(x), y * 2

    args = (torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 5), torch.zeros(1, 2, 3, 8))
    graphs = []
    for dynamo in (False, True):
        proto = export_module(Solve(), args, dynamo=dynamo)
        matmuls = [n for n in proto.graph.node if n.op_type == "MatMul"]
        assert len(matmuls) == 2, [n.op_type for n in proto.graph.node]
        graphs.append(build_graph(proto, canonical=True).to_dict())
        graphs[-1].pop("names")
    assert graphs[0] == graphs[1]
    assert graphs[0]["ops"].count("MatMul") == 2
    assert not registry.is_registered_op("aten::linalg_solve_triangular", 17)
    import io

    with pytest.raises(Exception, match="linalg_solve_triangular"):
        torch.onnx.export(Solve(), args, io.BytesIO(), dynamo=False, opset_version=17)


def test_products_with_an_all_zero_operand_give_the_products_values_and_the_same_export():
    """Inside ``zero_products`` the CPU kernels of mm, bmm, addmm, baddbmm and every convolution
    skip the arithmetic when their smaller operand is all zeros and return the bias broadcast to
    the output shape; the values equal the real products', other products are computed, an
    export of a zero-weight model is byte-identical, and the original kernels are back
    afterwards (converters/zero_products.py)."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module
    from hnn_tf.converters.zero_products import zero_products

    gen = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=gen)

    def zero_or(t, zero):
        return torch.zeros_like(t) if zero else t

    F = torch.nn.functional
    cases = []
    for zero_left in (False, True):
        for zero_right in (False, True):
            z = (zero_left, zero_right)
            cases += [
                lambda z=z: torch.mm(zero_or(r(5, 7), z[0]), zero_or(r(7, 3), z[1])),
                lambda z=z: torch.bmm(zero_or(r(2, 5, 7), z[0]), zero_or(r(2, 7, 3), z[1])),
                lambda z=z: torch.addmm(r(3), zero_or(r(5, 7), z[0]), zero_or(r(7, 3), z[1])),
                lambda z=z: torch.addmm(r(5, 3), zero_or(r(5, 7), z[0]), zero_or(r(7, 3), z[1]), beta=0.5),
                lambda z=z: torch.baddbmm(r(2, 5, 3), zero_or(r(2, 5, 7), z[0]), zero_or(r(2, 7, 3), z[1])),
                lambda z=z: F.linear(zero_or(r(4, 6, 7), z[0]), zero_or(r(3, 7), z[1]), r(3)),
                lambda z=z: F.conv2d(zero_or(r(1, 4, 9, 11), z[0]), zero_or(r(6, 2, 3, 2), z[1]), r(6),
                                     stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
                lambda z=z: F.conv1d(zero_or(r(2, 3, 10), z[0]), zero_or(r(5, 3, 4), z[1]), None, stride=3),
                lambda z=z: F.conv_transpose2d(zero_or(r(1, 4, 5, 6), z[0]), zero_or(r(4, 3, 3, 3), z[1]), r(3),
                                               stride=2, padding=1, output_padding=1),
                lambda z=z: F.conv3d(zero_or(r(1, 2, 4, 5, 6), z[0]), zero_or(r(3, 2, 2, 2, 2), z[1]), r(3),
                                     padding=1),
            ]
    for case in cases:
        state = gen.get_state()
        expected = case()
        gen.set_state(state)
        with zero_products():
            got = case()
        assert got.shape == expected.shape and got.dtype == expected.dtype
        assert torch.allclose(got, expected, atol=1e-6), (got - expected).abs().max()

    # the arithmetic is skipped: an all-zero (smaller) operand times NaN gives zeros, not NaN
    nan = torch.full((2, 3), float("nan"))
    with zero_products():
        assert not torch.mm(torch.zeros(2, 2), nan).isnan().any()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2)
            self.bn = nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            y = self.bn(self.conv(x)).flatten(2).transpose(1, 2)
            q = self.fc(y)
            return torch.softmax(q @ q.transpose(1, 2), -1) @ y

    net = Net().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    args = (torch.zeros(1, 3, 17, 17),)
    import io

    def plain_export():
        buf = io.BytesIO()
        torch.onnx.export(net, args, buf, dynamo=False, export_params=False, do_constant_folding=False)
        return buf.getvalue()

    plain = plain_export()
    with zero_products():
        skipped = plain_export()
    assert skipped == plain
    # hnn's own export (which skips) gives the export that computes the products
    import contextlib

    import hnn_tf.converters.pytorch as pt

    skipping = export_module(net, args).SerializeToString()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pt, "zero_products", contextlib.nullcontext)
        assert export_module(net, args).SerializeToString() == skipping
    # PyTorch's kernels are back: a product is computed again
    assert torch.mm(torch.zeros(2, 2), nan).isnan().all()
