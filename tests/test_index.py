"""The registry of known models: storage, Hamming search engines, threshold, API and CLI (paper Figure 1)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hnn_tf.errors import HashError, HNNError
from hnn_tf.hashing import ModelHash, hamming_matrix
from hnn_tf.index import (
    DuplicateError,
    Entry,
    HammingIndex,
    Registry,
    RegistryError,
    available_engines,
    best_f1_threshold,
    default_db_path,
    installed_hasher,
    threshold_for,
)
from hnn_tf.index.threshold import THRESHOLD_FILE

ROOT = Path(__file__).resolve().parent.parent
V = "test-version-1"


# -- helpers ------------------------------------------------------------------------------------


def entry(i: int, hex_code: str, version: str = V, name: str | None = None, sha: str | None = None) -> Entry:
    """A precomputed registry record with a distinct sha256 per i."""
    code = ModelHash.from_hex(hex_code, hasher_version=version)
    return Entry(None, name or f"m{i}", "lab", "onnx", f"src/{i}.onnx",
                 sha or hashlib.sha256(f"file {i}".encode()).hexdigest(), code, 10, 9, 1000, 100, "")


def random_hashes(rng, n: int, bits: int, version: str | None = V, distinct: int | None = None) -> list[ModelHash]:
    """n random codes; with ``distinct``, drawn from that many values so that ties abound."""
    pool = rng.integers(0, 2, size=(distinct or n, bits)).astype(bool)
    rows = pool[rng.integers(0, len(pool), size=n)] if distinct else pool
    return [ModelHash(r, version) for r in rows]


def brute_force(db: list[ModelHash], q: ModelHash, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (distance, id) pairs sorted by distance then id."""
    d = hamming_matrix(q.code[None], np.stack([h.code for h in db]))[0]
    order = np.lexsort((ids, d))
    return d[order], ids[order]


def run_cli(*args, env=None):
    from hnn_tf.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture(autouse=True)
def _private_db(tmp_path, monkeypatch):
    """Every test gets its own default registry: the user's data folder is never touched."""
    monkeypatch.setenv("HNN_DB", str(tmp_path / "default-registry.sqlite"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Three small ONNX files: two conv nets (one a byte copy of the other) and an MLP, plus a garbage .onnx."""
    import onnx
    import torch

    from hnn_tf.converters import to_onnx

    folder = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 16 * 16, 10)).eval()
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)).eval()
    paths = {}
    for name, net in (("conv", conv), ("mlp", mlp)):
        paths[name] = folder / f"{name}.onnx"
        onnx.save(to_onnx(net, framework="pytorch", input_shape=(1, 3, 32, 32)), str(paths[name]))
    paths["conv_copy"] = folder / "conv_copy.onnx"
    paths["conv_copy"].write_bytes(paths["conv"].read_bytes())
    paths["garbage"] = folder / "garbage.onnx"
    paths["garbage"].write_bytes(b"\x08\x07garbage that is not a protobuf" * 10)
    paths["conv_module"] = conv
    paths["wide_module"] = torch.nn.Sequential(  # never saved: registered as an object
        torch.nn.Conv2d(3, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(32, 10)).eval()
    return paths


# -- engines ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [64, 12, 32, 128])
def test_faiss_and_numpy_give_identical_neighbours_and_order(bits):
    rng = np.random.default_rng(bits)
    for trial in range(6):
        n = int(rng.integers(1, 400))
        db = random_hashes(rng, n, bits, distinct=int(rng.integers(1, 12)))  # heavy ties
        ids = np.sort(rng.choice(10 * n + 10, size=n, replace=False)).astype(np.int64) + 1
        fa = HammingIndex.from_hashes(db, ids, engine="faiss")
        npy = HammingIndex.from_hashes(db, ids, engine="numpy")
        queries = random_hashes(rng, 5, bits) + db[:3]
        for k in (1, 3, int(rng.integers(1, 2 * n + 2))):
            d1, i1 = fa.search_batch(queries, k)
            d2, i2 = npy.search_batch(queries, k)
            np.testing.assert_array_equal(i1, i2)
            np.testing.assert_array_equal(d1, d2)
            for q, drow, irow in zip(queries, d1, i1):
                bd, bi = brute_force(db, q, ids)
                m = min(k, n)
                np.testing.assert_array_equal(irow[:m], bi[:m])  # nearest first, ties by id
                np.testing.assert_array_equal(drow[:m], bd[:m])
                assert (irow[m:] == -1).all()
        for r in (0, 2, bits // 4, bits):
            a, b = fa.within(queries[0], r), npy.within(queries[0], r)
            np.testing.assert_array_equal(a.ids, b.ids)
            np.testing.assert_array_equal(a.distances, b.distances)


@pytest.mark.parametrize("engine", available_engines())
def test_radius_query_is_exact_and_inclusive(engine):
    rng = np.random.default_rng(7)
    db = random_hashes(rng, 300, 64, distinct=40)
    ids = np.arange(1, 301)
    index = HammingIndex.from_hashes(db, ids, engine=engine)
    q = db[5]
    bd, bi = brute_force(db, q, ids)
    for r in (0, 20, 28, 64, 1000):
        got = index.within(q, r)
        keep = bd <= r
        np.testing.assert_array_equal(got.ids, bi[keep])
        np.testing.assert_array_equal(got.distances, bd[keep])
    assert 6 in index.within(q, 0).ids.tolist()  # the query itself, distance 0
    limited = index.within(q, 30, k=4)
    np.testing.assert_array_equal(limited.ids, bi[bd <= 30][:4])
    with pytest.raises(HNNError):
        index.within(q, -1)


@pytest.mark.parametrize("engine", available_engines())
def test_codes_of_another_length_or_version_are_refused(engine):
    rng = np.random.default_rng(1)
    index = HammingIndex.from_hashes(random_hashes(rng, 20, 64), engine=engine)
    with pytest.raises(HashError, match="32-bit"):
        index.search(random_hashes(rng, 1, 32)[0])
    with pytest.raises(HashError, match="other-version"):
        index.search(random_hashes(rng, 1, 64, version="other-version")[0])
    unversioned = random_hashes(rng, 1, 64, version=None)[0]
    assert len(index.search(unversioned, 3)) == 3  # an unversioned code is taken as the index's


# -- storage ------------------------------------------------------------------------------------


def test_store_uses_wal_and_refuses_duplicates(tmp_path):
    path = tmp_path / "reg.sqlite"
    with Registry(path) as reg:
        (first, added), = reg.add_entries([entry(1, "00ff00ff00ff00ff")])
        assert added and first.id == 1
        with pytest.raises(DuplicateError, match="already registered as 'm1'"):
            reg.add_entries([entry(2, "0000000000000001"), entry(1, "00ff00ff00ff00ff", name="again")],
                            on_duplicate="error")
        assert [e.name for e in reg.entries()] == ["m1"]  # the failed batch stored nothing
        out = reg.add_entries([entry(2, "0000000000000001"), entry(1, "00ff00ff00ff00ff", name="again")])
        assert [(e.name, a) for e, a in out] == [("m2", True), ("m1", False)]
        # same file, another hasher version: a new entry
        (other, added), = reg.add_entries([entry(1, "00ff00ff00ff00ff", version="v2")])
        assert added and other.hasher_version == "v2"
        with pytest.raises(RegistryError, match="name 'm2' is taken"):
            reg.add_entries([entry(9, "0000000000000003", name="m2")])
        assert len(reg) == 3
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM models").fetchone()[0] == 3
    conn.close()


def test_entries_keep_every_field(tmp_path):
    with Registry(tmp_path / "r.sqlite") as reg:
        reg.add_entries([entry(1, "123456789abcdef0")])
        (e,) = reg.entries()
    d = e.to_dict()
    assert d["hash"] == "123456789abcdef0" and d["bits"] == 64 and d["hasher_version"] == V
    assert (d["nodes"], d["edges"], d["flops"], d["params"]) == (10, 9, 1000, 100)
    assert d["sha256"] == hashlib.sha256(b"file 1").hexdigest() and d["added_at"].endswith("+00:00")


def test_search_sees_other_connections_writes_and_ties_follow_insertion(tmp_path):
    path = tmp_path / "r.sqlite"
    a, b = Registry(path), Registry(path)
    a.add_entries([entry(1, "f000000000000000"), entry(2, "0f00000000000000")])
    q = ModelHash.from_hex("0000000000000000", hasher_version=V)
    assert [m.entry.name for m in a.search(q, k=5)] == ["m1", "m2"]  # both at distance 4: by insertion
    b.add_entries([entry(3, "0000000000000000")])  # another connection
    assert [(m.entry.name, m.distance) for m in a.search(q, k=5)] == [("m3", 0), ("m1", 4), ("m2", 4)]
    b.remove("m1")
    assert [m.entry.name for m in a.search(q, k=5)] == ["m3", "m2"]
    a.close(), b.close()


def test_export_import_round_trip(tmp_path):
    src = tmp_path / "a.sqlite"
    with Registry(src) as reg:
        reg.add_entries([entry(i, f"{i:016x}") for i in range(1, 6)])
        assert reg.export_jsonl(tmp_path / "x.jsonl") == 5
        before = [e.to_dict() for e in reg.entries()]
    with Registry(tmp_path / "b.sqlite") as reg:
        assert reg.import_jsonl(tmp_path / "x.jsonl") == (5, 0)
        assert reg.import_jsonl(tmp_path / "x.jsonl") == (0, 5)
        after = [e.to_dict() for e in reg.entries()]
        assert after == before
        bad = tmp_path / "bad.jsonl"
        lines = (tmp_path / "x.jsonl").read_text().splitlines()
        bad.write_text(json.dumps({**json.loads(lines[0]), "name": "new", "sha256": "ab" * 32}) + "\n"
                       + lines[1].replace('"bits": 64', '"bits": 60') + "\n")
        with pytest.raises(RegistryError, match="line 2"):
            reg.import_jsonl(bad)
        assert len(reg) == 5  # nothing of the bad file was stored


def test_remove(tmp_path):
    with Registry(tmp_path / "r.sqlite") as reg:
        reg.add_entries([entry(1, "0000000000000001"), entry(2, "0000000000000002")])
        assert [e.name for e in reg.remove("m1")] == ["m1"]
        assert [e.name for e in reg.entries()] == ["m2"]
        with pytest.raises(RegistryError, match="no model called 'm1'"):
            reg.remove("m1")


def test_wrong_length_or_version_queries_are_refused_by_the_registry(tmp_path):
    with Registry(tmp_path / "r.sqlite") as reg:
        reg.add_entries([entry(1, "0000000000000001")])
        with pytest.raises(HashError, match="32-bit"):
            reg.search(ModelHash.from_hex("00000001"), k=1)
        with pytest.raises(RegistryError, match="no 64-bit codes of hasher other"):
            reg.search(ModelHash.from_hex("0000000000000001", hasher_version="other"), k=1)
        with pytest.raises(HNNError):
            reg.search(ModelHash.from_hex("0000000000000001", hasher_version=V), k=0)


def _malformed_sqlite(path: Path) -> None:
    with Registry(path) as reg:
        reg.add_entries([entry(i, f"{i:016x}") for i in range(1, 200)])
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : 6 * page] = b"\xa5" * (5 * page)  # overwrite B-tree pages, keep the header
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["garbage", "malformed", "foreign"])
def test_corrupt_registry_is_refused_and_left_unchanged(tmp_path, kind):
    path = tmp_path / "corrupt.sqlite"
    if kind == "garbage":
        path.write_bytes(b"this is not a database\n" * 50)
    elif kind == "malformed":
        _malformed_sqlite(path)
    else:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE customers (id INTEGER)")
        conn.commit()
        conn.close()
    before = path.read_bytes()
    with pytest.raises(RegistryError) as err:
        with Registry(path) as reg:
            reg.add_entries([entry(1000, "0000000000000001")])
            reg.entries()
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == before
    result = run_cli("index", "list", "--db", path)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("hnn: error:")
    assert path.read_bytes() == before


def test_two_processes_adding_at_once_lose_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"
    Registry(path).close()  # create the schema first, as `hnn index add` would
    script = textwrap.dedent("""
        import hashlib, sys
        import hnn_tf
        from hnn_tf.hashing import ModelHash
        from hnn_tf.index import Entry, Registry
        path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
        with Registry(path) as reg:
            for i in range(n):  # one transaction per entry, interleaved with the other process
                code = ModelHash.from_hex(hashlib.sha256(f"{who}{i}".encode()).hexdigest()[:16], hasher_version="v")
                e = Entry(None, f"{who}-{i}", None, "onnx", f"{who}/{i}", hashlib.sha256(f"{who}{i}".encode()).hexdigest(),
                          code, 1, 0, 1, 1, "")
                reg.add_entries([e], on_duplicate="error")
                if i % 10 == 0:
                    reg.search(code, k=3)  # reads between the other process's writes
    """)
    n = 120
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), who, str(n)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with Registry(path) as reg:
        names = {e.name for e in reg.entries()}
    assert names == {f"{w}-{i}" for w in "ab" for i in range(n)}


def test_default_db_path(monkeypatch, tmp_path):
    assert default_db_path() == tmp_path / "default-registry.sqlite"
    monkeypatch.delenv("HNN_DB")
    assert default_db_path() == tmp_path / "xdg-data" / "hnn" / "registry.sqlite"


# -- threshold ----------------------------------------------------------------------------------


def test_best_f1_threshold_matches_brute_force():
    rng = np.random.default_rng(3)
    same = rng.random(500) < 0.2
    d = np.where(same, rng.integers(0, 12, 500), rng.integers(6, 33, 500))
    got = best_f1_threshold(d, same, 32)
    f1 = []
    for t in range(33):
        tp, fp = int((same & (d <= t)).sum()), int((~same & (d <= t)).sum())
        fn = int((same & (d > t)).sum())
        p, r = (tp / (tp + fp) if tp + fp else 1.0), tp / (tp + fn)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    assert got["f1"] == pytest.approx(max(f1))
    assert f1[got["threshold"]] == pytest.approx(max(f1))
    # a perfectly separable set: F1 = 1 on 3..7, the median 5 is kept
    sep = best_f1_threshold([0, 1, 3, 8, 9, 20], [True, True, True, False, False, False], 32)
    assert (sep["threshold"], sep["best_f1_thresholds"], sep["f1"]) == (5, [3, 7], 1.0)


def test_shipped_threshold_calibration_is_consistent():
    data = json.loads(THRESHOLD_FILE.read_text())
    assert data["calibrations"]
    for version, rec in data["calibrations"].items():
        assert rec["hasher_version"] == version and rec["bits"] in (16, 32, 48, 64, 128)
        if rec.get("zoo", "paper") == "paper":  # best F1 over all pairs of the paper zoo's 242 codes
            lo, hi = rec["best_f1_thresholds"]
            assert lo <= rec["threshold"] <= hi and rec["pairs"] == 242 * 241 // 2
            curve = {c["threshold"]: c["f1"] for c in rec["curve"]}
            assert curve[rec["threshold"]] == pytest.approx(max(curve.values()), abs=1e-4)
        else:  # broad zoo: best F1 of copies, capped where more than 1% of the zoo would be flagged
            cap, t, flags = rec["false_flag_cap"], rec["threshold"], rec["curve"]
            assert rec["zoo"] == "broad" and t == min(cap, rec["f1_threshold"])
            assert flags[t] == pytest.approx(rec["false_flags"], abs=1e-4) and (cap == 0 or flags[cap] <= 0.01)
            assert cap == rec["bits"] or flags[cap + 1] > 0.01
            assert 0.0 <= rec["recall_copies"] <= 1.0 and 0.0 <= rec["recall_light"] <= 1.0


def test_threshold_falls_back_with_a_warning_for_an_uncalibrated_hasher():
    records = json.loads(THRESHOLD_FILE.read_text())["calibrations"].values()
    rec = max(records, key=lambda r: str(r.get("computed_at", "")))  # the newest calibration is the fallback
    choice = threshold_for(rec["bits"], "some-retrained-hasher")
    assert choice.source == "fallback" and choice.value == rec["threshold"]
    assert "some-retrained-hasher" in choice.warning and "hnn index calibrate" in choice.warning
    assert threshold_for(rec["bits"], rec["hasher_version"]).source == "calibrated"
    scaled = threshold_for(rec["bits"] // 2, "another")
    assert scaled.value == round(rec["threshold"] / 2) and "scaled" in scaled.warning


# -- models, API and CLI ------------------------------------------------------------------------


def test_add_search_check_round_trip_with_small_models(tmp_path, tiny_models):
    path = tmp_path / "reg.sqlite"
    with Registry(path) as reg:
        conv = reg.add(tiny_models["conv"], label="vendor-x")
        mlp = reg.add(str(tiny_models["mlp"]))
        assert (conv.name, conv.label, conv.framework, conv.bits) == ("conv", "vendor-x", "onnx", 64)
        assert conv.sha256 == hashlib.sha256(tiny_models["conv"].read_bytes()).hexdigest()
        assert conv.hasher_version == installed_hasher(64)[1] and conv.nodes > 0 and conv.params > 0
        with pytest.raises(DuplicateError):
            reg.add(tiny_models["conv_copy"], name="other-name")  # same bytes, another path
        # a model object: sha256 of its weightless ONNX export plus its weights, so the module
        # whose export is conv.onnx is its own entry with conv's code, and a module added twice
        # is refused the second time
        conv_obj = reg.add(tiny_models["conv_module"], name="conv-object", input_shape=(1, 3, 32, 32))
        assert conv_obj.sha256 != conv.sha256 and conv_obj.hash - conv.hash == 0
        with pytest.raises(DuplicateError) as dup:
            reg.add(tiny_models["conv_module"], name="conv-object-2", input_shape=(1, 3, 32, 32))
        assert dup.value.existing.name == "conv-object"
        obj = reg.add(tiny_models["wide_module"], name="wide", input_shape=(1, 3, 32, 32))
        assert obj.framework == "pytorch" and obj.source == "<object Sequential>" and len(obj.sha256) == 64
        with pytest.raises(DuplicateError):
            reg.add(tiny_models["wide_module"], name="wide-2", input_shape=(1, 3, 32, 32))

        res = reg.search(tiny_models["conv_copy"], k=3)
        assert res[0].entry.name == "conv" and res[0].distance == 0 and res[0].same_file
        assert [m.distance for m in res] == sorted(m.distance for m in res)
        assert res.query - conv.hash == 0 and res.sha256 == conv.sha256
        d_mlp = mlp.hash - conv.hash
        assert {m.entry.name: m.distance for m in res}["mlp"] == d_mlp
        within = reg.search(conv.hash, radius=d_mlp, k=None)
        assert [m.entry.name for m in within][:1] == ["conv"] and "mlp" in [m.entry.name for m in within]
        assert all(m.distance <= d_mlp for m in within)

        check = reg.check(tiny_models["conv_copy"])
        assert check.suspect and check.exit_code == 1 and check.threshold.source in ("calibrated", "fallback")
        assert check.within >= 1 and check.matches[0].distance == 0 and check.matches[0].same_file
        far = ModelHash(~conv.hash.code, None)  # every bit flipped: 64 from conv
        nearest = min(far - e.hash for e in reg.entries())
        clean = reg.check(far, threshold=nearest - 1)
        assert not clean.suspect and clean.exit_code == 0 and clean.within == 0
        assert reg.check(far, threshold=nearest).suspect
        with pytest.raises(HNNError, match="no such file"):
            reg.search(tmp_path / "missing.onnx")
        with pytest.raises(HNNError):
            reg.add(tiny_models["garbage"])
        assert len(reg) == 4  # conv, mlp, conv-object, wide: nothing stored by the failures


def test_registry_takes_what_hnn_hash_takes_model_names_and_model_folders(tmp_path):
    """A model name a converter builds (and a folder a converter reads) is added and checked as
    `hnn hash` hashes it; a missing path or a folder no converter reads is one clear error."""
    with Registry(tmp_path / "names.sqlite") as reg:
        entry = reg.add("torchvision:squeezenet1_1")
        assert entry.name == "torchvision:squeezenet1_1" and entry.source == "torchvision:squeezenet1_1"
        check = reg.check("torchvision:squeezenet1_1")
        assert check.suspect and check.matches[0].distance == 0 and check.matches[0].same_file
        with pytest.raises(HNNError, match="no such file"):
            reg.check(str(tmp_path / "missing.onnx"))
        (tmp_path / "empty").mkdir()
        with pytest.raises(HNNError, match="not one a converter recognises"):
            reg.check(str(tmp_path / "empty"))
        assert len(reg) == 1
    r = run_cli("check", "--db", tmp_path / "names.sqlite", "torchvision:squeezenet1_1")
    assert r.exit_code == 1 and "squeezenet1_1" in r.output


def test_cli_index_search_check_and_exit_codes(tmp_path, tiny_models):
    db = tmp_path / "cli.sqlite"
    assert run_cli("index", "list", "--db", db).exit_code == 2  # no registry yet
    added = run_cli("index", "add", tiny_models["conv"], tiny_models["mlp"], tiny_models["conv_copy"],
                    "--label", "vendor-x", "--db", db, "--quiet")
    assert added.exit_code == 0, added.output
    assert added.stdout.count("added ") == 2 and "skipped" in added.stdout  # the copy is the same file
    listed = json.loads(run_cli("index", "list", "--json", "--db", db).stdout)
    assert [e["name"] for e in listed] == ["conv", "mlp"] and {e["label"] for e in listed} == {"vendor-x"}
    conv = listed[0]

    s = run_cli("search", tiny_models["conv_copy"], "-k", "1", "--json", "--db", db)
    assert s.exit_code == 0, s.output
    out = json.loads(s.stdout)
    assert out["matches"][0]["name"] == "conv" and out["matches"][0]["distance"] == 0
    assert out["query"]["hash"] == conv["hash"] and len(out["matches"]) == 1
    by_hex = run_cli("search", "--hex", conv["hash"], "--radius", "0", "--db", db)
    assert by_hex.exit_code == 0 and "conv" in by_hex.stdout

    suspect = run_cli("check", tiny_models["conv_copy"], "--db", db)
    assert suspect.exit_code == 1, suspect.output
    assert suspect.stdout.startswith("SUSPECT") and "conv" in suspect.stdout
    assert "calibrated on the broad zoo" in suspect.stdout  # the default hasher's threshold, named by its zoo
    far_hex = str(ModelHash(~ModelHash.from_hex(conv["hash"]).code, None))
    mlp_hex = listed[1]["hash"]
    nearest = min(bin(int(far_hex, 16) ^ int(h, 16)).count("1") for h in (conv["hash"], mlp_hex))
    clean = run_cli("check", "--hex", far_hex, "--threshold", nearest - 1, "--json", "--db", db)
    assert clean.exit_code == 0, clean.output
    report = json.loads(clean.stdout)
    assert report["verdict"] == "clean" and report["threshold_source"] == "user"
    assert report["matches"][0]["distance"] == nearest and {"name", "label", "flops", "params"} <= set(report["matches"][0])

    for bad in (["check", tmp_path / "missing.onnx"], ["check", tiny_models["garbage"]],
                ["check", "--hex", "abc"], ["search", "--hex", "zz" * 8], ["index", "remove", "nobody"]):
        r = run_cli(*bad, "--db", db)
        assert r.exit_code == 2, (bad, r.output)
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("hnn: error:"), r.stderr

    exported = tmp_path / "reg.jsonl"
    assert run_cli("index", "export", exported, "--db", db).exit_code == 0
    assert len(exported.read_text().splitlines()) == 2
    assert run_cli("index", "remove", "mlp", "--db", db).exit_code == 0
    imp = run_cli("index", "import", exported, "--db", db)
    assert imp.exit_code == 0 and "imported 1 models (1 already stored)" in imp.stdout


def test_cli_uses_hnn_db_by_default(tmp_path):
    Registry().add_entries([entry(1, "0000000000000001", version=installed_hasher(64)[1])])
    assert (tmp_path / "default-registry.sqlite").exists()
    listed = run_cli("index", "list", "--json")
    assert [e["name"] for e in json.loads(listed.stdout)] == ["m1"]


@pytest.mark.slow
def test_calibration_reproduces_the_shipped_threshold():
    from hnn_tf.zoo.calibration import calibrate

    record = calibrate(64, "hnn", progress=False)
    shipped = json.loads(THRESHOLD_FILE.read_text())["calibrations"].get(record["hasher_version"])
    assert shipped is not None, "the installed hasher has no calibration: run `hnn index calibrate`"
    assert record["threshold"] == shipped["threshold"]


def test_false_flag_threshold_is_the_largest_within_the_rate():
    from hnn_tf.errors import HNNError
    from hnn_tf.index.threshold import false_flag_threshold

    # 100 models: nearest other-family distances 0 (1 model), 3 (1), 5 (98)
    d = np.array([0, 3] + [5] * 98)
    r = false_flag_threshold(d, 8, rate=0.01)
    assert r["threshold"] == 2 and r["flag_rate"] == 0.01 and r["curve"][:6] == [0.01, 0.01, 0.01, 0.02, 0.02, 1.0]
    assert false_flag_threshold(d, 8, rate=0.02)["threshold"] == 4
    # identical codes across families already exceed the rate: an identical code is still a match
    assert false_flag_threshold(np.zeros(10, int), 8, rate=0.01) == {
        "threshold": 0, "flag_rate": 1.0, "rate": 0.01, "curve": [1.0] * 9}
    # no other family at all (distance bits + 1): nothing is ever flagged
    assert false_flag_threshold(np.full(4, 9), 8)["threshold"] == 8
    for bad in (np.zeros(0, int), ):
        with pytest.raises(HNNError):
            false_flag_threshold(bad, 8)
    with pytest.raises(HNNError):
        false_flag_threshold(d, 8, rate=1.5)
