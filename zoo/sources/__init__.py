"""The zoo sources, one registered unit a file (:mod:`hnn_tf.zoo.sources.base`).

Each module here (except those starting with ``_`` and :mod:`.base`) defines one source and
registers it on import; this package imports them all, so :data:`SOURCES` is the one list.
``hnn zoo list`` and ``hnn zoo build`` read it.
"""

from __future__ import annotations

import importlib
import pkgutil

from hnn_tf.zoo.sources.base import SOURCES, Built, Source, TooLarge, ZooEntry, get_source, register_source

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["SOURCES", "Built", "Source", "TooLarge", "ZooEntry", "get_source", "register_source"]
