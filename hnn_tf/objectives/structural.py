"""Objective ``structural``: the code's Hamming distance follows a structural distance, families are a metric term."""

from __future__ import annotations

from hnn_tf.objectives.base import Objective, register_objective

#: Normalised Hamming distances (share of bits) a same-family pair should stay under and a
#: pair of different families should stay over.
SAME_MARGIN, OTHER_MARGIN = 0.08, 0.3


@register_objective
class StructuralObjective(Objective):
    """Structural: Hamming distance of the codes regressed on a structural target, family margins, balanced decorrelated bits; tanh code, bit = output > 0.

    With the tanh codes c1, c2 in (-1, 1)^Q, the relaxed normalised Hamming distance is
    h = (Q - c1 . c2) / (2Q) (the share of differing bits once the codes are +-1), and the
    target t in [0, 1] is a structural distance of the two graphs (the Weisfeiler-Lehman
    kernel distance, :func:`hnn_tf.zoo.generalisation.wl_kernel_matrix`; passed where the
    paper's objectives take the GED):

    - L_struct = mean((h - t / 2)^2): identical structure 0 bits apart, unrelated ones half
      the bits apart, as random codes are;
    - L_family = mean(same ? relu(h - SAME_MARGIN) : relu(OTHER_MARGIN - h)): a contrastive
      term on the family labels, with no softmax over known classes, so an unseen family is
      not forced into one of them;
    - L_quant = mean(1 - |c|) (codes at +-1);
    - L_bits = mean over bits of (batch mean of c)^2 + mean over bit pairs of their batch
      correlation squared (balanced, decorrelated bits);
    - L = alpha L_struct + beta L_family + gamma L_quant + delta L_bits.

    Node features are ``"structural"`` (:func:`hnn_tf.features.structural_features`): the
    paper's op type, f_enc(FLOPs) and f_enc(params), plus kernel size, stride and grouping.
    """

    name = "structural"
    features = "structural"
    bit_threshold = 0.0

    def code_activation(self, tf):
        return "tanh"

    def losses(self, out1, out2, ged, y1, y2, config):
        import tensorflow as tf

        c1, c2 = out1["code"], out2["code"]
        q = tf.cast(tf.shape(c1)[-1], tf.float32)
        h = (q - tf.reduce_sum(c1 * c2, axis=-1)) / (2.0 * q)
        t = tf.clip_by_value(tf.cast(ged, tf.float32), 0.0, 1.0)
        struct = tf.reduce_mean(tf.square(h - 0.5 * t))
        same = tf.cast(tf.equal(y1, y2), tf.float32)
        fam = tf.reduce_mean(same * tf.nn.relu(h - SAME_MARGIN) + (1.0 - same) * tf.nn.relu(OTHER_MARGIN - h))
        both = tf.concat([c1, c2], axis=0)
        qnt = tf.reduce_mean(1.0 - tf.abs(both))
        mean = tf.reduce_mean(both, axis=0)
        centred = both - mean
        cov = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(both)[0], tf.float32)
        std = tf.sqrt(tf.linalg.diag_part(cov) + 1e-6)
        corr = cov / (std[:, None] * std[None, :])
        off = 1.0 - tf.eye(tf.shape(corr)[0])
        bits = tf.reduce_mean(tf.square(mean)) + tf.reduce_sum(tf.square(corr * off)) / tf.reduce_sum(off)
        total = config.alpha * struct + config.beta * fam + config.gamma * qnt + config.delta * bits
        return {"total": total, "topo": struct, "class": fam, "quant": qnt}
