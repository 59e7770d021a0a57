"""The ``hnn check`` threshold calibrated on the zoo (paper Figure 1's "close match").

The registry (:mod:`hnn_tf.index`) only reads thresholds; deriving one needs the zoo, so it
lives on the zoo's side. :func:`calibrate` works on one of two zoos:

- ``paper`` (the paper's HNN-Net and GHashing hashers, trained on it): the threshold of best
  pair F1 (:func:`hnn_tf.index.threshold.best_f1_threshold`) over the zoo data set of the
  hasher's variant, positive pairs = same Table 1 category; held-out figures on the 80/20 split.
- ``broad`` (every other hasher: the default broad-zoo hasher, WL-SimHash): the cached broad
  zoo (:mod:`hnn_tf.zoo.broad`, ``hnn zoo build``). The threshold is the best pair F1 of
  (copy with 10% of its layers deleted, its source) against (copy, an architecture of another
  family) (paper 4.1.3, :func:`hnn_tf.zoo.generalisation.augmented_copies`; pairs within a
  family are neither: relatives, not copies), capped by a false-flag rate: never above the
  largest T at which at most :data:`hnn_tf.zoo.generalisation.FLAG_RATE` (1%) of the zoo's
  architectures have an architecture of *another family* within T bits
  (:func:`hnn_tf.index.threshold.false_flag_threshold`), i.e. what ``hnn check`` would call
  suspect among known, unrelated models. Where identical codes of different families already
  exceed the rate, T = 0. The record gives what that T catches: ``recall_light``, the share of
  one-layer-deleted copies (:func:`hnn_tf.zoo.generalisation.light_copies`) within T of their
  source, and ``recall_copies``, the same for the 10% copies; export, quantized and fp16
  variants have the source's canonical graph, so its code (docs/method.md). It also keeps the
  uncapped best-F1 threshold, ``f1_threshold`` (the earlier rule). The held-out version of the false-flag figure
  (threshold calibrated on training families only) is the ``false_flags`` row of
  results/generalisation.md.

:func:`hnn_tf.index.threshold.save_calibration` stores the record; ``hnn index calibrate``
runs both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hnn_tf.index.threshold import best_f1_threshold
from hnn_tf.zoo.dataset import builder_key, split, zoo_dataset

__all__ = ["calibrate", "calibrate_broad", "default_zoo"]

#: The zoos a threshold can be calibrated on.
ZOOS = ("paper", "broad")


def _prf(distances: np.ndarray, same: np.ndarray, t: int) -> dict[str, float]:
    pred = distances <= t
    tp = int((pred & same).sum())
    fp = int((pred & ~same).sum())
    fn = int((~pred & same).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"pairs": int(distances.size), "positive_pairs": int(same.sum()), "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0}


def default_zoo(hasher) -> str:
    """The zoo a hasher is calibrated on: ``paper`` for the paper's objectives (HNN-Net,
    GHashing: ``config.method`` ``hnn`` or ``ghashing``), ``broad`` for every other hasher."""
    return "paper" if getattr(hasher.config, "method", None) in ("hnn", "ghashing") else "broad"


def calibrate(bits: int | None = 64, hasher_dir: str | None = None, progress: bool = True,
              log: Callable[[str], None] | None = None, zoo: str | None = None) -> dict[str, Any]:
    """Derive the ``hnn check`` threshold of a hasher from a zoo (module doc; :mod:`hnn_tf.index.threshold`).

    Args:
        bits: Q of the installed hasher to calibrate.
        hasher_dir: a hasher folder, or a shipped kind's name (default: the default hasher of ``bits`` bits).
        progress: show progress while the zoo graphs are built (cached after the first time).
        log: called with one line of progress text per step (default: silent).
        zoo: ``paper`` or ``broad`` (default: :func:`default_zoo` of the hasher).
    Returns:
        the calibration record (JSON-ready): ``hasher_version``, ``bits``, ``variant``, ``zoo``,
        ``threshold`` and the figures of :func:`best_f1_threshold`, plus ``held_out`` (paper)
        or ``false_flags`` (broad) and ``computed_at``.
    Raises:
        HNNError: no such hasher, an unknown zoo, the paper zoo cannot be built, or the broad
            zoo's cache is empty.
    """
    from hnn_tf.errors import HNNError
    from hnn_tf.hashing import load_hasher

    hasher = load_hasher(bits, hasher_dir)
    zoo = zoo or default_zoo(hasher)
    if zoo not in ZOOS:
        raise HNNError(f"unknown zoo {zoo!r}; known: {', '.join(ZOOS)}")
    if zoo == "broad":
        return calibrate_broad(hasher, log=log)
    return _calibrate_paper(hasher, progress, log)


def _calibrate_paper(hasher, progress: bool, log: Callable[[str], None] | None) -> dict[str, Any]:
    from hnn_tf.codes import hamming_matrix

    say = log or (lambda m: None)
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
        "zoo": "paper",
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


def calibrate_broad(hasher, items=None, seed: int | None = None,
                    log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The check threshold of ``hasher`` on the broad zoo: the best pair F1 of 10% copies against
    other families, capped where more than 1% of the zoo's architectures would have another
    family's architecture within T (module doc).

    Args:
        hasher: anything with ``bits``, ``version``, ``config.variant`` and ``encode(graphs)``
            -> bool (G, Q) (:class:`hnn_tf.hasher.Hasher`, :class:`hnn_tf.wl_hash.WLHasher`).
        items: the architectures (:class:`hnn_tf.zoo.generalisation.Item`; default: the cached
            broad zoo's, :func:`hnn_tf.zoo.generalisation.zoo_items`).
        seed: the copies' seed (default: the leave-family-out protocol's).
        log: called with one line of progress text per step.
    Returns:
        the calibration record (JSON-ready; see :func:`calibrate`), ``zoo`` = ``broad``, with
        ``false_flags`` (the share flagged at T), ``recall_light`` and ``recall_copies`` (floats
        in [0, 1]), ``f1_threshold`` (the earlier rule's T), ``curve`` (share flagged at each
        T) and ``items_digest`` (which zoo it was).
    Raises:
        HNNError: fewer than 2 families or no architecture of at least 3 layers.
    """
    from hnn_tf.errors import HNNError
    from hnn_tf.zoo import generalisation as lfo

    say = log or (lambda m: None)
    items = lfo.zoo_items() if items is None else items
    fam = np.array([it.family for it in items])
    if len(set(fam.tolist())) < 2:
        raise HNNError("the broad zoo cache holds fewer than 2 families: run `hnn zoo build`")
    seed = lfo.SEED if seed is None else seed
    everything = np.ones(len(items), bool)
    copies, owner = lfo.augmented_copies(items, everything, seed)
    light, light_owner = lfo.light_copies(items, everything, seed)
    if not copies:
        raise HNNError("no architecture of the broad zoo has 3 layers or more to copy")
    say(f"hashing {len(items)} architectures and {len(copies) + len(light)} copies with {hasher.version}")
    codes = hasher.encode([it.graph for it in items])
    copy_codes = hasher.encode(copies)
    calib = lfo.check_threshold(codes, fam, copy_codes, owner, hasher.bits)
    t = calib["threshold"]
    return {
        "hasher_version": hasher.version,
        "bits": hasher.bits,
        "variant": hasher.config.variant,
        "zoo": "broad",
        "threshold": t,
        "rule": "suspect when the Hamming distance to a known model is <= threshold",
        "selection": "best pair F1 of (copy with 10% of its layers deleted, its source) against (copy, an "
                     "architecture of another family), capped at the largest threshold at which at most "
                     f"{lfo.FLAG_RATE:.0%} of the zoo's architectures have an architecture of another family "
                     "within it (0 where identical codes already exceed that)",
        "data": f"broad zoo: {len(items)} architectures in {len(set(fam.tolist()))} families, "
                f"{len(light)} copies with one layer deleted, {len(copies)} with 10% deleted",
        "false_flags": float((calib["nearest_other"] <= t).mean()),
        "false_flag_cap": calib["cap"],
        "false_flags_what": "share of the zoo's architectures with an architecture of another family within "
                            "the threshold (held-out figures: results/generalisation.md)",
        "recall_light": lfo.caught(hasher.encode(light), codes, light_owner, t),
        "recall_copies": lfo.caught(copy_codes, codes, owner, t),
        "f1_threshold": calib["f1_threshold"],
        "f1_threshold_what": "the best-F1 threshold without the cap (the earlier rule)",
        "curve": calib["curve"],
        "items_digest": lfo.items_digest(items),
        "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
