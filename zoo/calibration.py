"""The ``hnn check`` threshold calibrated on the zoo (paper Figure 1's "close match").

The registry (:mod:`hnn_tf.index`) only reads thresholds; deriving one needs the zoo, so it
lives on the zoo's side: :func:`calibrate` hashes the zoo data set of the hasher's variant,
picks the threshold of best pair F1 with :func:`hnn_tf.index.threshold.best_f1_threshold`,
and reports held-out figures; :func:`hnn_tf.index.threshold.save_calibration` stores it.
``hnn index calibrate`` runs both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hnn_tf.index.threshold import best_f1_threshold
from hnn_tf.zoo.dataset import builder_key, split, zoo_dataset

__all__ = ["calibrate"]


def _prf(distances: np.ndarray, same: np.ndarray, t: int) -> dict[str, float]:
    pred = distances <= t
    tp = int((pred & same).sum())
    fp = int((pred & ~same).sum())
    fn = int((~pred & same).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"pairs": int(distances.size), "positive_pairs": int(same.sum()), "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0}


def calibrate(bits: int | None = 64, hasher_dir: str | None = None, progress: bool = True,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Derive the ``hnn check`` threshold of a hasher from the zoo (steps in :mod:`hnn_tf.index.threshold`).

    Args:
        bits: Q of the installed hasher to calibrate.
        hasher_dir: a hasher folder (default: the shipped one of ``bits`` bits).
        progress: show progress while the zoo graphs are built (cached after the first time).
        log: called with one line of progress text per step (default: silent).
    Returns:
        the calibration record (JSON-ready): ``hasher_version``, ``bits``, ``variant``,
        ``threshold`` and the figures of :func:`best_f1_threshold`, plus ``held_out`` and
        ``computed_at``.
    Raises:
        HNNError: no such hasher, or the zoo cannot be built.
    """
    from hnn_tf.codes import hamming_matrix
    from hnn_tf.hashing import load_hasher

    say = log or (lambda m: None)
    hasher = load_hasher(bits, hasher_dir)
    variant = hasher.config.variant
    say(f"zoo data set ({variant})")
    data = zoo_dataset(variant, progress=progress)
    say(f"hashing {len(data)} graphs with {hasher.version}")
    codes = hasher.encode([z.graph for z in data])
    dist = hamming_matrix(codes, codes)
    cats = np.array([z.category for z in data])
    iu = np.triu_indices(len(data), 1)
    result = best_f1_threshold(dist[iu], cats[iu[0]] == cats[iu[1]], hasher.bits)
    train, test = split(data)
    pos = {id(z): i for i, z in enumerate(data)}
    ti = np.array([pos[id(z)] for z in test])
    tr = np.array([pos[id(z)] for z in train])
    held = _prf(dist[np.ix_(ti, tr)].ravel(), (cats[ti][:, None] == cats[tr][None, :]).ravel(), result["threshold"])
    held["what"] = "pairs (test code, train code) of the 80/20 split"
    return {
        "hasher_version": hasher.version,
        "bits": hasher.bits,
        "variant": variant,
        "threshold": result.pop("threshold"),
        "rule": "suspect when the Hamming distance to a known model is <= threshold",
        "selection": "best pair F1 over all zoo code pairs (positive = same Table 1 category); "
                     "ties: median of the tied thresholds",
        "data": f"zoo_dataset({variant!r}): {len(data)} codes (22 models x original + 10 copies "
                "with 10% of nodes deleted)",
        **result,
        "held_out": held,
        "builder_key": builder_key(),
        "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
