"""Approximate graph edit distance (GED): the targets of HNN-Net's topology loss.

Paper 3.4 trains the embedding FC3 with
``L_topo = (||FC3(M1) - FC3(M2)||^2 - min(GED(M1, M2), R))^2``. Exact GED is NP-hard, and the
layer graphs have up to several hundred nodes, so this module computes a bracket for it:

- :func:`lower_bound`, a cheap bound from label counts and edge counts,
- :func:`branch_lower_bound`, a tighter one from a single assignment, and
- :func:`approx_ged`, the exact cost of a good edit path, hence an upper bound. The search
  stops as soon as it meets the lower bound (the value is then the exact GED).

**The distance.** A :class:`~hnn_tf.graph.layer_graph.LayerGraph` is read as an undirected
graph (the direction of ``edges`` is dropped, duplicates merged) whose node label is the op
type. Node insertion, deletion and relabelling cost 1 each, edge insertion and deletion 1
each (edges carry no label). An edit path is given by a node mapping ``phi`` (a partial
injection from the nodes of g1 to those of g2): unmapped g1 nodes are deleted, unmapped g2
nodes inserted, mapped nodes with other op types relabelled, and every edge not preserved
by ``phi`` deleted or inserted. :func:`edit_path_cost` counts this exactly.

**The upper bound** is the cheapest of three edit paths, each refined by the same local
search:

1. *Sequence alignment.* Both graphs' nodes are put in a topological order, and the two op
   sequences are aligned by Levenshtein dynamic programming (one vectorised row at a time).
   The builder emits nodes in the ONNX graph's topological order and the augmentation keeps
   the order of the surviving nodes, so for an edited copy the alignment usually recovers
   the true correspondence, even when deletions cut the graph into pieces.
2. *Bipartite GED* (Riesen & Bunke, Image and Vision Computing 27(7), 2009): a linear sum
   assignment (``scipy.optimize.linear_sum_assignment``) on node-to-node costs

   ``c(i, k) = 1[op_i != op_k] + 0.5 * L1(h_i, h_k) + 0.25 * |deg_i - deg_k| + 10 * |t_i - t_k|``

   where ``h`` is the histogram of the op types of a node's neighbours (halved: an edge is
   shared by its two end nodes), ``deg`` the degree and ``t`` the normalised topological
   position (rank in the topological order divided by N - 1). Deleting node i costs
   ``1 + 0.75 * deg_i`` (the same terms against an empty node), inserting node k likewise.
   Without the position term the costs of identical repeated blocks (ResNet stages) tie and
   the assignment scatters each block over several others: for 10%-deleted copies of an
   8-block ResNet-like chain, whose deletion paths cost 18-21, the assignment gives 38-67
   with these costs and 42-105 with degree costs alone, 19-57 with the position term; the
   refinement below then reaches the deletion path.
3. The same assignment with ``2 * |d_i - d_k|`` in place of the position term, ``d`` the
   longest-path depth from the sources divided by the maximum depth. This one does not
   depend on the node numbering, so it helps where two graphs list their nodes in unrelated
   orders; alone it is weak for deletions, which restart the depths of every piece they cut off.

The Riesen-Bunke (n1+n2) x (n1+n2) matrix ``[[C, diag(del)], [diag(ins), 0]]`` (off-diagonal
entries of the two diagonal blocks forbidden) has the same optimum as the n1 x n2
rectangular problem on ``min(C_ik - del_i - ins_k, 0)`` (a pair with a non-negative entry is
better left unmatched); the rectangular form is solved here, 4x smaller.
:func:`bipartite_cost_matrix` builds the square one (the tests check both agree).

*Refinement* (IPFP, Bougleux et al., Pattern Recognition Letters 87, 2017): for a fractional
mapping X (n1 x n2) the edit cost is the quadratic
``n1 + n2 + E1 + E2 + <X, L - 2> - <X, A1 X A2>`` (L the op-mismatch matrix, A the symmetric
adjacencies). Each step solves the assignment on its gradient, keeps the exact cost of that
mapping, and moves X by an exact line search; at most ``IPFP_ITERATIONS`` steps. Every
candidate is a real edit path, so the minimum is an upper bound on the exact GED; it equals
the lower bound whenever the search stops early on reaching it.

**Symmetry.** The two graphs are put in a canonical order (by :attr:`GEDGraph.topology_key`)
before anything is computed, so ``approx_ged(a, b) == approx_ged(b, a)`` exactly; the
distance itself is symmetric (reverse every edit), so either order gives a valid bound.

**Changes of the cost function** must bump :data:`COST_VERSION`, which keys the cache.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from hnn_tf.errors import HNNError
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.safe_io import atomic_write

#: Version of the cost function and search; part of every cache key.
COST_VERSION = 1

#: Substitution cost weights (see the module docstring).
W_LABEL = 1.0
W_HIST = 0.5  # per unit of L1 distance of neighbour op-type histograms
W_DEGREE = 0.25  # per unit of degree difference
W_POSITION = 10.0  # per unit of normalised topological rank
W_DEPTH = 2.0  # per unit of normalised depth
#: Most refinement steps per candidate edit path.
IPFP_ITERATIONS = 10

__all__ = [
    "COST_VERSION",
    "GEDCache",
    "GEDGraph",
    "OpIndex",
    "approx_ged",
    "bipartite_cost_matrix",
    "branch_lower_bound",
    "edit_path_cost",
    "lower_bound",
    "pairwise_ged",
    "prepare",
]


class OpIndex:
    """A growing map op type -> integer id, shared by the :class:`GEDGraph` objects compared together.

    Ids are only compared for equality and used as histogram columns, so their values do not
    change any distance.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def ids(self, ops) -> np.ndarray:
        """int64 (N,) ids of the op types ``ops``, new op types get the next free id."""
        table = self._ids
        return np.fromiter((table.setdefault(op, len(table)) for op in ops), dtype=np.int64, count=len(ops))

    def __len__(self) -> int:
        return len(self._ids)


_DEFAULT_INDEX = OpIndex()


def _topology_key(ops, edges: np.ndarray) -> str:
    payload = json.dumps([list(ops), np.asarray(edges, dtype=np.int64).reshape(-1, 2).tolist()])
    return hashlib.sha256(payload.encode()).hexdigest()


def _topological_order(n: int, edges: np.ndarray) -> np.ndarray:
    """Nodes in a topological order that follows the node numbering where it can.

    Built from the end: Kahn's algorithm on the reversed graph places next, among the nodes
    whose consumers are all placed, the highest-numbered one. The order is the numbering
    itself when that is topological; a node appended at the end of the numbering (an inserted
    layer) lands right before its first consumer, and a node cut off from its producers keeps
    its place, because placement depends on consumers only. Nodes on or upstream of a cycle
    (not expected in a LayerGraph) come first, in ascending number.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(edges) == 0:
        return np.arange(n, dtype=np.int64)
    src, dst = edges[:, 0], edges[:, 1]
    pending = np.bincount(src, minlength=n)  # out-degree: successors not yet placed
    by_dst = np.argsort(dst, kind="stable")
    preds = src[by_dst]
    ptr = np.searchsorted(dst[by_dst], np.arange(n + 1))
    pending = pending.tolist()
    preds = preds.tolist()
    ptr = ptr.tolist()
    heap = [-v for v in range(n) if pending[v] == 0]
    heapq.heapify(heap)
    out: list[int] = []
    placed = np.zeros(n, dtype=bool)
    while heap:
        v = -heapq.heappop(heap)
        out.append(v)
        placed[v] = True
        for u in preds[ptr[v]:ptr[v + 1]]:
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(heap, -u)
    if len(out) < n:
        out.extend(np.flatnonzero(~placed)[::-1].tolist())
    return np.asarray(out[::-1], dtype=np.int64)


def _depths(n: int, edges: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Longest-path depth from the sources (int64 (N,)); edges against ``order`` are ignored."""
    depth = np.zeros(n, dtype=np.int64)
    if n == 0 or len(edges) == 0:
        return depth
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    fwd = edges[pos[edges[:, 0]] < pos[edges[:, 1]]]
    by_dst = np.argsort(pos[fwd[:, 1]], kind="stable")
    src = fwd[by_dst, 0]
    dst_pos = pos[fwd[by_dst, 1]]
    ptr = np.searchsorted(dst_pos, np.arange(n + 1))
    for p in range(n):
        a, b = ptr[p], ptr[p + 1]
        if b > a:
            depth[order[p]] = depth[src[a:b]].max() + 1
    return depth


@dataclass(eq=False)
class GEDGraph:
    """A LayerGraph prepared for GED: everything the distance needs, computed once per graph.

    Build it with :meth:`from_layer_graph` (or :func:`prepare`). Attributes (N nodes, E
    undirected edges):

    Attributes:
        ops: tuple of N op types (the node labels).
        labels: int64 (N,) op-type ids in ``index``.
        index: the :class:`OpIndex` the ids come from.
        edges: int64 (E, 2) undirected edges ``i < j``, unique, sorted (self loops dropped).
        edge_keys: int64 (E,) sorted ``i * N + j`` of ``edges`` (for membership tests).
        adjacency: scipy.sparse CSR (N, N) float64, symmetric 0/1.
        degree: float64 (N,) undirected degree.
        nbr_node, nbr_other: int64 (2E,): node ``nbr_node[m]`` has neighbour ``nbr_other[m]``
            (the neighbour op-type histograms in sparse form).
        order: int64 (N,) the nodes in topological order (see ``_topological_order``).
        position: float64 (N,) rank in ``order`` divided by N - 1, in [0, 1].
        depth: float64 (N,) longest-path depth from the sources divided by the largest one.
        op_counts: Counter op type -> number of nodes.
        topology_key: sha256 hex of the ops and the directed edge list (what the distance and
            its search depend on); cache key and canonical order.
    """

    ops: tuple
    labels: np.ndarray
    index: OpIndex
    edges: np.ndarray
    edge_keys: np.ndarray
    adjacency: sp.csr_matrix
    degree: np.ndarray
    nbr_node: np.ndarray
    nbr_other: np.ndarray
    order: np.ndarray
    position: np.ndarray
    depth: np.ndarray
    op_counts: Counter
    topology_key: str

    @property
    def num_nodes(self) -> int:
        """N."""
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        """E, undirected edges."""
        return len(self.edges)

    @classmethod
    def from_layer_graph(cls, graph: LayerGraph, index: OpIndex | None = None) -> "GEDGraph":
        """Prepare ``graph`` for GED.

        Args:
            graph: the layer graph.
            index: op-type ids to use (default: one index shared by the whole process).
        Returns:
            the GEDGraph; costs O(N log N + E).
        Raises:
            HNNError: ``graph`` is not a LayerGraph.
        """
        if not isinstance(graph, LayerGraph):
            raise HNNError(f"GED needs a LayerGraph, got {type(graph).__name__}")
        index = _DEFAULT_INDEX if index is None else index
        n = graph.num_nodes
        directed = graph.edges.reshape(-1, 2)
        und = np.sort(directed, axis=1)
        und = und[und[:, 0] != und[:, 1]]
        und = np.unique(und, axis=0) if len(und) else np.zeros((0, 2), dtype=np.int64)
        rows = np.concatenate([und[:, 0], und[:, 1]])
        cols = np.concatenate([und[:, 1], und[:, 0]])
        adjacency = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        degree = np.bincount(rows, minlength=n).astype(np.float64)
        fwd = directed[directed[:, 0] != directed[:, 1]]
        order = _topological_order(n, fwd)
        rank = np.empty(n, dtype=np.float64)
        rank[order] = np.arange(n)
        depth = _depths(n, fwd, order).astype(np.float64)
        return cls(
            ops=tuple(graph.ops),
            labels=index.ids(graph.ops),
            index=index,
            edges=und,
            edge_keys=und[:, 0] * n + und[:, 1],
            adjacency=adjacency,
            degree=degree,
            nbr_node=rows,
            nbr_other=cols,
            order=order,
            position=rank / max(n - 1, 1),
            depth=depth / max(depth.max(initial=0.0), 1.0),
            op_counts=Counter(graph.ops),
            topology_key=_topology_key(graph.ops, graph.edges),
        )


def prepare(graph: LayerGraph | GEDGraph, index: OpIndex | None = None) -> GEDGraph:
    """``graph`` as a :class:`GEDGraph` (a GEDGraph is returned as it is).

    Raises:
        HNNError: ``graph`` is neither a LayerGraph nor a GEDGraph.
    """
    if isinstance(graph, GEDGraph):
        return graph
    return GEDGraph.from_layer_graph(graph, index)


def lower_bound(g1: LayerGraph | GEDGraph, g2: LayerGraph | GEDGraph) -> int:
    """A lower bound of the GED: ``max(n1, n2) - sum_l min(c1[l], c2[l]) + |E1 - E2|``.

    ``c[l]`` counts the nodes with op type ``l``; E counts undirected edges.

    Why it is valid: any edit path maps some m <= min(n1, n2) node pairs and deletes or
    inserts the rest. Its node cost is ``(n1 - m) + (n2 - m) + r`` with r relabelled pairs;
    at most ``s = sum_l min(c1[l], c2[l])`` mapped pairs can share their op type, so
    ``r >= m - s`` and the node cost is at least ``n1 + n2 - m - s >= max(n1, n2) - s``.
    Its edge cost is ``E1 + E2 - 2 p`` with p preserved edges, ``p <= min(E1, E2)``, so at
    least ``|E1 - E2|``. The two parts count disjoint operations, so they add.

    Args:
        g1, g2: LayerGraph or GEDGraph.
    Returns:
        int, >= 0; 0 for identical graphs.
    Raises:
        HNNError: an argument is not a graph.
    """
    a, b = prepare(g1), prepare(g2)
    shared = sum((a.op_counts & b.op_counts).values())
    return max(a.num_nodes, b.num_nodes) - shared + abs(a.num_edges - b.num_edges)


def branch_lower_bound(g1: LayerGraph | GEDGraph, g2: LayerGraph | GEDGraph) -> int:
    """A tighter lower bound of the GED from one assignment (the BRANCH bound of Blumenthal &
    Gamper, "Improved lower bounds for graph edit distance", IEEE TKDE 30(3), 2018).

    Node i is charged its own operation plus half of the operations on its incident edges:
    mapping i to k costs ``1[op_i != op_k] + 0.5 * |deg_i - deg_k|`` (at most min(deg_i, deg_k)
    incident edges can be kept), deleting or inserting a node ``1 + 0.5 * deg``. Every edge
    operation is charged exactly half to each of its two end nodes, so any edit path costs
    at least the sum of its nodes' charges, and so at least the cheapest assignment of those
    charges. It is never below :func:`lower_bound`; GED is a whole number, so the assignment
    optimum is rounded up.

    Args:
        g1, g2: LayerGraph or GEDGraph.
    Returns:
        int >= :func:`lower_bound` ``(g1, g2)``; costs one n1 x n2 linear sum assignment.
    Raises:
        HNNError: an argument is not a graph.
    """
    a, b = prepare(g1), prepare(g2)
    if a.num_nodes == 0 or b.num_nodes == 0:
        return a.num_nodes + b.num_nodes + a.num_edges + b.num_edges
    lab_a, lab_b = _common_labels(a, b)
    dele = 1.0 + 0.5 * a.degree
    ins = 1.0 + 0.5 * b.degree
    reduced = (lab_a[:, None] != lab_b[None, :]) + 0.5 * np.abs(a.degree[:, None] - b.degree[None, :])
    reduced -= dele[:, None]
    reduced -= ins[None, :]
    phi = _assign(reduced)
    m = np.flatnonzero(phi >= 0)
    total = dele.sum() + ins.sum() + reduced[m, phi[m]].sum()
    return int(np.ceil(total - 1e-6))


def _edge_preserved(a: GEDGraph, b: GEDGraph, phi: np.ndarray) -> int:
    if a.num_edges == 0 or b.num_edges == 0:
        return 0
    x = phi[a.edges[:, 0]]
    y = phi[a.edges[:, 1]]
    ok = (x >= 0) & (y >= 0)
    lo = np.minimum(x[ok], y[ok])
    hi = np.maximum(x[ok], y[ok])
    keys = lo * b.num_nodes + hi
    at = np.searchsorted(b.edge_keys, keys)
    at[at == len(b.edge_keys)] = 0
    return int(np.count_nonzero(b.edge_keys[at] == keys))


def _cost(a: GEDGraph, b: GEDGraph, lab_a: np.ndarray, lab_b: np.ndarray, phi: np.ndarray) -> int:
    m = phi >= 0
    matched = int(np.count_nonzero(m))
    relabels = int(np.count_nonzero(lab_a[m] != lab_b[phi[m]]))
    node = a.num_nodes + b.num_nodes - 2 * matched + relabels
    return node + a.num_edges + b.num_edges - 2 * _edge_preserved(a, b, phi)


def _common_labels(a: GEDGraph, b: GEDGraph) -> tuple[np.ndarray, np.ndarray]:
    """Op-type ids of both graphs in one index."""
    if a.index is b.index:
        return a.labels, b.labels
    return a.labels, a.index.ids(b.ops)


def edit_path_cost(g1: LayerGraph | GEDGraph, g2: LayerGraph | GEDGraph, mapping) -> int:
    """Exact cost of the edit path that a node mapping induces (unit costs, undirected edges).

    Args:
        g1, g2: LayerGraph or GEDGraph, with N1 and N2 nodes.
        mapping: int (N1,): ``mapping[i]`` is the g2 node that g1 node i becomes, or -1 if i is
            deleted. g2 nodes no one maps to are inserted.
    Returns:
        int: deletions + insertions + relabels + edges of either graph that the mapping does
        not preserve.
    Raises:
        HNNError: ``mapping`` has the wrong length, an entry out of range, or maps two nodes
            to one.
    """
    a, b = prepare(g1), prepare(g2)
    phi = np.asarray(mapping, dtype=np.int64).reshape(-1)
    if len(phi) != a.num_nodes:
        raise HNNError(f"mapping has {len(phi)} entries, the first graph has {a.num_nodes} nodes")
    if len(phi) and (phi.min() < -1 or phi.max() >= b.num_nodes):
        raise HNNError(f"mapping entries must lie in [-1, {b.num_nodes - 1}]")
    targets = phi[phi >= 0]
    if len(np.unique(targets)) != len(targets):
        raise HNNError("mapping sends two nodes of the first graph to the same node")
    lab_a, lab_b = _common_labels(a, b)
    return _cost(a, b, lab_a, lab_b, phi)


def bipartite_cost_matrix(sub: np.ndarray, delete: np.ndarray, insert: np.ndarray,
                          forbidden: float = np.inf) -> np.ndarray:
    """The (n1+n2) x (n1+n2) cost matrix of bipartite GED (Riesen & Bunke 2009).

    Layout ``[[sub, D], [I, 0]]`` with D = ``delete`` on the diagonal (n1 x n1) and I =
    ``insert`` on the diagonal (n2 x n2), ``forbidden`` elsewhere in D and I. A linear sum
    assignment on it is a node mapping: row i < n1 taking column k < n2 maps node i to k,
    taking column n2 + i deletes it.

    Args:
        sub: float (n1, n2) substitution costs. delete: float (n1,). insert: float (n2,).
        forbidden: value of the forbidden entries.
    Returns:
        float64 (n1 + n2, n1 + n2).
    """
    sub = np.asarray(sub, dtype=np.float64)
    n1, n2 = sub.shape
    c = np.zeros((n1 + n2, n1 + n2))
    c[:n1, :n2] = sub
    c[:n1, n2:] = forbidden
    c[n1:, :n2] = forbidden
    c[np.arange(n1), n2 + np.arange(n1)] = delete
    c[n1 + np.arange(n2), np.arange(n2)] = insert
    return c


def _assign(reduced: np.ndarray) -> np.ndarray:
    """Best partial mapping for reduced costs ``sub - del[:, None] - ins[None, :]``.

    Same optimum as the square matrix of :func:`bipartite_cost_matrix`: a pair is worth
    matching only where its reduced cost is negative.
    """
    phi = -np.ones(reduced.shape[0], dtype=np.int64)
    if reduced.size == 0:
        return phi
    r, c = linear_sum_assignment(np.minimum(reduced, 0.0))
    keep = reduced[r, c] < 0
    phi[r[keep]] = c[keep]
    return phi


def _align(a: GEDGraph, b: GEDGraph, lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """Node mapping from a Levenshtein alignment of the op sequences in topological order."""
    s = lab_a[a.order]
    t = lab_b[b.order]
    n1, n2 = len(s), len(t)
    dist = np.empty((n1 + 1, n2 + 1), dtype=np.int32)
    cols = np.arange(n2 + 1, dtype=np.int64)
    dist[0] = cols
    best = np.empty(n2 + 1, dtype=np.int64)
    for i in range(1, n1 + 1):
        prev = dist[i - 1]
        best[0] = i
        np.minimum(prev[1:] + 1, prev[:-1] + (t != s[i - 1]), out=best[1:])
        # dist[i, j] = min_k<=j best[k] + (j - k): a run of insertions along the row
        dist[i] = cols + np.minimum.accumulate(best - cols)
    phi = -np.ones(n1, dtype=np.int64)
    i, j = n1, n2
    while i > 0 and j > 0:
        d = dist[i, j]
        if d == dist[i - 1, j - 1] + (s[i - 1] != t[j - 1]):
            phi[a.order[i - 1]] = b.order[j - 1]
            i -= 1
            j -= 1
        elif d == dist[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return phi


def _local_costs(a: GEDGraph, b: GEDGraph, lab_a: np.ndarray, lab_b: np.ndarray):
    """Reduced substitution costs ``c(i, k) - del_i - ins_k`` without the position term.

    Returns:
        float64 (n1, n2); the cost terms and weights are those of the module docstring.
    """
    n1, n2 = a.num_nodes, b.num_nodes
    present = np.union1d(lab_a, lab_b)
    k = len(present)
    col_a = np.searchsorted(present, lab_a)
    col_b = np.searchsorted(present, lab_b)
    hist_a = np.bincount(a.nbr_node * k + col_a[a.nbr_other], minlength=n1 * k).reshape(n1, k)
    hist_b = np.bincount(b.nbr_node * k + col_b[b.nbr_other], minlength=n2 * k).reshape(n2, k)
    sub = cdist(hist_a.astype(np.float64), hist_b.astype(np.float64), "cityblock")
    sub *= W_HIST
    sub += W_DEGREE * np.abs(a.degree[:, None] - b.degree[None, :])
    sub += W_LABEL * (lab_a[:, None] != lab_b[None, :])
    delete = W_LABEL + (W_HIST + W_DEGREE) * a.degree
    insert = W_LABEL + (W_HIST + W_DEGREE) * b.degree
    sub -= delete[:, None]
    sub -= insert[None, :]
    return sub


def _spread(a: GEDGraph, b: GEDGraph, phi: np.ndarray) -> np.ndarray:
    """Dense ``A1 P A2`` for the 0/1 matrix P of a node mapping: entry (i, k) counts the
    neighbours of i that are mapped onto neighbours of k."""
    m = np.flatnonzero(phi >= 0)
    p = sp.csr_matrix((np.ones(len(m)), (m, phi[m])), shape=(a.num_nodes, b.num_nodes))
    return (a.adjacency @ p @ b.adjacency).toarray()


def _refine(a: GEDGraph, b: GEDGraph, mismatch: np.ndarray, phi: np.ndarray, cost: int,
            lab_a: np.ndarray, lab_b: np.ndarray, target: int) -> int:
    """IPFP local search from ``phi``; returns the exact cost of the cheapest mapping met.

    The fractional mapping X moves by exact line search towards the assignment B that
    minimises the gradient ``L - 2 - 2 A1 X A2``. ``A1 X A2`` is kept up to date from the
    sparse products ``A1 B A2`` (linear in X), so no dense matrix product is needed.
    """
    best = cost
    x = np.zeros(mismatch.shape)
    m = np.flatnonzero(phi >= 0)
    x[m, phi[m]] = 1.0
    axa = _spread(a, b, phi)
    lin = mismatch - 2.0
    for _ in range(IPFP_ITERATIONS):
        if best <= target:
            break
        grad = lin - 2.0 * axa
        nxt = _assign(grad)
        best = min(best, _cost(a, b, lab_a, lab_b, nxt))
        d = -x
        mk = np.flatnonzero(nxt >= 0)
        d[mk, nxt[mk]] += 1.0
        slope = float(np.vdot(grad, d))
        if slope > -1e-9:
            break
        ada = _spread(a, b, nxt)
        ada -= axa
        curv = -float(np.vdot(d, ada))
        step = 1.0 if curv <= 0 else min(1.0, -slope / (2.0 * curv))
        d *= step
        x += d
        ada *= step
        axa += ada
    return best


def _upper_bound(a: GEDGraph, b: GEDGraph, target: int) -> int:
    """Cost of the cheapest edit path found from the three starting mappings (see module doc)."""
    lab_a, lab_b = _common_labels(a, b)
    n1, n2 = a.num_nodes, b.num_nodes
    if n1 == 0 or n2 == 0:
        return n1 + n2 + a.num_edges + b.num_edges
    mismatch = (lab_a[:, None] != lab_b[None, :]).astype(np.float64)
    best = None
    base = None
    for start in ("align", "position", "depth"):
        if start == "align":
            phi = _align(a, b, lab_a, lab_b)
        else:
            if base is None:
                base = _local_costs(a, b, lab_a, lab_b)
            if start == "position":
                pos = W_POSITION * np.abs(a.position[:, None] - b.position[None, :])
            else:
                pos = W_DEPTH * np.abs(a.depth[:, None] - b.depth[None, :])
            phi = _assign(base + pos)
        cost = _cost(a, b, lab_a, lab_b, phi)
        cost = _refine(a, b, mismatch, phi, cost, lab_a, lab_b, target)
        best = cost if best is None else min(best, cost)
        if best <= target:
            break
    return best


def _check_cap(cap) -> float | None:
    if cap is None:
        return None
    try:
        cap = float(cap)
    except (TypeError, ValueError):
        raise HNNError(f"GED cap must be a number, got {cap!r}") from None
    if not cap >= 0:
        raise HNNError(f"GED cap must be >= 0, got {cap}")
    return cap


def approx_ged(g1: LayerGraph | GEDGraph, g2: LayerGraph | GEDGraph, cap: float | None = None) -> float:
    """Upper bound on the graph edit distance of two layer graphs (module docstring: method).

    Unit costs; graphs read as undirected with op types as node labels. The value is the exact
    cost of an edit path, so ``lower_bound(g1, g2) <= exact GED <= approx_ged(g1, g2)``, and
    ``approx_ged(g1, g2) == approx_ged(g2, g1)``. Two 700-node graphs take 20 ms when the
    alignment meets the lower bound (a copy with deleted nodes) and up to about 0.4 s for a
    full search, on one CPU core.

    Args:
        g1, g2: LayerGraph or GEDGraph (prepare once with :func:`prepare` when comparing a
            graph many times).
        cap: R of paper 3.4. When given, the result is ``min(value, cap)``, and ``cap`` is
            returned without any assignment when :func:`lower_bound` already reaches it, and
            without the search when :func:`branch_lower_bound` does.
    Returns:
        float, a whole number of edits (or ``cap``).
    Raises:
        HNNError: an argument is not a graph, or ``cap`` is negative or not a number.
    """
    cap = _check_cap(cap)
    a, b = prepare(g1), prepare(g2)
    if b.topology_key < a.topology_key:
        a, b = b, a
    lb = lower_bound(a, b)
    if cap is not None and lb >= cap:
        return cap
    lb = branch_lower_bound(a, b)
    if cap is not None and lb >= cap:
        return cap
    value = float(_upper_bound(a, b, lb))
    return value if cap is None else min(value, cap)


def _topology_key_of(graph) -> str:
    if isinstance(graph, str):
        return graph
    if isinstance(graph, GEDGraph):
        return graph.topology_key
    if isinstance(graph, LayerGraph):
        return _topology_key(graph.ops, graph.edges)
    raise HNNError(f"GED cache keys are graphs or topology keys, got {type(graph).__name__}")


class GEDCache:
    """Persistent store of computed GED values, a JSON file.

    Keys are ``(COST_VERSION, cap, sorted topology keys of the two graphs)``, so a value is
    found whichever order the graphs come in, and values of another cost version or cap are
    never returned. A file written by another cost version is ignored (and replaced by the
    next :meth:`save`).

    Args:
        path: the JSON file; need not exist yet (its folder is created on save).
    Raises:
        HNNError: the file exists but is not a GED cache (names the path).
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        self._entries: dict[str, float] = {}
        self._new: dict[str, float] = {}
        self._entries.update(self._read())

    def _read(self) -> dict[str, float]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict) or not isinstance(data.get("entries", {}), dict):
                raise ValueError("no entries")
            if data.get("cost_version") != COST_VERSION:
                return {}
            return {str(k): float(v) for k, v in data["entries"].items()}
        except (OSError, ValueError, TypeError) as exc:
            raise HNNError(f"not a readable GED cache ({exc}); delete it to start afresh", self.path) from None

    @staticmethod
    def key(g1, g2, cap: float | None) -> str:
        """The cache key of a pair (graphs or topology keys) and a cap."""
        f1, f2 = sorted((_topology_key_of(g1), _topology_key_of(g2)))
        cap = _check_cap(cap)
        return f"v{COST_VERSION}|{'none' if cap is None else repr(cap)}|{f1}|{f2}"

    def get(self, g1, g2, cap: float | None = None) -> float | None:
        """The stored value for the pair and cap, or None."""
        return self._entries.get(self.key(g1, g2, cap))

    def set(self, g1, g2, cap: float | None, value: float) -> None:
        """Store ``value`` for the pair and cap (in memory until :meth:`save`)."""
        k = self.key(g1, g2, cap)
        self._entries[k] = float(value)
        self._new[k] = float(value)

    @property
    def dirty(self) -> bool:
        """True when values were set since the last save."""
        return bool(self._new)

    def save(self) -> None:
        """Write the cache: entries saved meanwhile by another process are kept; the file is
        replaced atomically (temporary file in the same folder, then ``os.replace``).

        Raises:
            HNNError: the file cannot be written (names the path).
        """
        try:
            merged = self._read()
        except HNNError:
            merged = {}
        merged.update(self._entries)
        merged.update(self._new)
        self._entries = merged
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps({"cost_version": COST_VERSION, "entries": merged}))
        except OSError as exc:
            raise HNNError(f"cannot write the GED cache: {exc}", self.path) from None
        self._new = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries


def pairwise_ged(graphs, pairs, cap: float | None, cache: GEDCache | None = None, progress: bool = True,
                 save_every_s: float = 60.0) -> np.ndarray:
    """:func:`approx_ged` for many index pairs, each graph prepared once, values cached.

    Args:
        graphs: sequence of LayerGraph or GEDGraph.
        pairs: (P, 2) ints, or a sequence of ``(i, j)``, indices into ``graphs``.
        cap: R (see :func:`approx_ged`); None for no cap.
        cache: a :class:`GEDCache` to read and fill; it is saved every ``save_every_s``
            seconds and at the end when it got new values.
        progress: show a tqdm progress bar.
        save_every_s: seconds between intermediate saves of the cache.
    Returns:
        float32 (P,) GED values (capped at ``cap``), in pair order.
    Raises:
        HNNError: a pair index out of range, a bad cap, or an entry of ``graphs`` that is not
            a graph.
    """
    from tqdm import tqdm

    cap = _check_cap(cap)
    graphs = list(graphs)
    idx = np.asarray(pairs, dtype=np.int64)
    if idx.size == 0:
        return np.zeros(0, dtype=np.float32)
    if idx.ndim != 2 or idx.shape[1] != 2:
        raise HNNError(f"pairs must be (P, 2) indices, got shape {idx.shape}")
    bad = np.flatnonzero((idx < 0).any(axis=1) | (idx >= len(graphs)).any(axis=1))
    if len(bad):
        i, j = idx[bad[0]]
        raise HNNError(f"pair {bad[0]} = ({i}, {j}) is out of range for {len(graphs)} graphs")
    prepared: dict[int, GEDGraph] = {}
    prints: dict[int, str] = {}

    def fp(i: int) -> str:
        if i not in prints:
            prints[i] = _topology_key_of(graphs[i])
        return prints[i]

    def get(i: int) -> GEDGraph:
        if i not in prepared:
            prepared[i] = prepare(graphs[i])
        return prepared[i]

    out = np.empty(len(idx), dtype=np.float32)
    last_save = time.monotonic()
    bar = tqdm(total=len(idx), desc="GED targets", unit="pair", disable=not progress)
    try:
        for p, (i, j) in enumerate(idx.tolist()):
            fi, fj = fp(i), fp(j)
            if fi == fj:
                out[p] = 0.0
            else:
                value = cache.get(fi, fj, cap) if cache is not None else None
                if value is None:
                    value = approx_ged(get(i), get(j), cap)
                    if cache is not None:
                        cache.set(fi, fj, cap, value)
                out[p] = value
            bar.update(1)
            if cache is not None and cache.dirty and time.monotonic() - last_save > save_every_s:
                cache.save()
                last_save = time.monotonic()
    finally:
        bar.close()
        if cache is not None and cache.dirty:
            cache.save()
    return out
