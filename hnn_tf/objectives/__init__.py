"""Training objectives of the hasher, one registered unit a file (:mod:`.base` says what one is).

Importing this package loads every objective module (files starting with ``_`` and :mod:`.base`
excepted).
"""

from __future__ import annotations

import importlib
import pkgutil

from hnn_tf.objectives.base import OBJECTIVES, Objective, get_objective, register_objective

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["OBJECTIVES", "Objective", "get_objective", "register_objective"]
