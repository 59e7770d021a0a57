"""Training of the hasher on pairs of zoo graphs (paper 3.4 and 4.1.2).

Each epoch pairs every training graph with one partner: with probability 1/2 a graph of the
same category, otherwise any training graph. Pairs are shuffled into batches of
``config.batch_pairs`` (10) and the network minimises alpha L_topo + beta L_class +
gamma L_quant with Adam. GED targets come from :mod:`hnn_tf.ged`, computed once per data set
and cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hnn_tf.features import OpVocabulary
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.hasher import GraphTensors, Hasher, disjoint_batch, wl_batch
from hnn_tf.model import HasherConfig, method_losses


def ged_matrix(graphs: list[LayerGraph], cap: float, cache_path=None, progress: bool = True) -> np.ndarray:
    """Capped approximate GED between every pair of ``graphs``.

    Pairs whose cheap lower bound already reaches ``cap`` get ``cap`` without an assignment
    (:func:`hnn_tf.ged.pairwise_ged` does the skipping and caching).

    Returns:
        float32 (G, G) symmetric matrix with a zero diagonal, values in [0, cap].
    """
    from hnn_tf.ged import GEDCache, pairwise_ged

    n = len(graphs)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    cache = GEDCache(cache_path) if cache_path else None
    values = pairwise_ged(graphs, pairs, cap=cap, cache=cache, progress=progress)
    if cache is not None:
        cache.save()
    m = np.zeros((n, n), dtype=np.float32)
    if pairs:
        ij = np.array(pairs)
        m[ij[:, 0], ij[:, 1]] = values
        m[ij[:, 1], ij[:, 0]] = values
    return m


def sample_pairs(labels: np.ndarray, rng: np.random.Generator, same_fraction: float = 0.5) -> np.ndarray:
    """One epoch of training pairs.

    Args:
        labels: int (T,) category of each training graph.
        rng: random generator.
        same_fraction: chance that a graph's partner is drawn from its own category.
    Returns:
        int64 (T, 2) index pairs in random order; every graph is the first member once.
    """
    t = len(labels)
    firsts = rng.permutation(t)
    seconds = np.empty(t, dtype=np.int64)
    by_label = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    for k, i in enumerate(firsts):
        pool = by_label[labels[i]] if rng.random() < same_fraction else None
        seconds[k] = rng.choice(pool) if pool is not None else rng.integers(t)
    return np.stack([firsts, seconds], axis=1)


@dataclass
class History:
    """Per-epoch mean losses and the seconds each epoch took."""

    total: list[float] = field(default_factory=list)
    topo: list[float] = field(default_factory=list)
    cls: list[float] = field(default_factory=list)
    quant: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def train_hasher(
    graphs: list[LayerGraph],
    labels: np.ndarray,
    config: HasherConfig,
    ged: np.ndarray,
    vocab: OpVocabulary | None = None,
    features: str | None = None,
    progress: bool = True,
    patience: int | None = None,
    min_epochs: int = 30,
) -> tuple[Hasher, History]:
    """Train a hasher (paper 3.4, 4.1.2).

    Args:
        graphs: the T training graphs.
        labels: int (T,) category ids in 0..config.num_classes-1.
        config: hyper-parameters (Q, alpha, beta, gamma, R, lr, batch size, epochs, seed).
        ged: float32 (T, T) GED targets (already capped, or capped by the loss at R).
        vocab: op-type vocabulary (default: the op types of ``graphs``).
        features: ``"hnn"`` or ``"ops"`` (default: the config's method decides; see
            :class:`~hnn_tf.hasher.Hasher`).
        progress: print a tqdm bar over epochs.
        patience: early stopping: stop once the epoch's mean loss has not improved on the
            best by 1% for this many epochs (after ``min_epochs``); None trains all epochs.
        min_epochs: epochs always trained when ``patience`` is set.
    Returns:
        (the trained Hasher, the loss History).
    """
    import tensorflow as tf
    from tqdm import tqdm

    tf.keras.utils.set_random_seed(config.seed)
    vocab = vocab or OpVocabulary.from_graphs(graphs)
    hasher = Hasher(config, vocab, features)
    items: list[GraphTensors] = [hasher.tensors(g) for g in graphs]
    labels = np.asarray(labels, dtype=np.int32)
    ged = np.asarray(ged, dtype=np.float32)
    optimizer = tf.keras.optimizers.Adam(learning_rate=config.learning_rate)
    model = hasher.model
    loss_fn = method_losses(config)

    spec = (
        tf.TensorSpec((None, hasher.config.feature_dim), tf.float32),
        tf.TensorSpec((None, 2), tf.int64),
        tf.TensorSpec((None,), tf.float32),
        tf.TensorSpec((None,), tf.int64),
        tf.TensorSpec((None,), tf.float32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None, 2), tf.int64),
        tf.TensorSpec((None,), tf.float32),
    )
    buckets = int(config.wl_buckets)

    @tf.function(input_signature=spec, reduce_retracing=True)
    def step(x, idx, vals, seg, target, y, widx, wvals):
        n = tf.shape(x, out_type=tf.int64)[0]
        a = tf.SparseTensor(idx, vals, tf.stack([n, n]))
        p = tf.shape(target)[0]
        inputs = (x, a, seg)
        if buckets:  # the WL branch's (G, buckets) counts
            inputs += (tf.SparseTensor(widx, wvals, tf.stack([tf.shape(y, out_type=tf.int64)[0], buckets])),)
        with tf.GradientTape() as tape:
            out = model(inputs, training=True)
            first = {k: v[:p] for k, v in out.items()}
            second = {k: v[p:] for k, v in out.items()}
            losses = loss_fn(first, second, target, y[:p], y[p:], config)
        grads = tape.gradient(losses["total"], model.trainable_variables)
        # GHashing has no classification loss: its classifier head gets no gradient
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
        return losses

    rng = np.random.default_rng(config.seed)
    history = History()
    bar = tqdm(range(config.epochs), desc=f"training q{config.bits} {config.variant}", unit="epoch", disable=not progress)
    best, since_best = np.inf, 0
    for epoch in bar:
        t0 = time.perf_counter()
        pairs = sample_pairs(labels, rng)
        sums = np.zeros(4)
        batches = 0
        for s in range(0, len(pairs), config.batch_pairs):
            b = pairs[s : s + config.batch_pairs]
            order = np.concatenate([b[:, 0], b[:, 1]])
            batch = [items[i] for i in order]
            x, idx, vals, seg = disjoint_batch(batch)
            widx, wvals = wl_batch(batch)
            losses = step(x, idx, vals, seg, ged[b[:, 0], b[:, 1]], labels[order], widx, wvals)
            sums += [float(losses[k]) for k in ("total", "topo", "class", "quant")]
            batches += 1
        m = sums / max(batches, 1)
        history.total.append(m[0])
        history.topo.append(m[1])
        history.cls.append(m[2])
        history.quant.append(m[3])
        history.seconds.append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{m[0]:.3g}", topo=f"{m[1]:.3g}", cls=f"{m[2]:.3g}", quant=f"{m[3]:.3g}")
        if patience is not None:
            if m[0] < 0.99 * best:
                best, since_best = m[0], 0
            else:
                since_best += 1
            if epoch + 1 >= min_epochs and since_best >= patience:
                break
    hasher._built = True
    return hasher, history
