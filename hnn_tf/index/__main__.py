"""``python -m hnn_tf.index calibrate [--bits Q] [--hasher DIR] [--dry-run]``: recompute the check threshold.

Any ``hnn index`` subcommand works this way; it is the same as ``hnn index ...`` (see
:mod:`hnn_tf.index.threshold` for how the threshold is derived).
"""

from __future__ import annotations

import sys

import hnn_tf  # noqa: F401  (sets up TensorFlow's environment before anything imports it)
from hnn_tf.cli import main

if __name__ == "__main__":
    main(args=["index", *sys.argv[1:]], prog_name="hnn")
