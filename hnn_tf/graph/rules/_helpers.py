"""Small helpers several rules share (not a rule: files starting with ``_`` are not loaded as rules)."""

from __future__ import annotations

import numpy as np

from hnn_tf.graph.ir import Const


def value(c: Const | None) -> np.ndarray | None:
    """The stored value of a constant, or None (no constant, or a large or computed one)."""
    return None if c is None else c.value


def channel_axis(shape: tuple | None, c: Const) -> int | None:
    """The channel axis along which constant ``c``, broadcast against a tensor of ``shape``, varies.

    Per-channel means: ``c`` has one element per channel and, broadcast with numpy's rules
    (trailing axes aligned), varies along one axis only, which is axis 1 (NCHW, or (N, C))
    or the last axis (NHWC, as Keras computes). Returns that axis, or None.
    """
    if shape is None or len(shape) < 2:
        return None
    rank = len(shape)
    dims = tuple(int(d) for d in c.dims)
    if len(dims) > rank:
        return None
    padded = (1,) * (rank - len(dims)) + dims  # numpy broadcasting aligns trailing axes
    varying = [k for k, d in enumerate(padded) if d != 1]
    if len(varying) != 1:
        return None
    axis = varying[0]
    if axis not in (1, rank - 1) or padded[axis] != shape[axis] or shape[axis] <= 1:
        return None
    return axis
