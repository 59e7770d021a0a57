"""Registering the paper's zoo models in a registry (``hnn index add --from-zoo``).

Zoo knowledge stays on the zoo's side: the registry (:mod:`hnn_tf.index`) stores models and
never imports the zoo.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["add_zoo"]


def add_zoo(registry: Any, *, label: str | None = None, progress: bool = True,
            models: Sequence[Any] | None = None) -> list:
    """Register the paper's zoo models (Table 1: :data:`hnn_tf.zoo.models.PAPER_ZOO`), skipping those stored.

    Each model is built by :func:`hnn_tf.zoo.models.build_torch_model` with
    ``torch.manual_seed(0)`` (the global RNG state is restored afterwards), exported with its
    trigger input shape and stored under its torchvision name with source
    ``torchvision:<name>``; its sha256 is that of its ONNX export.

    Args:
        registry: a :class:`hnn_tf.index.Registry`.
        label: label of the entries (default: the model's Table 1 category).
        progress: show a tqdm bar on stderr.
        models: :class:`hnn_tf.zoo.models.ZooModel` entries (default: all 22).
    Returns:
        one :class:`hnn_tf.index.AddResult` per model.
    Raises:
        HNNError: as :meth:`hnn_tf.index.Registry.add`.
    """
    import torch
    from tqdm import tqdm

    from hnn_tf.index import AddResult
    from hnn_tf.zoo.models import PAPER_ZOO, build_torch_model

    version = registry.hasher_version
    out = []
    with tqdm(list(models or PAPER_ZOO), desc="hashing zoo", unit="model", disable=not progress or None,
              file=sys.stderr) as bar:
        for m in bar:
            bar.set_postfix_str(m.name)
            source = f"torchvision:{m.name}"
            existing = registry.store.find_source(source, version)
            if existing is not None:
                out.append(AddResult(source, existing, False))
                continue
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                module = build_torch_model(m.name)
            out.append(registry.add_one(module, m.name, label or m.category, "pytorch", source, "skip",
                                        {"input_shape": m.input_shape}))
    return out
