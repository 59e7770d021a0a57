"""The default threshold of ``hnn check``, chosen from data (paper Figure 1's "close match").

How it is derived (:func:`hnn_tf.zoo.calibration.calibrate`, on the zoo's side: the registry
only reads thresholds and never imports the zoo). The default hasher and WL-SimHash are
calibrated on the broad zoo: best pair F1 of (augmented copy, its source) against (copy,
another family's architecture) pairs (:func:`hnn_tf.zoo.calibration.calibrate_broad`). The
paper's hashers are calibrated on the paper zoo:

1. Hash every graph of the zoo data set of the hasher's variant (paper 4.1.3:
   ``hnn_tf.zoo.dataset.zoo_dataset(variant)``, 22 models x (original + 10 copies with 10% of the
   nodes deleted) = 242 codes) with the installed hasher.
2. Take the Hamming distance of every unordered pair of codes (242 x 241 / 2 = 29,161 pairs).
   A pair is *positive* when both models are in the same Table 1 category.
3. For every threshold T in 0..Q, predict "same" when the distance is <= T and compute
   precision, recall and F1 over the pairs. Keep the T with the best F1; when several reach
   it, take the median of them (the upper median for an even count), the point farthest
   from both kinds of error.
4. As a held-out figure, report precision/recall/F1 at that T over the pairs (test code,
   train code) of the 80/20 split (``hnn_tf.zoo.dataset.split``), the train codes being the ones
   the hasher was fitted on.

The result is stored per hasher version in ``hnn_tf/assets/check_threshold.json`` (for a
hasher folder given with ``--hasher``: ``check_threshold.json`` in that folder).
:func:`threshold_for` looks it up; when the installed hasher's version has no calibration,
it falls back to one of the same bit length (or a length-scaled one) and says so in
``ThresholdChoice.warning``. Recompute with ``hnn index calibrate``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hnn_tf.errors import HNNError
from hnn_tf.hasher_files import SHIPPED_THRESHOLDS, HasherFolder
from hnn_tf.safe_io import atomic_write

__all__ = ["THRESHOLD_FILE", "ThresholdChoice", "best_f1_threshold", "false_flag_threshold", "save_calibration", "threshold_for"]

#: The calibrations of the shipped hashers.
THRESHOLD_FILE = SHIPPED_THRESHOLDS


def best_f1_threshold(distances: Any, same: Any, bits: int) -> dict[str, Any]:
    """The threshold T with the best pair F1 when "distance <= T" predicts "same category".

    Args:
        distances: int array (P,), Hamming distances of P pairs, each in 0..bits.
        same: bool array (P,), True for a positive pair (same category).
        bits: Q; thresholds 0..Q are tried.
    Returns:
        dict with ``threshold`` (int), ``precision``, ``recall``, ``f1`` (floats at that T),
        ``best_f1_thresholds`` ([lowest, highest] T reaching the best F1), ``pairs``,
        ``positive_pairs`` and ``curve`` (per T: threshold, precision, recall, f1).
        Precision is 1 when nothing is predicted positive.
    Raises:
        HNNError: shapes differ, no pairs, or no positive pair.
    """
    d = np.asarray(distances, dtype=np.int64).ravel()
    s = np.asarray(same, dtype=bool).ravel()
    if d.shape != s.shape or d.size == 0:
        raise HNNError(f"need equally long, non-empty distance and label arrays, got {d.shape} and {s.shape}")
    if not s.any():
        raise HNNError("no positive pair: the threshold cannot be calibrated")
    pos_hist = np.bincount(d[s], minlength=bits + 1)[: bits + 1]
    neg_hist = np.bincount(d[~s], minlength=bits + 1)[: bits + 1]
    tp = np.cumsum(pos_hist)
    fp = np.cumsum(neg_hist)
    fn = int(s.sum()) - tp
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    recall = tp / (tp + fn)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = f1.max()
    ties = np.flatnonzero(np.isclose(f1, best, rtol=0, atol=1e-12))
    t = int(ties[len(ties) // 2])
    return {
        "threshold": t,
        "precision": float(precision[t]),
        "recall": float(recall[t]),
        "f1": float(f1[t]),
        "best_f1_thresholds": [int(ties[0]), int(ties[-1])],
        "pairs": int(d.size),
        "positive_pairs": int(s.sum()),
        "curve": [{"threshold": int(i), "precision": round(float(precision[i]), 4),
                   "recall": round(float(recall[i]), 4), "f1": round(float(f1[i]), 4)} for i in range(bits + 1)],
    }


def false_flag_threshold(nearest_other: Any, bits: int, rate: float = 0.01) -> dict[str, Any]:
    """The largest threshold T at which at most ``rate`` of the known models would be flagged
    against a model of another family (the broad zoo's ``hnn check`` rule,
    :func:`hnn_tf.zoo.calibration.calibrate_broad`).

    A model is flagged at T when its nearest model of another family is within T bits. Where
    even T = 0 flags more than ``rate`` (models of different families with one code: the hash
    cannot tell them apart), T = 0: an identical code is always a match.

    Args:
        nearest_other: int array (N,), each model's Hamming distance to its nearest model of
            another family (``bits + 1`` where there is none).
        bits: Q; thresholds 0..Q are tried.
        rate: the share of models that may be flagged, in [0, 1].
    Returns:
        dict with ``threshold`` (int), ``flag_rate`` (float, the share flagged at T), ``rate``
        (the target) and ``curve`` (share flagged at each T in 0..Q).
    Raises:
        HNNError: no models, or ``rate`` outside [0, 1].
    """
    d = np.asarray(nearest_other, dtype=np.int64).ravel()
    if d.size == 0:
        raise HNNError("no models: the threshold cannot be calibrated")
    if not 0.0 <= rate <= 1.0:
        raise HNNError(f"the false-flag rate must be in [0, 1], got {rate}")
    curve = np.cumsum(np.bincount(np.clip(d, 0, bits + 1), minlength=bits + 2)[: bits + 1]) / d.size
    ok = np.flatnonzero(curve <= rate + 1e-12)
    t = int(ok[-1]) if len(ok) else 0
    return {"threshold": t, "flag_rate": float(curve[t]), "rate": float(rate),
            "curve": [round(float(c), 4) for c in curve]}


def _calibration_file(hasher_dir: str | os.PathLike | None) -> Path:
    return HasherFolder.thresholds_for(hasher_dir)


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"format": 1, "calibrations": {}}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data.get("calibrations"), dict):
            raise ValueError("no 'calibrations' object")
        return data
    except (OSError, ValueError, AttributeError) as exc:
        raise HNNError(f"unreadable threshold calibration ({exc})", str(path)) from None


def save_calibration(record: dict[str, Any], hasher_dir: str | os.PathLike | None = None) -> Path:
    """Store a :func:`hnn_tf.zoo.calibration.calibrate` record under its hasher version (other versions' records are kept).

    Args:
        record: the calibration.
        hasher_dir: the hasher folder it belongs to (default: the package's shipped hashers,
            ``hnn_tf/assets/check_threshold.json``).
    Returns:
        the file written (replaced atomically).
    Raises:
        HNNError: the existing file is unreadable or the folder is not writable.
    """
    path = _calibration_file(hasher_dir)
    data = _read(path)
    data["format"] = 1
    data["calibrations"][record["hasher_version"]] = record
    atomic_write(path, json.dumps(data, indent=1) + "\n")
    return path


@dataclass(frozen=True)
class ThresholdChoice:
    """The default ``hnn check`` threshold for one hasher.

    Attributes:
        value: T in bits; a query within T of a known model is suspect.
        source: ``"calibrated"`` (derived for this very hasher version), ``"fallback"``
            (derived for another version; see ``warning``) or ``"user"`` (given explicitly).
        calibrated_for: the hasher version the value was derived for (``None`` for ``"user"``).
        warning: one line saying why a fallback is used, else ``None``.
        record: the calibration record (empty for ``"user"``).
    """

    value: int
    source: str
    calibrated_for: str | None = None
    warning: str | None = None
    record: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def threshold_for(bits: int, hasher_version: str, hasher_dir: str | os.PathLike | None = None) -> ThresholdChoice:
    """The calibrated default threshold of a hasher, or a clearly flagged fallback.

    Looks in the hasher folder's ``check_threshold.json`` (when ``hasher_dir`` is given), then in
    the package's. A record of ``hasher_version`` is used as is. Otherwise the newest record of
    the same bit length is used, else the newest of any length scaled by ``bits / its bits``;
    either way ``warning`` says so.

    Raises:
        HNNError: no calibration at all, or an unreadable calibration file.
    """
    files = ([_calibration_file(hasher_dir)] if hasher_dir else []) + [THRESHOLD_FILE]
    records: list[dict[str, Any]] = []
    for f in files:
        cal = _read(f)["calibrations"]
        if hasher_version in cal:
            rec = cal[hasher_version]
            return ThresholdChoice(int(rec["threshold"]), "calibrated", hasher_version, None, rec)
        records.extend(cal.values())
    if not records:
        raise HNNError(f"no calibrated check threshold for hasher {hasher_version}; "
                       "pass --threshold or run `hnn index calibrate`")
    records.sort(key=lambda r: str(r.get("computed_at", "")), reverse=True)
    same = [r for r in records if int(r.get("bits", -1)) == bits]
    rec = same[0] if same else records[0]
    value = int(rec["threshold"]) if same else int(round(rec["threshold"] * bits / int(rec["bits"])))
    how = "" if same else f" (scaled from {rec['bits']} to {bits} bits)"
    warning = (f"the default threshold {value}{how} was calibrated for hasher {rec['hasher_version']}, "
               f"not {hasher_version}; pass --threshold or run `hnn index calibrate`")
    return ThresholdChoice(value, "fallback", rec["hasher_version"], warning, rec)
