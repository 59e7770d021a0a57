"""Tests of hnn_tf.ged: the GED bounds behind the topology loss (paper 3.4)."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from hnn_tf import ged as ged_mod
from hnn_tf.errors import HNNError
from hnn_tf.ged import (
    COST_VERSION,
    GEDCache,
    OpIndex,
    approx_ged,
    bipartite_cost_matrix,
    branch_lower_bound,
    edit_path_cost,
    lower_bound,
    pairwise_ged,
    prepare,
)
from hnn_tf.graph.layer_graph import LayerGraph


def graph(ops, edges) -> LayerGraph:
    n = len(ops)
    return LayerGraph(ops=list(ops), flops=np.zeros(n), params=np.zeros(n), edges=np.asarray(edges, dtype=np.int64))


def random_dag(rng: np.random.Generator, n: int, p: float = 0.4, labels: str = "ABC") -> LayerGraph:
    ops = [labels[i] for i in rng.integers(0, len(labels), n)]
    iu = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64).reshape(-1, 2)
    return graph(ops, iu[rng.random(len(iu)) < p])


def resnet_chain(blocks: int = 8) -> LayerGraph:
    """Stem, ``blocks`` basic blocks Conv-BN-Relu-Conv-BN-Add-Relu with skip edges, head."""
    ops: list[str] = []
    edges: list[tuple[int, int]] = []

    def add(op, *srcs):
        ops.append(op)
        edges.extend((s, len(ops) - 1) for s in srcs)
        return len(ops) - 1

    x = add("MaxPool", add("Relu", add("BatchNormalization", add("Conv"))))
    for _ in range(blocks):
        y = add("BatchNormalization", add("Conv", add("Relu", add("BatchNormalization", add("Conv", x)))))
        x = add("Relu", add("Add", y, x))
    add("Gemm", add("Flatten", add("GlobalAveragePool", x)))
    return graph(ops, edges)


def renumbered(g: LayerGraph, rng: np.random.Generator) -> LayerGraph:
    perm = rng.permutation(g.num_nodes)  # new node k is old node perm[k]
    new_id = np.argsort(perm)
    return graph([g.ops[i] for i in perm], new_id[g.edges])


def incident_edges(g: LayerGraph, nodes) -> int:
    und = {tuple(sorted(e)) for e in g.edges.tolist()}
    gone = set(int(v) for v in nodes)
    return sum(1 for a, b in und if a in gone or b in gone)


def exact_ged(g1: LayerGraph, g2: LayerGraph) -> float:
    """networkx's exact GED on the undirected graphs, op types as labels, unit costs."""
    return nx.graph_edit_distance(
        g1.to_networkx().to_undirected(), g2.to_networkx().to_undirected(),
        node_match=lambda a, b: a["op"] == b["op"],
    )


# --- the distance -------------------------------------------------------------------------------


def test_identical_graphs_are_at_distance_zero():
    rng = np.random.default_rng(0)
    for g in [resnet_chain(8), random_dag(rng, 12), graph(["Conv"], []), graph([], [])]:
        copy = LayerGraph.from_dict(g.to_dict())
        assert approx_ged(g, copy) == 0.0
        assert lower_bound(g, copy) == 0 and branch_lower_bound(g, copy) == 0
        assert approx_ged(prepare(g), prepare(copy)) == 0.0


def test_renumbered_copy_of_resnet_chain_is_at_distance_zero():
    g = resnet_chain(6)
    for seed in range(5):
        assert approx_ged(g, renumbered(g, np.random.default_rng(seed))) == 0.0


def test_edges_count_as_undirected():
    a = graph(["A", "B", "C"], [(0, 1), (1, 2)])
    b = graph(["A", "B", "C"], [(1, 0), (2, 1), (1, 2)])  # reversed, one duplicate
    assert approx_ged(a, b) == 0.0 and lower_bound(a, b) == 0


def test_distance_is_exactly_symmetric():
    rng = np.random.default_rng(1)
    chain = resnet_chain(5)
    pairs = [(random_dag(rng, int(rng.integers(5, 30)), p=0.2), random_dag(rng, int(rng.integers(5, 30)), p=0.2))
             for _ in range(80)]
    for seed in range(5):
        keep = np.sort(np.random.default_rng(seed).choice(chain.num_nodes, chain.num_nodes - 4, replace=False))
        pairs.append((chain, chain.subgraph(keep)))
    for a, b in pairs:
        assert approx_ged(a, b) == approx_ged(b, a)
        assert approx_ged(a, b, cap=5) == approx_ged(b, a, cap=5)


def test_lower_bounds_never_exceed_the_upper_bound():
    rng = np.random.default_rng(2)
    for _ in range(150):
        a = random_dag(rng, int(rng.integers(0, 12)), p=float(rng.uniform(0.1, 0.7)))
        b = random_dag(rng, int(rng.integers(0, 12)), p=float(rng.uniform(0.1, 0.7)))
        lb, branch = lower_bound(a, b), branch_lower_bound(a, b)
        assert isinstance(lb, int) and isinstance(branch, int)
        assert 0 <= lb <= branch <= approx_ged(a, b)


def test_bounds_bracket_exact_ged_on_tiny_graphs():
    rng = np.random.default_rng(3)
    equal = 0
    trials = 50
    for _ in range(trials):
        a = random_dag(rng, int(rng.integers(2, 7)))
        b = random_dag(rng, int(rng.integers(2, 7)))
        exact = exact_ged(a, b)
        approx = approx_ged(a, b)
        assert lower_bound(a, b) <= branch_lower_bound(a, b) <= exact <= approx
        equal += approx == exact
    assert equal >= 0.85 * trials


@pytest.mark.parametrize(
    "a, b, expected",
    [
        # deleted leaf: the node and its edge
        (graph(list("ABCD"), [(0, 1), (1, 2), (2, 3)]), graph(list("ABC"), [(0, 1), (1, 2)]), 2),
        # one relabelled node
        (graph(list("ABCD"), [(0, 1), (1, 2), (2, 3)]), graph(list("ABXD"), [(0, 1), (1, 2), (2, 3)]), 1),
        # one deleted edge, one added skip edge
        (graph(list("ABCD"), [(0, 1), (1, 2), (2, 3)]), graph(list("ABCD"), [(0, 1), (2, 3), (0, 3)]), 2),
        # a node inserted on an edge, appended at the end of the numbering
        (graph(list("ABCD"), [(0, 1), (1, 2), (2, 3)]), graph(list("ABCDX"), [(0, 1), (1, 4), (4, 2), (2, 3)]), 4),
        # a deleted middle node of a chain with a skip edge
        (graph(list("ABCAB"), [(0, 1), (1, 2), (2, 3), (3, 4), (0, 2)]), graph(list("ABAB"), [(0, 1), (2, 3)]), 4),
    ],
)
def test_exact_on_hand_built_cases(a, b, expected):
    assert exact_ged(a, b) == expected
    assert approx_ged(a, b) == expected


def test_a_cycle_does_not_break_the_bounds():
    cyclic = graph(list("ABCD"), [(0, 1), (1, 2), (2, 0), (2, 3)])
    chain = graph(list("ABCD"), [(0, 1), (1, 2), (2, 3)])
    p = prepare(cyclic)
    assert sorted(p.order.tolist()) == [0, 1, 2, 3]
    assert approx_ged(cyclic, cyclic) == 0.0
    assert approx_ged(cyclic, chain) == exact_ged(cyclic, chain) == 1


def test_edit_path_cost_counts_every_operation():
    a = graph(list("ABC"), [(0, 1), (1, 2)])
    b = graph(list("AC"), [(0, 1)])
    # delete B and its two edges, insert the edge A-C
    assert edit_path_cost(a, b, [0, -1, 1]) == 4
    # map B onto C (relabel), delete C and edge 1-2; edge 0-1 is kept
    assert edit_path_cost(a, b, [0, 1, -1]) == 3
    assert edit_path_cost(a, b, [-1, -1, -1]) == 3 + 2 + 2 + 1
    with pytest.raises(HNNError, match="entries"):
        edit_path_cost(a, b, [0, 1])
    with pytest.raises(HNNError, match="same node"):
        edit_path_cost(a, b, [0, 0, -1])
    with pytest.raises(HNNError, match=r"\[-1, 1\]"):
        edit_path_cost(a, b, [0, 2, -1])


def test_cap_is_respected():
    rng = np.random.default_rng(4)
    for _ in range(20):
        a, b = random_dag(rng, 10), random_dag(rng, 9)
        full = approx_ged(a, b)
        for cap in (0, 1, 3, 10, 100):
            value = approx_ged(a, b, cap=cap)
            assert isinstance(value, float) and value == min(full, cap)


def test_cap_reached_by_the_lower_bound_skips_the_search(monkeypatch):
    def no_search(*args):
        raise AssertionError("searched")

    monkeypatch.setattr(ged_mod, "_upper_bound", no_search)
    small, big = graph(["A"], []), resnet_chain(3)
    assert lower_bound(small, big) >= 10
    assert approx_ged(small, big, cap=10) == 10.0
    with pytest.raises(AssertionError, match="searched"):
        approx_ged(small, big, cap=1000)


def test_bad_arguments_raise_hnn_errors():
    g = resnet_chain(1)
    with pytest.raises(HNNError, match="cap"):
        approx_ged(g, g, cap=-1)
    with pytest.raises(HNNError, match="cap"):
        approx_ged(g, g, cap="ten")
    with pytest.raises(HNNError, match="LayerGraph"):
        approx_ged(g, {"ops": ["Conv"]})


def test_deletions_in_repeated_blocks_find_the_true_mapping():
    # 10% of the nodes of a chain of identical blocks deleted: the edit path that deletes them
    # (nodes plus incident edges) is an upper bound of the true GED; the search must find a
    # path at least as cheap although every block looks like every other one.
    g = resnet_chain(8)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        drop = rng.choice(g.num_nodes, size=round(0.1 * g.num_nodes), replace=False)
        copy = g.subgraph(np.setdiff1d(np.arange(g.num_nodes), drop))
        path = len(drop) + incident_edges(g, drop)
        value = approx_ged(g, copy)
        assert lower_bound(g, copy) <= value <= path


def test_mixed_edits_on_repeated_blocks_cost_no_more_than_the_edits():
    g = resnet_chain(12)
    n = g.num_nodes
    ops = list(g.ops)
    ops[20] = "Sigmoid"  # relabel: 1
    edges = [tuple(e) for e in g.edges.tolist() if tuple(e) != (40, 41)]  # delete an edge: 1
    edges.remove((10, 11))  # insert node n on edge 10->11: 1 node + 1 + 2 edges
    edges += [(10, n), (n, 11)]
    ops.append("Mul")
    edges.append((5, 60))  # add an edge: 1
    edited = graph(ops, edges)
    assert lower_bound(g, edited) <= approx_ged(g, edited) <= 1 + 1 + 4 + 1


def test_square_and_rectangular_assignments_agree():
    # approx_ged solves the Riesen-Bunke square problem in its reduced rectangular form.
    rng = np.random.default_rng(5)
    for n1, n2 in [(1, 1), (3, 5), (6, 2), (8, 8)]:
        sub = rng.uniform(0, 4, (n1, n2))
        dele, ins = rng.uniform(0, 2, n1), rng.uniform(0, 2, n2)
        square = bipartite_cost_matrix(sub, dele, ins, forbidden=1e9)
        r, c = linear_sum_assignment(square)
        best = square[r, c].sum()
        phi = ged_mod._assign(sub - dele[:, None] - ins[None, :])
        m = phi >= 0
        used = np.zeros(n2, dtype=bool)
        used[phi[m]] = True
        value = sub[np.flatnonzero(m), phi[m]].sum() + dele[~m].sum() + ins[~used].sum()
        assert value == pytest.approx(best)


# --- per-graph preparation ----------------------------------------------------------------------


def test_prepared_graph_fields():
    g = graph(["Conv", "Relu", "Conv", "Add"], [(0, 1), (1, 2), (2, 3), (0, 3)])
    p = prepare(g)
    assert p.num_nodes == 4 and p.num_edges == 4
    np.testing.assert_array_equal(p.degree, [2, 2, 2, 2])
    np.testing.assert_array_equal(p.order, [0, 1, 2, 3])
    np.testing.assert_allclose(p.position, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(p.depth, [0, 1 / 3, 2 / 3, 1])
    assert p.op_counts == {"Conv": 2, "Relu": 1, "Add": 1}
    assert prepare(p) is p
    # the topology key follows ops and edges, not FLOPs or parameters
    other = LayerGraph(g.ops, np.arange(4), np.arange(4), g.edges)
    assert prepare(other).topology_key == p.topology_key
    assert prepare(graph(g.ops, g.edges[:3])).topology_key != p.topology_key


def test_topological_order_respects_every_edge():
    rng = np.random.default_rng(6)
    for _ in range(20):
        g = random_dag(rng, 15)
        g = renumbered(g, rng)
        p = prepare(g)
        rank = np.empty(g.num_nodes, dtype=np.int64)
        rank[p.order] = np.arange(g.num_nodes)
        assert sorted(p.order.tolist()) == list(range(g.num_nodes))
        assert all(rank[u] < rank[v] for u, v in g.edges.tolist())
        assert all(p.depth[u] < p.depth[v] for u, v in g.edges.tolist())


def test_separate_op_indexes_give_the_same_distance():
    rng = np.random.default_rng(7)
    a, b = random_dag(rng, 9, labels="ABCDE"), random_dag(rng, 8, labels="CDEFG")
    mixed = approx_ged(prepare(a, OpIndex()), prepare(b, OpIndex()))
    assert mixed == approx_ged(a, b)


# --- cache and pairwise -------------------------------------------------------------------------


def test_cache_round_trip(tmp_path):
    a, b = resnet_chain(2), resnet_chain(3)
    path = tmp_path / "sub" / "ged.json"
    cache = GEDCache(path)
    assert cache.get(a, b, 10) is None
    cache.set(a, b, 10, 7.0)
    assert cache.get(b, a, 10) == 7.0  # order-free key
    assert cache.get(a, b, 11) is None and cache.get(a, b, None) is None
    cache.save()
    assert sorted(p.name for p in path.parent.iterdir()) == ["ged.json"]  # no temporary left
    assert json.loads(path.read_text())["cost_version"] == COST_VERSION
    again = GEDCache(path)
    assert len(again) == 1 and again.get(prepare(b), prepare(a).topology_key, 10.0) == 7.0


def test_cache_save_keeps_entries_of_another_writer(tmp_path):
    path = tmp_path / "ged.json"
    g = [resnet_chain(k) for k in range(1, 4)]
    first, second = GEDCache(path), GEDCache(path)
    first.set(g[0], g[1], 5, 1.0)
    second.set(g[1], g[2], 5, 2.0)
    first.save()
    second.save()
    merged = GEDCache(path)
    assert merged.get(g[0], g[1], 5) == 1.0 and merged.get(g[1], g[2], 5) == 2.0


def test_cache_of_another_cost_version_is_ignored(tmp_path):
    path = tmp_path / "ged.json"
    path.write_text(json.dumps({"cost_version": COST_VERSION + 1000, "entries": {"x": 1.0}}))
    assert len(GEDCache(path)) == 0


def test_corrupt_cache_names_the_file(tmp_path):
    path = tmp_path / "ged.json"
    path.write_text("{not json")
    with pytest.raises(HNNError, match="ged.json"):
        GEDCache(path)


def test_pairwise_matches_single_calls_and_uses_the_cache(tmp_path, monkeypatch):
    rng = np.random.default_rng(8)
    base = resnet_chain(4)
    graphs = [base] + [base.subgraph(np.sort(rng.choice(base.num_nodes, base.num_nodes - k, replace=False)))
                       for k in (1, 2, 3)] + [random_dag(rng, 6)]
    pairs = [(i, j) for i in range(len(graphs)) for j in range(i, len(graphs))]
    cache = GEDCache(tmp_path / "ged.json")

    prepared = []
    real_prepare = ged_mod.prepare

    def counting_prepare(g, index=None):
        if isinstance(g, LayerGraph):
            prepared.append(id(g))
        return real_prepare(g, index)

    monkeypatch.setattr(ged_mod, "prepare", counting_prepare)
    values = pairwise_ged(graphs, pairs, cap=6, cache=cache, progress=False)
    assert values.dtype == np.float32 and values.shape == (len(pairs),)
    assert len(prepared) == len(set(prepared)) == len(graphs)  # each graph prepared once
    monkeypatch.setattr(ged_mod, "prepare", real_prepare)
    expected = [approx_ged(graphs[i], graphs[j], cap=6) for i, j in pairs]
    np.testing.assert_array_equal(values, np.asarray(expected, dtype=np.float32))
    assert values[pairs.index((0, 0))] == 0 and values.max() <= 6
    assert (tmp_path / "ged.json").exists()  # saved at the end

    def no_compute(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(ged_mod, "approx_ged", no_compute)
    again = pairwise_ged(graphs, np.array(pairs)[:, ::-1], cap=6, cache=GEDCache(tmp_path / "ged.json"), progress=False)
    np.testing.assert_array_equal(again, values)


def test_pairwise_rejects_bad_pairs():
    graphs = [resnet_chain(1), resnet_chain(2)]
    assert pairwise_ged(graphs, [], cap=5, progress=False).shape == (0,)
    with pytest.raises(HNNError, match=r"out of range for 2 graphs"):
        pairwise_ged(graphs, [(0, 2)], cap=5, progress=False)
    with pytest.raises(HNNError, match="shape"):
        pairwise_ged(graphs, [0, 1], cap=5, progress=False)
