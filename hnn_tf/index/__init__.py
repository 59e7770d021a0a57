"""Registry of known models and Hamming search: the piracy check of paper Figure 1.

- :mod:`hnn_tf.index.store`: the SQLite file (WAL, one transaction per write, unique
  (sha256, hasher version)).
- :mod:`hnn_tf.index.engine`: exact Hamming top-k and radius search, faiss ``IndexBinaryFlat``
  or the numpy ``bitwise_count`` fallback, identical answers.
- :mod:`hnn_tf.index.threshold`: reading the ``hnn check`` threshold (calibrated on the zoo by
  :mod:`hnn_tf.zoo.calibration`; the index imports neither the zoo nor the CLI).
- :mod:`hnn_tf.index.registry`: :class:`Registry`, the API behind ``hnn index``, ``hnn search``
  and ``hnn check``.

Importing this package loads neither TensorFlow nor torch nor faiss; they load on first use.
``hnn index calibrate`` recomputes the check threshold of the installed hasher.
"""

from __future__ import annotations

from hnn_tf.index.engine import ENGINES, HammingIndex, Neighbours, available_engines, resolve_engine
from hnn_tf.index.registry import AddResult, CheckResult, Match, Registry, SearchResult, installed_hasher
from hnn_tf.index.store import DuplicateError, Entry, RegistryError, Store, default_db_path
from hnn_tf.index.threshold import THRESHOLD_FILE, ThresholdChoice, best_f1_threshold, save_calibration, threshold_for

__all__ = [
    "ENGINES",
    "THRESHOLD_FILE",
    "AddResult",
    "CheckResult",
    "DuplicateError",
    "Entry",
    "HammingIndex",
    "Match",
    "Neighbours",
    "Registry",
    "RegistryError",
    "SearchResult",
    "Store",
    "ThresholdChoice",
    "available_engines",
    "best_f1_threshold",
    "default_db_path",
    "installed_hasher",
    "resolve_engine",
    "save_calibration",
    "threshold_for",
]
