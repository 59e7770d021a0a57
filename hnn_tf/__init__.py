"""hnn: perceptual hashes of neural networks (HNN-Net, Zhu et al., Symmetry 2022).

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` (Spektral needs Keras 2) before
TensorFlow can be imported. The heavy pieces are imported lazily, so ``import hnn_tf``
stays cheap: ``hash_model`` and ``ModelHash`` load on first use.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

__all__ = ["hash_model", "ModelHash", "__version__"]


def __getattr__(name: str):
    if name in ("hash_model", "ModelHash"):
        from hnn_tf import hashing

        return getattr(hashing, name)
    raise AttributeError(f"module 'hnn_tf' has no attribute {name!r}")
