"""Node features and adjacency of a layer graph (paper 3.2.3).

u_i = [onehot(f1(v_i)), onehot(f_enc(f2(v_i))), onehot(f_enc(f3(v_i)))]
with f1 the op type, f2 the FLOPs and f3 the parameter count of layer v_i.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from hnn_tf.graph.layer_graph import LayerGraph

#: f_enc takes values 0..10, so its one-hot has 11 slots.
ENC_LEVELS = 11
_POWERS = np.array([10**k for k in range(18)], dtype=np.int64)  # 1, 10, 100, ...
OTHER = "<other>"


def f_enc(x: float) -> int:
    """The paper's encoder of a continuous count (3.2.3).

    f_enc(x) = min(number of digits of the integer part of x, 10), f_enc(0) = 0. The
    paper prints ``max([log10 x] + 1, 10)``; its text says the values fall in {0..10}, so
    ``min`` is meant. Examples: 123.45 -> 3, 97.76 -> 2, 0 -> 0, 0.5 -> 0.

    Args:
        x: a non-negative number (FLOPs or parameters).
    Returns:
        int in 0..10.
    Raises:
        ValueError: x is negative or not finite.
    """
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"f_enc needs a finite non-negative number, got {x!r}")
    integer = int(x)
    return min(len(str(integer)), 10) if integer > 0 else 0


def f_enc_array(x: np.ndarray) -> np.ndarray:
    """Vectorised :func:`f_enc` on a non-negative int64 array; returns int64 of the same shape."""
    x = np.asarray(x, dtype=np.int64)
    if (x < 0).any():
        raise ValueError("f_enc needs non-negative counts")
    # digit count by exact integer comparison with powers of ten (no float rounding)
    digits = np.searchsorted(_POWERS, x, side="right").astype(np.int64)
    return np.minimum(digits, 10)


@dataclass(frozen=True)
class OpVocabulary:
    """The op-type vocabulary of f1, stored with the hasher.

    Attributes:
        ops: the known op types (merged labels such as ``Conv-BatchNormalization-Relu``
            included), in slot order; one more slot, ``"<other>"``, takes any op type not
            in the list.
    """

    ops: tuple[str, ...]

    @classmethod
    def from_graphs(cls, graphs, min_count: int = 1) -> "OpVocabulary":
        """The op types seen in ``graphs`` at least ``min_count`` times, sorted by name."""
        counts = Counter(op for g in graphs for op in g.ops)
        return cls(tuple(sorted(op for op, c in counts.items() if c >= min_count)))

    @property
    def size(self) -> int:
        """Number of op-type slots, the "other" slot included."""
        return len(self.ops) + 1

    @property
    def feature_dim(self) -> int:
        """F, the length of a node feature vector: op slots + 11 + 11."""
        return self.size + 2 * ENC_LEVELS

    def index(self, op: str) -> int:
        """Slot of ``op``; the last slot for an unknown op type."""
        return self._lookup.get(op, len(self.ops))

    @property
    def _lookup(self) -> dict[str, int]:
        cache = self.__dict__.get("_lookup_cache")
        if cache is None:
            cache = {op: i for i, op in enumerate(self.ops)}
            object.__setattr__(self, "_lookup_cache", cache)
        return cache

    def to_json(self) -> str:
        """JSON text: ``{"ops": [...]}``."""
        return json.dumps({"ops": list(self.ops)})

    @classmethod
    def from_json(cls, text: str) -> "OpVocabulary":
        """Inverse of :meth:`to_json`."""
        return cls(tuple(json.loads(text)["ops"]))


def node_features(graph: LayerGraph, vocab: OpVocabulary) -> np.ndarray:
    """Node feature matrix X of paper 3.2.3.

    Args:
        graph: the layer graph (N nodes).
        vocab: the op-type vocabulary.
    Returns:
        float32 array of shape (N, vocab.feature_dim): one-hot op type (with "other"),
        one-hot f_enc(FLOPs) (11 slots), one-hot f_enc(params) (11 slots).
    """
    n = graph.num_nodes
    x = np.zeros((n, vocab.feature_dim), dtype=np.float32)
    rows = np.arange(n)
    x[rows, [vocab.index(op) for op in graph.ops]] = 1.0
    x[rows, vocab.size + f_enc_array(graph.flops)] = 1.0
    x[rows, vocab.size + ENC_LEVELS + f_enc_array(graph.params)] = 1.0
    return x


def op_type_features(graph: LayerGraph, vocab: OpVocabulary) -> np.ndarray:
    """One-hot op types only (GHashing's node labels): float32 (N, vocab.size)."""
    x = np.zeros((graph.num_nodes, vocab.size), dtype=np.float32)
    x[np.arange(graph.num_nodes), [vocab.index(op) for op in graph.ops]] = 1.0
    return x


def normalized_adjacency(graph: LayerGraph) -> sp.csr_matrix:
    """GCN propagation matrix D^-1/2 (A + I) D^-1/2 of the undirected graph (Kipf & Welling).

    The same arithmetic as ``spektral.utils.gcn_filter`` (float32, degrees summed by scipy,
    isolated nodes get 0), with the identity added as a sparse sum: spektral's in-place
    diagonal assignment costs seconds on graphs of 10^5 nodes. numpy/scipy only.

    Returns:
        float32 CSR matrix of shape (N, N), indices sorted.
    """
    a = graph.adjacency()
    n = a.shape[0]
    out = (a + sp.eye(n, dtype=a.dtype, format="csr")).tocsr()
    with np.errstate(divide="ignore"):
        degrees = np.power(np.array(out.sum(1)), -0.5).ravel()
    degrees[np.isinf(degrees)] = 0.0
    d = sp.diags(degrees)
    out = sp.csr_matrix(d.dot(out).dot(d).astype(np.float32))
    out.sort_indices()
    return out


#: Slots of the structural attributes in :func:`structural_features`: kernel size
#: (none, 1, 2, 3, 4-5, 6-7, larger), stride (none, 1, 2, larger), grouped (group > 1).
KERNEL_SLOTS, STRIDE_SLOTS, GROUP_SLOTS = 7, 4, 1
STRUCTURAL_EXTRA = KERNEL_SLOTS + STRIDE_SLOTS + GROUP_SLOTS


def _kernel_slot(v) -> int:
    if v is None:
        return 0
    k = max(v) if isinstance(v, list) and v else (v if isinstance(v, int) else 0)
    return {1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 5, 7: 5}.get(int(k), 6 if k > 7 else 0)


def _stride_slot(v) -> int:
    if v is None:
        return 0
    s = max(v) if isinstance(v, list) and v else (v if isinstance(v, int) else 0)
    return 1 if s == 1 else (2 if s == 2 else (3 if s > 2 else 0))


def structural_features(graph: LayerGraph, vocab: OpVocabulary) -> np.ndarray:
    """:func:`node_features` followed by one-hot kernel size, one-hot stride and a grouped flag.

    Returns:
        float32 (N, vocab.feature_dim + :data:`STRUCTURAL_EXTRA`); the attributes are the
        layer graph's ``attrs`` (:data:`hnn_tf.graph.layer_graph.STRUCTURAL_ATTRS`).
    """
    base = node_features(graph, vocab)
    extra = np.zeros((graph.num_nodes, STRUCTURAL_EXTRA), dtype=np.float32)
    for i, a in enumerate(graph.attrs):
        extra[i, _kernel_slot(a.get("kernel_shape"))] = 1.0
        extra[i, KERNEL_SLOTS + _stride_slot(a.get("strides"))] = 1.0
        if int(a.get("group", 1) or 1) > 1:
            extra[i, KERNEL_SLOTS + STRIDE_SLOTS] = 1.0
    return np.concatenate([base, extra], axis=1)



def wl_bucket_counts(graph: LayerGraph, buckets: int, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The graph's Weisfeiler-Lehman subtree-label counts, hashed into ``buckets`` slots.

    Each label of :func:`hnn_tf.wl_hash.subtree_counts` (depths 0..``iterations``) goes to slot
    BLAKE2b(label) mod ``buckets`` (the hashing trick); the count vector is scaled to unit L2
    length, so graph size does not dominate (the codes compare shares of subtrees, like the WL
    kernel distance of docs/method.md).

    Returns:
        (slots int64 (K,), values float32 (K,)): the non-zero slots, sorted, and their values;
        empty arrays for an empty graph.
    """
    import hashlib

    from hnn_tf.wl_hash import subtree_counts

    acc: dict[int, float] = {}
    for label, count in subtree_counts(graph, iterations).items():
        slot = int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little") % buckets
        acc[slot] = acc.get(slot, 0.0) + float(count)
    if not acc:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    slots = np.array(sorted(acc), dtype=np.int64)
    vals = np.array([acc[s] for s in slots], dtype=np.float64)
    return slots, (vals / np.linalg.norm(vals)).astype(np.float32)
