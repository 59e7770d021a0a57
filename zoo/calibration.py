"""The ``hnn check`` threshold calibrated on the zoo (paper Figure 1's "close match").

The registry (:mod:`hnn_tf.index`) only reads thresholds; deriving one needs the zoo, so it
lives on the zoo's side. :func:`calibrate` picks the threshold of best pair F1 with
:func:`hnn_tf.index.threshold.best_f1_threshold` on one of two zoos:

- ``paper`` (the paper's HNN-Net and GHashing hashers, trained on it): the zoo data set of
  the hasher's variant, positive pairs = same Table 1 category; held-out figures on the 80/20 split.
- ``broad`` (every other hasher: the default broad-zoo hasher, WL-SimHash): the cached broad
  zoo (:mod:`hnn_tf.zoo.broad`, ``hnn zoo build``). Each architecture of at least 3 layers gets
  2 augmented copies (10% of its nodes deleted, paper 4.1.3; the leave-family-out protocol's
  copies, :func:`hnn_tf.zoo.generalisation.augmented_copies`). Positive pairs = (copy, its
  source); negative pairs = (copy, an architecture of another family). Pairs of a copy and
  another architecture of its own family count as neither: relatives, not copies. The record
  also gives ``false_flags``: the share of the zoo's architectures that have an architecture of
  another family within T, i.e. what ``hnn check`` would call suspect among known, unrelated
  models. The held-out version of that figure (threshold calibrated on training families
  only) is the ``false_flags`` row of results/generalisation.md.

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
    """The check threshold of ``hasher`` on the broad zoo: best F1 of (copy, source) against
    (copy, another family's architecture) pairs (module doc).

    Args:
        hasher: anything with ``bits``, ``version``, ``config.variant`` and ``encode(graphs)``
            -> bool (G, Q) (:class:`hnn_tf.hasher.Hasher`, :class:`hnn_tf.wl_hash.WLHasher`).
        items: the architectures (:class:`hnn_tf.zoo.generalisation.Item`; default: the cached
            broad zoo's, :func:`hnn_tf.zoo.generalisation.zoo_items`).
        seed: the copies' seed (default: the leave-family-out protocol's).
        log: called with one line of progress text per step.
    Returns:
        the calibration record (JSON-ready; see :func:`calibrate`), ``zoo`` = ``broad``,
        with ``false_flags`` (float in [0, 1]) and ``items_digest`` (which zoo it was).
    Raises:
        HNNError: fewer than 2 families or no architecture of at least 3 layers.
    """
    from hnn_tf.codes import hamming_matrix
    from hnn_tf.errors import HNNError
    from hnn_tf.zoo import generalisation as lfo

    say = log or (lambda m: None)
    items = lfo.zoo_items() if items is None else items
    fam = np.array([it.family for it in items])
    if len(set(fam.tolist())) < 2:
        raise HNNError("the broad zoo cache holds fewer than 2 families: run `hnn zoo build`")
    copies, owner = lfo.augmented_copies(items, np.ones(len(items), bool), lfo.SEED if seed is None else seed)
    if not copies:
        raise HNNError("no architecture of the broad zoo has 3 layers or more to copy")
    say(f"hashing {len(items)} architectures and {len(copies)} augmented copies with {hasher.version}")
    codes = hasher.encode([it.graph for it in items])
    result = lfo.copy_threshold(hasher.encode(copies), codes, fam, owner, hasher.bits)
    t = int(result.pop("threshold"))
    dist = hamming_matrix(codes, codes)
    dist[fam[:, None] == fam[None, :]] = hasher.bits + 1
    flags = float((dist.min(axis=1) <= t).mean())
    return {
        "hasher_version": hasher.version,
        "bits": hasher.bits,
        "variant": hasher.config.variant,
        "zoo": "broad",
        "threshold": t,
        "rule": "suspect when the Hamming distance to a known model is <= threshold",
        "selection": "best pair F1 over (augmented copy, architecture) pairs of the broad zoo: positive = a copy "
                     "(10% of nodes deleted) and its source, negative = a copy and an architecture of another "
                     "family; ties: median of the tied thresholds",
        "data": f"broad zoo: {len(items)} architectures in {len(set(fam.tolist()))} families, "
                f"{len(copies)} augmented copies",
        **result,
        "false_flags": flags,
        "false_flags_what": "share of the zoo's architectures with an architecture of another family within "
                            "the threshold (held-out figures: results/generalisation.md)",
        "items_digest": lfo.items_digest(items),
        "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
