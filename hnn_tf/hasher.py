"""A trained hasher: the network, its op-type vocabulary and its config, saved together.

A hasher directory holds ``config.json`` (the :class:`~hnn_tf.model.HasherConfig` plus the
op-type vocabulary) and ``weights.h5`` (tf_keras weights); :mod:`hnn_tf.hasher_files` finds
and reads it. The hasher version is derived from both files' contents, so retraining gives a
new version and codes of the old one are never compared with the new one silently
(docs/design.md, "The hasher is versioned").
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from hnn_tf.errors import HNNError
from hnn_tf.features import (
    STRUCTURAL_EXTRA,
    OpVocabulary,
    node_features,
    normalized_adjacency,
    op_type_features,
    structural_features,
    wl_bucket_counts,
)
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.hasher_files import CONFIG_FILE, WEIGHTS_FILE, HasherFolder, shipped_hasher_dir  # noqa: F401
from hnn_tf.safe_io import atomic_write



class GraphTensors:
    """Per-graph inputs of the network, computed once: features and normalised adjacency.

    Attributes:
        x: float32 (N, F) node features (paper 3.2.3, or op types only for GHashing).
        rows, cols: int64 (nnz,) coordinates of D^-1/2 (A+I) D^-1/2; vals: float32 (nnz,).
        wl_slots, wl_vals: int64 / float32 (K,), the graph's hashed Weisfeiler-Lehman counts
            (:func:`hnn_tf.features.wl_bucket_counts`) when ``wl_buckets`` > 0, else empty.
    """

    __slots__ = ("x", "rows", "cols", "vals", "wl_slots", "wl_vals")

    def __init__(self, graph: LayerGraph, vocab: OpVocabulary, features: str = "hnn", wl_buckets: int = 0,
                 wl_iterations: int = 3):
        if features == "hnn":
            self.x = node_features(graph, vocab)
        elif features == "structural":
            self.x = structural_features(graph, vocab)
        else:
            self.x = op_type_features(graph, vocab)
        a = sp.coo_matrix(normalized_adjacency(graph))
        self.rows, self.cols, self.vals = a.row.astype(np.int64), a.col.astype(np.int64), a.data.astype(np.float32)
        if wl_buckets:
            self.wl_slots, self.wl_vals = wl_bucket_counts(graph, wl_buckets, wl_iterations)
        else:
            self.wl_slots, self.wl_vals = np.zeros(0, np.int64), np.zeros(0, np.float32)


def disjoint_batch(items: list[GraphTensors]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stack graphs into one block-diagonal graph (Spektral's disjoint mode).

    Returns:
        x float32 (sum N, F), indices int64 (nnz, 2), values float32 (nnz,), segment ids
        int64 (sum N,) numbering the graphs 0..G-1 in ``items`` order.
    """
    sizes = np.array([len(t.x) for t in items], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    x = np.concatenate([t.x for t in items], axis=0)
    rows = np.concatenate([t.rows + o for t, o in zip(items, offsets)])
    cols = np.concatenate([t.cols + o for t, o in zip(items, offsets)])
    vals = np.concatenate([t.vals for t in items])
    order = np.lexsort((cols, rows))
    idx = np.stack([rows[order], cols[order]], axis=1)
    seg = np.repeat(np.arange(len(items), dtype=np.int64), sizes)
    return x, idx, vals[order], seg


def wl_batch(items: list[GraphTensors]) -> tuple[np.ndarray, np.ndarray]:
    """The hashed WL count vectors of a batch, as a sparse (G, buckets) matrix's parts.

    Returns:
        indices int64 (K, 2) (graph, slot) in row-major order, values float32 (K,).
    """
    sizes = [len(t.wl_slots) for t in items]
    rows = np.repeat(np.arange(len(items), dtype=np.int64), sizes)
    cols = np.concatenate([np.zeros(0, np.int64), *(t.wl_slots for t in items)])
    vals = np.concatenate([np.zeros(0, np.float32), *(t.wl_vals for t in items)])
    return np.stack([rows, cols], axis=1), vals


def network_inputs(items: list[GraphTensors], wl_buckets: int = 0) -> tuple:
    """The network's input tuple for a batch: ``(x, a, i)``, plus the (G, ``wl_buckets``) sparse
    WL count matrix when ``wl_buckets`` > 0 (:class:`hnn_tf.model.HNNNet`)."""
    import tensorflow as tf

    x, idx, vals, seg = disjoint_batch(items)
    inputs = (tf.constant(x), tf.SparseTensor(idx, vals, (len(x), len(x))), tf.constant(seg))
    if wl_buckets:
        widx, wvals = wl_batch(items)
        inputs += (tf.SparseTensor(widx, wvals, (len(items), wl_buckets)),)
    return inputs


class Hasher:
    """HNN-Net (or a baseline) with its vocabulary: maps layer graphs to Q-bit codes.

    Args:
        config: the network and training config (``hnn_tf.model.HasherConfig``).
        vocab: the op-type vocabulary of the node features.
        features: ``"hnn"`` (op type + FLOPs + params, paper 3.2.3) or ``"ops"`` (op types
            only, GHashing's input); default: the config's method decides.
    """

    def __init__(self, config, vocab: OpVocabulary, features: str | None = None, model=None):
        from hnn_tf.model import HNNNet

        self.config = config
        self.vocab = vocab
        self.features = features or config.features
        self.config.feature_dim = {"hnn": vocab.feature_dim, "structural": vocab.feature_dim + STRUCTURAL_EXTRA}.get(
            self.features, vocab.size)
        self.model = model if model is not None else HNNNet(config)
        self._version: str | None = None
        self._built = False

    @property
    def bits(self) -> int:
        """Q, the code length."""
        return int(self.config.bits)

    @property
    def version(self) -> str:
        """The hasher version: variant, Q and a digest of the config and weights."""
        if self._version is None:
            h = hashlib.sha256(json.dumps(self._meta(), sort_keys=True).encode())
            for w in self.model.get_weights():
                h.update(np.ascontiguousarray(w, dtype=np.float32).tobytes())
            prefix = "hnn" if self.config.method == "hnn" else self.config.method
            self._version = f"{prefix}-{self.config.variant}-q{self.bits}-{h.hexdigest()[:10]}"
        return self._version

    def tensors(self, graph: LayerGraph) -> GraphTensors:
        """The network inputs of one graph."""
        return GraphTensors(graph, self.vocab, self.features, self.config.wl_buckets, self.config.wl_iterations)

    def forward(self, items: list[GraphTensors], training: bool = False) -> dict:
        """Run the network on a disjoint batch; returns the :class:`HNNNet` output dict (tensors)."""
        self._built = True
        return self.model(network_inputs(items, self.config.wl_buckets), training=training)

    def activations(self, graphs: list[LayerGraph] | list[GraphTensors], chunk: int = 64) -> dict[str, np.ndarray]:
        """FC3 embeddings (G, 256), FC5 activations (G, Q) and class probabilities (G, C).

        Args:
            graphs: layer graphs, or their precomputed :class:`GraphTensors`.
            chunk: graphs per forward pass.
        Returns:
            dict of float32 numpy arrays ``embedding``, ``code``, ``probs``.
        """
        items = [g if isinstance(g, GraphTensors) else self.tensors(g) for g in graphs]
        parts: dict[str, list[np.ndarray]] = {"embedding": [], "code": [], "probs": []}
        for s in range(0, len(items), chunk):
            out = self.forward(items[s : s + chunk])
            for k in parts:
                parts[k].append(out[k].numpy())
        return {k: np.concatenate(v, axis=0) for k, v in parts.items()}

    def encode(self, graphs) -> np.ndarray:
        """Codes of layer graphs: bool (G, Q), bit = FC5 activation > the method's threshold."""
        from hnn_tf.model import codes_from_activations

        return codes_from_activations(self.activations(graphs)["code"], self.config.bit_threshold)

    def _meta(self) -> dict:
        return {"config": self.config.to_dict(), "ops": list(self.vocab.ops), "features": self.features}

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``weights.h5`` into ``directory`` (created; files replaced atomically)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        if not self._built:
            self._build()
        with tempfile.TemporaryDirectory(prefix=".weights-", dir=d) as tmp:
            staged = Path(tmp) / "weights.h5"
            self.model.save_weights(str(staged))
            atomic_write(d / WEIGHTS_FILE, staged.read_bytes())
        meta = self._meta()
        meta["version"] = self.version
        atomic_write(d / CONFIG_FILE, json.dumps(meta, indent=1))
        return d

    def _build(self) -> None:
        g = LayerGraph(ops=["Conv", "Relu"], flops=[1, 1], params=[1, 0], edges=[(0, 1)])
        self.forward([self.tensors(g)])

    @classmethod
    def load(cls, directory: str | os.PathLike | HasherFolder) -> "Hasher":
        """Load a hasher written by :meth:`save` (the folder is read by :class:`~hnn_tf.hasher_files.HasherFolder`).

        Raises:
            HNNError: the folder has no hasher or its files are unreadable.
        """
        from hnn_tf.model import HasherConfig

        folder = directory if isinstance(directory, HasherFolder) else HasherFolder.locate(None, directory)
        meta = folder.meta
        try:
            hasher = cls(HasherConfig.from_dict(meta["config"]), OpVocabulary(tuple(meta["ops"])), meta.get("features"))
            hasher._build()
            hasher.model.load_weights(str(folder.weights))
        except FileNotFoundError:
            raise HNNError("no trained hasher here (config.json and weights.h5 expected); run `make train`",
                           str(folder.path)) from None
        except (OSError, KeyError, ValueError) as exc:
            raise HNNError(f"unreadable hasher: {exc}", str(folder.path)) from None
        hasher._version = folder.version
        if hasher._version is None:
            hasher._version = hasher.version
        return hasher
