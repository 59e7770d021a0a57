"""The hasher network (paper 3.3), its losses (3.4) and a short training run."""

from __future__ import annotations

import numpy as np

import hnn_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from hnn_tf.graph import LayerGraph
from hnn_tf.hasher import Hasher
from hnn_tf.model import AttentionPooling, HasherConfig
from hnn_tf.objectives import get_objective
from hnn_tf.train import train_hasher
from hnn_tf.zoo.dataset import augment


def test_attention_pooling_matches_formula():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5)).astype(np.float32)
    seg = np.array([0, 0, 0, 1, 1, 1, 1])
    layer = AttentionPooling()
    out = layer([tf.constant(x), tf.constant(seg)]).numpy()
    w = layer.kernel.numpy()
    for gid in (0, 1):
        u = x[seg == gid]
        c = np.maximum(u.mean(axis=0) @ w, 0)
        a = 1 / (1 + np.exp(-(u @ c)))
        assert np.allclose(out[gid], (a[:, None] * u).sum(axis=0), atol=1e-5)


def test_log_attention_pooling_compresses_large_graphs():
    """``pooling="attention-log"`` is log(1 + h) of the same attention pooling: a graph of 3,000
    copies of a node pools to about log(3000) times what one copy gives in the first order,
    not 3,000 times; an unknown pooling is refused."""
    import pytest
    import tensorflow as tf

    from hnn_tf.model import HNNNet

    x = np.abs(np.random.default_rng(1).normal(size=(3001, 4))).astype(np.float32)
    x[1:] = x[1]
    seg = np.array([0] + [1] * 3000)
    plain, logged = AttentionPooling(), AttentionPooling(log=True)
    plain.build([(None, 4), (None,)])
    logged.build([(None, 4), (None,)])
    logged.kernel.assign(plain.kernel)
    h = plain([tf.constant(x), tf.constant(seg)]).numpy()
    g = logged([tf.constant(x), tf.constant(seg)]).numpy()
    assert np.allclose(g, np.log1p(h), atol=1e-5)
    assert h[1].max() > 100 * h[0].max() and g[1].max() < 20 * max(g[0].max(), 1e-3)
    with pytest.raises(ValueError, match="pooling"):
        HNNNet(HasherConfig(pooling="max"))


def test_losses_follow_paper_definitions():
    import tensorflow as tf

    cfg = HasherConfig(bits=4, num_classes=2, ged_cap=3.0, alpha=1.0, beta=1.0, gamma=1.0)
    o1 = {"embedding": tf.constant([[0.0, 0.0]]), "code": tf.constant([[0.0, 1.0, 0.5, 0.25]]),
          "probs": tf.constant([[0.5, 0.5]])}
    o2 = {"embedding": tf.constant([[1.0, 1.0]]), "code": tf.constant([[1.0, 1.0, 1.0, 1.0]]),
          "probs": tf.constant([[0.25, 0.75]])}
    out = get_objective("hnn").losses(o1, o2, tf.constant([10.0]), tf.constant([0]), tf.constant([1]), cfg)
    assert np.isclose(float(out["topo"]), (2.0 - 3.0) ** 2)  # ||e1-e2||^2 = 2, min(GED=10, R=3) = 3
    assert np.isclose(float(out["class"]), -np.log(0.5) - np.log(0.75), atol=1e-5)
    assert np.isclose(float(out["quant"]), 0.5 + 0.25)  # only 0.5 and 0.25 are away from {0, 1}
    assert np.isclose(float(out["total"]), float(out["topo"] + out["class"] + out["quant"]))


def _toy_data():
    """Two families of small graphs (chains of Conv-Relu vs Conv-Add blocks) with copies."""
    graphs, labels = [], []
    for label, (ops, skip) in enumerate([(["Conv", "Relu"], False), (["Conv", "BatchNormalization", "Add"], True)]):
        for size in (4, 6):
            seq = ops * size
            edges = [(i, i + 1) for i in range(len(seq) - 1)]
            if skip:
                edges += [(i, i + 2) for i in range(0, len(seq) - 2, 3)]
            g = LayerGraph(ops=seq, flops=np.full(len(seq), 1000), params=np.arange(len(seq)) * 10, edges=edges)
            for copy in [g] + augment(g, f"toy{label}{size}", copies=3):
                graphs.append(copy)
                labels.append(label)
    return graphs, np.array(labels)


def test_short_training_lowers_the_loss_and_save_load_keeps_codes(tmp_path):
    graphs, labels = _toy_data()
    same = np.equal.outer(labels, labels)
    ged = np.where(same, 2.0, 10.0).astype(np.float32)
    np.fill_diagonal(ged, 0)
    cfg = HasherConfig(bits=16, num_classes=2, epochs=25, ged_cap=10.0, seed=1)
    hasher, history = train_hasher(graphs, labels, cfg, ged, progress=False)
    assert np.mean(history.total[-3:]) < 0.5 * np.mean(history.total[:3])
    codes = hasher.encode(graphs)
    assert codes.shape == (len(graphs), 16) and codes.dtype == bool
    hasher.save(tmp_path / "h")
    loaded = Hasher.load(tmp_path / "h")
    assert loaded.version == hasher.version and loaded.version.startswith("hnn-merged-q16-")
    assert (loaded.encode(graphs) == codes).all()


def test_wl_branch_starts_as_wl_simhash_trains_and_round_trips(tmp_path):
    """With ``wl_buckets`` the untrained code is the SimHash of the hashed WL counts (the
    WLProjection's initial signs, FC5 zero), training moves it, and save/load keeps it."""
    from hnn_tf.features import OpVocabulary, wl_bucket_counts
    from hnn_tf.model import simhash_signs

    graphs, labels = _toy_data()
    buckets = 512
    cfg = HasherConfig(bits=16, num_classes=2, epochs=15, seed=2, method="structural", variant="canonical",
                       pooling="attention-log", wl_buckets=buckets)
    untrained = Hasher(cfg, OpVocabulary.from_graphs(graphs))
    signs = simhash_signs(buckets, 16)
    expected = []
    for g in graphs:
        slots, vals = wl_bucket_counts(g, buckets)
        assert np.isclose(np.linalg.norm(vals), 1.0) and (np.diff(slots) > 0).all()
        expected.append((vals[:, None] * signs[slots]).sum(axis=0) > 0)
    assert (untrained.encode(graphs) == np.array(expected)).all()
    target = np.where(np.equal.outer(labels, labels), 0.1, 0.9).astype(np.float32)
    np.fill_diagonal(target, 0)
    hasher, history = train_hasher(graphs, labels, HasherConfig.from_dict(cfg.to_dict()), target, progress=False)
    assert np.mean(history.total[-3:]) < np.mean(history.total[:3])
    codes = hasher.encode(graphs)
    kernel = next(w for w in hasher.model.weights if "wl_projection" in w.name and "kernel" in w.name).numpy()
    assert not np.array_equal(kernel, signs)  # the branch trained
    hasher.save(tmp_path / "h")
    loaded = Hasher.load(tmp_path / "h")
    assert loaded.config.wl_buckets == buckets and (loaded.encode(graphs) == codes).all()


def test_frozen_wl_branch_with_a_bounded_residual_keeps_the_clear_bits():
    """``wl_frozen`` keeps the projection at its SimHash signs; with ``wl_residual`` r the trained
    GCN branch adds at most r, so every bit whose WL pre-activation is beyond r keeps its WL value."""
    from hnn_tf.features import OpVocabulary, wl_bucket_counts
    from hnn_tf.model import simhash_signs

    graphs, labels = _toy_data()
    buckets, r = 512, 0.5
    cfg = HasherConfig(bits=16, num_classes=2, epochs=15, seed=2, method="structural", variant="canonical",
                       pooling="attention-log", wl_buckets=buckets, wl_frozen=True, wl_residual=r)
    target = np.where(np.equal.outer(labels, labels), 0.1, 0.9).astype(np.float32)
    np.fill_diagonal(target, 0)
    hasher, _ = train_hasher(graphs, labels, cfg, target, vocab=OpVocabulary.from_graphs(graphs), progress=False)
    weights = {w.name: w.numpy() for w in hasher.model.weights}
    signs = simhash_signs(buckets, 16)
    assert np.array_equal(next(v for k, v in weights.items() if "wl_projection" in k and "kernel" in k), signs)
    assert any(np.abs(v).max() > 0 for k, v in weights.items() if "fc5" in k and "kernel" in k)  # the GCN branch trained
    pre = []
    for g in graphs:
        slots, vals = wl_bucket_counts(g, buckets)
        pre.append(3.0 * (vals[:, None] * signs[slots]).sum(axis=0))  # the projection's initial scale is 3
    pre = np.array(pre)
    clear = np.abs(pre) > r
    codes = hasher.encode(graphs)
    assert clear.any() and (codes[clear] == (pre > 0)[clear]).all()
    assert HasherConfig.from_dict(cfg.to_dict()) == cfg
