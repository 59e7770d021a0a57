"""Helpers the PyTorch zoo sources share (not a source: files starting with ``_`` are not loaded)."""

from __future__ import annotations

from typing import Any, Callable

from hnn_tf.zoo.sources.base import TooLarge


def parameter_count(module: Any) -> int:
    """Parameters of a module, shared tensors counted once (int)."""
    seen, total = set(), 0
    for p in module.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def check_cap(make: Callable[[], Any], max_params: int | None) -> int | None:
    """Count the parameters of ``make()`` built on the meta device (nothing allocated).

    Returns:
        the count, or None when the model cannot be built on the meta device (the caller
        then counts after the real build).
    Raises:
        TooLarge: the count is over ``max_params``.
    """
    import torch

    if max_params is None:
        return None
    try:
        with torch.device("meta"):
            params = parameter_count(make())
    except Exception:  # noqa: BLE001 - some builders compute on real tensors while building
        return None
    if params > max_params:
        raise TooLarge(params, max_params)
    return params


def leaves_module(model: Any) -> Any:
    """Wrap ``model`` so that its forward returns the tuple of tensors in its output.

    Models that return dicts, lists of dicts (detection) or dataclasses (transformers'
    ``ModelOutput``) then export with the TorchScript exporter, whose outputs must be tensors.
    """
    import torch
    from torch.utils._pytree import tree_leaves

    class Leaves(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args, **kwargs):
            out = self.inner(*args, **kwargs)
            if hasattr(out, "to_tuple"):
                out = out.to_tuple()
            return tuple(t for t in tree_leaves(out) if isinstance(t, torch.Tensor))

    return Leaves(model)
