"""Hamming search engines, one registered unit a file (:mod:`.base` says what an engine is).

Importing this package loads every engine module (files starting with ``_`` and :mod:`.base`
excepted); an engine whose library is missing stays registered but unavailable. faiss itself
is imported on first use.
"""

from __future__ import annotations

import importlib
import pkgutil

from hnn_tf.index.engines.base import ENGINES, SearchEngine, available_engines, register_engine, resolve_engine

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["ENGINES", "SearchEngine", "available_engines", "register_engine", "resolve_engine"]
