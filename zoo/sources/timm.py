"""The ``timm`` zoo source: every model of ``timm.list_models()`` with ``pretrained=False``.

Family: the model's module in ``timm.models`` (``resnet``, ``vision_transformer``, ``convnext``).
Models over the parameter cap (the broad zoo's default: 100 M) are skipped after counting their
parameters on the meta device. Attention modules with a ``fused_attn`` switch get it turned
off, so attention exports as MatMul/Softmax (``scaled_dot_product_attention`` with the
arguments eva02 and rope ViTs pass fails in the TorchScript exporter). The trigger input is a
zero image of the model's pretrained configuration's ``input_size``.
"""

from __future__ import annotations

from hnn_tf.converters.pytorch import zero_random_init
from hnn_tf.zoo.sources._torch import check_cap, parameter_count
from hnn_tf.zoo.sources.base import Built, Source, TooLarge, ZooEntry, register_source


def model_families() -> dict[str, str]:
    """timm model name -> its module below ``timm.models``, for every registered model."""
    import timm

    out = {}
    for module in timm.list_modules():
        for name in timm.list_models(module=module):
            out.setdefault(name, module)
    return out


def build_timm(name: str, max_params: int | None = None) -> Built:
    """A timm model with zero weights (:func:`hnn_tf.converters.pytorch.zero_random_init`), ``fused_attn``
    off, and its zero trigger image.

    Args:
        name: a ``timm.list_models()`` name.
        max_params: the parameter cap, or None.
    Raises:
        TooLarge: over ``max_params``.
        RuntimeError: timm does not know the name (``timm.create_model``'s error).
    """
    import timm
    import torch

    params = check_cap(lambda: timm.create_model(name, pretrained=False), max_params)
    with zero_random_init():  # the hash reads shapes: no time spent drawing random weights
        model = timm.create_model(name, pretrained=False).eval()
    if params is None:
        params = parameter_count(model)
        if max_params is not None and params > max_params:
            raise TooLarge(params, max_params)
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = False
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = tuple(int(d) for d in cfg.get("input_size", (3, 224, 224)))
    return Built(model, (torch.zeros((1, *size)),), None, params)


@register_source
class TimmSource(Source):
    """Every timm model (``pretrained=False``), family = ``timm.models`` module."""

    name = "timm"
    packages = ("torch", "timm")

    def entries(self) -> list[ZooEntry]:
        """One entry per ``timm.list_models()`` name, sorted by name."""
        return [ZooEntry(name, family, self.name, "vision") for name, family in sorted(model_families().items())]

    def build(self, entry: ZooEntry, max_params: int | None = None) -> Built:
        """:func:`build_timm` of the entry.

        Raises:
            TooLarge: over ``max_params``.
        """
        return build_timm(entry.name, max_params)
