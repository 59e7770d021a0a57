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

Two label schemes (:attr:`WLConfig.scheme`):

- ``1``, the baseline of results/generalisation.md: the labels above, each weighted by its
  count. It cannot see sizes: two designs that differ only in width (a ViT-S and a ViT-B
  under two family names) get one code.
- ``2``, *sized*: the subtree labels of scheme 1 plus those of a second labelling in which
  each layer with parameters also carries its parameter count, rounded to a power of two
  (``Conv|k3x3|p14``: about 2^14 weights), weighted :data:`SIZED_WEIGHT` against the first;
  every label weighted by the square root of its count, so a deep stack of one block does not
  drown the rest of the graph. Two architectures of one design but other widths get distinct,
  still nearby codes (results/generalisation.md: ``wl-sized``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np

from hnn_tf.graph.layer_graph import LayerGraph

__all__ = ["WLConfig", "WLHasher", "label_weights", "node_labels", "subtree_counts", "wl_simhash"]

#: The kind name a hasher folder's config.json gives for this hasher.
KIND = "wl-simhash"
#: Label schemes (module doc): 1 = op type and attributes, counts; 2 = also sized labels, square-root counts.
SCHEMES = (1, 2)
#: Scheme 2: the weight of the sized labels against the unsized ones.
SIZED_WEIGHT = 0.5


def node_labels(graph: LayerGraph, sized: bool = False) -> list[str]:
    """One label per layer: its op type, then its structural attributes (``Conv|k3x3|s2x2|g32``);
    with ``sized``, a layer with parameters also gets ``|p<round(log2(params))>``."""
    out = []
    for op, attrs, params in zip(graph.ops, graph.attrs, graph.params.tolist()):
        parts = [op]
        for key, tag in (("kernel_shape", "k"), ("strides", "s"), ("dilations", "d"), ("group", "g")):
            v = attrs.get(key)
            if v is not None:
                parts.append(tag + ("x".join(map(str, v)) if isinstance(v, list) else str(v)))
        if sized and params > 0:
            parts.append(f"p{round(float(np.log2(params)))}")
        out.append("|".join(parts))
    return out


def subtree_counts(graph: LayerGraph, iterations: int = 3, sized: bool = False) -> Counter:
    """How many layers have each Weisfeiler-Lehman subtree label, depths 0..``iterations``.

    Args:
        graph: the layer graph; iterations: the WL depth; sized: label layers with their size
            too (:func:`node_labels`).
    Returns:
        Counter label -> count; depth-0 labels are :func:`node_labels` prefixed ``"0:"``,
        deeper ones networkx's digests prefixed with their depth.
    Source: ``networkx.weisfeiler_lehman_subgraph_hashes``.
    """
    import networkx as nx

    g = nx.Graph()
    labels = node_labels(graph, sized)
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


def label_weights(graph: LayerGraph, iterations: int = 3, scheme: int = 1) -> dict[str, float]:
    """The weighted subtree labels a WL-SimHash of ``scheme`` sums (module doc): label -> weight.

    Raises:
        ValueError: an unknown scheme.
    """
    if scheme == 1:
        return {lab: float(c) for lab, c in subtree_counts(graph, iterations).items()}
    if scheme == 2:
        out = {lab: float(np.sqrt(c)) for lab, c in subtree_counts(graph, iterations).items()}
        out.update({f"s{lab}": SIZED_WEIGHT * float(np.sqrt(c))
                    for lab, c in subtree_counts(graph, iterations, sized=True).items()})
        return out
    raise ValueError(f"unknown WL label scheme {scheme}; known: {SCHEMES}")


def wl_simhash(graph: LayerGraph, bits: int = 64, iterations: int = 3, scheme: int = 1) -> np.ndarray:
    """The WL-SimHash code of a layer graph (see the module doc).

    Returns:
        bool (bits,) array.
    Raises:
        ValueError: an unknown scheme.
    """
    counts = label_weights(graph, iterations, scheme)
    if not counts:
        return np.zeros(bits, dtype=bool)
    labels = sorted(counts)
    table = np.stack([_label_bits(lab, bits) for lab in labels])  # (L, bits)
    weights = np.array([counts[lab] for lab in labels], dtype=np.float64)
    score = (np.where(table, 1.0, -1.0) * weights[:, None]).sum(axis=0)
    return score > 0


@dataclass
class WLConfig:
    """What a WL-SimHash hasher is: code length, WL depth, the graph recipe it reads and the
    label scheme (:data:`SCHEMES`)."""

    bits: int = 64
    iterations: int = 3
    variant: str = "canonical"
    scheme: int = 1

    def to_dict(self) -> dict:
        """JSON-ready fields (``scheme`` only where it is not 1, so scheme-1 versions stay as they were)."""
        out = {"bits": self.bits, "iterations": self.iterations, "variant": self.variant}
        return out if self.scheme == 1 else {**out, "scheme": self.scheme}


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
        name = "wl" if self.config.scheme == 1 else "wlsized"
        return f"{name}-{self.config.variant}-q{self.bits}-{h.hexdigest()[:10]}"

    def encode(self, graphs) -> np.ndarray:
        """Codes of layer graphs: bool (G, Q)."""
        out = np.zeros((len(graphs), self.bits), dtype=bool)
        for i, g in enumerate(graphs):
            out[i] = wl_simhash(g, self.bits, self.config.iterations, self.config.scheme)
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
        scheme = int(c.get("scheme", 1))
        if scheme not in SCHEMES:
            raise ValueError(f"unknown WL label scheme {scheme}; known: {SCHEMES}")
        return cls(WLConfig(bits=int(c["bits"]), iterations=int(c.get("iterations", 3)),
                            variant=str(c.get("variant", "canonical")), scheme=scheme))
