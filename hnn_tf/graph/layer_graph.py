"""The layer graph of paper section 3.2: nodes are layers, edges are dataflow.

A :class:`LayerGraph` is what the graph builder produces from an ONNX model and
what the features, the GED targets and the augmentation consume.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


#: The ONNX attributes a layer's structure is read from (ints, or lists of ints).
STRUCTURAL_ATTRS = ("kernel_shape", "strides", "dilations", "group")


def structural_attrs(attrs: dict) -> dict:
    """The :data:`STRUCTURAL_ATTRS` of an ONNX node's attributes, as plain ints or int lists
    (a dilation or group of 1 is the default and left out)."""
    out = {}
    for k in STRUCTURAL_ATTRS:
        v = attrs.get(k)
        if v is None:
            continue
        try:
            v = [int(x) for x in v] if isinstance(v, (list, tuple)) else int(v)
        except (TypeError, ValueError):
            continue
        if (k == "group" and v == 1) or (k == "dilations" and isinstance(v, list) and set(v) <= {1}):
            continue
        out[k] = v
    return out


@dataclass
class LayerGraph:
    """A directed acyclic graph of layers with per-node attributes (paper 3.2.3: f1, f2, f3).

    Attributes:
        ops: length-N list of op types (f1). A merged node joins the ONNX op types of
            its chain with ``-``, e.g. ``"Conv-BatchNormalization-Relu"``.
        flops: (N,) int64, FLOPs of each layer (f2), counted as 2 x multiply-adds.
        params: (N,) int64, trainable parameter count of each layer (f3).
        edges: (E, 2) int64, unique directed dataflow edges ``src -> dst``, no self loops.
        names: length-N list of the ONNX node names (merged nodes join them with ``+``).
        attrs: length-N list of dicts: each layer's structural attributes
            (:data:`STRUCTURAL_ATTRS`: kernel size, strides, dilations, groups, as int lists
            or ints), empty where the op has none. Read by the Weisfeiler-Lehman hasher; not
            part of :meth:`fingerprint`.
    """

    ops: list[str]
    flops: np.ndarray
    params: np.ndarray
    edges: np.ndarray
    names: list[str] = field(default_factory=list)
    attrs: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ops = list(self.ops)
        self.flops = np.asarray(self.flops, dtype=np.int64).reshape(-1)
        self.params = np.asarray(self.params, dtype=np.int64).reshape(-1)
        self.edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        if not self.names:
            self.names = [f"n{i}" for i in range(len(self.ops))]
        n = len(self.ops)
        if not self.attrs:
            self.attrs = [{} for _ in range(n)]
        if len(self.flops) != n or len(self.params) != n or len(self.names) != n or len(self.attrs) != n:
            raise ValueError("ops, flops, params, names and attrs must have one entry per node")
        if len(self.edges) and (self.edges.min() < 0 or self.edges.max() >= n):
            raise ValueError("edge endpoint out of range")

    @property
    def num_nodes(self) -> int:
        """N, the number of layers."""
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        """E, the number of directed edges."""
        return len(self.edges)

    def adjacency(self) -> sp.csr_matrix:
        """Symmetric 0/1 adjacency (the paper's graph is undirected).

        Returns:
            scipy.sparse CSR matrix, shape (N, N), dtype float32, no self loops.
        """
        n = self.num_nodes
        if self.num_edges == 0:
            return sp.csr_matrix((n, n), dtype=np.float32)
        rows = np.concatenate([self.edges[:, 0], self.edges[:, 1]])
        cols = np.concatenate([self.edges[:, 1], self.edges[:, 0]])
        a = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
        a.data[:] = 1.0  # duplicates summed by the constructor collapse back to 1
        return a

    def to_networkx(self):
        """The graph as a ``networkx.DiGraph`` with node attributes ``op``, ``flops``, ``params``, ``name``."""
        import networkx as nx

        g = nx.DiGraph()
        for i, op in enumerate(self.ops):
            g.add_node(i, op=op, flops=int(self.flops[i]), params=int(self.params[i]), name=self.names[i])
        g.add_edges_from(map(tuple, self.edges.tolist()))
        return g

    def subgraph(self, keep: np.ndarray) -> "LayerGraph":
        """The graph induced by the nodes ``keep`` (edges touching removed nodes are dropped).

        Args:
            keep: (K,) int array of node indices to keep, in the order they will get.
        Returns:
            a new LayerGraph with K nodes, renumbered 0..K-1.
        """
        keep = np.asarray(keep, dtype=np.int64)
        remap = -np.ones(self.num_nodes, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        e = remap[self.edges] if self.num_edges else self.edges
        e = e[(e >= 0).all(axis=1)] if len(e) else e
        return LayerGraph(
            ops=[self.ops[i] for i in keep],
            flops=self.flops[keep],
            params=self.params[keep],
            edges=e,
            names=[self.names[i] for i in keep],
            attrs=[self.attrs[i] for i in keep],
        )

    def to_dict(self) -> dict:
        """A JSON-serialisable dict; :meth:`from_dict` inverts it."""
        return {
            "ops": self.ops,
            "flops": self.flops.tolist(),
            "params": self.params.tolist(),
            "edges": self.edges.tolist(),
            "names": self.names,
            "attrs": self.attrs,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "LayerGraph":
        """Rebuild a graph written by :meth:`to_dict`."""
        return cls(ops=d["ops"], flops=d["flops"], params=d["params"], edges=d["edges"], names=d.get("names") or [],
                   attrs=d.get("attrs") or [])

    def fingerprint(self) -> str:
        """sha256 hex of the graph's ops, attributes and edges (names excluded); a cache key."""
        payload = json.dumps([self.ops, self.flops.tolist(), self.params.tolist(), self.edges.tolist()])
        return hashlib.sha256(payload.encode()).hexdigest()
