"""The merge operation f_merg of paper section 3.2.2, with its rules kept as data.

A rule is a chain of op types. A chain matches a path v0 -> v1 -> ... -> vk of the layer
graph whose links are single-consumer edges: every vi (i < k) has exactly one consumer,
v(i+1), and every v(i+1) has exactly one producer, vi. The matched nodes become one node
labelled with the op types joined by ``-``; its FLOPs and parameters are the sums of the
chain's. The paper's example: the rule Conv-ReLU on the 2-node graph Conv -> Relu gives
1 node (``Conv-Relu``) and 0 edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hnn_tf.graph.layer_graph import LayerGraph


@dataclass(frozen=True)
class MergeRule:
    """One merge rule: a chain of ONNX op types, e.g. ``("Conv", "BatchNormalization", "Relu")``."""

    ops: tuple[str, ...]

    @property
    def label(self) -> str:
        """The merged node's op type, the chain's op types joined by ``-``."""
        return "-".join(self.ops)


#: The paper's 4 rules (3.2.2): Conv-ReLU, Conv-BatchNorm, Conv-BatchNorm-ReLU,
#: Conv-Conv-BatchNorm-ReLU. Longer rules are tried first at each node.
PAPER_MERGE_RULES: tuple[MergeRule, ...] = (
    MergeRule(("Conv", "Relu")),
    MergeRule(("Conv", "BatchNormalization")),
    MergeRule(("Conv", "BatchNormalization", "Relu")),
    MergeRule(("Conv", "Conv", "BatchNormalization", "Relu")),
)

#: Merge rules for canonical graphs (``build_graph(..., canonical=True)``), where BatchNorm is
#: folded into the Conv: the paper's rules with BatchNormalization taken out (Conv-ReLU;
#: Conv-BN and Conv-BN-ReLU reduce to Conv and Conv-ReLU), plus Conv-ReLU6, the same pattern
#: with MobileNet's activation. Conv-Conv-ReLU is left out: with BN folded, Conv -> Conv
#: chains (e.g. MobileNet's linear projection into the next expansion) are common and are
#: not what the paper's Conv-Conv-BN-ReLU rule meant.
CANONICAL_MERGE_RULES: tuple[MergeRule, ...] = (
    MergeRule(("Conv", "Relu")),
    MergeRule(("Conv", "Relu6")),
)


def merge_graph(graph: LayerGraph, rules: tuple[MergeRule, ...] | list[MergeRule] = PAPER_MERGE_RULES) -> LayerGraph:
    """Apply the merge rules to a layer graph (paper 3.2.2, f_merg).

    Nodes are visited in index order (the builder's topological order); at each node not yet
    merged the longest matching rule wins. Merged nodes keep the position of their first node.

    Args:
        graph: the raw layer graph.
        rules: the merge rules; an empty sequence returns an equal copy.
    Returns:
        a new LayerGraph (the input is not modified).
    """
    n = graph.num_nodes
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for s, d in graph.edges.tolist():
        succ[s].append(d)
        pred[d].append(s)
    ordered = sorted(rules, key=lambda r: len(r.ops), reverse=True)
    group = -np.ones(n, dtype=np.int64)  # node -> new node id
    groups: list[tuple[list[int], str]] = []
    for v in range(n):
        if group[v] >= 0:
            continue
        chain, label = [v], graph.ops[v]
        for rule in ordered:
            found = _match(rule.ops, v, graph.ops, succ, pred, group)
            if found is not None:
                chain, label = found, rule.label
                break
        for u in chain:
            group[u] = len(groups)
        groups.append((chain, label))
    owner = group.tolist()
    edges = {(owner[s], owner[d]) for s, d in graph.edges.tolist() if owner[s] != owner[d]}
    flops, params = graph.flops.tolist(), graph.params.tolist()
    return LayerGraph(
        ops=[label for _, label in groups],
        flops=[sum(flops[u] for u in c) for c, _ in groups],
        params=[sum(params[u] for u in c) for c, _ in groups],
        edges=sorted(edges),
        names=["+".join(graph.names[u] for u in c) for c, _ in groups],
        attrs=[graph.attrs[c[0]] for c, _ in groups],  # a merged chain's head (the Conv) has them
    )


def _match(ops: tuple[str, ...], v: int, labels, succ, pred, group) -> list[int] | None:
    if labels[v] != ops[0]:
        return None
    chain = [v]
    for op in ops[1:]:
        last = chain[-1]
        if len(succ[last]) != 1:
            return None
        nxt = succ[last][0]
        if labels[nxt] != op or len(pred[nxt]) != 1 or group[nxt] >= 0:
            return None
        chain.append(nxt)
    return chain
