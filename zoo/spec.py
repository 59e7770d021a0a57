"""The ``zoo`` converter: a model named ``<source>:<name>`` of a zoo source, built on the spot.

``hnn hash timm:convnext_tiny`` builds timm's convnext_tiny with ``pretrained=False`` (random
weights: nothing is downloaded), as the broad zoo builds it (:mod:`hnn_tf.zoo.sources`), and
exports it without its weights; any registered source works (``torchvision:resnet50``,
``transformers:llama``, ``keras:ResNet50``). A model over the source's parameter cap
(100 M, :data:`hnn_tf.zoo.broad.DEFAULT_MAX_PARAMS`) is built shrunk where the source shrinks
(transformers) and refused otherwise, so the code is the one of the zoo's graph.

The converter registers itself through the package's ``hnn.converters`` entry point
(pyproject.toml), so the converters do not depend on the zoo.
"""

from __future__ import annotations

import re
from typing import Any

from hnn_tf.converters import Converter
from hnn_tf.errors import ConversionError

_SPEC = re.compile(r"([a-z][a-z0-9_]*):([A-Za-z0-9][A-Za-z0-9_.\-]*)")


class ZooSpecConverter(Converter):
    """Builds and exports the zoo model a ``<source>:<name>`` string names (see the module doc)."""

    name = "zoo"
    options = frozenset({"keep_weights"})

    def accepts_spec(self, text: str) -> bool:
        m = _SPEC.fullmatch(text)
        if m is None:
            return False
        from hnn_tf.zoo.sources import SOURCES

        return m.group(1) in SOURCES

    def convert(self, model_or_path: Any, **options: Any):
        """Build the named model with random weights and export it.

        Raises:
            ConversionError: no such source or model, over the cap, or the build or export failed.
        """
        from hnn_tf.converters.registry import exception_summary
        from hnn_tf.zoo.broad import DEFAULT_MAX_PARAMS, select_entries
        from hnn_tf.zoo.sources import TooLarge, get_source

        text = str(model_or_path)
        m = _SPEC.fullmatch(text)
        if m is None:
            raise ConversionError("not a zoo model name (<source>:<name>)", path=text)
        try:
            source = get_source(m.group(1))
        except Exception as exc:  # noqa: BLE001 - HNNError naming the known sources
            raise ConversionError(str(exc), path=text) from None
        found = select_entries([source.name], [m.group(2)])
        entry = found[0] if found else None
        if entry is None:
            raise ConversionError(f"the {source.name} zoo source has no model named {m.group(2)!r} "
                                  "(hnn zoo list --all lists them)", path=text)
        try:
            built = source.build(entry, DEFAULT_MAX_PARAMS)
        except TooLarge as exc:
            raise ConversionError(f"too large to build here ({exc})", path=text) from None
        except Exception as exc:  # noqa: BLE001 - any library error is this model's
            raise ConversionError(f"building the model failed ({exception_summary(exc)})", path=text) from None
        try:
            return source.export(built, keep_weights=bool(options.get("keep_weights")))
        except ConversionError as exc:
            raise ConversionError(exc.args[0] if exc.args else str(exc), path=text) from None
