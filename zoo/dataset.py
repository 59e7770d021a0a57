"""The HNN-Net data set (paper 4.1.3): zoo graphs, augmentation and the train/test split.

- Every zoo model is converted to ONNX (BatchNormalization kept) and built by its variant's
  recipe (:mod:`hnn_tf.graph.recipes`): the raw layer graph; the merged variant applies the
  paper's merge rules to it (3.2.2); beyond the paper, the canonical variant builds the
  canonical graph (BatchNorm folded, framework spellings normalised) and applies the canonical
  merge rules (Conv-ReLU, Conv-ReLU6); a hasher trained on it hashes models of any framework
  alike. Hashing a model uses the same recipe, so training and hashing read the same graphs.
- Augmentation: per model, 10 copies, each with 10% of its nodes (and their edges) deleted,
  seeded by (seed, model name, copy number). Deletion is applied to the variant's own graph,
  so a merged copy misses 10% of the merged nodes.
- Split per model: the original then its copies in order; the first 80% (8 of 11) go to
  train, the rest (3) to test.

Base graphs (before merging) are cached on disk, one JSON file per model and base, under a
key that changes when the zoo, the converters or the graph builder change (their code is
hashed, without docstrings and comments: :func:`code_digest`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.graph.recipes import RECIPES, Recipe, get_recipe
from hnn_tf.safe_io import atomic_write
from hnn_tf.zoo.models import PAPER_ZOO, ZooModel, build_torch_model

#: The data variants: the graph recipes (:mod:`hnn_tf.graph.recipes`).
VARIANTS = tuple(RECIPES)
COPIES = 10
DELETE_FRACTION = 0.1
TRAIN_FRACTION = 0.8
SEED = 2022

#: Modules whose source files decide whether the cached zoo graphs are still valid (the zoo
#: list, the converters, the graph builder), found where they are installed.
_KEY_MODULES = ["hnn_tf.zoo.models", "hnn_tf.converters", "hnn_tf.graph"]


@dataclass
class ZooGraph:
    """One graph of the data set.

    Attributes:
        model: zoo model name, e.g. ``"resnet18"``.
        category: its Table 1 category (the label).
        copy: 0 for the original graph, 1..10 for the augmented copies.
        graph: the layer graph.
    """

    model: str
    category: str
    copy: int
    graph: LayerGraph


def cache_dir() -> Path:
    """Where hnn caches built data: ``$HNN_CACHE``, else ``$XDG_CACHE_HOME/hnn`` (``~/.cache/hnn``)."""
    if os.environ.get("HNN_CACHE"):
        return Path(os.environ["HNN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "hnn"


def code_digest(path: Path) -> bytes:
    """sha256 of a Python file's code: its syntax tree without docstrings, comments or layout.

    A cache keyed on source files is rebuilt when their code changes, not when a docstring or a
    comment does. The Python version is part of the digest (``ast.dump``'s format is not stable
    across versions); a file that does not parse is digested by its bytes.

    Returns:
        32 bytes. Source: the standard library's ``ast``.
    """
    raw = Path(path).read_bytes()
    try:
        tree = ast.parse(raw)
    except (SyntaxError, ValueError):
        return hashlib.sha256(raw).digest()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    dumped = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(f"{sys.version_info[:2]}|{dumped}".encode()).digest()


def modules_digest(names) -> str:
    """sha256 (hex) of the code of modules, found where they are installed: a package's every
    ``.py`` file below it, a module's own file, each named by its path and digested by
    :func:`code_digest`. The modules are located (``importlib.util.find_spec``), not imported:
    digesting a converter does not load TensorFlow or torch. Raises ImportError for a module
    that is not installed."""
    import importlib.util

    h = hashlib.sha256()
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            raise ImportError(f"no module named {name!r}")
        p = Path(spec.origin)
        root = p.parent
        for f in sorted(root.rglob("*.py")) if p.name == "__init__.py" else [p]:
            h.update(f"{name}/{f.relative_to(root)}".encode())
            h.update(code_digest(f))
    return h.hexdigest()


def builder_key() -> str:
    """sha256 (12 hex digits) of the zoo list, converter and graph-builder sources plus torch versions."""
    h = hashlib.sha256(modules_digest(_KEY_MODULES).encode())
    try:
        import torch
        import torchvision

        h.update(f"{torch.__version__}|{torchvision.__version__}".encode())
    except ImportError:  # pragma: no cover - torch is a requirement
        pass
    return h.hexdigest()[:12]


def _base_file(folder: Path, model: ZooModel, base: str) -> Path:
    """Cache file of one model's base graph: ``<name>.json`` for the raw graph, else a tag of the rule sets."""
    if base == "raw":
        return folder / f"{model.name}.json"
    return folder / f"{model.name}.{hashlib.sha256(base.encode()).hexdigest()[:10]}.json"


def load_bases(models: tuple[ZooModel, ...] = PAPER_ZOO, recipe: str | Recipe = "raw", progress: bool = True,
               directory: Path | None = None) -> dict[str, LayerGraph]:
    """The base graphs (before merging) of the zoo models for a recipe, built once and cached.

    Each model is exported to ONNX once (BatchNormalization kept) and every recipe's base
    graph is built from that export and cached, so a later variant costs no export.

    Args:
        models: the zoo entries.
        recipe: a variant name or :class:`~hnn_tf.graph.recipes.Recipe`.
        progress: show a tqdm progress bar while building.
        directory: cache folder (default :func:`cache_dir` / ``zoo-<builder_key>``).
    Returns:
        dict model name -> LayerGraph, in ``models`` order.
    Raises:
        HNNError: an unknown variant.
    """
    from tqdm import tqdm

    from hnn_tf.converters import to_onnx

    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    folder = directory or cache_dir() / f"zoo-{builder_key()}"
    folder.mkdir(parents=True, exist_ok=True)
    bases = {r.base: r for r in RECIPES.values()}
    out: dict[str, LayerGraph] = {}
    todo = [m for m in models if not _base_file(folder, m, recipe.base).exists()]
    bar = tqdm(total=len(todo), desc="building zoo graphs", unit="model", disable=not progress or not todo)
    for m in models:
        path = _base_file(folder, m, recipe.base)
        if path.exists():
            out[m.name] = LayerGraph.from_dict(json.loads(path.read_text()))
            continue
        bar.set_postfix_str(m.name)
        proto = to_onnx(build_torch_model(m.name), framework="pytorch", input_shape=m.input_shape)
        for base, r in bases.items():
            target = _base_file(folder, m, base)
            if base == recipe.base or not target.exists():
                graph = r.build_base(proto, source=m.name)
                atomic_write(target, json.dumps(graph.to_dict()))
                if base == recipe.base:
                    out[m.name] = graph
        bar.update(1)
    bar.close()
    return out


def delete_nodes(graph: LayerGraph, fraction: float, rng: np.random.Generator) -> LayerGraph:
    """Delete ``round(fraction * N)`` random nodes (at least 1) and their edges (paper 4.1.3).

    Args:
        graph: the graph to copy.
        fraction: share of nodes to delete, in [0, 1).
        rng: the random generator.
    Returns:
        a new LayerGraph; the kept nodes keep their relative order.
    """
    n = graph.num_nodes
    k = min(n - 1, max(1, int(round(fraction * n))))
    drop = rng.choice(n, size=k, replace=False)
    keep = np.setdiff1d(np.arange(n), drop)
    return graph.subgraph(keep)


def augment(graph: LayerGraph, name: str, copies: int = COPIES, fraction: float = DELETE_FRACTION,
            seed: int = SEED) -> list[LayerGraph]:
    """The ``copies`` augmented copies of one model's graph, each seeded by (seed, name, copy)."""
    tag = zlib.crc32(name.encode())
    return [delete_nodes(graph, fraction, np.random.default_rng([seed, tag, c])) for c in range(1, copies + 1)]


def zoo_dataset(variant: str = "merged", models: tuple[ZooModel, ...] = PAPER_ZOO, copies: int = COPIES,
                seed: int = SEED, progress: bool = True) -> list[ZooGraph]:
    """The whole data set: per model the original and its augmented copies, in zoo order.

    Args:
        variant: a recipe of :data:`hnn_tf.graph.recipes.RECIPES`: ``"raw"`` or ``"merged"``
            (paper 4.2.1), or ``"canonical"``; the originals are built exactly as
            :func:`hnn_tf.hashing.analyse_model` builds a model's graph for a hasher of that
            variant.
        models: the zoo entries.
        copies: augmented copies per model.
        seed: augmentation seed.
        progress: show progress while building the zoo.
    Returns:
        list of ZooGraph, ``len(models) * (copies + 1)`` long.
    Raises:
        HNNError: unknown variant.
    """
    recipe = get_recipe(variant)
    bases = load_bases(models, recipe, progress=progress)
    out = []
    for m in models:
        g = recipe.finish(bases[m.name])
        out.append(ZooGraph(m.name, m.category, 0, g))
        out.extend(ZooGraph(m.name, m.category, c, cg) for c, cg in enumerate(augment(g, m.name, copies, seed=seed), 1))
    return out


def split(dataset: list[ZooGraph], train_fraction: float = TRAIN_FRACTION) -> tuple[list[ZooGraph], list[ZooGraph]]:
    """Per model, the first ``floor(train_fraction * n)`` graphs (original first) go to train.

    Returns:
        (train, test) lists, each in data set order. With 11 graphs a model: 8 train, 3 test.
    """
    by_model: dict[str, list[ZooGraph]] = {}
    for zg in dataset:
        by_model.setdefault(zg.model, []).append(zg)
    train, test = [], []
    for graphs in by_model.values():
        graphs = sorted(graphs, key=lambda z: z.copy)
        cut = int(np.floor(train_fraction * len(graphs)))
        train.extend(graphs[:cut])
        test.extend(graphs[cut:])
    return train, test
