"""Everything about a hasher folder on disk, in one place (no TensorFlow needed).

A hasher folder (``hnn train`` and ``hnn zoo train`` write one; the package ships
``hnn_tf/assets/broad-q64/``, the default, ``hasher-q64/``, the paper's HNN-Net, and ``wl-q64/``)
holds ``config.json`` (the network and training config, the op-type vocabulary, the node
feature kind and the hasher version) and ``weights.h5`` (tf_keras weights). Its check
threshold calibration is ``check_threshold.json`` in the folder, or, for the shipped hashers,
``hnn_tf/assets/check_threshold.json``. :class:`HasherFolder` finds and reads a folder; the
network itself is loaded by :meth:`hnn_tf.hasher.Hasher.load`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hnn_tf.errors import HNNError

__all__ = ["ASSETS", "CONFIG_FILE", "DEFAULT_KINDS", "HasherFolder", "SHIPPED_KINDS", "SHIPPED_THRESHOLDS",
           "WEIGHTS_FILE", "shipped_hasher_dir"]

#: Where the shipped hashers live: ``hnn_tf/assets/<kind prefix><Q>/`` (:data:`SHIPPED_KINDS`).
ASSETS = Path(__file__).resolve().parent / "assets"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.h5"
#: The check thresholds of the shipped hashers.
SHIPPED_THRESHOLDS = ASSETS / "check_threshold.json"
_THRESHOLD_FILE = "check_threshold.json"


#: Names ``--hasher`` accepts for shipped hashers: name -> folder prefix under :data:`ASSETS`
#: (the code length is appended): ``broad`` (the default: trained on the broad zoo by
#: ``hnn zoo train``, docs/method.md "Beyond the paper"), ``hnn`` (the paper's HNN-Net, trained
#: on the paper zoo by ``hnn train``; Table 2), ``wl`` (WL-SimHash, no training) and ``wl-sized``
#: (WL-SimHash with sized labels, :mod:`hnn_tf.wl_hash` scheme 2).
SHIPPED_KINDS = {"broad": "broad-q", "hnn": "hasher-q", "wl": "wl-q", "wl-sized": "wlsized-q"}
#: The kinds tried, in order, for the default hasher of a code length.
DEFAULT_KINDS = ("broad", "hnn")


def shipped_hasher_dir(bits: int, kind: str | None = None) -> Path:
    """Folder of a packaged hasher of ``bits`` bits (it may not exist).

    Args:
        bits: Q.
        kind: a name of :data:`SHIPPED_KINDS`; ``None``: the default, the first kind of
            :data:`DEFAULT_KINDS` installed for ``bits`` (the broad-zoo hasher where there is one).
    Raises:
        KeyError: an unknown kind.
    """
    folders = [ASSETS / f"{SHIPPED_KINDS[k]}{bits}" for k in ((kind,) if kind is not None else DEFAULT_KINDS)]
    return next((f for f in folders if (f / CONFIG_FILE).is_file()), folders[0])


def _is_kind(directory) -> bool:
    return directory is not None and str(directory) in SHIPPED_KINDS and not Path(directory).exists()


@dataclass(frozen=True)
class HasherFolder:
    """A hasher folder and what its ``config.json`` says.

    Attributes:
        path: the folder.
        shipped: True for a hasher packaged in ``hnn_tf/assets``.
        meta: the parsed ``config.json`` (keys ``config``, ``ops``, ``features``, ``version``).
    """

    path: Path
    shipped: bool
    meta: dict[str, Any] = field(repr=False)

    @classmethod
    def locate(cls, bits: int | None = 64, directory: str | os.PathLike | None = None) -> "HasherFolder":
        """The shipped hasher of ``bits`` bits, or the one in ``directory``, its config read.

        Args:
            bits: Q (default 64); with ``directory``, the Q its hasher must have (None: any).
            directory: a hasher folder written by ``hnn train``, or the name of a shipped
                kind (:data:`SHIPPED_KINDS`: ``"wl"``, ``"hnn"``).
        Raises:
            HNNError: no such hasher (the message says how to train one), an unreadable
                config, or a code length other than ``bits``.
        """
        if _is_kind(directory):
            directory = shipped_hasher_dir(64 if bits is None else int(bits), str(directory))
            if not (Path(directory) / CONFIG_FILE).is_file():
                raise HNNError(f"no shipped {bits}-bit hasher of that kind; shipped: "
                               + ", ".join(sorted(p.name for p in ASSETS.glob("*-q*"))))
            shipped_kind = True
        else:
            shipped_kind = False
        shipped = directory is None or shipped_kind
        path = shipped_hasher_dir(64 if bits is None else int(bits)) if directory is None else Path(directory)
        cfg = path / CONFIG_FILE
        if not cfg.is_file():
            if shipped:
                raise HNNError(f"no {bits}-bit hasher is installed; train one with `hnn train --bits {bits}`")
            raise HNNError("no trained hasher here (config.json and weights.h5 expected); run `make train`",
                           str(path))
        try:
            meta = json.loads(cfg.read_text())
            int(meta["config"]["bits"])
            if not isinstance(meta.get("ops"), list):
                raise KeyError("ops")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HNNError(f"unreadable hasher config ({type(exc).__name__}: {exc})", str(cfg)) from None
        folder = cls(path, shipped, meta)
        if bits is not None and folder.bits != int(bits):
            raise HNNError(f"the hasher here makes {folder.bits}-bit codes, not {bits}", str(path))
        return folder

    @property
    def bits(self) -> int:
        """Q, the code length."""
        return int(self.meta["config"]["bits"])

    @property
    def kind(self) -> str:
        """``"hnn"`` for a trained network (HNN-Net, GHashing), or another kind such as
        ``"wl-simhash"`` (:mod:`hnn_tf.wl_hash`), which has no weights."""
        return str(self.meta.get("kind", "hnn"))

    @property
    def version(self) -> str | None:
        """The hasher version recorded in the config (None in folders written before versions)."""
        v = self.meta.get("version")
        return str(v) if v else None

    @property
    def variant(self) -> str:
        """The graph variant (recipe) the hasher was trained on."""
        return str(self.meta["config"].get("variant", "merged"))

    @property
    def weights(self) -> Path:
        """The weights file."""
        return self.path / WEIGHTS_FILE

    @property
    def thresholds(self) -> Path:
        """Where this hasher's check threshold calibration is kept."""
        return SHIPPED_THRESHOLDS if self.shipped else self.path / _THRESHOLD_FILE

    @staticmethod
    def thresholds_for(directory: str | os.PathLike | None) -> Path:
        """The calibration file of the hasher folder ``directory`` (None or a shipped kind's name:
        the shipped hashers')."""
        return SHIPPED_THRESHOLDS if directory is None or _is_kind(directory) else Path(directory) / _THRESHOLD_FILE
