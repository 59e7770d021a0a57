"""Crafted attack files: each tries to make the hashing machine run code, read a file or blow up.

Every builder writes one file into a folder and returns its path; the code-running ones
take a ``marker`` path that their payload would create (``touch``), so a test can tell that
the payload never ran. The payloads call ``os.system``; nothing else is done with them.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

__all__ = [
    "pt2_archive",
    "pt2_pickled_sample_inputs",
    "pt2_pickled_weight",
    "pt2_edit_program",
    "pt2_aoti_library",
    "pickled_module_with_payload",
    "keras_with_config",
    "keras_zip_bomb",
]


class _Payload:
    """Pickles to ``os.system(command)``: unpickling it runs the command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def pt2_archive() -> bytes:
    """A valid small ``torch.export.save`` archive (Conv -> ReLU), as bytes."""
    import torch
    from torch import nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    buf = io.BytesIO()
    torch.export.save(torch.export.export(model, (torch.zeros(1, 3, 8, 8),)), buf)
    return buf.getvalue()


def _rewrite(data: bytes, edit) -> bytes:
    """A copy of zip ``data``; ``edit(name, content, zout)`` returns the new content (None drops it)."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            content = edit(info.filename, zin.read(info.filename), zout)
            if content is not None:
                zout.writestr(info, content)
    return out.getvalue()


def pt2_pickled_sample_inputs(folder: Path, marker: Path) -> Path:
    """Recipe 1 of the hardening issue: ``data/sample_inputs/model.pt`` replaced by ``torch.save((payload,))``.

    ``torch.export.load`` tries ``weights_only=True``, fails, and falls back to
    ``weights_only=False``, which runs the payload.
    """
    import torch

    def edit(name, content, zout):
        if name.endswith("data/sample_inputs/model.pt"):
            buf = io.BytesIO()
            torch.save((_Payload(f"touch {marker}"),), buf)
            return buf.getvalue()
        return content

    path = folder / "sample_inputs_payload.pt2"
    path.write_bytes(_rewrite(pt2_archive(), edit))
    return path


def pt2_pickled_weight(folder: Path, marker: Path) -> Path:
    """Recipe 2: the first weight marked ``use_pickle: true``, its record a pickled payload
    (torch loads it with ``weights_only=False``)."""
    import torch

    def edit(name, content, zout):
        if name.endswith("model_weights_config.json"):
            cfg = json.loads(content)
            first = next(iter(cfg["config"]))
            cfg["config"][first]["use_pickle"] = True
            cfg["config"][first]["path_name"] = "payload"
            buf = io.BytesIO()
            torch.save(_Payload(f"touch {marker}"), buf)
            zout.writestr(name.rsplit("/", 1)[0] + "/payload", buf.getvalue())
            return json.dumps(cfg)
        return content

    path = folder / "weight_payload.pt2"
    path.write_bytes(_rewrite(pt2_archive(), edit))
    return path


def pt2_edit_program(folder: Path, name: str, fn) -> Path:
    """A ``.pt2`` whose ``models/model.json`` program was changed by ``fn(program_dict)``."""

    def edit(member, content, zout):
        if member.endswith("models/model.json"):
            program = json.loads(content)
            fn(program)
            return json.dumps(program)
        return content

    path = folder / f"{name}.pt2"
    path.write_bytes(_rewrite(pt2_archive(), edit))
    return path


def pt2_aoti_library(folder: Path) -> Path:
    """A ``.pt2`` holding an AOTInductor shared library (``torch.export.load`` would ``dlopen`` it)."""

    def edit(name, content, zout):
        if name.endswith("archive_format"):
            zout.writestr(name.replace("archive_format", "data/aotinductor/model/payload.so"), b"\x7fELF")
        return content

    path = folder / "aoti.pt2"
    path.write_bytes(_rewrite(pt2_archive(), edit))
    return path


def pickled_module_with_payload(folder: Path, marker: Path) -> Path:
    """A ``torch.save`` file whose pickle runs the payload when unpickled."""
    import torch

    path = folder / "payload.pt"
    torch.save({"model": _Payload(f"touch {marker}")}, str(path))
    return path


def keras_with_config(folder: Path, name: str, config_text: str) -> Path:
    """A ``.keras`` archive (Keras 3 layout) whose ``config.json`` is ``config_text``."""
    path = folder / f"{name}.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", config_text)
        zf.writestr("model.weights.h5", b"")
    return path


def keras_zip_bomb(folder: Path, inflated: int = 1 << 30) -> Path:
    """A ``.keras`` archive of about 1 MB whose ``config.json`` inflates to ``inflated`` bytes."""
    path = folder / "bomb.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        member = zipfile.ZipInfo("config.json")
        member.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(member, "w", force_zip64=True) as fh:
            fh.write(b'{"class_name": "Functional", "config": "')
            chunk = b" " * (1 << 20)
            for _ in range(inflated >> 20):
                fh.write(chunk)
            fh.write(b'"}')
    return path
