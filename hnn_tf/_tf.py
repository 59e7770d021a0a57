"""Importing TensorFlow quietly, and keeping libraries' own output off the terminal.

hnn's CLI promises that stdout carries results only and stderr one line per error. The
libraries it drives print on their own: TensorFlow's native libraries print start-up lines
(oneDNN, CUDA discovery) before its logging is configured, torch's ONNX exporter writes
``Torch IR graph at exception`` to stdout from C++, onnxruntime prints ``EP Error`` banners,
and torch, absl and TensorFlow log warnings and tracebacks through :mod:`logging`.
:func:`quiet_native_output` points file descriptors 1 and 2 at ``/dev/null`` (which catches
C and C++ writes) and swaps ``sys.stdout``/``sys.stderr`` (which catches Python writes) for
the duration of a block. Exceptions still propagate; ``HNN_DEBUG=1`` keeps all output.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from contextlib import contextmanager

__all__ = ["import_tensorflow", "quiet_native_output", "quiet_native_stderr"]

_LOCK = threading.RLock()
_DEPTH = 0


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


@contextmanager
def quiet_native_output(stdout: bool = True):
    """Silence everything written to stderr (and, with ``stdout``, stdout) inside the block.

    Re-entrant and thread-safe (nested blocks keep the outer redirection). Logging is
    raised to CRITICAL for the block, so library loggers (torch, absl, tensorflow,
    onnxruntime) emit nothing either.

    Args:
        stdout: also silence file descriptor 1 and ``sys.stdout``.
    """
    global _DEPTH
    if os.environ.get("HNN_DEBUG"):
        yield
        return
    with _LOCK:
        _DEPTH += 1
        outer = _DEPTH > 1
    if outer:
        try:
            yield
        finally:
            with _LOCK:
                _DEPTH -= 1
        return
    fds = [1, 2] if stdout else [2]
    saved: list[tuple[int, int]] = []
    devnull = -1
    _flush()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in fds:
            saved.append((fd, os.dup(fd)))
            os.dup2(devnull, fd)
    except (OSError, ValueError):
        pass
    py = (sys.stdout, sys.stderr)
    if stdout:
        sys.stdout = io.StringIO()
    sys.stderr = io.StringIO()
    previous_disable = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous_disable)
        sys.stdout, sys.stderr = py
        _flush()
        for fd, copy in saved:
            try:
                os.dup2(copy, fd)
                os.close(copy)
            except OSError:
                pass
        if devnull >= 0:
            os.close(devnull)
        with _LOCK:
            _DEPTH -= 1


def quiet_native_stderr():
    """:func:`quiet_native_output` for stderr only."""
    return quiet_native_output(stdout=False)


def import_tensorflow():
    """Import and return ``tensorflow`` (with tf_keras as ``tf.keras``), silencing its start-up output.

    ``TF_USE_LEGACY_KERAS=1`` (Spektral needs Keras 2) is set by importing :mod:`hnn_tf`, which
    importing this module does first; device discovery runs inside the quiet block too, so
    its messages do not leak later.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with quiet_native_output():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf
