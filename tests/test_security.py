"""Crafted attacks on the machine that hashes (README "Security").

Each test builds a hostile file and checks that its payload never runs, that the CLI answers
with one error line naming the file (exit status 2) and nothing on stdout, and that nothing
is written where it should not be.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hnn_tf.converters import to_onnx
from fuzz import crafted
from hnn_tf.errors import ConversionError, GraphError, HNNError
from hnn_tf.graph import build_graph
from hnn_tf.safe_io import atomic_write, open_regular, read_regular

HNN = str(Path(sys.executable).parent / "hnn")


def cli(*args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed ``hnn`` command; text stdout/stderr."""
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([HNN, *map(str, args)], capture_output=True, text=True, env=full, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess, path, phrase: str) -> str:
    """Assert exit 2, an empty stdout and exactly one stderr line naming ``path`` and holding ``phrase``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"hnn: error: {path}:"), lines[0]
    assert phrase in lines[0], lines[0]
    return lines[0]


# -------------------------------------------------------------------------- .pt2 archives


def test_pt2_recipe_pickled_sample_inputs_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "PWNED"
    path = crafted.pt2_pickled_sample_inputs(tmp_path, marker)
    one_error_line(cli("hash", path), path, "refused: the sample inputs pickle Python objects")
    assert not marker.exists()


def test_pt2_recipe_pickled_weight_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "PWNED"
    path = crafted.pt2_pickled_weight(tmp_path, marker)
    one_error_line(cli("hash", path), path, "is stored as a pickle")
    assert not marker.exists()


def _first_node(program):
    return program["graph_module"]["graph"]["nodes"][0]


def _first_tensor(program):
    values = program["graph_module"]["graph"]["tensor_values"]
    return values[sorted(values)[0]]


@pytest.mark.parametrize("name, edit, phrase", [
    ("os_system", lambda p: _first_node(p).update({"target": "torch.os.system"}), "not an operator"),
    ("load_library", lambda p: _first_node(p).update({"target": "torch.ops.load_library"}), "not an operator"),
    ("from_file", lambda p: _first_node(p).update({"target": "torch.ops.aten.from_file.default"}),
     "acts outside the computation"),
    ("foreign_namespace", lambda p: _first_node(p).update({"target": "torch.ops.symm_mem.nccl_put.default"}),
     "of namespace 'symm_mem'"),
    ("sympify", lambda p: _first_tensor(p)["sizes"].__setitem__(
        0, {"as_expr": {"expr_str": "__import__('os').system('true')", "hint": {"as_int": 1}}}), "shape expression"),
    ("attribute", lambda p: _first_tensor(p)["sizes"].__setitem__(
        0, {"as_expr": {"expr_str": "s0.__class__", "hint": {"as_int": 1}}}), "shape expression"),
    ("custom_objects", lambda p: p["graph_module"]["graph"].update({"custom_obj_values": {"x": {}}}),
     "custom (TorchBind) objects"),
    ("huge_tensor", lambda p: _first_tensor(p).update({"sizes": [{"as_int": 1 << 45}]}), "HNN_MAX_TENSOR_MB"),
])
def test_pt2_programs_that_name_code_are_refused(tmp_path, name, edit, phrase):
    path = crafted.pt2_edit_program(tmp_path, name, edit)
    with pytest.raises(ConversionError, match="refused") as err:
        to_onnx(path)
    assert phrase in str(err.value) and str(path) in str(err.value)


def test_pt2_aoti_library_is_refused(tmp_path):
    path = crafted.pt2_aoti_library(tmp_path)
    with pytest.raises(ConversionError, match="refused: the archive holds compiled code"):
        to_onnx(path)


def test_pt2_guards_code_is_never_executed(tmp_path):
    """guards_code strings are exec'd by ExportedProgram.module(): hnn drops them and hashes the graph."""
    marker = tmp_path / "PWNED"
    path = crafted.pt2_edit_program(
        tmp_path, "guards", lambda p: p.update({"guards_code": [f"__import__('os').system('touch {marker}')"]}))
    clean = tmp_path / "clean.pt2"
    clean.write_bytes(crafted.pt2_archive())
    assert build_graph(to_onnx(path), canonical=True).ops == build_graph(to_onnx(clean), canonical=True).ops
    assert not marker.exists()


def test_pt2_allocation_bomb_is_found_on_fake_tensors(tmp_path):
    """A node asking aten.full for 80 GB while its declared output is small: refused before any allocation."""
    import torch
    from torch import nn

    class Filled(nn.Module):
        def forward(self, x):
            return x + torch.full((8, 8), 1.0)

    buf = io.BytesIO()
    torch.export.save(torch.export.export(Filled(), (torch.zeros(8, 8),)), buf)
    path = tmp_path / "bomb.pt2"
    path.write_bytes(crafted._rewrite(buf.getvalue(), lambda name, content, zout: content if not name.endswith(
        "models/model.json") else content.replace(b'{"as_ints": [8, 8]}', b'{"as_ints": [100000, 200000]}')))
    assert b"100000" in path.read_bytes()
    with pytest.raises(ConversionError, match="would allocate a tensor of 80000000000 bytes"):
        to_onnx(path)


def test_clean_pt2_hashes_like_the_module_it_was_exported_from(tmp_path):
    import torch
    from torch import nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    path = tmp_path / "clean.pt2"
    path.write_bytes(crafted.pt2_archive())
    a = build_graph(to_onnx(path), canonical=True)
    b = build_graph(to_onnx(model, input_shape=(1, 3, 8, 8)), canonical=True)
    assert a.ops == b.ops and a.flops.tolist() == b.flops.tolist() and a.params.tolist() == b.params.tolist()
    assert torch is not None


# -------------------------------------------------------------------------- pickles and TorchScript


def test_pickled_payload_is_never_unpickled(tmp_path):
    marker = tmp_path / "PWNED"
    path = crafted.pickled_module_with_payload(tmp_path, marker)
    line = one_error_line(cli("hash", path), path, "refused: the file pickles Python objects")
    assert "posix.system" in line or "os.system" in line
    assert not marker.exists()


# -------------------------------------------------------------------------- Keras configs


def _model_config(**layer) -> str:
    inner = {"class_name": "Functional", "config": {"name": "m", "layers": [layer], "input_layers": [],
                                                      "output_layers": []}}
    return json.dumps(inner)


@pytest.mark.parametrize("name, text, phrase", [
    ("deep", '{"class_name": "Functional", "config": ' + '{"a": ' * 950 + "1" + "}" * 950 + "}", "nests deeper"),
    ("lambda", _model_config(class_name="Lambda", config={"function": {"class_name": "__lambda__", "config": {}}}),
     "Lambda layer whose Python code"),
    ("module_os", _model_config(module="os", class_name="system", config={}), "module 'os'"),
    ("tfsm", _model_config(class_name="TFSMLayer", config={"filepath": "/etc"}), "TFSMLayer"),
    ("vocabulary", _model_config(class_name="StringLookup", config={"vocabulary": "/dev/zero"}), "vocabulary"),
])
def test_keras_configs_that_run_or_read_things_are_refused(tmp_path, name, text, phrase):
    path = crafted.keras_with_config(tmp_path, name, text)
    with pytest.raises(ConversionError, match="refused") as err:
        to_onnx(path)
    assert phrase in str(err.value) and str(path) in str(err.value)


def test_keras_zip_bomb_is_refused_without_inflating(tmp_path, monkeypatch):
    path = crafted.keras_zip_bomb(tmp_path, 1 << 30)
    assert path.stat().st_size < 8 << 20
    monkeypatch.setenv("HNN_MAX_UNZIPPED_MB", "512")
    start = time.process_time()
    with pytest.raises(ConversionError, match="inflates to more than"):
        to_onnx(path)
    assert time.process_time() - start < 5  # refused from the central directory, nothing inflated


def test_hdf5_external_link_is_refused(tmp_path):
    import h5py
    import tf_keras

    inp = tf_keras.Input((4,))
    model = tf_keras.Model(inp, tf_keras.layers.Dense(2)(inp))
    path = tmp_path / "linked.h5"
    model.save(str(path))
    with h5py.File(path, "r+") as fh:
        fh["elsewhere"] = h5py.ExternalLink("/etc/passwd", "/")
    with pytest.raises(ConversionError, match="links to the file '/etc/passwd'"):
        to_onnx(path)


# -------------------------------------------------------------------------- files that are not files


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.onnx"
    os.symlink("/dev/zero", zero)
    folder = tmp_path / "folder.onnx"
    folder.mkdir()
    for path, phrase in ((fifo, "FIFO"), (zero, "character device")):
        with pytest.raises(ConversionError, match=phrase):
            to_onnx(path)
    with pytest.raises(ConversionError, match="is a directory"):
        to_onnx(folder)
    result = cli("hash", fifo, zero, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert sorted(result.stderr.splitlines()) == sorted([
        f"hnn: error: {fifo}: not a regular file (a FIFO (named pipe)); only regular files are read",
        f"hnn: error: {zero}: not a regular file (a character device); only regular files are read"])


def test_file_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.onnx"
    path.write_bytes(b"\x08\x07" + bytes(3 << 20))
    monkeypatch.setenv("HNN_MAX_FILE_MB", "2")
    with pytest.raises(ConversionError, match="more than the limit of 2.0 MiB"):
        read_regular(path)
    with pytest.raises(ConversionError, match="HNN_MAX_FILE_MB"):
        to_onnx(path)
    fd, st = open_regular(path, max_bytes=4 << 20)
    os.close(fd)
    assert st.st_size == (3 << 20) + 2


# -------------------------------------------------------------------------- malformed ONNX graphs


def _small_graph(nodes=None, outputs=("y",), opset=17, x_shape=(1, 3, 8, 8), **conv_attrs):
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], **conv_attrs}
    nodes = nodes if nodes is not None else [helper.make_node("Conv", ["x", "w"], ["c"], **attrs),
                                             helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              initializer=[w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("model, phrase", [
    (_small_graph(nodes=[helper.make_node("Relu", ["y"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]),
     "cycle"),
    (_small_graph(nodes=[helper.make_node("Relu", ["nowhere"], ["y"])]), "which no node, graph input"),
    (_small_graph(outputs=()), "declares no output"),
    (_small_graph(opset=9999), "opset 9999"),
    (_small_graph(x_shape=(1, 3, 1 << 40, 8)), "HNN_MAX_TENSOR_MB"),
    (_small_graph(strides=[0, 1]), "strides [0, 1]; they must be positive"),
    (_small_graph(kernel_shape=[1 << 31, 1 << 31]), "beyond"),
    (_small_graph(kernel_shape=[100, 100], pads=[0, 0, 0, 0]), "negative shape"),
])
def test_malformed_graphs_are_refused_with_the_problem(model, phrase):
    with pytest.raises(GraphError, match="model.onnx") as err:
        build_graph(model, source="model.onnx", canonical=True)
    assert phrase in str(err.value)


def test_graphs_out_of_order_and_unknown_ops_still_hash():
    model = _small_graph()
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes[::-1])  # Relu before the Conv it reads: not topological
    assert build_graph(model, canonical=True).ops == build_graph(_small_graph(), canonical=True).ops
    custom = _small_graph(nodes=[helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
                                 helper.make_node("Swish", ["c"], ["y"], domain="com.example")])
    custom.opset_import.append(helper.make_opsetid("com.example", 1))
    assert build_graph(custom, canonical=True).ops[-1] == "Swish"


def test_long_chains_and_wide_fan_outs_build():
    """The canonical rules edit in O(degree): 20,000-node chains and fan-outs build (bench/hostile.py times them)."""
    n = 20_000
    # Relu and Neg alternate (a Relu of a Relu is the identity: drop_redundant_relu removes it)
    chain = [helper.make_node("Relu" if i % 2 else "Neg", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"])
             for i in range(n)]
    # distinct branches (identical ones are one computation: merge_duplicate_layers makes them one layer)
    fan = [helper.make_node("LeakyRelu", ["x"], [f"f{i}"], alpha=1.0 / (i + 2)) for i in range(n)] + [
        helper.make_node("Sum", [f"f{i}" for i in range(n)], ["s"])]
    for nodes, out in ((chain, f"t{n - 1}"), (fan, "s")):
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                                  [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])
        g = build_graph(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), canonical=True)
        assert g.num_nodes >= n


def test_node_limit(monkeypatch):
    monkeypatch.setenv("HNN_MAX_NODES", "1")
    with pytest.raises(GraphError, match="more than 1 nodes"):
        build_graph(_small_graph())


# -------------------------------------------------------------------------- output and time


def test_library_output_is_kept_off_stdout_and_stderr(capfd):
    from hnn_tf._tf import quiet_native_output

    with quiet_native_output():
        os.write(1, b"native stdout\n")
        os.write(2, b"native stderr\n")
        print("python stdout")
        print("python stderr", file=sys.stderr)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_time_limit_gives_one_line(tmp_path):
    model = tmp_path / "small.onnx"
    onnx.save(_small_graph(), str(model))
    one_error_line(cli("hash", "--timeout", "0.001", model), model, "took longer than 0.001 s")


def test_hash_goes_on_past_bad_files(tmp_path):
    good = tmp_path / "good.onnx"
    onnx.save(_small_graph(), str(good))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 not a model")
    result = cli("hash", bad, good, tmp_path / "missing.onnx")
    assert result.returncode == 2
    (line,) = result.stdout.splitlines()
    assert line.endswith(f"  {good}") and len(line.split()[0]) == 16
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and errors[0].startswith(f"hnn: error: {bad}:") and "missing.onnx: no such file" in errors[1]


# -------------------------------------------------------------------------- writes


def test_atomic_write_never_writes_through_a_planted_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "export.jsonl"
    (tmp_path / "export.jsonl.tmp").symlink_to(victim)  # the name the old code wrote through
    atomic_write(target, "new")
    assert target.read_text() == "new" and victim.read_text() == "keep me"
    link = tmp_path / "link.jsonl"
    link.symlink_to(victim)
    with pytest.raises(HNNError, match="not a regular file"):
        atomic_write(link, "x")
    with pytest.raises(HNNError, match="character device"):
        atomic_write("/dev/null", "x")
    assert victim.read_text() == "keep me" and stat.S_ISCHR(os.stat("/dev/null").st_mode)


# -------------------------------------------------------------------------- the registry


@pytest.fixture()
def small_registry(tmp_path):
    """A registry file with 3 stored codes of the installed hasher."""
    from hnn_tf.index import Entry, Registry
    from hnn_tf.index.registry import installed_hasher
    from hnn_tf.hashing import ModelHash

    bits, version = installed_hasher(64)
    db = tmp_path / "reg.sqlite"
    with Registry(db) as reg:
        reg.add_entries([Entry(None, f"m{i}", None, "onnx", f"m{i}.onnx", f"{i:064x}",
                               ModelHash.from_hex(f"{i:016x}", hasher_version=version), 3, 2, 10, 10, "")
                         for i in range(3)])
    return db


def test_search_k_and_radius_and_threshold_are_bounded(small_registry):
    result = cli("search", "--hex", "0000000000000000", "-k", "1000000000", "--db", small_registry, "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["matches"]) == 3
    result = cli("search", "--hex", "0000000000000000", "-k", str(10**30), "--db", small_registry, "--json")
    assert result.returncode == 0 and len(json.loads(result.stdout)["matches"]) == 3
    for args, phrase in ((["search", "--radius", "65"], "radius 65 is larger than the code length (64 bits)"),
                         (["check", "--threshold", "1000"], "threshold 1000 is larger than the code length")):
        result = cli(*args, "--hex", "0000000000000000", "--db", small_registry)
        assert result.returncode == 2 and result.stdout == "" and phrase in result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_export_refuses_links_and_devices(small_registry, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "out.jsonl"
    link.symlink_to(victim)
    result = cli("index", "export", link, "--db", small_registry)
    assert result.returncode == 2 and "not a regular file" in result.stderr
    result = cli("index", "export", "/dev/null", "--db", small_registry)
    assert result.returncode == 2 and "character device" in result.stderr
    assert victim.read_text() == "keep me" and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_read_only_commands_never_write(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    result = cli("index", "list", "--db", empty)
    assert result.returncode == 0 and "no models" in result.stderr
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite"]


def test_registry_in_a_read_only_folder_can_be_read(small_registry, tmp_path):
    """A reader that cannot create SQLite's -shm/-wal files (a read-only folder) still reads the registry.

    The folder is made read-only, which binds ordinary users; root ignores permissions, so the
    -shm and -wal paths are also dangling links SQLite cannot open, the same failure.
    """
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "reg.sqlite"
    db.write_bytes(small_registry.read_bytes())
    (folder / "reg.sqlite-shm").symlink_to(tmp_path / "absent" / "shm")
    (folder / "reg.sqlite-wal").symlink_to(tmp_path / "absent" / "wal")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        with pytest.raises(sqlite3.OperationalError, match="unable to open"):
            conn.execute("SELECT count(*) FROM models").fetchone()
    before = sorted(p.name for p in folder.iterdir()), db.read_bytes()
    folder.chmod(0o555)
    try:
        for args in (["index", "list", "--json"], ["search", "--hex", "0000000000000000", "--json"]):
            result = cli(*args, "--db", db)
            assert result.returncode == 0, result.stderr
            assert "m0" in result.stdout and "m2" in result.stdout
    finally:
        folder.chmod(0o755)
    assert (sorted(p.name for p in folder.iterdir()), db.read_bytes()) == before


def test_import_is_all_or_nothing_under_kill_9(small_registry, tmp_path):
    """kill -9 at moments spread over a 60,000-entry import (timed once uncut, then cut at 50-100 %
    of that, where the single write transaction runs): the registry holds all of it or none of it."""
    import shutil

    from hnn_tf.index.registry import installed_hasher

    _, version = installed_hasher(64)
    n = 60_000
    export = tmp_path / "big.jsonl"
    with open(export, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"name": f"big{i}", "label": None, "framework": "onnx", "source": f"b{i}",
                                 "sha256": f"{i + 1000:064x}", "bits": 64, "hash": f"{i:016x}",
                                 "hasher_version": version, "nodes": 1, "edges": 0, "flops": 1, "params": 1}) + "\n")
    scratch = tmp_path / "scratch.sqlite"
    shutil.copy(small_registry, scratch)
    start = time.time()
    assert cli("index", "import", export, "--db", scratch).returncode == 0
    uncut = time.time() - start
    seen = []
    for fraction in (0.5, 0.7, 0.85, 0.93, 0.98):
        proc = subprocess.Popen([HNN, "index", "import", str(export), "--db", str(small_registry)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(fraction * uncut)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(small_registry) as conn:
            count = conn.execute("SELECT count(*) FROM models").fetchone()[0]
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seen.append(count)
        assert count in (3, 3 + n), seen
        if count == 3 + n:
            break
    print(f"import of {n} entries: {uncut:.1f} s uncut; counts after each kill -9: {seen}")


_WRITER = """
import hashlib, sys
from hnn_tf.hashing import ModelHash
from hnn_tf.index.store import Entry, Store
path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Store(path)
for i in range(n):  # one transaction per entry; each commit is announced after it returns
    digest = hashlib.sha256(f"{who}{i}".encode()).hexdigest()
    store.insert([Entry(None, f"{who}-{i}", None, "onnx", f"{who}/{i}", digest,
                        ModelHash.from_hex(digest[:16], hasher_version="v"), 1, 0, 1, 1, "")])
    print(f"{who}-{i}", flush=True)
"""


def _writers_under_kill_9(tmp_path, rounds: int, writers: int = 4, n: int = 4000) -> int:
    """Rounds of ``writers`` concurrent writer processes, two of them killed with SIGKILL at random moments:
    every entry a writer saw committed is stored, the file stays intact. Returns the entries stored."""
    from hnn_tf.index.store import Store

    path = tmp_path / "shared.sqlite"
    Store(path).close()
    rng = np.random.default_rng(1)
    committed: set[str] = set()
    for r in range(rounds):
        procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"r{r}w{w}", str(n)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for w in range(writers)]
        time.sleep(rng.uniform(0.8, 2.0))
        for victim in rng.choice(writers, size=2, replace=False):
            procs[victim].send_signal(signal.SIGKILL)
        for p in procs:
            out, _ = p.communicate(timeout=300)
            committed.update(out.split())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = [row[0] for row in conn.execute("SELECT name FROM models")]
    assert len(names) == len(set(names))
    assert committed <= set(names)  # nothing a writer saw committed was lost
    return len(names)


def test_concurrent_writers_under_kill_9_lose_nothing(tmp_path):
    stored = _writers_under_kill_9(tmp_path, rounds=3)
    assert 0 < stored < 3 * 4 * 4000  # the kills landed while writers were writing


@pytest.mark.slow
def test_concurrent_writers_under_kill_9_twenty_rounds(tmp_path):
    assert _writers_under_kill_9(tmp_path, rounds=20) > 0
