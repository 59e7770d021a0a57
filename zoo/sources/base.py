"""What a zoo source is: a registered unit that lists model entries and builds them.

A :class:`Source` knows one place models come from (the paper's Table 1, torchvision, timm,
transformers, ``keras.applications``). It lists its :class:`ZooEntry` items cheaply, without
building anything (:meth:`Source.entries`), builds one entry's model with random weights
(:meth:`Source.build`, giving a :class:`Built`: the model object and its trigger inputs) and
exports it to ONNX (:meth:`Source.export`). The broad zoo (:mod:`hnn_tf.zoo.broad`) runs
those steps in worker processes and caches the graphs.

A model's *family* is the source's own grouping (docs/design.md "The broad zoo"): timm's model
module (``timm.models.<module>``), transformers' ``model_type``, torchvision's builder module,
the ``keras.applications`` module, the paper's Table 1 category. Families are plain names, so
the same name from two sources is one family (timm's and torchvision's ``resnet``).

Every source is one file of :mod:`hnn_tf.zoo.sources` registered with
:func:`register_source`; adding a source is adding one file.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["Built", "SOURCES", "Source", "TooLarge", "ZooEntry", "get_source", "register_source"]


@dataclass(frozen=True)
class ZooEntry:
    """One model of a zoo source, before it is built.

    Attributes:
        name: the source's own name for the model (``"resnet50"``, ``"bert"``); unique within
            the source.
        family: the source's grouping (see the module doc).
        source: the source's registered name (``"timm"``).
        task: what the model does, in a few words (``"classification"``, ``"detection"``,
            ``"text"``, ``"vision"``, ``"audio"``).
        options: source-specific settings (input size, model class), JSON-serialisable.
    """

    name: str
    family: str
    source: str
    task: str
    options: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        """``"<source>:<name>"``, the entry's name across sources."""
        return f"{self.source}:{self.name}"


@dataclass
class Built:
    """A built model and how to call it.

    Attributes:
        model: the model object (``torch.nn.Module``, a Keras model).
        args: positional trigger inputs (tensors), in call order.
        kwargs: keyword trigger inputs, or None.
        params: its parameter count (int).
        notes: what the source changed to build it (``"4 layers, hidden 256"``), empty if nothing.
        task: the task found while building, when the entry could not say it cheaply
            (transformers' modality), else None.
        exported: the TorchScript export without weights (``onnx.ModelProto``) that the build
            made while choosing the inputs (transformers:
            :func:`hnn_tf.converters.transformers_hf.model_inputs_exported`), which
            :meth:`Source.export` returns instead of exporting again; else None.
    """

    model: Any
    args: tuple = ()
    kwargs: dict | None = None
    params: int = 0
    notes: str = ""
    task: str | None = None
    exported: Any = None


class TooLarge(Exception):
    """The entry has more parameters than the cap; ``params`` says how many."""

    def __init__(self, params: int, cap: int):
        super().__init__(f"{params:,} parameters, over the cap of {cap:,}")
        self.params = params
        self.cap = cap


#: The documented failures of the built-in sources: ``{source: {name or "family:<f>": why}}``.
KNOWN_FAILURES_FILE = Path(__file__).parent / "known_failures.json"


@functools.lru_cache(maxsize=1)
def _known_failures_file() -> dict:
    try:
        return json.loads(KNOWN_FAILURES_FILE.read_text())
    except (OSError, ValueError):
        return {}


class Source:
    """One source of zoo models. Subclass it, set the attributes and decorate with :func:`register_source`.

    Attributes:
        name: the source's name (``"timm"``).
        framework: ``"pytorch"`` or ``"keras"``: which exporter :meth:`export` uses.
        packages: the Python packages whose versions decide whether a cached graph is still
            valid (besides the graph builder's sources).
        known_failures: entry name (or family, prefixed ``family:``) -> why it cannot be built;
            the build reports such failures as known, any other as new.
        exporters: the converter modules :meth:`export` runs; with the source's own module and
            the graph builder's, their sources decide whether a cached IR is still valid.
    """

    name: ClassVar[str] = ""
    framework: ClassVar[str] = "pytorch"
    packages: ClassVar[tuple[str, ...]] = ("torch",)
    known_failures: ClassVar[dict[str, str]] = {}
    exporters: ClassVar[tuple[str, ...]] = ("hnn_tf.converters.pytorch",)

    def entries(self) -> list[ZooEntry]:
        """Every entry of the source, without building any model (cheap)."""
        raise NotImplementedError

    def build(self, entry: ZooEntry, max_params: int | None = None) -> Built:
        """Build the model of ``entry`` with random weights, in inference mode.

        Args:
            entry: one of :meth:`entries`.
            max_params: the parameter cap; None for none.
        Raises:
            TooLarge: over the cap (sources count parameters before allocating them).
            Exception: whatever the model library raises; the caller records it.
        """
        raise NotImplementedError

    def export(self, built: Built, dynamo: bool = False, keep_weights: bool = False) -> Any:
        """The ONNX export of a built model (``onnx.ModelProto``), weights left out by default.

        Args:
            built: from :meth:`build`.
            dynamo: PyTorch only; use the dynamo exporter (``torch.onnx.export(dynamo=True)``)
                instead of the TorchScript one. Without it, the dynamo exporter is used where the
                TorchScript one fails (:func:`hnn_tf.converters.pytorch.export_with_fallback`),
                and ``built.notes`` says so.
            keep_weights: keep the weights as initializers. PyTorch sources build with zero
                weights (:func:`hnn_tf.converters.pytorch.zero_random_init`); for an export whose
                weights matter (a quantizer's input), build inside
                :func:`hnn_tf.converters.pytorch.library_init`.
        Raises:
            hnn_tf.errors.ConversionError: the export failed (with both exporters).
        """
        if self.framework == "keras":
            from hnn_tf.converters import to_onnx

            return to_onnx(built.model, framework="keras", keep_weights=keep_weights)
        if built.exported is not None and not dynamo and not keep_weights:
            return built.exported
        from hnn_tf.converters.pytorch import export_with_fallback

        proto, used_dynamo = export_with_fallback(built.model, built.args, f"{self.name} model",
                                                  keep_weights=keep_weights, dynamo=dynamo, kwargs=built.kwargs)
        if used_dynamo and not dynamo:
            built.notes = "; ".join(filter(None, (built.notes, "dynamo exporter")))
        return proto

    def known_failure(self, entry: ZooEntry) -> str | None:
        """Why ``entry`` is known not to build, or None: :attr:`known_failures`, then the
        source's section of :data:`KNOWN_FAILURES_FILE` (kept out of the source's module, so
        that documenting a failure does not invalidate the source's cached graphs)."""
        listed = {**_known_failures_file().get(self.name, {}), **self.known_failures}
        return listed.get(entry.name) or listed.get(f"family:{entry.family}")

    def __repr__(self) -> str:
        return f"<Source {self.name}>"


SOURCES: dict[str, Source] = {}


def register_source(cls: type[Source]) -> type[Source]:
    """Class decorator: register one instance of the source under its name.

    Raises:
        ValueError: no name, or the name is registered already.
    """
    if not cls.name:
        raise ValueError(f"source {cls.__name__} needs a name")
    if cls.name in SOURCES:
        raise ValueError(f"a zoo source named {cls.name!r} is registered already")
    SOURCES[cls.name] = cls()
    return cls


def get_source(name: str) -> Source:
    """The source registered under ``name``.

    Raises:
        hnn_tf.errors.HNNError: no such source (the message lists the known ones).
    """
    from hnn_tf.errors import HNNError

    try:
        return SOURCES[name]
    except KeyError:
        raise HNNError(f"unknown zoo source {name!r}; known: {', '.join(SOURCES)}") from None
