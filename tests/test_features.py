"""Node features of paper 3.2.3: f_enc and the one-hot feature vector."""

from __future__ import annotations

import numpy as np
import pytest

from hnn_tf.features import ENC_LEVELS, OpVocabulary, f_enc, f_enc_array, node_features, normalized_adjacency
from hnn_tf.graph import LayerGraph


def test_f_enc_paper_examples():
    assert f_enc(123.45) == 3
    assert f_enc(97.76) == 2
    assert f_enc(0) == 0


def test_f_enc_caps_at_ten_and_refuses_negatives():
    assert f_enc(10**12) == 10
    assert f_enc(9_999_999_999) == 10
    assert f_enc(999_999_999) == 9
    with pytest.raises(ValueError):
        f_enc(-1)


def test_f_enc_array_matches_scalar():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.integers(0, 10**15, 200), [0, 1, 9, 10, 99, 100, 10**9, 10**10 - 1]])
    assert f_enc_array(values).tolist() == [f_enc(int(v)) for v in values]


def test_node_features_are_three_one_hots():
    g = LayerGraph(ops=["Conv", "Relu", "Softsign"], flops=[123, 0, 97], params=[10, 0, 0], edges=[(0, 1), (1, 2)])
    vocab = OpVocabulary(("Conv", "Relu"))
    x = node_features(g, vocab)
    assert x.shape == (3, 3 + 2 * ENC_LEVELS) and x.dtype == np.float32
    assert (x.sum(axis=1) == 3).all()
    assert x[2, vocab.size - 1] == 1  # unknown op -> the "other" slot
    assert x[0, vocab.size + 3] == 1 and x[0, vocab.size + ENC_LEVELS + 2] == 1
    assert OpVocabulary.from_json(vocab.to_json()) == vocab


def test_normalized_adjacency_is_symmetric_with_self_loops():
    g = LayerGraph(ops=["a", "b", "c"], flops=[0, 0, 0], params=[0, 0, 0], edges=[(0, 1), (1, 2)])
    a = normalized_adjacency(g).toarray()
    assert np.allclose(a, a.T)
    assert np.allclose(np.diag(a), [1 / 2, 1 / 3, 1 / 2])
    assert np.isclose(a[0, 1], 1 / np.sqrt(2 * 3))
