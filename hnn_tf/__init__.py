"""hnn: perceptual hashes of neural networks (HNN-Net, Zhu et al., Symmetry 2022).

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` (Spektral needs Keras 2) before
TensorFlow can be imported. The heavy pieces are imported lazily, so ``import hnn_tf``
stays cheap: ``hash_model`` and ``ModelHash`` load on first use.

hnn writes nothing outside the temp folder and the registry (README "Security"), and the
libraries it drives would: onnxruntime keeps a telemetry device id and event store in the
user's cache folder, Keras writes ``~/.keras/keras.json`` and matplotlib (imported by Keras 3)
a font cache. Unless the user set them, ``ORT_DISABLE_TELEMETRY=1`` is set, and ``KERAS_HOME``
(when no ``~/.keras/keras.json`` exists yet) and ``MPLCONFIGDIR`` point into a private
temporary folder removed at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow start-up chatter would break one-line errors
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def _private_config_dirs() -> None:
    """Point Keras' and matplotlib's config folders into a temporary folder where they would write."""
    keras_json = os.path.join(os.path.expanduser("~"), ".keras", "keras.json")
    wants = [k for k, needed in (("KERAS_HOME", not os.path.exists(keras_json)), ("MPLCONFIGDIR", True))
             if needed and k not in os.environ]
    if not wants:
        return
    try:
        folder = tempfile.mkdtemp(prefix="hnn-config-")
    except OSError:
        return
    atexit.register(shutil.rmtree, folder, True)
    for k in wants:
        os.environ[k] = os.path.join(folder, k.lower())


_private_config_dirs()


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
