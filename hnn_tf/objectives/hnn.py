"""Objective ``hnn``: HNN-Net's loss (paper 3.4)."""

from __future__ import annotations

from hnn_tf.objectives.base import Objective, register_objective


@register_objective
class HNNNetObjective(Objective):
    """HNN-Net (paper 3.4): alpha L_topo on the FC3 embedding + beta L_class + gamma L_quant; sigmoid code, bit = activation > 0.5.

    On a batch of P pairs (M1, M2), averaged over pairs:

    - L_topo = (||FC3(M1) - FC3(M2)||_2^2 - min(GED, R))^2
    - L_class = -(t1 ln H(M1) + t2 ln H(M2))  (cross-entropy of the classifier head)
    - L_quant = || |FC5(M1) - 1/2| - 1/2 ||_1 + || |FC5(M2) - 1/2| - 1/2 ||_1, which is 0 when
      every activation is 0 or 1 (the paper's "close to either 0 or 1")
    - L = alpha L_topo + beta L_class + gamma L_quant

    The paper's "HNN-Net w/o L_class" is this objective with beta = 0.
    """

    name = "hnn"
    features = "hnn"
    bit_threshold = 0.5

    def code_activation(self, tf):
        return "sigmoid"

    def losses(self, out1, out2, ged, y1, y2, config):
        import tensorflow as tf

        target = tf.minimum(tf.cast(ged, tf.float32), config.ged_cap)
        dist = tf.reduce_sum(tf.square(out1["embedding"] - out2["embedding"]), axis=-1)
        topo = tf.reduce_mean(tf.square(dist - target))
        eps = 1e-7
        ce1 = -tf.math.log(tf.gather(out1["probs"], y1, batch_dims=1) + eps)
        ce2 = -tf.math.log(tf.gather(out2["probs"], y2, batch_dims=1) + eps)
        cls = tf.reduce_mean(ce1 + ce2)

        def quant(c):
            return tf.reduce_sum(tf.abs(tf.abs(c - 0.5) - 0.5), axis=-1)

        qnt = tf.reduce_mean(quant(out1["code"]) + quant(out2["code"]))
        total = config.alpha * topo + config.beta * cls + config.gamma * qnt
        return {"total": total, "topo": topo, "class": cls, "quant": qnt}
