"""The ``keras`` zoo source: every model of ``keras.applications`` (Keras 3), ``weights=None``.

Family: the ``keras.applications`` module that defines the builder (``resnet``, ``resnet_v2``,
``efficientnet``, ``vgg16``). Each model is exported through tf2onnx with its weights left
out (:mod:`hnn_tf.converters.keras_tf`), on a zero image of its default input size.
"""

from __future__ import annotations

from hnn_tf.zoo.sources.base import Built, Source, TooLarge, ZooEntry, register_source


def _builders() -> dict:
    import keras

    apps = keras.applications
    return {n: getattr(apps, n) for n in sorted(dir(apps)) if n[:1].isupper() and callable(getattr(apps, n))}


@register_source
class KerasSource(Source):
    """Every ``keras.applications`` model, family = its module."""

    name = "keras"
    framework = "keras"
    packages = ("keras", "tensorflow", "tf2onnx")
    exporters = ("hnn_tf.converters.keras_tf", "hnn_tf.converters.tf_graph")

    def entries(self) -> list[ZooEntry]:
        """One entry per ``keras.applications`` builder, sorted by name."""
        return [ZooEntry(name, fn.__module__.rsplit(".", 1)[-1], self.name, "classification")
                for name, fn in _builders().items()]

    def build(self, entry: ZooEntry, max_params: int | None = None) -> Built:
        """The Keras model with random weights (its parameters counted after building).

        Raises:
            TooLarge: over ``max_params``.
        """
        model = _builders()[entry.name](weights=None)
        params = int(model.count_params())
        if max_params is not None and params > max_params:
            raise TooLarge(params, max_params)
        return Built(model, (), None, params)
