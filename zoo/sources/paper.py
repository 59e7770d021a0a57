"""The ``paper`` zoo source: the 22 torchvision CNNs of the paper's Table 1.

Families are the Table 1 categories. Table 2 (:mod:`hnn_tf.zoo.dataset`) reads these models
through :data:`hnn_tf.zoo.models.PAPER_ZOO` with their augmentation, unchanged; the broad zoo
lists them here too, where they are aliases of the ``torchvision`` source's same models.
"""

from __future__ import annotations

from hnn_tf.zoo.models import PAPER_ZOO, build_torch_model
from hnn_tf.zoo.sources.base import Built, Source, TooLarge, ZooEntry, register_source


@register_source
class PaperSource(Source):
    """The paper's 22 models (Table 1), family = Table 1 category."""

    name = "paper"
    packages = ("torch", "torchvision")

    def entries(self) -> list[ZooEntry]:
        """The 22 entries of :data:`hnn_tf.zoo.models.PAPER_ZOO`, in table order."""
        return [ZooEntry(m.name, m.category, self.name, "classification", {"input_size": m.input_size})
                for m in PAPER_ZOO]

    def build(self, entry: ZooEntry, max_params: int | None = None) -> Built:
        """:func:`hnn_tf.zoo.models.build_torch_model` on its zero trigger image.

        Raises:
            TooLarge: over ``max_params``.
        """
        import torch

        model = build_torch_model(entry.name)
        params = sum(p.numel() for p in model.parameters())
        if max_params is not None and params > max_params:
            raise TooLarge(params, max_params)
        size = int(entry.options.get("input_size", 224))
        return Built(model, (torch.zeros(1, 3, size, size),), None, params)
