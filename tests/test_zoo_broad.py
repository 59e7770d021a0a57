"""The broad zoo (hnn_tf/zoo/broad.py, hnn_tf/zoo/sources/): sources, the build with its cache,
aliases, failures, crashes and the ``hnn zoo`` commands.

A toy source defined here (registered as ``toy``) gives small PyTorch models whose outcome is
known: two names with one architecture (an alias), a model over the cap, one whose build
raises (documented as a known failure), one whose build kills its process. The real sources
are listed (cheap) and a few of their models built."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from hnn_tf.zoo.broad import build_entry, build_zoo, load_zoo, select_entries
from hnn_tf.zoo.sources import SOURCES, Built, Source, TooLarge, ZooEntry, get_source, register_source

BUILDS = {"count": 0}


def _mlp(width: int):
    import torch
    from torch import nn

    return nn.Sequential(nn.Linear(16, width), nn.ReLU(), nn.Linear(width, 4)), (torch.zeros(1, 16),)


class ToySource(Source):
    """Small models with known outcomes (see the module doc)."""

    name = "toy"
    packages = ("torch",)
    known_failures = {"broken": "its build raises on purpose"}

    def entries(self):
        return [ZooEntry("mlp-a", "mlp", self.name, "toy"), ZooEntry("mlp-b", "mlp", self.name, "toy"),
                ZooEntry("mlp-wide", "mlp", self.name, "toy"), ZooEntry("conv", "conv", self.name, "toy"),
                ZooEntry("big", "mlp", self.name, "toy"), ZooEntry("broken", "conv", self.name, "toy"),
                ZooEntry("crash", "conv", self.name, "toy")]

    def build(self, entry, max_params=None):
        import torch
        from torch import nn

        BUILDS["count"] += 1
        if entry.name == "crash":
            os._exit(3)  # what a segfaulting native library does to its process
        if entry.name == "broken":
            raise ValueError("this model cannot be built\nsecond line of the message")
        if entry.name == "conv":
            model, args = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1)), (torch.zeros(1, 3, 16, 16),)
        else:
            model, args = _mlp({"mlp-a": 32, "mlp-b": 32, "mlp-wide": 64, "big": 4096}[entry.name])
        params = sum(p.numel() for p in model.parameters())
        if max_params is not None and params > max_params:
            raise TooLarge(params, max_params)
        return Built(model.eval(), args, None, params)


if "toy" not in SOURCES:
    register_source(ToySource)

CAP = 10_000
SAFE = ["mlp-a", "mlp-b", "mlp-wide", "conv", "big", "broken"]


@pytest.fixture()
def zoo_dir(tmp_path):
    return tmp_path / "broad"


def test_build_records_aliases_failures_and_the_cap(zoo_dir):
    zoo = build_zoo(["toy"], max_params=CAP, jobs=0, progress=False, names=SAFE, directory=zoo_dir)
    by = {r.entry.name: r for r in zoo.records}
    assert [r.entry.name for r in zoo.records] == SAFE and zoo.rebuilt == len(SAFE)
    assert by["mlp-b"].alias_of == "toy:mlp-a" and by["mlp-a"].alias_of is None  # one architecture
    assert by["mlp-wide"].alias_of is None and by["mlp-wide"].graph.fingerprint() != by["mlp-a"].graph.fingerprint()
    assert by["big"].status == "too-large" and by["big"].params == 16 * 4096 + 4096 + 4096 * 4 + 4
    assert by["broken"].status == "failed" and by["broken"].known
    assert by["broken"].error == "build: ValueError: this model cannot be built second line of the message"
    assert by["conv"].graph.ops == ["Conv", "Relu", "GlobalAveragePool"] and by["conv"].params == 3 * 8 * 9 + 8
    c = zoo.counts()["toy"]
    assert (c["entries"], c["built"], c["architectures"], c["aliases"], c["too-large"], c["failed"],
            c["failed-known"], c["families"]) == (6, 4, 3, 1, 1, 1, 1, 2)
    assert set(by["conv"].seconds) == {"build", "export", "ir", "graph"}
    assert {r.key for r in zoo.architectures} == {"toy:mlp-a", "toy:mlp-wide", "toy:conv"}


def test_rerun_reads_the_cache_and_rules_rebuild_from_the_ir(zoo_dir, monkeypatch):
    first = build_zoo(["toy"], max_params=CAP, jobs=0, progress=False, names=SAFE, directory=zoo_dir)
    BUILDS["count"] = 0
    again = build_zoo(["toy"], max_params=CAP, jobs=0, progress=False, names=SAFE, directory=zoo_dir)
    assert again.rebuilt == 0 and BUILDS["count"] == 0 and again.wall_seconds == 0.0
    assert [r.summary() for r in again.records] == [r.summary() for r in first.records]
    # new rewrite rules: graphs come again from the stored IR, no model is built or exported
    import hnn_tf.zoo.broad as broad

    monkeypatch.setattr(broad, "graph_key", lambda ir: "rules-changed")
    calls = []
    real = broad._graph_from_ir_dict
    monkeypatch.setattr(broad, "_graph_from_ir_dict", lambda ir, src: calls.append(src) or real(ir, src))
    third = build_zoo(["toy"], max_params=CAP, jobs=0, progress=False, names=SAFE, directory=zoo_dir)
    assert BUILDS["count"] == 0 and sorted(calls) == ["toy:conv", "toy:mlp-a", "toy:mlp-b", "toy:mlp-wide"]
    assert [r.graph.fingerprint() for r in third.built] == [r.graph.fingerprint() for r in first.built]
    # a raised cap builds what was too large; a lower one skips what is over it without building
    more = build_zoo(["toy"], max_params=None, jobs=0, progress=False, names=["big", "mlp-a"], directory=zoo_dir)
    assert BUILDS["count"] == 1 and [r.status for r in more.records] == ["built", "built"]
    less = build_zoo(["toy"], max_params=1000, jobs=0, progress=False, names=["big", "mlp-a"], directory=zoo_dir)
    assert BUILDS["count"] == 1 and [r.status for r in less.records] == ["built", "too-large"]  # mlp-a, big
    # load_zoo reads the cache only
    loaded = load_zoo(["toy"], max_params=CAP, directory=zoo_dir)
    assert {r.entry.name for r in loaded.records} == set(SAFE) and BUILDS["count"] == 1


def test_a_crashing_model_fails_alone(zoo_dir):
    """A build that kills its worker process fails that entry only; the others are built."""
    zoo = build_zoo(["toy"], max_params=CAP, jobs=1, progress=False, names=["mlp-a", "crash", "conv"],
                    directory=zoo_dir, timeout_s=120)
    by = {r.entry.name: r for r in zoo.records}
    assert by["crash"].status == "failed" and by["crash"].error.startswith("crash: the worker process died")
    assert by["mlp-a"].status == "built" and by["conv"].status == "built"


def test_build_entry_never_raises_and_keeps_one_line():
    out = build_entry(ZooEntry("broken", "conv", "toy", "toy"), CAP)
    assert out["status"] == "failed" and "\n" not in out["error"] and out["known"] is True
    slow = build_entry(ZooEntry("mlp-a", "mlp", "toy", "toy"), CAP, timeout_s=1e-4)
    assert slow["status"] == "failed" and "took longer than" in slow["error"]


def test_sources_list_their_entries_cheaply():
    """Each real source lists its models with the source's own family grouping."""
    tv = {e.name: e for e in select_entries(["torchvision"])}
    assert len(tv) >= 100 and tv["resnet18"].family == "resnet" and tv["fasterrcnn_resnet50_fpn"].task == "detection"
    assert tv["raft_small"].task == "optical-flow" and tv["r3d_18"].task == "video"
    assert not any(e.family == "quantization" for e in tv.values())
    timm = {e.name: e for e in select_entries(["timm"])}
    assert len(timm) > 1000 and timm["vit_tiny_patch16_224"].family == "vision_transformer"
    assert timm["deit_tiny_patch16_224"].family == "deit"
    hf = {e.name: e for e in select_entries(["transformers"])}
    assert len(hf) > 400 and hf["llama"].family == "llama" and hf["bert"].source == "transformers"
    keras = {e.name: e for e in select_entries(["keras"])}
    assert len(keras) >= 30 and keras["ResNet50"].family == "resnet" and keras["MobileNetV2"].family == "mobilenet_v2"
    paper = select_entries(["paper"])
    assert len(paper) == 22
    with pytest.raises(Exception, match="unknown zoo source"):
        get_source("no-such-source")


def test_timm_aliases_and_real_builds(tmp_path):
    """timm's vit_tiny_patch16_224 and deit_tiny_patch16_224 are one architecture; a
    torchvision and a transformers model build from their sources without weights."""
    zoo = build_zoo(["timm", "torchvision", "transformers"], jobs=0, progress=False, directory=tmp_path,
                    names=["timm:vit_tiny_patch16_224", "timm:deit_tiny_patch16_224", "torchvision:squeezenet1_1",
                           "transformers:bert"])
    by = {r.key: r for r in zoo.records}
    assert all(r.status == "built" for r in zoo.records), [r.error for r in zoo.records]
    assert by["timm:vit_tiny_patch16_224"].alias_of == "timm:deit_tiny_patch16_224" or \
        by["timm:deit_tiny_patch16_224"].alias_of == "timm:vit_tiny_patch16_224"
    assert by["torchvision:squeezenet1_1"].params == 1_235_496  # counted from declared shapes
    bert = by["transformers:bert"]
    assert bert.task == "text" and "LayerNormalization" in bert.graph.ops and "Gelu" in bert.graph.ops
    assert "4 layers" in bert.notes and bert.params < 100_000_000


# --------------------------------------------------------------------------- CLI


def _cli(*args, env):
    from hnn_tf.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_cli_zoo_build_and_list(tmp_path):
    env = {"HNN_CACHE": str(tmp_path)}
    built = _cli("zoo", "build", "--sources", "toy", "--jobs", "0", "--max-params", "10k", "--only", "mlp-a",
                 "--only", "toy:mlp-b", "--only", "broken", "--json", env=env)
    assert built.exit_code == 0, built.output
    out = json.loads(built.stdout)
    assert out["counts"]["toy"]["built"] == 2 and out["counts"]["toy"]["aliases"] == 1 and out["rebuilt"] == 3
    assert [f["key"] for f in out["failures"]] == ["toy:broken"] and out["failures"][0]["known"]
    text = _cli("zoo", "build", "--sources", "toy", "--jobs", "0", "--max-params", "10k", "--only", "mlp-a", env=env)
    assert text.exit_code == 0 and "toy" in text.stdout and "0 built now" in text.stdout
    listed = [json.loads(line) for line in _cli("zoo", "list", "--sources", "toy", "--max-params", "10k", "--json",
                                                env=env).stdout.splitlines()]
    assert [r["key"] for r in listed] == ["toy:mlp-a"] and listed[0]["family"] == "mlp" and listed[0]["nodes"] == 3
    every = _cli("zoo", "list", "--sources", "toy", "--max-params", "10k", "--all", env=env)
    assert "toy:mlp-b" in every.stdout and "toy:mlp-a" in every.stdout and "failed" in every.stdout
    for bad in (("zoo", "build", "--sources", "nope"), ("zoo", "list", "--max-params", "lots")):
        r = _cli(*bad, env=env)
        assert r.exit_code == 2 and "Traceback" not in r.output
    # --add refuses, before anything runs, an earlier report it cannot add to
    (tmp_path / "r").mkdir()
    for content in ("[1, 2]", json.dumps({"items": 99, "k": 5, "seed": 0, "methods": {}})):
        (tmp_path / "r" / "generalisation.json").write_text(content)
        r = _cli("zoo", "evaluate", "--sources", "toy", "--methods", "wl-simhash", "--add", "--results",
                 tmp_path / "r", env=env)
        assert r.exit_code == 2 and "cannot add" in r.output and "Traceback" not in r.output


# --------------------------------------------------------------------------- leave-family-out protocol


def test_leave_family_out_protocol_on_synthetic_families(tmp_path, family_items):
    from hnn_tf.zoo.generalisation import evaluate, family_folds, merge_results, write_report

    items = family_items(source=lambda f: "syn" if f % 2 else "other")
    folds = family_folds(items, k=3, seed=0)
    assert sorted(f for fold in folds for f in fold) == [f"f{f}" for f in range(6)]
    assert all(len(fold) == 2 for fold in folds)
    res = evaluate(["wl-simhash"], items, k=3, seed=0)
    s = res["methods"]["wl-simhash"]["summary"]
    # distinct op patterns per family: WL finds every family and flags nothing across families
    assert s["map"]["mean"] == 1.0 and s["p_at_1"]["mean"] == 1.0 and s["false_flags"]["mean"] == 0.0
    assert s["cross_collisions"]["mean"] == 0 and 0 <= s["variants_top1"]["mean"] <= 1
    assert set(k for k in s if k.startswith("false_flags[")) == {"false_flags[syn]", "false_flags[other]"}
    assert len(res["methods"]["wl-simhash"]["folds"]) == 3
    # the threshold is the best-F1 one (no training model is near another family here) and
    # catches the copies, the one-layer-deleted ones at least as often as the 10%-deleted ones
    for f in res["methods"]["wl-simhash"]["folds"]:
        assert 0 < f["threshold"] == f["f1_threshold"] and f["false_flags"] == f["flag_curve"][f["threshold"]]
        assert f["check_recall_light"] >= f["check_recall_copies"] > 0.5
    # the exact WL kernel, with no hash, finds every family of these graphs and no twin across families
    c = res["ceiling"]
    assert c["wl_kernel_map"] == 1.0 and c["twins"] == 0.0 and 0 < c["copy_distance"] < 1
    paths = write_report(res, tmp_path)
    assert {p.name for p in paths} == {"generalisation.json", "generalisation.md", "generalisation_flags.png"}
    md = (tmp_path / "generalisation.md").read_text()
    assert "| held-out family mAP | 1.000" in md and "held-out family mAP 1.000, P@1 1.000 when ranked" in md
    # adding a method to an earlier evaluation of the same zoo keeps both; another zoo is refused
    again = evaluate(["wl-simhash"], items, k=3, seed=0)
    again["methods"]["wl-copy"] = again["methods"].pop("wl-simhash")
    merged = merge_results(res, again)
    assert list(merged["methods"]) == ["wl-simhash", "wl-copy"] and merged["zoo"] == res["zoo"]
    assert merged["methods"]["wl-copy"]["summary"] == s
    with pytest.raises(ValueError, match="zoo"):
        merge_results(res, evaluate(["wl-simhash"], items[:-1], k=3, seed=0))
    with pytest.raises(ValueError, match="seed"):
        merge_results(res, {**again, "seed": 1})


def test_transformers_shrink_keeps_configs_consistent():
    """Shrinking a config keeps what depends on the shrunk sizes valid (zoo/sources/transformers.py):
    per-layer lists follow the layer count, and grouped MoE routing keeps two experts per group."""
    transformers = pytest.importorskip("transformers")
    from hnn_tf.zoo.sources.transformers import _shrink

    cfg = transformers.LongformerConfig(num_hidden_layers=12, attention_window=[64] * 12)
    _shrink(cfg, 1)
    assert cfg.num_hidden_layers == 4 and cfg.attention_window == [64] * 4
    cfg = transformers.DeepseekV3Config(n_routed_experts=256, n_group=8, topk_group=4)
    _shrink(cfg, 2)
    assert (cfg.n_routed_experts, cfg.n_group, cfg.topk_group) == (4, 2, 2)
    # a 5:1 local:global stack cut to 4 layers keeps its global layer last (NeoMME, Gemma 3)
    cfg = transformers.Gemma3TextConfig(num_hidden_layers=12)
    assert "full_attention" not in cfg.layer_types[:4]
    _shrink(cfg, 1)
    assert cfg.layer_types == ["sliding_attention"] * 3 + ["full_attention"]
    cfg = transformers.Gemma3TextConfig(num_hidden_layers=12, layer_types=["full_attention", "sliding_attention"] * 6)
    _shrink(cfg, 1)
    assert cfg.layer_types == ["full_attention", "sliding_attention"] * 2
    # ... except where its last layers reuse earlier layers' caches (Gemma 3n): those must read
    # every kind of layer before them, so the cut is left as it is
    cfg = transformers.Gemma3nTextConfig()
    first = list(cfg.layer_types[:4])
    assert "full_attention" not in first
    _shrink(cfg, 1)
    assert list(cfg.layer_types) == first
    # Mimi's depthwise upsampling (one group per channel) follows the width (CSM's codec)
    cfg = transformers.MimiConfig()
    assert cfg.upsample_groups == cfg.hidden_size
    _shrink(cfg, 3)
    assert cfg.upsample_groups == cfg.hidden_size < 512


def test_cache_keys_follow_code_not_docstrings_or_comments(tmp_path):
    from hnn_tf.zoo.dataset import code_digest

    base = 'def f(x):\n    """Doc."""\n    return x + 1\n'
    files = {"base": base,
             "doc": 'def f(x):\n    """Another doc, longer."""\n    # a comment\n    return x + 1  # why\n',
             "nodoc": "def f(x):\n    return x + 1\n",
             "code": 'def f(x):\n    """Doc."""\n    return x + 2\n',
             "string": 'def f(x):\n    """Doc."""\n    y = "a literal is code"\n    return x + 1\n',
             "broken": "def f(x:\n"}
    digests = {}
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
        digests[name] = code_digest(tmp_path / f"{name}.py")
    assert digests["base"] == digests["doc"] == digests["nodoc"]
    assert len({digests["base"], digests["code"], digests["string"], digests["broken"]}) == 4
    (tmp_path / "broken2.py").write_text("def f(x:\n\n")
    assert code_digest(tmp_path / "broken2.py") != digests["broken"]  # unparsable: by its bytes


def test_keys_and_listing_keep_tensorflow_unloaded_or_quiet(tmp_path):
    """A cache key locates the converter modules without importing them (no TensorFlow for a
    digest), and listing the Keras source, which does load TensorFlow, prints nothing."""
    import subprocess
    import sys

    env = {**os.environ, "HNN_CACHE": str(tmp_path)}
    code = ("import sys, hnn_tf; from hnn_tf.zoo.dataset import modules_digest; "
            "modules_digest(['hnn_tf.converters.keras_tf', 'hnn_tf.converters.tf_graph']); "
            "print('tensorflow' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
    r = subprocess.run([sys.executable, "-m", "hnn_tf.cli", "zoo", "list", "--sources", "keras", "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_a_model_the_torchscript_exporter_cannot_export_falls_back_to_dynamo():
    """``aten::col2im`` (``F.fold``) has no TorchScript symbolic and no ONNX form before opset
    18 (VOLO's fold; HaloNet's Unfold of an unknown size fails alike): a zoo source and the
    PyTorch converter export such a module with the dynamo exporter, and the source's build
    notes say so."""
    import torch
    from torch import nn

    from hnn_tf.converters import to_onnx
    from hnn_tf.converters.pytorch import export_module
    from hnn_tf.errors import ConversionError
    from hnn_tf.graph import build_graph

    class Folded(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return torch.nn.functional.fold(self.fc(x), (3, 3), kernel_size=2)

    args = (torch.zeros(1, 4, 4),)
    with pytest.raises(ConversionError, match="col2im"):
        export_module(Folded().eval(), args)
    built = Built(Folded().eval(), args, None, 4 * 5)
    proto = ToySource().export(built)
    assert built.notes == "dynamo exporter"
    assert build_graph(proto, canonical=True).ops == ["Gemm", "Col2Im"]
    assert build_graph(to_onnx(Folded().eval(), input_shape=(1, 4, 4)), canonical=True).ops == ["Gemm", "Col2Im"]


def test_zoo_models_are_built_with_zero_weights_and_the_same_graph():
    """The PyTorch sources build inside ``zero_random_init``: every initialiser's random draw
    (tensor methods and ``torch.nn.init`` functions, called by keyword or position) writes
    zeros, constants an initialiser sets (LayerNorm's ones, an ``arange`` buffer) stay, the
    mode ends with the block, and the traced graph is the one a randomly initialised model gives."""
    import torch
    from torch import nn

    from hnn_tf.converters.pytorch import export_module, zero_random_init
    from hnn_tf.graph import build_graph

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.norm = nn.LayerNorm(8)
            self.pos = nn.Parameter(torch.empty(1, 8))
            nn.init.trunc_normal_(tensor=self.pos, std=0.02)
            self.gate = nn.Parameter(torch.empty(8).uniform_(-1, 1))
            self.register_buffer("index", torch.arange(8))

        def forward(self, x):
            y = self.conv(x).mean((2, 3)) + self.pos
            return self.norm(y * self.gate)[:, self.index]

    with zero_random_init():
        zero = Block().eval()
    random = Block().eval()
    assert all(not p.any() for n, p in zero.named_parameters() if not n.startswith("norm."))
    assert bool((zero.norm.weight == 1).all()) and zero.index.tolist() == list(range(8))
    assert random.conv.weight.any() and random.pos.any() and random.gate.any()
    args = (torch.zeros(1, 3, 16, 16),)
    g_zero = build_graph(export_module(zero, args), canonical=True)
    g_random = build_graph(export_module(random, args), canonical=True)
    assert g_zero.to_dict() == g_random.to_dict()
    # the timm source builds this way: no weight of a built model was drawn at random
    model = get_source("timm").build(ZooEntry("resnet18", "resnet", "timm", "vision")).model
    assert not any(m.weight.any() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_library_init_gives_the_librarys_random_weights_for_exports_that_keep_them():
    """Inside ``library_init`` a zoo build draws its library's random weights (quantizers and
    exports with weights need values); the zero-weight default comes back after the block."""
    from torch import nn

    from hnn_tf.converters.pytorch import library_init

    entry = ZooEntry("resnet18", "resnet", "timm", "vision")
    with library_init():
        drawn = get_source("timm").build(entry).model
    zero = get_source("timm").build(entry).model
    convs = [m.weight for m in drawn.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(w.any() for w in convs)
    assert not any(m.weight.any() for m in zero.modules() if isinstance(m, nn.Conv2d))


def test_transformers_default_configs_are_filled_and_fixed():
    """Sizes a default config leaves None are filled from the others, and every documented fix
    (``CONFIG_FIXES``, ``INHERIT_SUB_CONFIG``) applies to its model type's default config as the
    installed transformers ships it (zoo/sources/transformers.py)."""
    transformers = pytest.importorskip("transformers")
    from hnn_tf.zoo.sources.transformers import (CONFIG_FIXES, INHERIT_SUB_CONFIG, PREDICTION_LENGTH, _apply_fixes,
                                                 _fill_defaults)

    cfg = transformers.HunYuanDenseV1Config()
    assert cfg.head_dim is None
    _fill_defaults(cfg)
    assert cfg.head_dim == cfg.hidden_size // cfg.num_attention_heads
    cfg = transformers.TimeSeriesTransformerConfig()
    _fill_defaults(cfg)
    assert cfg.prediction_length == cfg.context_length == PREDICTION_LENGTH
    transformers.logging.set_verbosity_error()
    def read(obj, path):
        for name in path.split("."):
            obj = obj[name] if isinstance(obj, dict) else getattr(obj, name)
        return obj

    for model_type in sorted({*CONFIG_FIXES, *INHERIT_SUB_CONFIG}):
        cfg = transformers.AutoConfig.for_model(model_type)
        _apply_fixes(model_type, cfg)  # raises where a path is missing from the shipped config
        for path, value in CONFIG_FIXES.get(model_type, {}).items():
            assert read(cfg, path) == (value(cfg) if callable(value) else value), (model_type, path)
    cfg = transformers.AutoConfig.for_model("musicgen")
    _apply_fixes("musicgen", cfg)
    assert cfg.num_codebooks == cfg.decoder.num_codebooks


def test_transformers_fills_apply_only_where_the_default_config_fails():
    """A default config that builds as shipped keeps the library's own fallback for a None size
    (EmbeddingGemma's head size is 256, not width / heads); one that fails without the fill
    (HunYuan's head size) gets it (zoo/sources/transformers.py ``build_transformers``)."""
    pytest.importorskip("transformers")
    from hnn_tf.zoo.sources.transformers import build_transformers

    built, _ = build_transformers("embedding_gemma2_text", 100_000_000)
    model = built.model.inner
    heads = {m.head_dim for m in model.modules() if isinstance(getattr(m, "head_dim", None), int)}
    assert heads == {256} != {model.config.hidden_size // vars(model.config)["num_attention_heads"]}
    built, _ = build_transformers("hunyuan_v1_dense", 100_000_000)
    cfg = built.model.inner.config
    assert cfg.head_dim == cfg.hidden_size // cfg.num_attention_heads


def test_transformers_width_shrink_keeps_mixers_and_towers_in_step():
    """The width shrink keeps a Mamba-2 mixer's heads x head size = expand x hidden (Bamba,
    Zamba2), a Q-Former reading its vision tower's width (BLIP-2), per-layer FFN sizes under the
    cap (Gemma 3n), Gemma 3n's cache-sharing layers fewer than its layers, and towers already
    256 wide as they are (SAM 3)."""
    transformers = pytest.importorskip("transformers")
    from hnn_tf.zoo.sources.transformers import _shrink

    cfg = transformers.BambaConfig()
    _shrink(cfg, 3)
    assert cfg.hidden_size < 4096 and cfg.mamba_n_heads * cfg.mamba_d_head == cfg.mamba_expand * cfg.hidden_size
    cfg = transformers.Zamba2Config()
    _shrink(cfg, 3)
    assert cfg.n_mamba_heads * cfg.mamba_headdim == cfg.mamba_expand * cfg.hidden_size
    assert cfg.attention_hidden_size == 2 * cfg.hidden_size
    assert cfg.attention_head_dim * cfg.num_attention_heads == cfg.attention_hidden_size
    cfg = transformers.Blip2Config()
    _shrink(cfg, 3)
    assert cfg.qformer_config.encoder_hidden_size == cfg.vision_config.hidden_size < 1408
    cfg = transformers.Gemma3nTextConfig()
    for step in (1, 2, 3):
        _shrink(cfg, step)
    assert 0 < cfg.num_kv_shared_layers < cfg.num_hidden_layers == 4
    assert max(cfg.intermediate_size) <= 2 * cfg.hidden_size
    # towers already 256 wide keep their width and heads, which the towers beside them read
    # (SAM 3's DETR encoder and decoder at 256 beside its FPN's 256); vocabularies still shrink
    cfg = transformers.Sam3Config()
    _shrink(cfg, 3)
    assert cfg.vision_config.backbone_config.hidden_size == 256 < 1024
    assert (cfg.detr_encoder_config.hidden_size, cfg.detr_encoder_config.num_attention_heads) == (256, 8)
    assert cfg.detr_decoder_config.hidden_size == cfg.vision_config.fpn_hidden_size == 256
    cfg = transformers.BertConfig(hidden_size=256, num_attention_heads=8, intermediate_size=1024)
    _shrink(cfg, 3)
    assert (cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size, cfg.vocab_size) == (256, 8, 1024, 1000)


@pytest.mark.parametrize("model_type", ["hunyuan_v1_dense", "bamba", "glm4v_text", "musicgen", "time_series_transformer",
                                        "blip_2_qformer", "edgetam_vision_model", "neomme"])
def test_transformers_defaults_that_did_not_build_now_run(model_type):
    """Model types whose default config did not build or run before the fills, fixes and
    trigger shapes above build under the cap and run on their trigger inputs."""
    pytest.importorskip("transformers")
    import torch

    from hnn_tf.zoo.sources.transformers import build_transformers

    built, _ = build_transformers(model_type, 100_000_000)
    assert built.params <= 100_000_000
    with torch.no_grad():
        assert built.model(*built.args)
