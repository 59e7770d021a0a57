"""Training objectives as registered units: HNN-Net and the GHashing baseline (docs/method.md)."""

from __future__ import annotations

import numpy as np
import pytest

import hnn_tf  # noqa: F401
from hnn_tf.errors import HNNError
from hnn_tf.hasher import Hasher
from hnn_tf.model import HasherConfig
from hnn_tf.objectives import OBJECTIVES, Objective, get_objective, register_objective
from hnn_tf.train import train_hasher


def test_registry_holds_both_objectives_and_refuses_unknown_names():
    assert {"hnn", "ghashing"} <= set(OBJECTIVES)
    assert all(isinstance(o, Objective) and o.summary() for o in OBJECTIVES.values())
    with pytest.raises(HNNError, match="unknown training objective 'nope'"):
        get_objective("nope")
    with pytest.raises(ValueError, match="needs a new name"):
        register_objective(type("Again", (Objective,), {"name": "hnn"}))
    assert HasherConfig(method="ghashing").features == "ops" and HasherConfig(method="hnn").features == "hnn"
    assert HasherConfig(method="ghashing").bit_threshold == 0.0 and HasherConfig(method="hnn").bit_threshold == 0.5


def test_ghashing_code_activation_is_half_tanh():
    import tensorflow as tf

    act = get_objective("ghashing").code_activation(tf)
    x = np.array([-3.0, -0.1, 0.0, 0.2, 5.0], np.float32)
    np.testing.assert_allclose(act(tf.constant(x)).numpy(), 0.5 * np.tanh(x), rtol=1e-6)


def test_ghashing_losses_follow_the_published_definition():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    cfg = HasherConfig(bits=6, ged_cap=4.0, alpha=10.0, gamma=0.2, method="ghashing")
    c1, c2 = rng.uniform(-0.5, 0.5, (3, 6)).astype(np.float32), rng.uniform(-0.5, 0.5, (3, 6)).astype(np.float32)
    e1, e2 = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    ged = np.array([1.0, 3.0, 9.0], np.float32)
    out = get_objective("ghashing").losses({"code": tf.constant(c1), "embedding": tf.constant(e1)},
                                           {"code": tf.constant(c2), "embedding": tf.constant(e2)},
                                           tf.constant(ged), None, None, cfg)
    y = np.minimum(ged, 4.0)
    dc = ((c1 - c2) ** 2).sum(axis=1) - y
    de = ((e1 - e2) ** 2).sum(axis=1) - y
    code = np.mean(np.exp(0.05 * dc) * dc ** 2)
    quant = 0.5 * (np.mean(np.abs(c1 ** 2 - 0.25)) + np.mean(np.abs(c2 ** 2 - 0.25)))
    assert float(out["topo"]) == pytest.approx(np.mean(de ** 2), rel=1e-5)
    assert float(out["quant"]) == pytest.approx(quant, rel=1e-5)
    assert float(out["class"]) == 0.0
    assert float(out["total"]) == pytest.approx(code + 10.0 * np.mean(de ** 2) + 0.2 * quant, rel=1e-5)
    # identical codes and embeddings at GED 0: nothing to learn but quantization
    same = get_objective("ghashing").losses({"code": tf.constant(c1), "embedding": tf.constant(e1)},
                                            {"code": tf.constant(c1), "embedding": tf.constant(e1)},
                                            tf.zeros(3), None, None, cfg)
    assert float(same["topo"]) == 0.0 and float(same["total"]) == pytest.approx(0.2 * float(same["quant"]), rel=1e-5)


def test_ghashing_trains_on_op_types_and_reads_bits_above_zero():
    from test_model import _toy_data

    graphs, labels = _toy_data()
    ged = np.where(np.equal.outer(labels, labels), 2.0, 10.0).astype(np.float32)
    np.fill_diagonal(ged, 0)
    cfg = HasherConfig(bits=16, num_classes=2, epochs=15, ged_cap=10.0, seed=3, method="ghashing", beta=0.0)
    hasher, history = train_hasher(graphs, labels, cfg, ged, progress=False)
    assert isinstance(hasher, Hasher) and hasher.features == "ops"
    assert hasher.tensors(graphs[0]).x.shape[1] == hasher.vocab.size  # one-hot op types only
    assert np.mean(history.total[-3:]) < np.mean(history.total[:3])
    activations = hasher.activations(graphs)["code"]
    assert np.abs(activations).max() <= 0.5  # 0.5 tanh
    np.testing.assert_array_equal(hasher.encode(graphs), activations > 0.0)
    assert hasher.version.startswith("ghashing-")


def test_structural_losses_and_features():
    import tensorflow as tf

    from hnn_tf.features import STRUCTURAL_EXTRA, OpVocabulary, structural_features
    from hnn_tf.graph.layer_graph import LayerGraph
    from hnn_tf.objectives.structural import OTHER_MARGIN, SAME_MARGIN

    obj = get_objective("structural")
    cfg = HasherConfig(bits=8, alpha=1.0, beta=1.0, gamma=1.0, method="structural")
    assert cfg.features == "structural" and cfg.bit_threshold == 0.0
    c = np.sign(np.random.default_rng(0).normal(size=(4, 8))).astype(np.float32)
    same = obj.losses({"code": tf.constant(c)}, {"code": tf.constant(c)}, tf.zeros(4), tf.constant([0, 1, 2, 3]),
                      tf.constant([0, 1, 2, 3]), cfg)
    assert float(same["topo"]) == 0.0 and float(same["class"]) == 0.0 and float(same["quant"]) == 0.0
    # opposite codes (h = 1) at WL distance 1 (target 1/2), labelled one family: both terms bite
    far = obj.losses({"code": tf.constant(c)}, {"code": tf.constant(-c)}, tf.ones(4), tf.constant([0] * 4),
                     tf.constant([0] * 4), cfg)
    assert float(far["topo"]) == pytest.approx(0.25) and float(far["class"]) == pytest.approx(1.0 - SAME_MARGIN)
    other = obj.losses({"code": tf.constant(c)}, {"code": tf.constant(c)}, tf.zeros(4), tf.constant([0] * 4),
                       tf.constant([1] * 4), cfg)
    assert float(other["class"]) == pytest.approx(OTHER_MARGIN)  # two families at distance 0
    # delta weighs the bit balance/decorrelation term: all-equal codes have constant bits
    ones = tf.ones((4, 8))
    light, heavy = (obj.losses({"code": ones}, {"code": ones}, tf.zeros(4), tf.constant([0] * 4),
                               tf.constant([0] * 4), HasherConfig(bits=8, method="structural", delta=d))
                    for d in (1.0, 10.0))
    assert float(light["total"]) > 0.5 and float(heavy["total"]) == pytest.approx(10 * float(light["total"]), rel=1e-4)
    g = LayerGraph(ops=["Conv", "Relu"], flops=[10, 1], params=[5, 0], edges=[(0, 1)],
                   attrs=[{"kernel_shape": [3, 3], "strides": [2, 2], "group": 4}, {}])
    vocab = OpVocabulary(("Conv", "Relu"))
    x = structural_features(g, vocab)
    assert x.shape == (2, vocab.feature_dim + STRUCTURAL_EXTRA)
    extra = x[:, vocab.feature_dim:]
    assert extra[0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1] and extra[1].tolist()[:7] == [1, 0, 0, 0, 0, 0, 0]
