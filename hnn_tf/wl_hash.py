"""The Weisfeiler-Lehman SimHash: a hash of a layer graph that needs no training.

The non-learned baseline of ``../shared/papers/related.md`` and a hasher in its own right
(``hnn hash --hasher wl``): on the canonical graph (:data:`hnn_tf.graph.recipes.RECIPES`
``"canonical"``, merged), each layer gets a label, its op type with its structural attributes
(kernel size, strides, dilations, groups: :data:`hnn_tf.graph.layer_graph.STRUCTURAL_ATTRS`);
networkx's ``weisfeiler_lehman_subgraph_hashes`` (on the undirected graph, like the paper's
adjacency) gives every layer the labels of its subtrees of depth 0 to ``iterations``; each
distinct subtree label is hashed to ``bits`` bits (BLAKE2b) and the code is their SimHash
(Charikar 2002): bit ``j`` is set when the labels with bit ``j`` set outnumber those
without, each label weighted by how many layers have it.

Two graphs that share most of their subtree labels get codes at small Hamming distance;
the expected fraction of differing bits grows with the (weighted) share of labels they do
not share, so distance follows a Weisfeiler-Lehman kernel distance, not a trained notion of
similarity. Identical graphs get identical codes; an empty graph gets the all-zeros code.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np

from hnn_tf.graph.layer_graph import LayerGraph

__all__ = ["WLConfig", "WLHasher", "node_labels", "subtree_counts", "wl_simhash"]

#: The kind name a hasher folder's config.json gives for this hasher.
KIND = "wl-simhash"


def node_labels(graph: LayerGraph) -> list[str]:
    """One label per layer: its op type, then its structural attributes (``Conv|k3x3|s2x2|g32``)."""
    out = []
    for op, attrs in zip(graph.ops, graph.attrs):
        parts = [op]
        for key, tag in (("kernel_shape", "k"), ("strides", "s"), ("dilations", "d"), ("group", "g")):
            v = attrs.get(key)
            if v is not None:
                parts.append(tag + ("x".join(map(str, v)) if isinstance(v, list) else str(v)))
        out.append("|".join(parts))
    return out


def subtree_counts(graph: LayerGraph, iterations: int = 3) -> Counter:
    """How many layers have each Weisfeiler-Lehman subtree label, depths 0..``iterations``.

    Returns:
        Counter label -> count; depth-0 labels are :func:`node_labels` prefixed ``"0:"``,
        deeper ones networkx's digests prefixed with their depth.
    Source: ``networkx.weisfeiler_lehman_subgraph_hashes``.
    """
    import networkx as nx

    g = nx.Graph()
    labels = node_labels(graph)
    for i, lab in enumerate(labels):
        g.add_node(i, label=lab)
    g.add_edges_from(map(tuple, graph.edges.tolist()))
    counts = Counter(f"0:{lab}" for lab in labels)
    if iterations > 0 and graph.num_nodes:
        per_node = nx.weisfeiler_lehman_subgraph_hashes(g, node_attr="label", iterations=iterations, digest_size=16)
        for hashes in per_node.values():
            counts.update(f"{d + 1}:{h}" for d, h in enumerate(hashes))
    return counts


def _label_bits(label: str, bits: int) -> np.ndarray:
    """``bits`` pseudo-random bits of a label (BLAKE2b, repeated with a counter past 512 bits)."""
    raw = b""
    k = 0
    while len(raw) * 8 < bits:
        raw += hashlib.blake2b(f"{k}:{label}".encode(), digest_size=64).digest()
        k += 1
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:bits].astype(bool)


def wl_simhash(graph: LayerGraph, bits: int = 64, iterations: int = 3) -> np.ndarray:
    """The WL-SimHash code of a layer graph (see the module doc).

    Returns:
        bool (bits,) array.
    """
    counts = subtree_counts(graph, iterations)
    if not counts:
        return np.zeros(bits, dtype=bool)
    labels = sorted(counts)
    table = np.stack([_label_bits(lab, bits) for lab in labels])  # (L, bits)
    weights = np.array([counts[lab] for lab in labels], dtype=np.float64)
    score = (np.where(table, 1.0, -1.0) * weights[:, None]).sum(axis=0)
    return score > 0


@dataclass
class WLConfig:
    """What a WL-SimHash hasher is: code length, WL depth and the graph recipe it reads."""

    bits: int = 64
    iterations: int = 3
    variant: str = "canonical"

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"bits": self.bits, "iterations": self.iterations, "variant": self.variant}


class WLHasher:
    """A WL-SimHash hasher with the interface the hashing pipeline uses (``bits``, ``version``,
    ``config.variant``, :meth:`encode`).

    Args:
        config: a :class:`WLConfig`.
    """

    def __init__(self, config: WLConfig | None = None):
        self.config = config or WLConfig()

    @property
    def bits(self) -> int:
        """Q, the code length."""
        return int(self.config.bits)

    @property
    def version(self) -> str:
        """``wl-<variant>-q<Q>-<digest of the settings>``: changes when the settings or the label scheme do."""
        h = hashlib.sha256(json.dumps({"kind": KIND, "scheme": 1, **self.config.to_dict()}, sort_keys=True).encode())
        return f"wl-{self.config.variant}-q{self.bits}-{h.hexdigest()[:10]}"

    def encode(self, graphs) -> np.ndarray:
        """Codes of layer graphs: bool (G, Q)."""
        out = np.zeros((len(graphs), self.bits), dtype=bool)
        for i, g in enumerate(graphs):
            out[i] = wl_simhash(g, self.bits, self.config.iterations)
        return out

    def meta(self) -> dict:
        """The hasher folder's ``config.json`` content."""
        return {"kind": KIND, "config": self.config.to_dict(), "ops": [], "version": self.version}

    @classmethod
    def from_meta(cls, meta: dict) -> "WLHasher":
        """The hasher a folder's ``config.json`` describes.

        Raises:
            KeyError, TypeError, ValueError: a malformed config.
        """
        c = meta["config"]
        return cls(WLConfig(bits=int(c["bits"]), iterations=int(c.get("iterations", 3)),
                            variant=str(c.get("variant", "canonical"))))
