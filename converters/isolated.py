"""Running a converter's native reader in a worker process, so that a crash is an error line.

Some readers are native code that a hostile file can crash: the TFLite interpreter that
tf2onnx runs dies with SIGSEGV or SIGBUS on malformed flatbuffers (the fuzz suite finds such
files within minutes). In-process, that would end ``hnn`` without a word. :func:`run_isolated`
runs the function in a long-lived worker process instead (``spawn`` start method: a fresh
interpreter, no state shared with the parent's TensorFlow or torch threads); if the worker
dies, the call raises :class:`~hnn_tf.errors.ConversionError` naming the file and the signal,
and the next call starts a new worker. The worker is started on first use and reused, so its
imports are paid once per process. A time limit or interrupt in the parent kills the worker
(the parent's ``--timeout`` stays true). Wraps :class:`concurrent.futures.ProcessPoolExecutor`.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from hnn_tf.errors import ConversionError

__all__ = ["run_isolated", "shutdown"]

_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _POOL


def shutdown(kill: bool = True) -> None:
    """Stop the worker (killed at once with ``kill``); the next :func:`run_isolated` starts a new one."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is None:
        return
    if kill:
        for proc in list(getattr(pool, "_processes", {}).values()):  # the executor keeps no public handle
            try:
                proc.kill()
            except (OSError, AttributeError):
                pass
    pool.shutdown(wait=not kill, cancel_futures=True)


def run_isolated(fn: Callable[..., Any], *args: Any, what: str = "the reader", path: str | None = None) -> Any:
    """``fn(*args)`` in the worker process; its result or its exception comes back.

    Args:
        fn: a module-level function (it is pickled by name); its arguments and result must
            pickle.
        *args: its arguments.
        what: how the error names the reader (``"the TFLite reader"``).
        path: the file, for the error.
    Returns:
        what ``fn`` returned.
    Raises:
        ConversionError: the worker died (a native crash, or killed for memory).
        Exception: whatever ``fn`` raised, re-raised here.
    """
    try:
        return _pool().submit(fn, *args).result()
    except BrokenProcessPool:
        shutdown(kill=True)
        raise ConversionError(f"{what} crashed on this file (a native fault in the library; the file is malformed)",
                              path=path) from None
    except BaseException as exc:
        if not isinstance(exc, Exception):  # a time limit or interrupt: the worker may still be busy
            shutdown(kill=True)
        raise
