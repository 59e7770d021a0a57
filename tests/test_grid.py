"""The Table 2 grid's plumbing on a toy data set: one cell, a few epochs, real metrics."""

from __future__ import annotations

import numpy as np
import pytest

import hnn_tf  # noqa: F401
from hnn_tf import grid
from hnn_tf.evaluate import choose_radius, radius_metrics, topk_ceiling
from hnn_tf.graph import LayerGraph
from hnn_tf.zoo.dataset import ZooGraph, augment, split


def _toy_split():
    data = []
    families = {"ResNet": ["Conv", "BatchNormalization", "Relu", "Add"], "VGG": ["Conv", "Relu", "MaxPool"]}
    for cat, ops in families.items():
        for size in (3, 5):
            seq = ops * size
            edges = [(i, i + 1) for i in range(len(seq) - 1)]
            g = LayerGraph(ops=seq, flops=np.full(len(seq), 10**6), params=np.full(len(seq), 10**3), edges=edges)
            name = f"{cat.lower()}{size}"
            data.append(ZooGraph(name, cat, 0, g))
            data += [ZooGraph(name, cat, c, cg) for c, cg in enumerate(augment(g, name, copies=7), 1)]
    return split(data)


@pytest.fixture()
def toy(monkeypatch):
    train, test = _toy_split()
    monkeypatch.setattr(grid, "_data", lambda variant: (train, test))
    models = np.array([z.model for z in train])
    ged = np.where(models[:, None] == models[None, :], 2.0, 10.0).astype(np.float32)
    monkeypatch.setattr(grid, "_ged", lambda variant, cap: ged)
    monkeypatch.setattr(grid, "_test_ged", lambda variant: np.abs(np.subtract.outer(np.arange(len(test)), np.arange(len(test)))).astype(np.float32))
    return train, test


def test_one_cell_runs_and_aggregates(toy):
    runs = [grid.run_one(grid.RunSpec(m, 16, "merged", seed, epochs=4)) for m in ("GHashing", "HNN-Net") for seed in (0, 1)]
    for r in runs:
        assert r["epochs_run"] == 4
        assert 0 <= r["topk"]["per_query"]["mAP"] <= 1
        assert 0 <= r["radius"]["radius"] <= 16
    rows = grid.aggregate(runs)
    assert len(rows) == 2 and all(row["seeds"] == [0, 1] for row in rows)
    values = [r["radius"]["per_query"]["F1"] for r in runs if r["spec"]["method"] == "HNN-Net"]
    row = next(r for r in rows if r["method"] == "HNN-Net")
    assert row["radius.per_query.F1"]["mean"] == pytest.approx(np.mean(values))
    assert row["radius.per_query.F1"]["std"] == pytest.approx(np.std(values, ddof=1))
    from hnn_tf.report import table2_markdown

    md = table2_markdown(rows)
    assert "| HNN-Net | F1 |" in md and "(0.375," in md  # merged 16-bit paper figure beside ours


def test_leave_one_model_out_queries_the_held_out_model(toy):
    r = grid.run_one(grid.RunSpec("HNN-Net", 16, "merged", 0, epochs=3, held_out="vgg3"))
    assert 0 <= r["top1_accuracy"] <= 1 and 0 <= r["mAP"] <= 1


def test_early_stopping_stops_before_max_epochs(toy):
    r = grid.run_one(grid.RunSpec("GHashing", 16, "merged", 0, epochs=400, patience=2))
    assert r["epochs_run"] < 400


def test_specs_cover_the_paper_grid():
    specs = grid.grid_specs()
    assert len(specs) == 3 * 3 * 2 * 3
    assert {(s.method, s.variant, s.bits) for s in specs} == {(m, v, q) for (m, v, q) in grid.PAPER_TABLE2}
    lomo = grid.lomo_specs()
    assert len(lomo) == 18 and "alexnet" not in {s.held_out for s in lomo}


def test_radius_retrieval_and_ceiling_by_hand():
    db = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]], dtype=bool)
    q = np.array([[0, 0, 0, 0]], dtype=bool)
    m = radius_metrics(q, ["a"], db, ["a", "b", "a"], radius=1)["per_query"]
    # retrieved: items 0 (a) and 1 (b); relevant: items 0 and 2
    assert m["P"] == pytest.approx(0.5) and m["R"] == pytest.approx(0.5) and m["retrieved"] == 2
    assert choose_radius(db, ["a", "a", "b"]) == 1  # 0 and 1 are 1 bit apart, 2 is 3 bits away
    c = topk_ceiling(["a", "b"], ["a"] * 4 + ["b"] * 1, 2)["per_query"]
    assert c["P"] == pytest.approx((1 + 0.5) / 2) and c["R"] == pytest.approx((0.5 + 1) / 2)


def test_paper_figures_match_per_query_ceiling():
    from hnn_tf.report import paper_average_match

    match = paper_average_match()
    assert match["per_query"]["mean_abs_difference"] < 0.005
    assert match["macro"]["mean_abs_difference"] > 0.02
