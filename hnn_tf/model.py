"""The HNN-Net hasher (paper 3.3, 3.4 and 4.1.1): a tf_keras model built with Spektral.

Architecture, in Spektral's disjoint mode (a batch of graphs is one block-diagonal graph):

    X (N x F), A_hat (N x N sparse), segment ids (N,)
    GCN1 256 ReLU -> attention pooling -> h1 (G x 256)
    GCN2 128 ReLU -> attention pooling -> h2 (G x 128)
    GCN3  64 ReLU -> attention pooling -> h3 (G x 64)
    concat [h1, h2, h3]                 -> G x 448   (the paper's "input dimension of FC1")
    FC1 348 ReLU, FC2 256 ReLU, FC3 256 linear -> embedding (constrained by L_topo)
    FC4 128 ReLU, FC5 Q sigmoid                -> code activations in (0, 1)
    classifier: softmax over the categories, on the code activations (the SSDH-style
    classification layer of paper 2.2; it is what makes the code semantic)

A bit is 1 where FC5's activation is above 0.5. GCN layers have no bias (GHashing's setting).
With ``HasherConfig.pooling="attention-log"`` each pooled vector is log(1 + h): the paper's
graphs have tens of layers, the broad zoo's up to thousands, whose sums saturate FC1..FC5.

The training objective is ``config.method``, a registered unit of :mod:`hnn_tf.objectives`:
``"hnn"`` (paper 3.4) or ``"ghashing"``. With ``method="ghashing"`` the same network is the
GHashing baseline (Qin et al., KDD 2020;
facts in docs/method.md "GHashing"): one-hot op-type features only, the code branch ends in 0.5 tanh (a bit
is 1 where the output is above 0), and the GED loss is applied to both the embedding and the
code (:mod:`hnn_tf.objectives.ghashing`); there is no classification loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from hnn_tf._tf import import_tensorflow
from hnn_tf.objectives import get_objective

tf = import_tensorflow()
from spektral.layers import GCNConv  # noqa: E402

keras = tf.keras

#: Threshold on FC5's sigmoid activation that makes a bit 1 (HNN-Net).
BIT_THRESHOLD = 0.5


@dataclass
class HasherConfig:
    """Hyper-parameters of the hasher and its training (paper 4.1.1, 4.1.2).

    Attributes:
        bits: Q, the code length.
        num_classes: number of model categories of the classifier head.
        feature_dim: F, the length of a node feature vector.
        gcn: output sizes of GCN1..GCN3.
        fc: output sizes of FC1..FC4 (FC5 has ``bits`` outputs).
        alpha, beta, gamma: weights of L_topo, L_class and L_quant (paper 3.4).
        ged_cap: R, the cap on GED targets of L_topo.
        learning_rate: Adam's learning rate.
        batch_pairs: pairs of models per training step.
        epochs: training epochs.
        seed: seed of weights, pair sampling and shuffling.
        variant: ``"raw"`` or ``"merged"`` graphs (paper 4.2.1), or ``"canonical"`` graphs
            (framework-independent; what the shipped hasher uses).
        method: the training objective (:mod:`hnn_tf.objectives`): ``"hnn"`` (HNN-Net) or
            ``"ghashing"`` (the GHashing baseline).
        categories: the category names, in label order.
        pooling: ``"attention"`` (the paper's attention pooling, a weighted sum over the
            nodes) or ``"attention-log"`` (the same, then log(1 + h): a sum over the thousands
            of layers of a transformer otherwise saturates every later layer, and the codes
            of large graphs collapse to a few constant patterns; :class:`AttentionPooling`).
        delta: weight of the bit balance and decorrelation term of the ``structural``
            objectives (:mod:`hnn_tf.objectives.structural`).
        wl_buckets: 0 (the paper's network) or the number of hashing-trick slots of a
            Weisfeiler-Lehman branch (:class:`WLProjection`): the code's pre-activation adds a
            trained projection of the graph's hashed WL subtree counts, initialised so that the
            untrained code is a WL-SimHash (:mod:`hnn_tf.wl_hash`).
        wl_iterations: WL depth of that branch.
        wl_frozen: keep the WL projection at its SimHash initialisation (not trained).
        wl_residual: 0 (the GCN branch's FC5 is added to the WL projection as it is) or a
            bound r > 0: the GCN branch adds r * tanh(FC5), so it can flip only the bits whose
            WL pre-activation is within r of 0 and the code keeps the WL-SimHash's other bits.
    """

    bits: int = 64
    num_classes: int = 10
    feature_dim: int = 0
    gcn: tuple[int, ...] = (256, 128, 64)
    fc: tuple[int, ...] = (348, 256, 256, 128)
    alpha: float = 10.0
    beta: float = 10.0
    gamma: float = 0.2
    ged_cap: float = 10.0
    learning_rate: float = 1e-3
    batch_pairs: int = 10
    epochs: int = 200
    seed: int = 0
    variant: str = "merged"
    method: str = "hnn"
    categories: tuple[str, ...] = field(default_factory=tuple)
    pooling: str = "attention"
    delta: float = 1.0
    wl_buckets: int = 0
    wl_iterations: int = 3
    wl_frozen: bool = False
    wl_residual: float = 0.0

    @property
    def features(self) -> str:
        """Node features of the objective: ``"hnn"`` (paper 3.2.3) or ``"ops"`` (GHashing's op types)."""
        return get_objective(self.method).features

    @property
    def bit_threshold(self) -> float:
        """A bit is 1 where the code activation is above this: 0.5 (sigmoid) or 0 (0.5 tanh)."""
        return get_objective(self.method).bit_threshold

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        d = asdict(self)
        d["gcn"], d["fc"], d["categories"] = list(self.gcn), list(self.fc), list(self.categories)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "HasherConfig":
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("gcn", "fc", "categories"):
            if k in known:
                known[k] = tuple(known[k])
        return cls(**known)


class AttentionPooling(keras.layers.Layer):
    """Graph attention pooling in disjoint mode (GHashing / SimGNN's global context attention).

    For each graph with node features u_n (rows of x where the segment id is that graph):
    c = ReLU(W . mean_n u_n), a_n = sigmoid(u_n . c), h = sum_n a_n u_n. W is D x D,
    Glorot-uniform, no bias (docs/method.md "GHashing"). Spektral has no layer that computes this.

    With ``log=True`` the output is log(1 + h) (x is non-negative after a ReLU GCN, so h is
    too): a graph of 3,000 layers then gives features of the same order as one of 30, while the
    order of h is kept.

    Call args:
        inputs: ``[x, i]``: x float32 (N, D) node features, i int (N,) sorted segment ids
            0..G-1.
    Returns:
        float32 (G, D) graph features.
    """

    def __init__(self, log: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def get_config(self):
        return {**super().get_config(), "log": self.log}

    def build(self, input_shape):
        dim = int(input_shape[0][-1])
        self.kernel = self.add_weight(name="kernel", shape=(dim, dim), initializer="glorot_uniform")
        super().build(input_shape)

    def call(self, inputs):
        x, i = inputs
        i = tf.cast(i, tf.int32)
        context = tf.nn.relu(tf.matmul(tf.math.segment_mean(x, i), self.kernel))  # (G, D)
        scores = tf.sigmoid(tf.reduce_sum(x * tf.gather(context, i), axis=-1, keepdims=True))  # (N, 1)
        pooled = tf.math.segment_sum(scores * x, i)
        return tf.math.log1p(tf.nn.relu(pooled)) if self.log else pooled


def simhash_signs(buckets: int, bits: int) -> np.ndarray:
    """+-1 sign rows of the hashing-trick slots: row b is the SimHash pattern of label ``"b<b>"``
    (:func:`hnn_tf.wl_hash._label_bits`, BLAKE2b): float32 (buckets, bits)."""
    from hnn_tf.wl_hash import _label_bits

    return np.stack([np.where(_label_bits(f"b{b}", bits), 1.0, -1.0) for b in range(buckets)]).astype(np.float32)


class WLProjection(keras.layers.Layer):
    """A trained projection of hashed Weisfeiler-Lehman counts onto the code's Q bits.

    out = scale * (w @ K), with w the (G, B) unit-length hashed subtree counts
    (:func:`hnn_tf.features.wl_bucket_counts`) and K (B, Q) initialised to the slots' SimHash
    signs (:func:`simhash_signs`), scale a trained scalar (initial 3). Untrained, sign(out) is
    the WL-SimHash of the hashed labels (Charikar 2002, :mod:`hnn_tf.wl_hash`); training moves
    the rows of the slots the training graphs use, and a slot no training graph had keeps its
    random signs, so an unseen subtree still moves the code as SimHash would.

    Call args:
        w: float32 SparseTensor (G, B).
    Returns:
        float32 (G, Q).
    """

    def __init__(self, buckets: int, bits: int, **kwargs):
        super().__init__(**kwargs)
        self.buckets, self.bits = int(buckets), int(bits)

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "bits": self.bits}

    def build(self, input_shape):
        signs = simhash_signs(self.buckets, self.bits)
        self.kernel = self.add_weight(name="kernel", shape=(self.buckets, self.bits),
                                      initializer=keras.initializers.Constant(signs))
        self.scale = self.add_weight(name="scale", shape=(), initializer=keras.initializers.Constant(3.0))
        super().build(input_shape)

    def call(self, w):
        return self.scale * tf.sparse.sparse_dense_matmul(w, self.kernel)


class HNNNet(keras.Model):
    """The graph hashing network H of paper 3.3 (see the module docstring for the layers).

    With ``config.wl_buckets`` > 0 the code is activation(FC5(h) + :class:`WLProjection` (w)),
    FC5 linear and zero-initialised, so the untrained code is the WL-SimHash and the GCN branch
    learns what to add to it (``config.wl_residual`` r > 0: r * tanh(FC5(h)) instead of FC5(h);
    ``config.wl_frozen``: the projection is not trained).

    Call args:
        inputs: ``(x, a, i)``: x float32 (N, F) node features, a float32 SparseTensor
            (N, N) normalised adjacency D^-1/2 (A+I) D^-1/2, i int64 (N,) graph ids; with
            ``config.wl_buckets``, ``(x, a, i, w)``, w a float32 SparseTensor (G, wl_buckets).
    Returns:
        dict with ``"embedding"`` float32 (G, FC3), ``"code"`` float32 (G, Q) FC5
        activations in (0, 1), ``"probs"`` float32 (G, num_classes) class probabilities.
    Raises:
        ValueError: an unknown ``config.pooling``.
    """

    def __init__(self, config: HasherConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.gcns = [GCNConv(c, activation="relu", use_bias=False, name=f"gcn{k + 1}") for k, c in enumerate(config.gcn)]
        if config.pooling not in ("attention", "attention-log"):
            raise ValueError(f"unknown pooling {config.pooling!r}: 'attention' or 'attention-log'")
        self.pools = [AttentionPooling(log=config.pooling == "attention-log", name=f"attention_pool{k + 1}")
                      for k in range(len(config.gcn))]
        fc1, fc2, fc3, fc4 = config.fc
        self.fc_embedding = [
            keras.layers.Dense(fc1, activation="relu", name="fc1"),
            keras.layers.Dense(fc2, activation="relu", name="fc2"),
            keras.layers.Dense(fc3, activation=None, name="fc3"),
        ]
        code_activation = get_objective(config.method).code_activation(tf)
        self.wl = None
        if config.wl_buckets:
            self.wl = WLProjection(config.wl_buckets, config.bits, name="wl_projection")
            self.wl.trainable = not config.wl_frozen
            self.wl_residual = float(config.wl_residual)
            self.code_activation = keras.activations.get(code_activation)
            fc5 = keras.layers.Dense(config.bits, activation=None, kernel_initializer="zeros", name="fc5")
        else:
            fc5 = keras.layers.Dense(config.bits, activation=code_activation, name="fc5")
        self.fc_code = [keras.layers.Dense(fc4, activation="relu", name="fc4"), fc5]
        self.classifier = keras.layers.Dense(config.num_classes, activation="softmax", name="classifier")

    def call(self, inputs, training=False):
        x, a, i = inputs[:3]
        pooled = []
        for gcn, pool in zip(self.gcns, self.pools):
            x = gcn([x, a])
            pooled.append(pool([x, i]))
        h = tf.concat(pooled, axis=-1)
        for layer in self.fc_embedding:
            h = layer(h)
        embedding = h
        for layer in self.fc_code:
            h = layer(h)
        if self.wl is not None:
            if self.wl_residual > 0:
                h = self.wl_residual * tf.tanh(h)
            h = self.code_activation(h + self.wl(inputs[3]))
        return {"embedding": embedding, "code": h, "probs": self.classifier(h)}


def method_losses(config: HasherConfig):
    """The loss function of ``config.method``'s objective (:mod:`hnn_tf.objectives`)."""
    return get_objective(config.method).losses


def codes_from_activations(code: np.ndarray, threshold: float = BIT_THRESHOLD) -> np.ndarray:
    """Bits from code activations: bool array of the same shape, True where > ``threshold``."""
    return np.asarray(code) > threshold
