"""Hashing a model: the whole pipeline of paper Figure 2 (converter, graph recipe, hasher).

:func:`analyse_model` converts a model or file to ONNX, builds the graph its hasher was
trained on (the hasher variant's recipe, :mod:`hnn_tf.graph.recipes`), and encodes it; it
returns the code with the graph facts and the sha256 of what was hashed. The code type itself
(:class:`~hnn_tf.codes.ModelHash`, Hamming distances) lives in :mod:`hnn_tf.codes` and is
re-exported here.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnn_tf.codes import ModelHash, ModelReport, check_comparable, hamming_matrix, stack_codes

__all__ = [
    "ModelHash",
    "check_comparable",
    "stack_codes",
    "hamming_matrix",
    "hash_model",
    "analyse_model",
    "model_graph",
    "ModelGraph",
    "ModelReport",
    "load_hasher",
]


# -- hashing models (the whole pipeline of paper Figure 2) ---------------------------------


@functools.lru_cache(maxsize=8)
def load_hasher(bits: int | None = 64, directory: str | None = None):
    """The hasher of ``bits`` bits: the package's default (``broad``, trained on the broad zoo), or
    the one in ``directory`` (a folder, or a shipped kind's name: ``"broad"``, ``"hnn"`` for the
    paper's HNN-Net, ``"wl"`` for the WL-SimHash of :mod:`hnn_tf.wl_hash`;
    :data:`hnn_tf.hasher_files.SHIPPED_KINDS`).

    Loaded once per process (cached). The folder is found by
    :meth:`hnn_tf.hasher_files.HasherFolder.locate`.

    Raises:
        HNNError: no hasher of that length is installed (train one with ``hnn train --bits Q``),
            or the folder holds none, or its code length is not ``bits``.
    """
    from hnn_tf.hasher_files import HasherFolder

    if directory is None and bits is None:
        bits = 64
    folder = HasherFolder.locate(bits, directory)
    if folder.kind == "wl-simhash":
        from hnn_tf.errors import HNNError
        from hnn_tf.wl_hash import WLHasher

        try:
            return WLHasher.from_meta(folder.meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise HNNError(f"unreadable hasher config ({exc})", str(folder.path)) from None
    from hnn_tf.hasher import Hasher

    return Hasher.load(folder)


@dataclass(frozen=True)
class ModelGraph:
    """A model read and turned into the graph of one variant.

    Attributes:
        graph: the :class:`~hnn_tf.graph.layer_graph.LayerGraph` of the variant's recipe.
        framework: the converter that read the model.
        sha256: of the file's bytes; for a model object, of its ONNX export and its weights.
    """

    graph: Any
    framework: str
    sha256: str


def _sha256(model_or_path: Any, proto: Any, converter: Any = None) -> str:
    """sha256 of a file's bytes (read as a regular file), or of an export's deterministic
    serialisation followed by the converter's digest of the object's weights
    (:meth:`hnn_tf.converters.Converter.weights_digest`: exports leave weights out)."""
    from hnn_tf.errors import HNNError
    from hnn_tf.safe_io import open_regular

    if isinstance(model_or_path, (str, os.PathLike)) and os.path.lexists(model_or_path) \
            and not Path(model_or_path).is_dir():  # a model name (timm:resnet50) is hashed by its export
        fd, _ = open_regular(model_or_path)
        with os.fdopen(fd, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    try:
        data = proto.SerializeToString(deterministic=True)
    except Exception as exc:  # noqa: BLE001 - e.g. a protobuf over 2 GiB
        raise HNNError(f"cannot serialise the ONNX export to compute its sha256 ({exc})") from None
    h = hashlib.sha256(data)
    weights = converter.weights_digest(model_or_path) if converter is not None else None
    if weights:
        h.update(weights)
    return h.hexdigest()


def model_graph(model_or_path: Any, variant: str, framework: str | None = None, sha256: str | None = None,
                **options: Any) -> ModelGraph:
    """Read a model and build the graph of ``variant`` (paper Figure 2's graph generator).

    The one place where a model becomes a hasher's input: the converter registry
    (:func:`hnn_tf.converters.to_onnx`), then the variant's recipe
    (:func:`hnn_tf.graph.recipes.get_recipe`), exactly as the zoo builds training data.

    Args:
        model_or_path: a model object or a file path.
        variant: a recipe name (``"raw"``, ``"merged"``, ``"canonical"``).
        framework: force a converter (default: detected).
        sha256: the file's sha256 when the caller has it already.
        **options: converter options.
    Returns:
        :class:`ModelGraph`.
    Raises:
        HNNError: unknown variant, unreadable or hostile model, or graph errors.
    """
    from hnn_tf.converters import detect_framework, get_converter, to_onnx
    from hnn_tf.graph.recipes import get_recipe

    recipe = get_recipe(variant)
    source = str(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else None
    fw = get_converter(framework).name if framework else detect_framework(model_or_path)
    proto = to_onnx(model_or_path, framework=fw, **options)
    graph = recipe.build(proto, source=source)
    return ModelGraph(graph, fw, sha256 or _sha256(model_or_path, proto, get_converter(fw)))


def analyse_model(model_or_path: Any, bits: int | None = 64, hasher_dir: str | None = None,
                  framework: str | None = None, sha256: str | None = None, **options: Any) -> ModelReport:
    """Hash a model and report its graph facts (paper Figure 2: graph generator + hashing).

    Args:
        model_or_path: a model object (PyTorch ``nn.Module``, Keras model, ``onnx.ModelProto``)
            or a file path (see :func:`hnn_tf.converters.to_onnx`).
        bits: Q, the code length of the hasher to use.
        hasher_dir: a hasher folder written by ``hnn train`` or ``hnn zoo train``, or a shipped
            kind's name (default: the package's default hasher).
        framework: force a converter (default: detected).
        sha256: the file's sha256 when the caller has it already (else computed).
        **options: passed to the converter (e.g. ``input_shape``).
    Returns:
        ModelReport; nodes, edges, FLOPs and parameters are those of the graph the hasher
        reads, built by :func:`model_graph` with the recipe of its variant
        (``hasher.config.variant``), the same one its training data was built with.
    Raises:
        HNNError: the model cannot be read or converted, its graph cannot be built, or no
            hasher of ``bits`` bits is available.
    """
    from hnn_tf._tf import quiet_native_output
    from hnn_tf.errors import HNNError

    source = str(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else None
    try:
        with quiet_native_output():  # libraries print from C++ and through logging
            hasher = load_hasher(bits, hasher_dir)
            mg = model_graph(model_or_path, hasher.config.variant, framework, sha256, **options)
            code = hasher.encode([mg.graph])[0]
    except HNNError:
        raise
    except Exception as exc:  # noqa: BLE001 - a hostile model must end in one line naming it
        raise HNNError(f"cannot hash the model ({type(exc).__name__}: {str(exc)[:160]})", source) from exc
    g = mg.graph
    return ModelReport(
        hash=ModelHash(code, hasher.version),
        framework=mg.framework,
        nodes=g.num_nodes,
        edges=g.num_edges,
        flops=int(g.flops.sum()),
        params=int(g.params.sum()),
        sha256=mg.sha256,
    )


def hash_model(model_or_path: Any, bits: int = 64, hasher_dir: str | None = None, **options: Any) -> ModelHash:
    """The perceptual hash of a model (paper 3.1: the hash function mapping M_q to h).

    Args:
        model_or_path: a model object or file (see :func:`analyse_model`).
        bits: Q, the code length (a hasher of that length must be installed).
        hasher_dir: a hasher folder or a shipped kind's name (default: the package's default hasher).
        **options: converter options.
    Returns:
        ModelHash of ``bits`` bits tagged with the hasher version. The same model always
        gives the same code.
    Raises:
        HNNError: as :func:`analyse_model`.
    """
    return analyse_model(model_or_path, bits=bits, hasher_dir=hasher_dir, **options).hash
