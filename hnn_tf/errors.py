"""Errors raised by hnn. Every message names the file (or object) and the problem.

The CLI turns any :class:`HNNError` into one line on stderr and exit status 2.
"""

from __future__ import annotations


class HNNError(Exception):
    """Base class of every error hnn raises on bad input.

    Args:
        message: what is wrong, in one line.
        path: the file the problem is about, if any; it is put first in ``str(err)``.
    """

    def __init__(self, message: str, path: str | None = None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ConversionError(HNNError):
    """A model could not be converted to ONNX (unknown format, corrupt or unsafe file)."""


class GraphError(HNNError):
    """An ONNX model could not be turned into a layer graph."""


class HashError(HNNError):
    """Codes that cannot be compared (other bit length or hasher version) or bad hex text."""
