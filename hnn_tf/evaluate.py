"""Retrieval evaluation of paper section 4.1.4 and Table 2.

The paper retrieves, for each query model, the top-k database models of smallest Hamming
distance and reports precision, recall and F1 (section 4.1.4, Table 2); a database model is
relevant to a query when both belong to the same category (Table 1). The paper does not
say how it averages: its F1 is not the harmonic mean of its P and R (64 bits: P 0.905,
R 0.762, F1 0.794, harmonic mean 0.827), so the figures are means of per-query (or
per-category) values. :func:`retrieval_metrics` therefore reports both

* ``per_query``: the mean over queries, and
* ``macro``: the mean over categories of the mean over that category's queries,

and, for comparison, ``f1_of_means@k``: the harmonic mean of the averaged P and R, which
is *not* what the paper's F1 is. GHashing's rank correlation between code distance and
graph edit distance is :func:`spearman_hamming_ged`.

Everything here is numpy/scipy only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from hnn_tf.errors import HNNError
from hnn_tf.codes import hamming_matrix

__all__ = [
    "rank_by_hamming",
    "retrieval_metrics",
    "format_table",
    "spearman_hamming_ged",
    "radius_metrics",
    "choose_radius",
    "topk_ceiling",
]


def rank_by_hamming(query_codes: Any, db_codes: Any) -> np.ndarray:
    """Order the database by Hamming distance to each query (paper 4.1.4).

    Ties are broken by database index (a stable sort), so the result is deterministic and
    depends on the order in which the database is given.

    Args:
        query_codes: shape (Nq, Q), bool or 0/1 numbers.
        db_codes: shape (Ndb, Q), same Q.

    Returns:
        np.ndarray of shape (Nq, Ndb), dtype int64: row i lists database indices from the
        nearest to the farthest code from query i.

    Raises:
        HashError: bad code arrays or different bit lengths (from :func:`hamming_matrix`).
    """
    dist = hamming_matrix(query_codes, db_codes)
    return np.argsort(dist, axis=1, kind="stable").astype(np.int64, copy=False)


def _label_ids(query_labels: Sequence[Hashable], db_labels: Sequence[Hashable]):
    """Map labels to integer ids shared by queries and database (Python ``==`` on labels).

    Returns:
        (qid, dbid, categories): (Nq,) and (Ndb,) int64 ids, and the list of distinct
        query labels in order of first appearance (their ids are 0..C-1).
    """
    ids: dict[Hashable, int] = {}
    try:
        qid = np.array([ids.setdefault(lab, len(ids)) for lab in query_labels], dtype=np.int64)
        categories = list(ids)
        dbid = np.array([ids.setdefault(lab, len(ids)) for lab in db_labels], dtype=np.int64)
    except TypeError as exc:  # unhashable label
        raise HNNError(f"labels must be hashable (str or int): {exc}") from None
    return qid, dbid, categories


def retrieval_metrics(
    query_codes: Any,
    query_labels: Sequence[Hashable],
    db_codes: Any,
    db_labels: Sequence[Hashable],
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, Any]:
    """Top-k retrieval quality of codes (paper 4.1.4, Table 2).

    For each query the database is ranked by Hamming distance (:func:`rank_by_hamming`,
    ties by database index); a database item is relevant when its label equals the
    query's label. With ``hits@k`` the number of relevant items in the top k and ``G`` the
    number of relevant items in the whole database:

    * ``P@k = hits@k / k``; ``R@k = hits@k / G``;
    * ``F1@k`` = the harmonic mean of *that query's* P@k and R@k (0 when both are 0);
    * ``mAP`` = mean of average precision over the full ranking,
      ``AP = (1/G) * sum over relevant ranks r of P@r``;
    * ``mAP@k`` = mean of ``AP@k = (1/min(k, G)) * sum over relevant ranks r <= k of P@r``.

    A query with no relevant database item (G = 0) gets R, F1, AP and AP@k of 0 (P is 0
    anyway); how many there were is reported as ``queries_without_relevant``.

    Each metric is averaged two ways: ``per_query`` (mean over queries) and ``macro``
    (per category of the query label, the mean over its queries; then the mean over
    categories). Each block also has ``f1_of_means@k``, the harmonic mean of that block's
    averaged P@k and R@k, to show that it differs from the averaged F1@k the paper reports.

    Args:
        query_codes: shape (Nq, Q), bool or 0/1 numbers.
        query_labels: length Nq, hashable category labels (str or int).
        db_codes: shape (Ndb, Q), same Q.
        db_labels: length Ndb, labels comparable with the query labels.
        ks: cut-offs, each an int with 1 <= k <= Ndb.

    Returns:
        A JSON-serialisable dict::

            {"per_query": {"P@1": float, "R@1": ..., "F1@1": ..., "mAP@1": ...,
                           "f1_of_means@1": ..., ..., "mAP": float},
             "macro": {same keys},
             "per_category": {str(label): {same keys except f1_of_means, "num_queries": int}},
             "ks": [int, ...], "num_queries": Nq, "num_database": Ndb,
             "num_categories": C, "queries_without_relevant": int}

    Raises:
        HashError: bad code arrays or different bit lengths.
        HNNError: label counts that do not match the codes, empty query or database set,
            unhashable labels, or a k outside 1..Ndb.
    """
    order = rank_by_hamming(query_codes, db_codes)
    nq, ndb = order.shape
    query_labels = list(query_labels)
    db_labels = list(db_labels)
    if len(query_labels) != nq:
        raise HNNError(f"{len(query_labels)} query labels for {nq} query codes")
    if len(db_labels) != ndb:
        raise HNNError(f"{len(db_labels)} database labels for {ndb} database codes")
    if nq == 0 or ndb == 0:
        raise HNNError(f"need at least one query and one database code (got {nq} and {ndb})")
    ks = list(ks)
    if not ks:
        raise HNNError("ks is empty")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= ndb:
            raise HNNError(f"k={k!r} must be an integer in 1..{ndb} (the database size)")
    ks = [int(k) for k in ks]

    qid, dbid, categories = _label_ids(query_labels, db_labels)
    relevant = np.take_along_axis(qid[:, None] == dbid[None, :], order, axis=1)  # (Nq, Ndb)
    n_rel = relevant.sum(axis=1)  # G per query
    has_rel = n_rel > 0
    safe_rel = np.where(has_rel, n_rel, 1)
    hits = np.cumsum(relevant, axis=1)  # hits[:, r-1] = relevant items in the top r
    prec_at_rank = hits / np.arange(1, ndb + 1)
    gain = np.where(relevant, prec_at_rank, 0.0)

    per_query: dict[str, np.ndarray] = {}
    for k in ks:
        p = hits[:, k - 1] / k
        r = np.where(has_rel, hits[:, k - 1] / safe_rel, 0.0)
        denom = p + r
        per_query[f"P@{k}"] = p
        per_query[f"R@{k}"] = r
        per_query[f"F1@{k}"] = np.where(denom > 0, 2 * p * r / np.where(denom > 0, denom, 1), 0.0)
        per_query[f"mAP@{k}"] = np.where(
            has_rel, gain[:, :k].sum(axis=1) / np.minimum(k, safe_rel), 0.0
        )
    per_query["mAP"] = np.where(has_rel, gain.sum(axis=1) / safe_rel, 0.0)

    def block(means: dict[str, float]) -> dict[str, float]:
        out = dict(means)
        for k in ks:
            p, r = means[f"P@{k}"], means[f"R@{k}"]
            out[f"f1_of_means@{k}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
        return out

    per_category: dict[str, dict[str, Any]] = {}
    cat_means = []
    for c, label in enumerate(categories):
        mask = qid == c
        means = {name: float(v[mask].mean()) for name, v in per_query.items()}
        cat_means.append(means)
        per_category[str(label)] = {**means, "num_queries": int(mask.sum())}

    return {
        "per_query": block({name: float(v.mean()) for name, v in per_query.items()}),
        "macro": block({name: float(np.mean([m[name] for m in cat_means])) for name in per_query}),
        "per_category": per_category,
        "ks": ks,
        "num_queries": int(nq),
        "num_database": int(ndb),
        "num_categories": len(categories),
        "queries_without_relevant": int((~has_rel).sum()),
    }


def _paper_columns(paper: Mapping[str, Any] | None) -> list[tuple[str, Mapping[str, Any]]]:
    """Normalise ``paper`` to a list of (column title, {metric: value})."""
    if not paper:
        return []
    if all(isinstance(v, Mapping) for v in paper.values()):
        return [(str(name), col) for name, col in paper.items()]
    return [("paper", paper)]


def format_table(results: Mapping[str, Any], paper: Mapping[str, Any] | None = None, digits: int = 3) -> str:
    """Render :func:`retrieval_metrics` output as a Markdown table.

    One row per metric (``P@k``, ``R@k``, ``F1@k``, ``f1_of_means@k``, ``mAP@k`` for each k,
    then ``mAP``), with columns ``per-query`` and ``macro``, then one column per paper
    reference, then a note line explaining the averages.

    Args:
        results: the dict returned by :func:`retrieval_metrics`.
        paper: reference figures shown beside the measured ones. Either one column,
            ``{"P": 0.905, "R": 0.762, "F1": 0.794}``, or several named columns,
            ``{"HNN-Net 64 bits": {...}, "GHashing 64 bits": {...}}``. A row ``P@5`` shows
            the value under key ``"P@5"`` if present, else under ``"P"`` (the paper does not
            state its k); rows with neither stay empty. ``f1_of_means`` rows never take
            the ``"F1"`` figure.
        digits: decimals shown.

    Returns:
        The table as a string (lines joined by ``\\n``, ending with the note line).

    Raises:
        HNNError: ``results`` lacks the ``per_query``/``macro``/``ks`` entries.
    """
    try:
        pq, macro, ks = results["per_query"], results["macro"], list(results["ks"])
    except (KeyError, TypeError):
        raise HNNError("results must be the dict returned by retrieval_metrics()") from None
    columns = _paper_columns(paper)
    rows = [f"{m}@{k}" for k in ks for m in ("P", "R", "F1", "f1_of_means", "mAP")] + ["mAP"]

    def fmt(v: Any) -> str:
        return "" if v is None else f"{float(v):.{digits}f}"

    header = ["metric", "per-query", "macro"] + [title for title, _ in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        base = row.split("@")[0]
        cells = [row, fmt(pq.get(row)), fmt(macro.get(row))]
        for _, col in columns:
            cells.append(fmt(col.get(row, col.get(base))))
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        f"{results.get('num_queries', '?')} queries, {results.get('num_database', '?')} database "
        "codes; relevant = same category; ranking by Hamming distance, ties by database index. "
        "per-query: mean over queries; macro: mean over categories of per-category means. "
        "F1@k is the mean of per-query F1; f1_of_means@k is the harmonic mean of the mean P@k "
        "and R@k."
    )
    if columns:
        note += " Paper figures: HNN-Net Table 2 (k not stated there), shown beside every k."
    lines += ["", note]
    return "\n".join(lines)


def spearman_hamming_ged(hamming: Any, ged: Any, per_query: bool = False) -> float:
    """Spearman rank correlation between code distances and graph edit distances.

    GHashing's (Qin et al., KDD 2020) ranking metric; computed with
    ``scipy.stats.spearmanr``. Higher is better (1 = codes order pairs exactly as GED does).

    Args:
        hamming: array of Hamming distances, any shape.
        ged: array of GED values of the same shape, pair for pair. For square all-pairs
            matrices pass the off-diagonal (e.g. upper-triangle) entries: the zero self
            distances otherwise inflate the correlation.
        per_query: if False, correlate all pairs at once (arrays are flattened). If True,
            both arrays must be 2-D (Nq, Ndb); the correlation is computed per row (per
            query) and averaged, skipping rows where either array is constant.

    Returns:
        float in [-1, 1]; NaN when an input is constant (or, with ``per_query``, when every
        row is).

    Raises:
        HNNError: shapes differ, fewer than 2 pairs (per row with ``per_query``), non-numeric
            or non-finite values, or ``per_query`` with non-2-D input.
    """
    from scipy.stats import spearmanr

    try:
        h = np.asarray(hamming, dtype=np.float64)
        g = np.asarray(ged, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise HNNError(f"hamming and ged must be numeric arrays ({exc})") from None
    if h.shape != g.shape:
        raise HNNError(f"hamming has shape {h.shape} but ged has shape {g.shape}")
    if not (np.isfinite(h).all() and np.isfinite(g).all()):
        raise HNNError("hamming and ged must be finite")

    def rho(a: np.ndarray, b: np.ndarray) -> float:
        if a.size < 2:
            raise HNNError(f"need at least 2 pairs for a rank correlation, got {a.size}")
        if np.all(a == a[0]) or np.all(b == b[0]):
            return float("nan")
        return float(spearmanr(a, b).statistic)

    if not per_query:
        return rho(h.ravel(), g.ravel())
    if h.ndim != 2:
        raise HNNError(f"per_query needs 2-D (Nq, Ndb) arrays, got shape {h.shape}")
    values = np.array([rho(h[i], g[i]) for i in range(h.shape[0])])
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def radius_metrics(
    query_codes: Any,
    query_labels: Sequence[Hashable],
    db_codes: Any,
    db_labels: Sequence[Hashable],
    radius: int,
    exclude_self: bool = False,
) -> dict[str, Any]:
    """Hamming-ball retrieval: every database code within ``radius`` of the query.

    GHashing's protocol (docs/method.md "GHashing") and the one ``hnn check`` uses: retrieved = {db items with
    Hamming distance <= radius}; per query P = |retrieved ∩ relevant| / |retrieved| (0 when
    nothing is retrieved), R = |retrieved ∩ relevant| / |relevant|, F1 = that query's harmonic
    mean. Unlike top-k, these can all reach 1 whatever the category sizes.

    Args:
        query_codes, db_codes: (Nq, Q) and (Ndb, Q) bool/0-1 codes.
        query_labels, db_labels: category labels (relevant = equal labels).
        radius: the Hamming radius, an int >= 0.
        exclude_self: the queries ARE the database (same order); item i does not retrieve itself.
    Returns:
        ``{"per_query": {"P", "R", "F1", "retrieved"}, "macro": {...}, "radius": r}`` (floats;
        ``retrieved`` is the mean number of retrieved items).
    Raises:
        HashError/HNNError: as :func:`retrieval_metrics`.
    """
    dist = hamming_matrix(query_codes, db_codes)
    qid, dbid, categories = _label_ids(list(query_labels), list(db_labels))
    relevant = qid[:, None] == dbid[None, :]
    inside = dist <= int(radius)
    if exclude_self:
        np.fill_diagonal(inside, False)
        np.fill_diagonal(relevant, False)
    hits = (inside & relevant).sum(axis=1)
    ret = inside.sum(axis=1)
    n_rel = relevant.sum(axis=1)
    p = np.where(ret > 0, hits / np.maximum(ret, 1), 0.0)
    r = np.where(n_rel > 0, hits / np.maximum(n_rel, 1), 0.0)
    f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    values = {"P": p, "R": r, "F1": f1, "retrieved": ret.astype(float)}
    macro = {
        name: float(np.mean([v[qid == c].mean() for c in range(len(categories)) if (qid == c).any()]))
        for name, v in values.items()
    }
    return {"per_query": {k: float(v.mean()) for k, v in values.items()}, "macro": macro, "radius": int(radius)}


def choose_radius(db_codes: Any, db_labels: Sequence[Hashable]) -> int:
    """The Hamming radius with the best mean per-query F1 on the database itself (leave-one-out).

    Chosen on the training codes only, never on the test queries. Ties go to the smaller radius.

    Returns:
        int in 0..Q.
    """
    codes = np.asarray(db_codes)
    best, best_f1 = 0, -1.0
    for radius in range(codes.shape[1] + 1):
        f1 = radius_metrics(codes, db_labels, codes, db_labels, radius, exclude_self=True)["per_query"]["F1"]
        if f1 > best_f1 + 1e-12:
            best, best_f1 = radius, f1
    return best


def topk_ceiling(query_labels: Sequence[Hashable], db_labels: Sequence[Hashable], k: int) -> dict[str, dict[str, float]]:
    """P@k, R@k, F1@k of a perfect ranking (every relevant item first): the protocol's ceiling.

    With G relevant database items, a perfect ranking gets P@k = min(k, G)/k and
    R@k = min(k, G)/G, so top-k figures are capped by the category sizes.

    Returns:
        ``{"per_query": {"P", "R", "F1"}, "macro": {...}}``.
    """
    qid, dbid, categories = _label_ids(list(query_labels), list(db_labels))
    g = np.array([(dbid == q).sum() for q in qid], dtype=float)
    p = np.minimum(k, g) / k
    r = np.where(g > 0, np.minimum(k, g) / np.maximum(g, 1), 0.0)
    f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    values = {"P": p, "R": r, "F1": f1}
    return {
        "per_query": {n: float(v.mean()) for n, v in values.items()},
        "macro": {n: float(np.mean([v[qid == c].mean() for c in range(len(categories))])) for n, v in values.items()},
    }
