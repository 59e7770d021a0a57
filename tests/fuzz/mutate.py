"""Mutated and malformed model files, generated from the seeds (:mod:`tests.fuzz.seeds`).

:func:`generate` writes ``count`` inputs, deterministic for a given ``seed``, drawn from these
families (each input's name says its family, e.g. ``0042-onnx_cycle.onnx``):

- ``bytes_*``: byte flips, truncations, insertions, zero and random files of every seed;
- ``onnx_*``: structural ONNX defects (cycles, dangling inputs, no outputs, tensors written
  twice, huge or negative dimensions, zero strides, unknown opsets, ops and domains,
  attributes of the wrong type, deep control flow, huge shapes asked of ``ConstantOfShape``
  and ``Reshape``...);
- ``zip_*``: archives (``.keras``, ``.pt2``, TorchScript, ``torch.save``) with members
  removed, replaced, truncated, renamed outside the archive, or declared as decompression
  bombs;
- ``keras_*``: stored Keras configs that nest deeply, store Lambda code, name modules outside
  Keras, read files, or lie about types;
- ``pt2_*``: ``.pt2`` programs whose targets, shape expressions, payload configs or tensor
  sizes are hostile;
- ``tflite_*``: flipped and truncated flatbuffers;
- ``special_*``: FIFOs, links to devices, directories, empty files, broken links.

The families ``special_*`` need a POSIX file system; everything else is ordinary bytes.
"""

from __future__ import annotations

import copy
import io
import warnings
import json
import os
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Case", "generate"]


@dataclass(frozen=True)
class Case:
    """One generated input: its path and its family."""

    path: Path
    family: str


# ----------------------------------------------------------------------------- bytes


def _flip(rng: random.Random, data: bytes, k: int) -> bytes:
    b = bytearray(data)
    for _ in range(k):
        if b:
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
    return bytes(b)


def _byte_mutants(rng: random.Random, data: bytes) -> list[tuple[str, bytes]]:
    n = len(data)
    cut = rng.randrange(max(n, 1))
    at = rng.randrange(max(n, 1))
    return [
        ("bytes_flip1", _flip(rng, data, 1)),
        ("bytes_flip8", _flip(rng, data, 8)),
        ("bytes_flip64", _flip(rng, data, 64)),
        ("bytes_truncate", data[:cut]),
        ("bytes_head16", data[:16]),
        ("bytes_insert", data[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) + data[at:]),
        ("bytes_zeros", bytes(n)),
        ("bytes_random", bytes(rng.randrange(256) for _ in range(min(n, 4096)))),
        ("bytes_doubled", data + data),
        ("bytes_empty", b""),
    ]


# ----------------------------------------------------------------------------- ONNX


def _onnx_mutants(rng: random.Random, data: bytes) -> list[tuple[str, bytes]]:
    import onnx
    from onnx import TensorProto, helper

    base = onnx.load_model_from_string(data)
    out: list[tuple[str, bytes]] = []

    def variant(name: str, fn: Callable[[onnx.ModelProto], None]) -> None:
        m = copy.deepcopy(base)
        try:
            fn(m)
            out.append((name, m.SerializeToString()))
        except Exception:  # noqa: BLE001 - a mutation that does not apply to this seed
            pass

    g = base.graph
    n = len(g.node)

    def pick(m):
        return m.graph.node[rng.randrange(len(m.graph.node))]

    def delete_node(m):
        del m.graph.node[rng.randrange(len(m.graph.node))]

    def swap(m):
        i, j = rng.sample(range(len(m.graph.node)), 2)
        a, b = copy.deepcopy(m.graph.node[i]), copy.deepcopy(m.graph.node[j])
        m.graph.node[i].CopyFrom(b)
        m.graph.node[j].CopyFrom(a)

    def cycle(m):
        first, last = m.graph.node[0], m.graph.node[len(m.graph.node) - 1]
        first.input[0] = last.output[0]

    def self_loop(m):
        node = pick(m)
        node.input.append(node.output[0])

    def dangling(m):
        pick(m).input.append("nobody_writes_this")

    def no_outputs(m):
        del m.graph.output[:]

    def bad_output(m):
        m.graph.output[0].name = "not_a_tensor"

    def written_twice(m):
        a, b = rng.sample(range(len(m.graph.node)), 2)
        m.graph.node[b].output[0] = m.graph.node[a].output[0]

    def dim(value):
        def f(m):
            d = m.graph.input[0].type.tensor_type.shape.dim
            d[rng.randrange(len(d))].dim_value = value
        return f

    def attr(op_types, name, value):
        def f(m):
            nodes = [x for x in m.graph.node if x.op_type in op_types]
            node = nodes[rng.randrange(len(nodes))]
            kept = [a for a in node.attribute if a.name != name]
            del node.attribute[:]
            node.attribute.extend(kept + [helper.make_attribute(name, value)])
        return f

    def opset(version, domain=""):
        def f(m):
            for o in m.opset_import:
                if o.domain == domain:
                    o.version = version
        return f

    def unknown_op(m):
        pick(m).op_type = "NoSuchOp" + str(rng.randrange(100))

    def unknown_domain(m):
        node = pick(m)
        node.domain = "evil.domain"

    def wrong_attr_type(m):
        node = pick(m)
        node.attribute.extend([helper.make_attribute("strides", 1.5)])

    def empty_graph(m):
        del m.graph.node[:]

    def no_inputs(m):
        del m.graph.input[:]

    def string_input(m):
        m.graph.input[0].type.tensor_type.elem_type = TensorProto.STRING

    def huge_initializer(m):
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        del t.dims[:]
        t.dims.extend([1 << 20, 1 << 20])

    def bad_raw_data(m):
        t = m.graph.initializer[0]
        t.raw_data = t.raw_data[: len(t.raw_data) // 2]

    def constant_of_shape(values):
        def f(m):
            shape = helper.make_tensor("cos_shape", TensorProto.INT64, [len(values)], values)
            m.graph.initializer.append(shape)
            first = m.graph.node[0]
            m.graph.node.insert(0, helper.make_node("ConstantOfShape", ["cos_shape"], ["cos_out"]))
            m.graph.node.insert(1, helper.make_node("Add", [first.input[0], "cos_out"], ["cos_sum"]))
            first.input[0] = "cos_sum"
        return f

    def reshape_huge(m):
        shape = helper.make_tensor("rs_shape", TensorProto.INT64, [2], [1 << 33, 1 << 33])
        m.graph.initializer.append(shape)
        first = m.graph.node[0]
        m.graph.node.insert(0, helper.make_node("Reshape", [first.input[0], "rs_shape"], ["rs_out"]))
        first.input[0] = "rs_out"

    def deep_if(depth):
        def f(m):
            leaf = helper.make_graph([helper.make_node("Relu", ["x"], ["r0"])], "b0", [],
                                     [helper.make_tensor_value_info("r0", TensorProto.FLOAT, None)])
            inner = leaf
            for k in range(1, depth):  # the else branch stays a leaf: the file grows linearly
                node = helper.make_node("If", ["c0"], [f"r{k}"], then_branch=inner, else_branch=leaf)
                inner = helper.make_graph([node], f"b{k}", [],
                                          [helper.make_tensor_value_info(f"r{k}", TensorProto.FLOAT, None)])
            m.graph.input.append(helper.make_tensor_value_info("c0", TensorProto.BOOL, []))
            m.graph.node.append(helper.make_node("If", ["c0"], ["deep"], then_branch=inner, else_branch=leaf))
            m.graph.output.append(helper.make_tensor_value_info("deep", TensorProto.FLOAT, None))
        return f

    def many_inputs(m):
        node = pick(m)
        node.input.extend([node.input[0]] * 5000)

    def ir_version(v):
        def f(m):
            m.ir_version = v
        return f

    def long_names(m):
        for node in m.graph.node:
            node.name = "n" * 100_000

    def duplicate_initializer(m):
        m.graph.initializer.append(copy.deepcopy(m.graph.initializer[0]))

    def negative_initializer_dim(m):
        m.graph.initializer[0].dims[0] = -3

    def delete_field(m):
        field = rng.choice(["opset_import", "graph.input", "graph.initializer", "graph.value_info"])
        target = m
        for part in field.split("."):
            target = getattr(target, part) if part != field.split(".")[-1] else target
        del getattr(target, field.split(".")[-1])[:]

    variant("onnx_delete_node", delete_node)
    if n >= 2:
        variant("onnx_swap_nodes", swap)
        variant("onnx_cycle", cycle)
        variant("onnx_written_twice", written_twice)
    variant("onnx_self_loop", self_loop)
    variant("onnx_dangling", dangling)
    variant("onnx_no_outputs", no_outputs)
    variant("onnx_bad_output", bad_output)
    variant("onnx_dim_2pow40", dim(1 << 40))
    variant("onnx_dim_huge", dim((1 << 62) + 5))
    variant("onnx_dim_zero", dim(0))
    variant("onnx_stride_zero", attr({"Conv", "MaxPool"}, "strides", [0, 0]))
    variant("onnx_stride_negative", attr({"Conv", "MaxPool"}, "strides", [-1, 1]))
    variant("onnx_kernel_2pow31", attr({"Conv", "MaxPool"}, "kernel_shape", [1 << 31, 1 << 31]))
    variant("onnx_group_zero", attr({"Conv"}, "group", 0))
    variant("onnx_pads_negative", attr({"Conv", "MaxPool"}, "pads", [-4, -4, -4, -4]))
    variant("onnx_dilation_huge", attr({"Conv"}, "dilations", [1 << 30, 1 << 30]))
    variant("onnx_opset_9999", opset(9999))
    variant("onnx_opset_zero", opset(0))
    variant("onnx_opset_1", opset(1))
    variant("onnx_unknown_op", unknown_op)
    variant("onnx_unknown_domain", unknown_domain)
    variant("onnx_wrong_attr_type", wrong_attr_type)
    variant("onnx_empty_graph", empty_graph)
    variant("onnx_no_inputs", no_inputs)
    variant("onnx_string_input", string_input)
    variant("onnx_huge_initializer", huge_initializer)
    variant("onnx_bad_raw_data", bad_raw_data)
    variant("onnx_constant_of_shape_huge", constant_of_shape([1 << 20, 1 << 20]))
    variant("onnx_constant_of_shape_negative", constant_of_shape([-5, 3]))
    variant("onnx_reshape_huge", reshape_huge)
    variant("onnx_deep_if", deep_if(rng.choice([50, 400, 1200])))
    variant("onnx_many_inputs", many_inputs)
    variant("onnx_ir_version_0", ir_version(0))
    variant("onnx_ir_version_999", ir_version(999))
    variant("onnx_long_names", long_names)
    variant("onnx_duplicate_initializer", duplicate_initializer)
    variant("onnx_negative_initializer_dim", negative_initializer_dim)
    variant("onnx_delete_field", delete_field)
    return out


# ----------------------------------------------------------------------------- zip archives


def _rezip(data: bytes, fn: Callable[[str, bytes], list[tuple[str, bytes]] | None],
           extra: list[tuple[str, bytes]] = ()) -> bytes:
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zout, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate member names are one of the mutations
        for info in zin.infolist():
            result = fn(info.filename, zin.read(info.filename))
            for name, content in ([(info.filename, zin.read(info.filename))] if result is None else result):
                zout.writestr(name, content)
        for name, content in extra:
            zout.writestr(name, content)
    return out.getvalue()


def _with_bomb(data: bytes, name: str, inflated: int) -> bytes:
    """``data`` with member ``name`` replaced by a DEFLATE member of ``inflated`` zero bytes
    (about 1/1000 of that on disk; its declared size is honest)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if info.filename != name:
                zout.writestr(info, zin.read(info.filename))
                continue
            member = zipfile.ZipInfo(name)
            member.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(member, "w", force_zip64=True) as fh:
                chunk = bytes(1 << 20)
                for _ in range(inflated >> 20):
                    fh.write(chunk)
    return out.getvalue()


def _zip_mutants(rng: random.Random, data: bytes) -> list[tuple[str, bytes]]:
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    victim = rng.choice(names)
    bomb_name = rng.choice([x for x in names if x.endswith((".json", ".pkl"))] or names)
    return [
        ("zip_drop_member", _rezip(data, lambda n, c: [] if n == victim else None)),
        ("zip_random_member", _rezip(data, lambda n, c: [(n, bytes(rng.randrange(256) for _ in range(len(c) or 8)))]
                                     if n == victim else None)),
        ("zip_truncate_member", _rezip(data, lambda n, c: [(n, c[: len(c) // 2])] if n == victim else None)),
        ("zip_climb_out", _rezip(data, lambda n, c: None, extra=[("../../evil.txt", b"x")])),
        ("zip_absolute_name", _rezip(data, lambda n, c: None, extra=[("/tmp/evil.txt", b"x")])),
        ("zip_many_members", _rezip(data, lambda n, c: None, extra=[(f"junk/{i}", b"") for i in range(3000)])),
        ("zip_duplicate_member", _rezip(data, lambda n, c: [(n, c), (n, c)] if n == victim else None)),
        ("zip_bomb", _with_bomb(data, bomb_name, 300 << 20)),
    ]


# ----------------------------------------------------------------------------- Keras configs


def _nest(depth: int) -> str:
    """JSON text of a config nested ``depth`` levels (written as text: json.dumps recurses)."""
    return ('{"class_name": "Functional", "config": ' + '{"layer": ' * depth + '{"class_name": "Dense"}'
            + "}" * depth + "}")


def _keras_config_mutants(rng: random.Random, config: dict) -> list[tuple[str, dict | str]]:
    layers = config["config"]["layers"]
    dense = next((x for x in layers if x["class_name"] == "Dense"), layers[-1])
    out = []

    def with_layer_edit(name, edit):
        c = copy.deepcopy(config)
        target = next(x for x in c["config"]["layers"] if x["config"].get("name") == dense["config"].get("name"))
        edit(target)
        out.append((name, c))

    out.append(("keras_deep_950", _nest(950)))
    out.append(("keras_deep_5000", _nest(5000)))
    with_layer_edit("keras_lambda_code", lambda t: t.update({"class_name": "Lambda", "config": {
        "name": "evil", "function": {"class_name": "__lambda__", "config": {"code": "YWJj", "defaults": None,
                                                                              "closure": None}}}}))
    with_layer_edit("keras_module_os", lambda t: t.update({"module": "os", "class_name": "system"}))
    with_layer_edit("keras_module_subprocess", lambda t: t["config"].update(
        {"activation": {"module": "subprocess", "class_name": "function", "config": "getoutput",
                        "registered_name": "getoutput"}}))
    with_layer_edit("keras_tfsm", lambda t: t.update({"class_name": "TFSMLayer", "config": {
        "name": "t", "filepath": "/etc", "call_endpoint": "serve"}}))
    with_layer_edit("keras_vocab_path", lambda t: t.update({"class_name": "StringLookup", "config": {
        "name": "s", "vocabulary": "/dev/zero"}}))
    with_layer_edit("keras_units_negative", lambda t: t["config"].update({"units": -7}))
    with_layer_edit("keras_units_string", lambda t: t["config"].update({"units": "many"}))
    with_layer_edit("keras_units_big", lambda t: t["config"].update({"units": 300_000}))
    with_layer_edit("keras_unknown_class", lambda t: t.update({"class_name": "NoSuchLayer"}))
    with_layer_edit("keras_drop_config", lambda t: t.pop("config"))
    c = copy.deepcopy(config)
    c["config"]["layers"] = c["config"]["layers"][::-1]
    out.append(("keras_layers_reversed", c))
    c = copy.deepcopy(config)
    c["config"].pop("input_layers", None)
    out.append(("keras_no_inputs", c))
    out.append(("keras_not_a_model", {"class_name": "Dense", "config": {"units": 3}}))
    out.append(("keras_list", [1, 2, 3]))
    return out


def _keras_mutants(rng: random.Random, seed_path: Path) -> list[tuple[str, bytes]]:
    data = seed_path.read_bytes()
    out: list[tuple[str, bytes]] = []
    if seed_path.suffix == ".keras":
        config = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("config.json"))
        for name, c in _keras_config_mutants(rng, config):
            text = (c if isinstance(c, str) else json.dumps(c)).encode()
            out.append((name, _rezip(data, lambda n, content, t=text: [(n, t)] if n == "config.json" else None)))
        out.append(("keras_config_not_json", _rezip(data, lambda n, c: [(n, b"{not json")] if n == "config.json" else None)))
        out.append(("keras_no_config", _rezip(data, lambda n, c: [] if n == "config.json" else None)))
    else:
        import h5py

        with h5py.File(io.BytesIO(data), "r") as fh:
            config = json.loads(fh.attrs["model_config"])
        for name, c in _keras_config_mutants(rng, config)[:8]:
            buf = io.BytesIO(data)
            with h5py.File(buf, "r+") as fh:
                fh.attrs["model_config"] = c if isinstance(c, str) else json.dumps(c)
            out.append((name + "_h5", buf.getvalue()))
        buf = io.BytesIO(data)
        with h5py.File(buf, "r+") as fh:
            fh["external"] = h5py.ExternalLink("/etc/passwd", "/")
        out.append(("keras_h5_external_link", buf.getvalue()))
        buf = io.BytesIO(data)
        with h5py.File(buf, "r+") as fh:
            fh.create_dataset("bomb", shape=(1 << 34,), dtype="f4", compression="gzip", chunks=(1 << 20,))
        out.append(("keras_h5_dataset_bomb", buf.getvalue()))
    return out


# ----------------------------------------------------------------------------- .pt2 programs


def _pt2_mutants(rng: random.Random, data: bytes) -> list[tuple[str, bytes]]:
    zin = zipfile.ZipFile(io.BytesIO(data))
    names = zin.namelist()
    program_name = next(n for n in names if n.endswith("models/model.json"))
    weights_name = next(n for n in names if n.endswith("model_weights_config.json"))
    program = json.loads(zin.read(program_name))
    weights = json.loads(zin.read(weights_name))

    def with_program(fn):
        p = copy.deepcopy(program)
        fn(p)
        text = json.dumps(p).encode()
        return _rezip(data, lambda n, c: [(n, text)] if n == program_name else None)

    def with_weights(fn):
        w = copy.deepcopy(weights)
        fn(w)
        text = json.dumps(w).encode()
        return _rezip(data, lambda n, c: [(n, text)] if n == weights_name else None)

    def node0(p):
        return p["graph_module"]["graph"]["nodes"][0]

    def tensor0(p):
        values = p["graph_module"]["graph"]["tensor_values"]
        return values[rng.choice(sorted(values))]

    first_weight = next(iter(weights["config"]))
    out = [
        ("pt2_target_os_system", with_program(lambda p: node0(p).update({"target": "torch.os.system"}))),
        ("pt2_target_load_library", with_program(lambda p: node0(p).update({"target": "torch.ops.load_library"}))),
        ("pt2_target_from_file", with_program(lambda p: node0(p).update({"target": "torch.ops.aten.from_file.default"}))),
        ("pt2_target_print", with_program(lambda p: node0(p).update({"target": "torch.ops.aten._print.default"}))),
        ("pt2_target_unknown", with_program(lambda p: node0(p).update({"target": "torch.ops.aten.nosuchop.default"}))),
        ("pt2_target_int", with_program(lambda p: node0(p).update({"target": 7}))),
        ("pt2_expr_import", with_program(lambda p: tensor0(p)["sizes"].__setitem__(
            0, {"as_expr": {"expr_str": "__import__('os').getcwd()", "hint": {"as_int": 1}}}))),
        ("pt2_expr_attr", with_program(lambda p: tensor0(p)["sizes"].__setitem__(
            0, {"as_expr": {"expr_str": "s0.__class__", "hint": {"as_int": 1}}}))),
        ("pt2_guards_code", with_program(lambda p: p.update({"guards_code": ["__import__('os').getcwd()"]}))),
        ("pt2_tensor_huge", with_program(lambda p: tensor0(p).update({"sizes": [{"as_int": 1 << 40}]}))),
        ("pt2_tensor_negative", with_program(lambda p: tensor0(p).update({"sizes": [{"as_int": -4}]}))),
        ("pt2_custom_obj", with_program(lambda p: p["graph_module"]["graph"].update(
            {"custom_obj_values": {"x": {"name": "x", "class_fqn": "os.system"}}}))),
        ("pt2_not_a_program", with_program(lambda p: p.clear())),
        ("pt2_use_pickle", with_weights(lambda w: w["config"][first_weight].update({"use_pickle": True}))),
        ("pt2_path_escape", with_weights(lambda w: w["config"][first_weight].update({"path_name": "../../etc/passwd"}))),
        ("pt2_weight_huge", with_weights(lambda w: w["config"][first_weight]["tensor_meta"].update(
            {"sizes": [{"as_int": 1 << 36}], "strides": [{"as_int": 1}]}))),
        ("pt2_aoti", _rezip(data, lambda n, c: None, extra=[(program_name.split("/")[0] + "/data/aotinductor/model/x.so",
                                                                b"\x7fELF")])),
        ("pt2_legacy", _rezip(data, lambda n, c: [] if n.endswith("archive_format") else None,
                              extra=[("serialized_exported_program.json", b"{}")])),
    ]
    return out


# ----------------------------------------------------------------------------- special files


def _special(out: Path, rng: random.Random) -> list[Case]:
    cases = []

    def add(name: str, make: Callable[[Path], None]) -> None:
        p = out / name
        try:
            make(p)
            cases.append(Case(p, name.split("-", 1)[1].split(".")[0]))
        except OSError:
            pass

    add("s000-special_fifo.onnx", lambda p: os.mkfifo(p))
    add("s001-special_fifo.pt2", lambda p: os.mkfifo(p))
    add("s002-special_dev_zero.onnx", lambda p: os.symlink("/dev/zero", p))
    add("s003-special_dev_urandom.keras", lambda p: os.symlink("/dev/urandom", p))
    add("s004-special_dev_null.h5", lambda p: os.symlink("/dev/null", p))
    add("s005-special_directory.onnx", lambda p: p.mkdir())
    add("s006-special_broken_link.onnx", lambda p: os.symlink(out / "no-such-target", p))
    add("s007-special_empty.pt2", lambda p: p.write_bytes(b""))
    add("s008-special_empty.keras", lambda p: p.write_bytes(b""))
    add("s009-special_empty.tflite", lambda p: p.write_bytes(b""))
    add("s010-special_no_suffix", lambda p: p.write_bytes(b"hello"))
    add("s011-special_self_link.onnx", lambda p: os.symlink(p, p))
    return cases


# ----------------------------------------------------------------------------- all together


def generate(seeds: dict[str, Path], out: Path, count: int = 1000, seed: int = 0) -> list[Case]:
    """Write about ``count`` fuzz inputs into ``out`` (created) and return them.

    Every family is represented; byte mutations of random seeds fill up to ``count``.
    Deterministic for a given ``seed``.

    Args:
        seeds: the seed files (:func:`tests.fuzz.seeds.build_seeds`).
        out: the folder for the inputs.
        count: how many inputs at least (special files come on top).
        seed: the random seed.
    Returns:
        the cases, in a fixed order.
    """
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, str, bytes]] = []  # (family, suffix, bytes)
    for name in ("cnn.onnx", "handwritten.onnx", "external.onnx"):
        for fam, data in _onnx_mutants(rng, seeds[name].read_bytes()):
            made.append((fam, ".onnx", data))
    for name in ("small.keras", "cnn.pt2", "cnn_script.pt", "cnn_state.pth"):
        suffix = Path(name).suffix
        for fam, data in _zip_mutants(rng, seeds[name].read_bytes()):
            made.append((fam, suffix, data))
    for name in ("small.keras", "small.h5"):
        for fam, data in _keras_mutants(rng, seeds[name]):
            made.append((fam, seeds[name].suffix, data))
    for fam, data in _pt2_mutants(rng, seeds["cnn.pt2"].read_bytes()):
        made.append((fam, ".pt2", data))
    tflite = seeds["small.tflite"].read_bytes()
    # TFLite inputs are slow when they crash the reader (its worker restarts): fewer of them
    for k in range(max(8, count // 50)):
        made.append(("tflite_flip", ".tflite", _flip(rng, tflite, rng.choice([1, 2, 4, 16]))))
    for k in range(max(4, count // 200)):
        made.append(("tflite_truncate", ".tflite", tflite[: rng.randrange(len(tflite))]))
    names = sorted(seeds)
    while len(made) < count:
        name = rng.choice([n for n in names if n != "small.tflite"] if rng.random() < 0.9 else names)
        data = seeds[name].read_bytes()
        fam, mutated = rng.choice(_byte_mutants(rng, data))
        suffix = Path(name).suffix if rng.random() < 0.85 else rng.choice([".bin", ".onnx", ".pt2", ".keras", ""])
        made.append((fam, suffix, mutated))
    cases = []
    for k, (fam, suffix, data) in enumerate(made):
        p = out / f"{k:04d}-{fam}{suffix}"
        p.write_bytes(data)
        cases.append(Case(p, fam))
    return cases + _special(out, rng)
