"""Importing TensorFlow quietly.

TensorFlow's native libraries print start-up lines (oneDNN, CUDA discovery) straight to the
process's stderr before its logging is configured, whatever ``TF_CPP_MIN_LOG_LEVEL`` says.
That would break the CLI's promise of one line on stderr per error, so the first import
runs with file descriptor 2 pointed at /dev/null. Python exceptions still propagate;
``HNN_DEBUG=1`` keeps stderr open.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def quiet_native_stderr():
    """Redirect file descriptor 2 to /dev/null for the duration of the block."""
    if os.environ.get("HNN_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Import and return ``tensorflow`` (with tf_keras as ``tf.keras``), silencing its start-up output.

    ``TF_USE_LEGACY_KERAS=1`` is set first (Spektral needs Keras 2); device discovery runs
    inside the quiet block too, so its messages do not leak later.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    with quiet_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf
