"""The paper's Table 1: 22 torchvision models in 10 categories.

Table 1 lists 21 distinct names but says 22 models: its SqueezeNet row's third entry,
"v2_x0_5", is a ShuffleNet name. We take ``shufflenet_v2_x1_0`` as the 22nd model, in the
ShuffleNet category, which then holds x0_5, x1_0, x1_5 and x2_0 (SqueezeNet holds 1_0 and 1_1).

Models are built with ``weights=None``: graphs, FLOPs and parameter counts do not depend on
weights, and no weights can be downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZooModel:
    """One zoo entry.

    Attributes:
        name: the ``torchvision.models`` builder name, e.g. ``"resnet18"``.
        category: the Table 1 category, the retrieval ground truth.
        input_size: side of the square zero trigger image (224; 299 for inception_v3). The
            paper says 256, but vgg and alexnet do not export at 256 with their fixed
            classifier input, so the models' native sizes are used.
    """

    name: str
    category: str
    input_size: int = 224

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """The trigger input shape (1, 3, S, S)."""
        return (1, 3, self.input_size, self.input_size)


def _entries() -> tuple[ZooModel, ...]:
    rows = [
        ("VGG", ["vgg11", "vgg13", "vgg16"]),
        ("ResNet", ["resnet18", "resnet34", "resnet101"]),
        ("MNASNet", ["mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]),
        ("DenseNet", ["densenet121", "densenet161", "densenet201"]),
        ("SqueezeNet", ["squeezenet1_0", "squeezenet1_1"]),
        ("ShuffleNet", ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]),
        ("AlexNet", ["alexnet"]),
        ("Inception", ["inception_v3"]),
        ("MobileNet", ["mobilenet_v2"]),
        ("GoogLeNet", ["googlenet"]),
    ]
    return tuple(
        ZooModel(name, cat, 299 if name == "inception_v3" else 224) for cat, names in rows for name in names
    )


#: The 22 models of Table 1, in table order.
PAPER_ZOO: tuple[ZooModel, ...] = _entries()
#: The 10 categories, in table order.
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(m.category for m in PAPER_ZOO))


def build_torch_model(name: str):
    """A torchvision model with random weights, in eval mode.

    Args:
        name: a ``torchvision.models`` builder name.
    Returns:
        ``torch.nn.Module`` in eval mode. GoogLeNet and Inception v3 skip their slow
        truncated-normal initialisation (weights do not matter here); their auxiliary
        classifiers are not run in eval mode and so are not in the graph.
    """
    import torchvision

    kwargs = {"init_weights": False} if name in ("googlenet", "inception_v3") else {}
    return getattr(torchvision.models, name)(weights=None, **kwargs).eval()
