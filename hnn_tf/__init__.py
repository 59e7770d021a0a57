"""hnn: perceptual hashes of neural networks (HNN-Net, Zhu et al., Symmetry 2022).

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` (Spektral needs Keras 2) before
TensorFlow can be imported. The heavy pieces are imported lazily, so ``import hnn_tf``
stays cheap: ``hash_model`` and ``ModelHash`` load on first use.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow start-up chatter would break one-line errors


def _preload_triton() -> None:
    """Load Triton (shipped with Linux builds of torch) before TensorFlow can load.

    Triton's LLVM library crashes the process (SIGSEGV) when it is loaded after
    TensorFlow's, which happens as soon as torchvision is imported after TensorFlow.
    Loading it first (about 0.2 s) avoids that; where Triton is absent nothing happens.
    """
    import importlib.util
    import sys

    if "tensorflow" in sys.modules or importlib.util.find_spec("triton") is None:
        return
    try:
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken Triton only matters to torch.compile
        pass


_preload_triton()

__version__ = "0.1.0"

__all__ = ["hash_model", "ModelHash", "__version__"]


def __getattr__(name: str):
    if name in ("hash_model", "ModelHash"):
        from hnn_tf import hashing

        return getattr(hashing, name)
    raise AttributeError(f"module 'hnn_tf' has no attribute {name!r}")
