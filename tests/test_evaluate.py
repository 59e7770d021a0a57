"""Retrieval evaluation (paper 4.1.4, Table 2) and GHashing's Spearman metric."""

from __future__ import annotations

import json
from fractions import Fraction as F

import numpy as np
import pytest

from hnn_tf.errors import HashError, HNNError
from hnn_tf.evaluate import format_table, rank_by_hamming, retrieval_metrics, spearman_hamming_ged


def bits(text: str) -> list[int]:
    return [int(c) for c in text]


# A tiny database of 4-bit codes and categories A (2 items) and B (3 items).
DB_CODES = np.array([bits("0000"), bits("0001"), bits("0011"), bits("0111"), bits("1111")])
DB_LABELS = ["A", "A", "B", "B", "B"]
# Queries: one of category A, two of category B (unequal category sizes).
Q_CODES = np.array([bits("0000"), bits("1111"), bits("0001")])
Q_LABELS = ["A", "B", "B"]


def test_rank_ties_broken_by_database_index():
    db = np.array([bits("0001"), bits("0000"), bits("0010"), bits("1000"), bits("0000")])
    q = np.array([bits("0000")])
    # distances 1, 0, 1, 1, 0: the two zeros in index order, then the three ones in index order
    np.testing.assert_array_equal(rank_by_hamming(q, db), [[1, 4, 0, 2, 3]])


def test_rank_is_sorted_by_distance():
    rng = np.random.default_rng(7)
    q = rng.integers(0, 2, size=(5, 16))
    db = rng.integers(0, 2, size=(40, 16))
    order = rank_by_hamming(q, db)
    assert order.shape == (5, 40)
    for i in range(5):
        d = [int(np.sum(q[i] != db[j])) for j in order[i]]
        assert d == sorted(d)
        assert sorted(order[i].tolist()) == list(range(40))
        # within equal distances the indices increase
        for a, b, da, db_ in zip(order[i][:-1], order[i][1:], d[:-1], d[1:]):
            if da == db_:
                assert a < b


# Hand computation for the tiny example with ks=(1, 3).
#
# q0 = 0000 (A): distances to db 0,1,2,3,4 -> order [0,1,2,3,4]; relevance 1,1,0,0,0; G=2.
#   P@1=1, R@1=1/2, F1@1=2/3; P@3=2/3, R@3=1, F1@3=4/5.
#   AP = (1/2)(1/1 + 2/2) = 1; AP@1 = 1/min(1,2) * 1 = 1; AP@3 = (1/2)(1+1) = 1.
# q1 = 1111 (B): distances 4,3,2,1,0 -> order [4,3,2,1,0]; relevance 1,1,1,0,0; G=3.
#   P@1=1, R@1=1/3, F1@1=1/2; P@3=1, R@3=1, F1@3=1.  AP = AP@1 = AP@3 = 1.
# q2 = 0001 (B): distances 1,0,1,2,3 -> order [1,0,2,3,4] (db0 before db2 at distance 1:
#   tie by index); relevance 0,0,1,1,1; G=3.
#   P@1=0, R@1=0, F1@1=0; P@3=1/3, R@3=1/3, F1@3=1/3.
#   AP = (1/3)(1/3 + 2/4 + 3/5) = 43/90; AP@1 = 0; AP@3 = (1/3)(1/3) = 1/9.
PER_QUERY_VALUES = {
    "P@1": [F(1), F(1), F(0)],
    "R@1": [F(1, 2), F(1, 3), F(0)],
    "F1@1": [F(2, 3), F(1, 2), F(0)],
    "mAP@1": [F(1), F(1), F(0)],
    "P@3": [F(2, 3), F(1), F(1, 3)],
    "R@3": [F(1), F(1), F(1, 3)],
    "F1@3": [F(4, 5), F(1), F(1, 3)],
    "mAP@3": [F(1), F(1), F(1, 9)],
    "mAP": [F(1), F(1), F(43, 90)],
}


def mean(xs):
    return sum(xs, F(0)) / len(xs)


def test_metrics_on_hand_computed_example():
    res = retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(1, 3))
    assert res["num_queries"] == 3 and res["num_database"] == 5
    assert res["num_categories"] == 2 and res["queries_without_relevant"] == 0
    assert res["ks"] == [1, 3]
    for name, vals in PER_QUERY_VALUES.items():
        # per-query average: mean over the 3 queries
        assert res["per_query"][name] == pytest.approx(float(mean(vals))), name
        # macro: category A = query 0 alone, category B = mean of queries 1 and 2
        cat_a, cat_b = vals[0], mean(vals[1:])
        assert res["macro"][name] == pytest.approx(float((cat_a + cat_b) / 2)), name
        assert res["per_category"]["A"][name] == pytest.approx(float(cat_a)), name
        assert res["per_category"]["B"][name] == pytest.approx(float(cat_b)), name
    assert res["per_category"]["A"]["num_queries"] == 1
    assert res["per_category"]["B"]["num_queries"] == 2
    # a few spelled-out values: per-query P@1 = 2/3, macro P@1 = (1 + 1/2)/2 = 3/4
    assert res["per_query"]["P@1"] == pytest.approx(2 / 3)
    assert res["macro"]["P@1"] == pytest.approx(3 / 4)
    assert res["per_query"]["mAP"] == pytest.approx(223 / 270)
    json.dumps(res)  # plain JSON types only


def test_macro_differs_from_per_query_with_unequal_categories():
    res = retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(1, 3))
    for name in ("P@1", "R@1", "F1@1", "mAP"):
        assert res["macro"][name] != pytest.approx(res["per_query"][name]), name


def test_averaged_f1_is_not_f1_of_averages():
    res = retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(1, 3))
    p, r = F(2, 3), F(5, 18)  # per-query mean P@1, R@1 from the table above
    assert res["per_query"]["f1_of_means@1"] == pytest.approx(float(2 * p * r / (p + r)))
    # the mean of per-query F1 (7/18) is a different number
    assert res["per_query"]["F1@1"] == pytest.approx(7 / 18)
    assert res["per_query"]["f1_of_means@1"] != pytest.approx(res["per_query"]["F1@1"])


def test_query_without_relevant_items_scores_zero():
    q = np.array([bits("0000")])
    res = retrieval_metrics(q, ["C"], DB_CODES, DB_LABELS, ks=(2,))
    assert res["queries_without_relevant"] == 1
    for name in ("P@2", "R@2", "F1@2", "mAP@2", "mAP"):
        assert res["per_query"][name] == 0.0


def test_perfect_codes_score_one():
    # every category has its own code: each query finds exactly its category first
    db = np.array([bits("0000")] * 3 + [bits("1111")] * 2)
    labels = ["x", "x", "x", "y", "y"]
    res = retrieval_metrics(db, labels, db, labels, ks=(2,))
    assert res["per_query"]["P@2"] == 1.0
    assert res["per_query"]["mAP"] == 1.0
    # R@2: the three x queries see 2 of their 3 items, the two y queries all of theirs
    assert res["per_query"]["R@2"] == pytest.approx((3 * 2 / 3 + 2 * 1) / 5)
    assert res["macro"]["R@2"] == pytest.approx((2 / 3 + 1) / 2)


def test_integer_labels_and_numpy_label_arrays():
    res_str = retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(1,))
    ids = {"A": 0, "B": 1}
    res_int = retrieval_metrics(
        Q_CODES, np.array([ids[x] for x in Q_LABELS]), DB_CODES, [ids[x] for x in DB_LABELS], ks=(1,)
    )
    assert res_int["per_query"] == res_str["per_query"]
    assert set(res_int["per_category"]) == {"0", "1"}


def test_metrics_refuse_bad_input():
    with pytest.raises(HNNError, match="k=6"):
        retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(6,))
    with pytest.raises(HNNError):
        retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(0,))
    with pytest.raises(HNNError, match="2 query labels for 3"):
        retrieval_metrics(Q_CODES, Q_LABELS[:2], DB_CODES, DB_LABELS)
    with pytest.raises(HNNError):
        retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS[:4], ks=(1,))
    with pytest.raises(HashError):
        retrieval_metrics(Q_CODES[:, :3], Q_LABELS, DB_CODES, DB_LABELS, ks=(1,))


def test_format_table_single_paper_column():
    res = retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(1, 3))
    text = format_table(res, paper={"P": 0.905, "R": 0.762, "F1": 0.794})
    lines = text.splitlines()
    assert lines[0] == "| metric | per-query | macro | paper |"
    row = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[2:] if line.startswith("| ")}
    assert row["P@1"] == ["0.667", "0.750", "0.905"]
    assert row["F1@3"][2] == "0.794"
    assert row["f1_of_means@1"][2] == ""  # the paper's F1 is not an F1 of means
    assert row["mAP"][0] == f"{223 / 270:.3f}"
    assert "macro" in lines[-1] and "Table 2" in lines[-1]


def test_format_table_named_columns_and_no_paper():
    res = retrieval_metrics(Q_CODES, Q_LABELS, DB_CODES, DB_LABELS, ks=(1,))
    text = format_table(res, paper={"HNN-Net 64": {"P@1": 0.9}, "GHashing 64": {"P": 0.828}})
    assert text.splitlines()[0] == "| metric | per-query | macro | HNN-Net 64 | GHashing 64 |"
    p_row = next(line for line in text.splitlines() if line.startswith("| P@1 "))
    assert p_row.rstrip().endswith("| 0.900 | 0.828 |")
    plain = format_table(res)
    assert plain.splitlines()[0] == "| metric | per-query | macro |"
    with pytest.raises(HNNError):
        format_table({"nothing": 1})


def spearman_no_ties(x, y):
    """1 - 6 sum d^2 / (n (n^2 - 1)), valid when neither input has ties."""
    n = len(x)
    rx = np.argsort(np.argsort(x))
    ry = np.argsort(np.argsort(y))
    return 1 - 6 * float(np.sum((rx - ry) ** 2)) / (n * (n * n - 1))


def test_spearman_against_closed_form():
    rng = np.random.default_rng(3)
    x = rng.permutation(30).astype(float)
    y = x + rng.normal(0, 8, size=30)
    assert spearman_hamming_ged(x, y) == pytest.approx(spearman_no_ties(x, y))
    assert spearman_hamming_ged(x, 2 * x + 1) == pytest.approx(1.0)
    assert spearman_hamming_ged(x, -x) == pytest.approx(-1.0)


def test_spearman_per_query_averages_rows():
    h = np.array([[1, 2, 3, 4], [4, 3, 2, 1], [1, 1, 1, 1]])
    g = np.array([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]])
    # rows give +1, -1 and (constant row, skipped) -> mean 0
    assert spearman_hamming_ged(h, g, per_query=True) == pytest.approx(0.0)
    assert np.isnan(spearman_hamming_ged([1, 1, 1], [1, 2, 3]))


def test_spearman_refuses_bad_input():
    with pytest.raises(HNNError, match="shape"):
        spearman_hamming_ged([1, 2, 3], [1, 2])
    with pytest.raises(HNNError):
        spearman_hamming_ged([1], [1])
    with pytest.raises(HNNError):
        spearman_hamming_ged([1, 2, 3], [1, 2, 3], per_query=True)
    with pytest.raises(HNNError):
        spearman_hamming_ged([1, np.nan], [1, 2])
