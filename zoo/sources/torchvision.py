"""The ``torchvision`` zoo source: every classification, detection, segmentation, video and
optical-flow model of ``torchvision.models``, with ``weights=None`` (and ``weights_backbone=None``).

Family: the builder's module below ``torchvision.models`` (``resnet``, ``detection.faster_rcnn``,
``video.mvit``). Trigger inputs: one zero image of the model's usual size (224, 299 for
Inception v3, 320 for detection models, which resize it themselves), a 16-frame clip for
video models (112 x 112, 224 x 224 for MViT, S3D and Video Swin), two 128 x 128 frames for
RAFT. Models that return dicts or lists are wrapped to return their tensors
(:func:`hnn_tf.zoo.sources._torch.leaves_module`). The quantized models of
``torchvision.models.quantization`` are left out: they are the float models with
PyTorch-specific quantized kernels that no ONNX exporter reads.
"""

from __future__ import annotations

import inspect

from hnn_tf.converters.pytorch import zero_random_init
from hnn_tf.zoo.sources._torch import check_cap, leaves_module, parameter_count
from hnn_tf.zoo.sources.base import Built, Source, TooLarge, ZooEntry, register_source

#: torchvision.models sub-packages and the task of their models.
TASKS = {"": "classification", "detection": "detection", "segmentation": "segmentation", "video": "video",
         "optical_flow": "optical-flow"}
_VIDEO_224 = ("mvit", "s3d", "swin")


def _input_shape(entry: ZooEntry) -> list[tuple[int, ...]]:
    task, name = entry.task, entry.name
    if task == "detection":
        return [(3, 320, 320)]
    if task == "video":
        side = 224 if name.startswith(_VIDEO_224) else 112
        return [(1, 3, 16, side, side)]
    if task == "optical-flow":
        return [(1, 3, 128, 128), (1, 3, 128, 128)]
    side = 299 if name == "inception_v3" else 224
    return [(1, 3, side, side)]


@register_source
class TorchvisionSource(Source):
    """Every model of ``torchvision.models`` but the quantized ones, family = builder module."""

    name = "torchvision"
    packages = ("torch", "torchvision")

    def entries(self) -> list[ZooEntry]:
        """One entry per model of :data:`TASKS`' sub-packages, in torchvision's order."""
        import importlib

        import torchvision.models as tvm

        out = []
        for sub, task in TASKS.items():
            module = importlib.import_module(f"torchvision.models.{sub}" if sub else "torchvision.models")
            for name in tvm.list_models(module=module):
                family = tvm.get_model_builder(name).__module__.removeprefix("torchvision.models.")
                out.append(ZooEntry(name, family, self.name, task))
        return out

    def build(self, entry: ZooEntry, max_params: int | None = None) -> Built:
        """The model with zero weights (:func:`hnn_tf.converters.pytorch.zero_random_init`) and its zero trigger inputs.

        Raises:
            TooLarge: over ``max_params``.
        """
        import torch
        import torchvision.models as tvm

        builder = tvm.get_model_builder(entry.name)
        kwargs = {"weights": None}
        if "weights_backbone" in inspect.signature(builder).parameters:
            kwargs["weights_backbone"] = None
        if entry.name in ("googlenet", "inception_v3"):
            kwargs["init_weights"] = False  # the slow truncated-normal initialisation: weights do not matter
        params = check_cap(lambda: builder(**kwargs), max_params)
        with zero_random_init():  # the hash reads shapes: no time spent drawing random weights
            model = builder(**kwargs).eval()
        if params is None:
            params = parameter_count(model)
            if max_params is not None and params > max_params:
                raise TooLarge(params, max_params)
        shapes = _input_shape(entry)
        if entry.task == "detection":
            args = ([torch.zeros(s) for s in shapes],)
        else:
            args = tuple(torch.zeros(s) for s in shapes)
        return Built(leaves_module(model), args, None, params)
