"""Objective ``ghashing``: the GHashing baseline (Qin, Bai, Sun, KDD 2020; docs/method.md "GHashing")."""

from __future__ import annotations

from hnn_tf.objectives.base import Objective, register_objective


@register_objective
class GHashingObjective(Objective):
    """GHashing: GED on the codes (exp-weighted) and on the embedding, |c^2 - 1/4| quantization; 0.5 tanh code, bit = output > 0; op-type features.

    With y = min(GED, R), d_c = ||c1 - c2||^2 of the 0.5 tanh codes (the Hamming distance
    once the codes are +-0.5) and d_e = ||e1 - e2||^2 of the embeddings:

    - L_code = mean(exp(0.05 (d_c - y)) (d_c - y)^2)
    - L_emb = mean((d_e - y)^2)
    - L_quant = mean over pairs and bits of |c^2 - 0.25|
    - L = L_code + alpha L_emb + gamma L_quant  (GHashing: alpha 10, gamma 0.2)

    The labels are unused (no classification loss; ``class`` is 0).
    """

    name = "ghashing"
    features = "ops"
    bit_threshold = 0.0

    def code_activation(self, tf):
        return lambda t: 0.5 * tf.tanh(t)

    def losses(self, out1, out2, ged, y1, y2, config):
        import tensorflow as tf

        target = tf.minimum(tf.cast(ged, tf.float32), config.ged_cap)
        dc = tf.reduce_sum(tf.square(out1["code"] - out2["code"]), axis=-1) - target
        de = tf.reduce_sum(tf.square(out1["embedding"] - out2["embedding"]), axis=-1) - target
        code_loss = tf.reduce_mean(tf.exp(0.05 * dc) * tf.square(dc))
        topo = tf.reduce_mean(tf.square(de))
        qnt = 0.5 * (tf.reduce_mean(tf.abs(tf.square(out1["code"]) - 0.25))
                     + tf.reduce_mean(tf.abs(tf.square(out2["code"]) - 0.25)))
        total = code_loss + config.alpha * topo + config.gamma * qnt
        return {"total": total, "topo": topo, "class": tf.constant(0.0), "quant": qnt}
