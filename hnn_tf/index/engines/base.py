"""What a Hamming search engine is, and the registry of engines.

An engine answers exact Hamming queries over N packed codes (rows of ``ceil(Q/8)`` bytes, as
:meth:`hnn_tf.codes.ModelHash.to_bytes` writes them). Every engine returns the same answer:
nearest first, ties broken by the lower position (= insertion order). A new engine is one new
file in :mod:`hnn_tf.index.engines` that subclasses :class:`SearchEngine` and registers itself
with :func:`register_engine`; ``hnn search --engine`` offers every registered engine.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hnn_tf.errors import HNNError

__all__ = ["ENGINES", "SearchEngine", "available_engines", "register_engine", "resolve_engine"]


class SearchEngine:
    """Exact Hamming search over packed codes. Subclass, set the attributes, :func:`register_engine`.

    Args:
        codes: uint8 (N, nbytes), C-contiguous.
        bits: Q.

    Attributes:
        name: the engine's name (``--engine NAME``).
        preference: ``"auto"`` picks the available engine of the lowest preference.
    """

    name: ClassVar[str] = ""
    preference: ClassVar[int] = 100

    def __init__(self, codes: np.ndarray, bits: int):
        self.codes = codes
        self.bits = bits

    @classmethod
    def available(cls) -> bool:
        """True if the engine's library is installed."""
        return True

    def search(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k for each query row.

        Args:
            rows: uint8 (nq, nbytes) packed queries.
            k: neighbours per query, 1 <= k <= N.
        Returns:
            (distances, positions): int64 (nq, k), nearest first, ties by lower position.
        """
        raise NotImplementedError

    def within(self, row: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Every code at distance <= ``radius`` (0..Q) from one query row.

        Returns:
            (distances, positions): int64 (m,), nearest first, ties by lower position.
        """
        raise NotImplementedError


#: Registered engines by name, in registration order.
ENGINES: dict[str, type[SearchEngine]] = {}


def register_engine(cls: type[SearchEngine]) -> type[SearchEngine]:
    """Class decorator: register an engine under its name.

    Raises:
        ValueError: no name, or the name is taken.
    """
    if not cls.name or cls.name in ENGINES or cls.name == "auto":
        raise ValueError(f"engine {cls.__name__}: needs a new name other than 'auto', got {cls.name!r}")
    ENGINES[cls.name] = cls
    return cls


def available_engines() -> tuple[str, ...]:
    """Names of the engines usable here, most preferred first (e.g. ``("faiss", "numpy")``)."""
    return tuple(name for name, cls in sorted(ENGINES.items(), key=lambda kv: kv[1].preference) if cls.available())


def resolve_engine(engine: str = "auto") -> str:
    """The engine to use for ``engine``: ``"auto"`` picks the most preferred available one.

    Raises:
        HNNError: an unknown engine name, or one whose library is not installed.
    """
    if engine == "auto":
        return available_engines()[0]
    if engine not in ENGINES:
        raise HNNError(f"unknown search engine {engine!r}; choose one of auto, {', '.join(ENGINES)}")
    if not ENGINES[engine].available():
        raise HNNError(f"the {engine} engine's library is not installed; use --engine "
                       f"{available_engines()[0]}")
    return engine
