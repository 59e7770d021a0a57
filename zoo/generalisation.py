"""Leave-family-out evaluation of hashers on the broad zoo (issue protocol; results/generalisation.md).

The paper's protocol queries 10%-deleted copies of models the database holds; it cannot show
whether a hasher generalises to architectures it never saw. Here the broad zoo's distinct
architectures (:attr:`hnn_tf.zoo.broad.BroadZoo.architectures`, canonical graphs with the
``canonical`` recipe's merge rules) are split by *family* into K folds (seeded); for each
fold, a method gets the other folds' models to train on (if it trains) and codes every model;
the fold's models are then the held-out ones. Per fold (and as mean and std over folds):

- ``map`` / ``p_at_1``: held-out family retrieval. Each held-out model of a family with at
  least 2 models queries all other codes (training and held-out); relevant = same family;
  ties in Hamming distance are broken by a seeded permutation.
- ``false_flags``: the share of held-out models with a training-family model within the
  check threshold, the threshold calibrated on the training folds only, as ``hnn check``'s is
  on the whole zoo (:func:`hnn_tf.zoo.calibration.calibrate_broad`): the threshold of best
  pair F1 of ``DELETE`` copies against other families (:func:`copy_threshold`), capped at the
  largest T at which at most :data:`FLAG_RATE` of the training models have a model of another
  training family within T (:func:`hnn_tf.index.threshold.false_flag_threshold`); per source too.
- ``check_recall_light`` / ``check_recall_copies``: at that threshold, the share of the
  training models' copies with one layer deleted (:func:`light_copies`) / with ``DELETE`` of
  their layers deleted that are within T of their source (what the check catches).
- ``f1_threshold`` / ``f1_threshold_false_flags``: the earlier rule, the best-F1 threshold
  without the cap, and the held-out false flags at it, for comparison.
- ``variants_top1``: each augmented copy (``COPIES`` per training model, ``DELETE`` of its
  nodes deleted, paper 4.1.3) queries the original codes; top-1 of its own family.
- ``cross_collisions``: pairs of different architectures of different families with
  identical codes; ``within_collisions``: the share of within-family pairs with identical codes.
- ``spearman_all`` / ``spearman_within``: Spearman correlation between Hamming distance and
  the Weisfeiler-Lehman kernel distance (1 - cosine of the subtree-label count vectors,
  :func:`hnn_tf.wl_hash.subtree_counts`), over a seeded sample of pairs.
- ``constant_bits``: share of bits constant over the zoo; ``bit_correlation``: mean absolute
  pairwise correlation between bits.

Methods are registered in :data:`METHODS` (name -> function from a :class:`Fold` to codes);
``wl-simhash`` (no training), ``wl-sized`` (its sized label scheme, :mod:`hnn_tf.wl_hash`),
``paper-hnn`` (the package's HNN-Net hasher, ``--hasher hnn``, trained on the paper zoo only), and the trained ones (:func:`fit_hasher`): ``structural``
(:mod:`hnn_tf.objectives.structural`),
``structural-wl`` (the same objective on the network with its WL branch, which starts as a
WL-SimHash), ``structural-wl-bounded`` (that branch frozen, the GCN branch's share bounded),
``hnn-net`` and ``ghashing`` (the paper's objective and the GHashing baseline), each trained
per fold on the training families' models and their augmented copies, with the WL kernel
distance as the structural target (scaled to the GED cap R for the paper's objectives: an
exact GED of graphs of thousands of layers is out of reach).
"""

from __future__ import annotations

import json
import random
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from hnn_tf.graph.layer_graph import LayerGraph

#: Folds, augmented copies per model and their deletion share, the seed, pairs sampled for Spearman.
K, COPIES, DELETE, SEED, SPEARMAN_PAIRS = 5, 2, 0.1, 0, 20000
#: The share of known (training) models the check threshold may flag against another family.
FLAG_RATE = 0.01


@dataclass
class Item:
    """One distinct architecture of the broad zoo.

    Attributes:
        key: ``source:name``; family, source: as the zoo records them; graph: the canonical
        graph with merge rules (what a ``canonical`` hasher reads).
    """

    key: str
    family: str
    source: str
    graph: LayerGraph


@dataclass
class Fold:
    """What a method sees for one fold: every item, which are for training, the augmented
    copies of the training items (graphs and the index of their source item; methods train on
    them) and their one-layer-deleted copies (:func:`light_copies`; only coded, never trained on)."""

    index: int
    items: list[Item]
    train: np.ndarray  # bool (N,)
    copies: list[LayerGraph]
    copy_of: np.ndarray  # int (C,)
    light: list[LayerGraph] = field(default_factory=list)
    light_of: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # int (L,)


def zoo_items(sources=None) -> list[Item]:
    """The broad zoo's distinct architectures from the cache (``hnn zoo build`` fills it)."""
    from hnn_tf.graph.recipes import get_recipe
    from hnn_tf.zoo.broad import DEFAULT_SOURCES, load_zoo

    recipe = get_recipe("canonical")
    zoo = load_zoo(sources or DEFAULT_SOURCES)
    return [Item(r.key, r.entry.family, r.entry.source, recipe.finish(r.graph)) for r in zoo.architectures]


def family_folds(items: list[Item], k: int = K, seed: int = SEED) -> list[set[str]]:
    """The families split into ``k`` folds of about equal model counts (seeded, greedy)."""
    sizes = Counter(it.family for it in items)
    fams = sorted(sizes)
    random.Random(seed).shuffle(fams)
    folds: list[set[str]] = [set() for _ in range(k)]
    load = [0] * k
    for f in sorted(fams, key=lambda f: -sizes[f]):  # stable: ties keep the shuffled order
        j = int(np.argmin(load))
        folds[j].add(f)
        load[j] += sizes[f]
    return folds


def augmented_copies(items: list[Item], train: np.ndarray, seed: int = SEED) -> tuple[list[LayerGraph], np.ndarray]:
    """``COPIES`` augmented copies of each training item of at least 3 layers, ``DELETE`` of its
    nodes deleted (paper 4.1.3; seeded per item and copy): (graphs, int (C,) index of each source item)."""
    from hnn_tf.zoo.dataset import delete_nodes

    graphs, owner = [], []
    for i in np.flatnonzero(train):
        g = items[i].graph
        if g.num_nodes < 3:
            continue
        tag = zlib.crc32(items[i].key.encode())
        for c in range(COPIES):
            graphs.append(delete_nodes(g, DELETE, np.random.default_rng([seed, tag, c])))
            owner.append(i)
    return graphs, np.asarray(owner, dtype=np.int64)


def light_copies(items: list[Item], train: np.ndarray, seed: int = SEED) -> tuple[list[LayerGraph], np.ndarray]:
    """One copy of each training item of at least 3 layers with a single layer deleted (seeded
    per item): the smallest structural edit, the check's positives. Returns (graphs, int (L,)
    index of each source item)."""
    from hnn_tf.zoo.dataset import delete_nodes

    graphs, owner = [], []
    for i in np.flatnonzero(train):
        g = items[i].graph
        if g.num_nodes >= 3:
            graphs.append(delete_nodes(g, 0.0, np.random.default_rng([seed, zlib.crc32(items[i].key.encode()), 1000])))
            owner.append(i)
    return graphs, np.asarray(owner, dtype=np.int64)


def _average_precision(dist_row: np.ndarray, relevant: np.ndarray, tiebreak: np.ndarray) -> tuple[float, float]:
    order = np.lexsort((tiebreak, dist_row))
    rel = relevant[order]
    hits = np.cumsum(rel)
    ap = float((hits[rel] / (np.flatnonzero(rel) + 1)).mean()) if rel.any() else 0.0
    return ap, float(rel[0])


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return 0.0
    return float(spearmanr(a, b).statistic)


def wl_vectors(graphs: list[LayerGraph], iterations: int = 3):
    """The WL subtree-label count vectors of the graphs (:func:`hnn_tf.wl_hash.subtree_counts`),
    each scaled to unit length: scipy CSR (G, labels), float64."""
    import scipy.sparse as sp

    from hnn_tf.wl_hash import subtree_counts

    index: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for r, g in enumerate(graphs):
        for lab, v in subtree_counts(g, iterations).items():
            rows.append(r)
            cols.append(index.setdefault(lab, len(index)))
            vals.append(float(v))
    x = sp.csr_matrix((vals, (rows, cols)), shape=(len(graphs), max(1, len(index))), dtype=np.float64)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.diags(1.0 / norms) @ x


def wl_kernel_distances(items: list[Item], pairs: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of the WL subtree-count vectors of each pair: float (P,)."""
    x = wl_vectors([it.graph for it in items]).tocsr()
    dots = np.asarray(x[pairs[:, 0]].multiply(x[pairs[:, 1]]).sum(axis=1)).ravel()
    return 1.0 - dots


def copy_threshold(copy_codes: np.ndarray, codes: np.ndarray, families: np.ndarray, copy_of: np.ndarray,
                   bits: int) -> dict[str, Any]:
    """The check threshold of best pair F1 (:func:`hnn_tf.index.threshold.best_f1_threshold`) over
    (augmented copy, model) pairs: positive = a copy and its source, negative = a copy and a
    model of another family; a copy and another model of its own family count as neither.

    Args:
        copy_codes: bool (C, Q); codes: bool (N, Q), the models'; families: (N,) the models'
            families; copy_of: int (C,), the index in ``codes`` of each copy's source.
        bits: Q.
    Returns:
        :func:`best_f1_threshold`'s dict.
    Raises:
        HNNError: no copies (no positive pair).
    """
    from hnn_tf.codes import hamming_matrix
    from hnn_tf.index.threshold import best_f1_threshold

    cd = hamming_matrix(copy_codes, codes) if len(copy_codes) else np.zeros((0, len(codes)), np.int64)
    pos = cd[np.arange(len(copy_of)), copy_of]
    neg = cd[families[None, :] != families[copy_of][:, None]]
    return best_f1_threshold(np.concatenate([pos, neg]),
                             np.concatenate([np.ones(len(pos), bool), np.zeros(len(neg), bool)]), bits)


def check_threshold(codes: np.ndarray, families: np.ndarray, copy_codes: np.ndarray, copy_of: np.ndarray,
                    bits: int) -> dict[str, Any]:
    """The broad zoo's ``hnn check`` threshold for known models with these codes: the best pair F1
    of copies against other families (:func:`copy_threshold`), capped at the largest T at which
    at most :data:`FLAG_RATE` of the models have a model of another family within T
    (:func:`hnn_tf.index.threshold.false_flag_threshold`). The rule of
    :func:`hnn_tf.zoo.calibration.calibrate_broad` and of the protocol's training folds.

    Args:
        codes: bool (N, Q), the known models'; families: (N,) their families.
        copy_codes: bool (C, Q), copies of known models; copy_of: int (C,), each copy's source
            (an index into ``codes``).
        bits: Q.
    Returns:
        dict with ``threshold`` (int), ``cap`` (the false-flag cap), ``f1_threshold`` (the uncapped
        best-F1 T), ``nearest_other`` (int (N,), each model's distance to its nearest model of
        another family, ``bits + 1`` where there is none) and ``curve`` (share flagged at each T).
    Raises:
        HNNError: no copies or no models.
    """
    from hnn_tf.codes import hamming_matrix
    from hnn_tf.index.threshold import false_flag_threshold

    nearest = np.where(families[:, None] == families[None, :], bits + 1, hamming_matrix(codes, codes)).min(axis=1)
    flags = false_flag_threshold(nearest, bits, FLAG_RATE)
    cap = int(flags["threshold"])
    t_f1 = int(copy_threshold(copy_codes, codes, families, copy_of, bits)["threshold"])
    return {"threshold": min(cap, t_f1), "cap": cap, "f1_threshold": t_f1, "nearest_other": nearest,
            "curve": flags["curve"]}


def caught(copy_codes: np.ndarray | None, codes: np.ndarray, copy_of: np.ndarray, threshold: int) -> float:
    """The share of copies (bool (C, Q)) within ``threshold`` bits of their source
    (``codes[copy_of]``): what the check catches; NaN without copies."""
    if copy_codes is None or not len(copy_codes):
        return float("nan")
    return float((np.count_nonzero(copy_codes != codes[copy_of], axis=1) <= threshold).mean())


def fold_metrics(fold: Fold, codes: np.ndarray, copy_codes: np.ndarray, pairs: np.ndarray,
                 wl_dist: np.ndarray, seed: int = SEED, light_codes: np.ndarray | None = None) -> dict[str, Any]:
    """The metrics of the module doc for one fold.

    Args:
        fold: the fold.
        codes: bool (N, Q), the codes of ``fold.items``.
        copy_codes: bool (C, Q), the codes of ``fold.copies``.
        pairs: int (P, 2) item pairs for the Spearman figures; wl_dist: their WL distances.
        seed: the tie-break seed.
        light_codes: bool (L, Q), the codes of ``fold.light`` (``check_recall_light`` is NaN without).
    Returns:
        JSON-ready dict of the metrics (floats; ``false_flags_by_source`` a dict; ``flag_curve``
        the held-out false flags at each threshold 0..Q).
    """
    from hnn_tf.codes import hamming_matrix

    items, train = fold.items, fold.train
    n, bits = codes.shape
    fam = np.array([it.family for it in items])
    src = np.array([it.source for it in items])
    dist = hamming_matrix(codes, codes)
    tiebreak = np.random.default_rng(seed).permutation(n)
    held = np.flatnonzero(~train)
    fam_size = Counter(fam.tolist())
    aps, p1 = [], []
    for q in held:
        if fam_size[fam[q]] < 2:
            continue
        mask = np.arange(n) != q
        ap, top = _average_precision(dist[q, mask], (fam == fam[q])[mask], tiebreak[mask])
        aps.append(ap)
        p1.append(top)
    # the check threshold, calibrated on the training folds only
    tr_idx = np.flatnonzero(train)
    calib = check_threshold(codes[train], fam[tr_idx], copy_codes, np.searchsorted(tr_idx, fold.copy_of), bits)
    t, t_f1 = calib["threshold"], calib["f1_threshold"]
    held_near = dist[np.ix_(held, tr_idx)].min(axis=1) if len(tr_idx) else np.full(len(held), bits + 1)
    near = held_near <= t
    per_source = {s: float(near[src[held] == s].mean()) for s in sorted(set(src[held].tolist()))}
    # variants: each copy's top-1 among the original codes (the database holds its source model)
    if len(copy_codes):
        vd = hamming_matrix(copy_codes, codes)
        vtb = np.random.default_rng(seed + 1).random(vd.shape)
        vd = vd.astype(np.float64) + 0.5 * vtb  # seeded tie-break inside one distance
        top1 = np.argmin(vd, axis=1)
        variants = float((fam[top1] == fam[fold.copy_of]).mean())
    else:
        variants = float("nan")
    iu = np.triu_indices(n, 1)
    same_code = dist[iu] == 0
    same_fam = fam[iu[0]] == fam[iu[1]]
    within_pairs = int(same_fam.sum())
    hd = dist[pairs[:, 0], pairs[:, 1]]
    within = fam[pairs[:, 0]] == fam[pairs[:, 1]]
    c = codes.astype(np.float64)
    std = c.std(axis=0)
    live = std > 0
    corr = np.corrcoef(c[:, live].T) if live.sum() > 1 else np.ones((1, 1))
    off = ~np.eye(len(corr), dtype=bool)
    return {
        "fold": fold.index, "held_out_models": int(len(held)), "train_models": int(train.sum()),
        "queries": len(aps), "map": float(np.mean(aps)) if aps else float("nan"),
        "p_at_1": float(np.mean(p1)) if p1 else float("nan"),
        "threshold": t, "false_flags": float(near.mean()) if len(near) else float("nan"),
        "false_flags_by_source": per_source,
        "check_recall_light": caught(light_codes, codes, fold.light_of, t),
        "check_recall_copies": caught(copy_codes, codes, fold.copy_of, t),
        "f1_threshold": t_f1, "f1_threshold_false_flags": float((held_near <= t_f1).mean()) if len(held) else float("nan"),
        "variants_top1": variants,
        "cross_collisions": int((same_code & ~same_fam).sum()),
        "within_collisions": float((same_code & same_fam).sum() / within_pairs) if within_pairs else 0.0,
        "spearman_all": _spearman(hd, wl_dist), "spearman_within": _spearman(hd[within], wl_dist[within]),
        "constant_bits": float(1.0 - live.mean()),
        "bit_correlation": float(np.abs(corr[off]).mean()) if off.any() else 0.0,
        "flag_curve": [float((held_near <= x).mean()) for x in range(bits + 1)],
    }


# --------------------------------------------------------------------------- methods

_ITEM_CODES: dict = {}
#: What a method gives for a fold: bool codes of the items (N, Q), of the augmented copies
#: (C, Q) and of the one-layer-deleted copies (L, Q), and the hasher's version.
Coded = tuple[np.ndarray, np.ndarray, np.ndarray, str]


def _encode(hasher, graphs: list[LayerGraph]) -> np.ndarray:
    return hasher.encode(graphs) if graphs else np.zeros((0, hasher.bits), bool)


def _fixed(name: str, make) -> Callable[[Fold], Coded]:
    """A method that does not train: the items' codes are the same in every fold (computed once)."""

    def run(fold: Fold) -> Coded:
        h = make()
        key = (name, id(fold.items))
        if key not in _ITEM_CODES:
            _ITEM_CODES.clear()
            _ITEM_CODES[key] = h.encode([it.graph for it in fold.items])
        return _ITEM_CODES[key], _encode(h, fold.copies), _encode(h, fold.light), h.version

    return run


def _wl_hasher():
    from hnn_tf.wl_hash import WLHasher

    return WLHasher()


def _wl_sized_hasher():
    from hnn_tf.wl_hash import WLConfig, WLHasher

    return WLHasher(WLConfig(scheme=2))


def _paper_hasher():
    from hnn_tf.hashing import load_hasher

    return load_hasher(64, "hnn")


def wl_kernel_matrix(graphs: list[LayerGraph], iterations: int = 3) -> np.ndarray:
    """All pairwise Weisfeiler-Lehman kernel distances (1 - cosine of :func:`wl_vectors`):
    float32 (G, G), zero diagonal, in [0, 1]. Source: scipy.sparse products."""
    x = wl_vectors(graphs, iterations)
    d = 1.0 - (x @ x.T).toarray()
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0.0, 1.0).astype(np.float32)


#: Training settings of the trained methods on the broad zoo (epochs are capped by early stopping).
TRAIN_EPOCHS, TRAIN_PATIENCE, TRAIN_MIN_EPOCHS = 40, 6, 20


#: Network settings of the broad-zoo objectives (:class:`hnn_tf.model.HasherConfig` fields):
#: log attention pooling for graphs of thousands of layers, batches of 32 pairs and a bit
#: balance/decorrelation weight of 10 (at 1, a third of the bits were constant on fold 0).
BROAD_SETTINGS = {"structural": {"pooling": "attention-log", "batch_pairs": 32, "delta": 10.0, "gamma": 0.05}}
#: ``structural-wl``: the same, with the network's Weisfeiler-Lehman branch (2^14 slots,
#: :class:`hnn_tf.model.WLProjection`): the code starts as a WL-SimHash and is trained from there.
BROAD_SETTINGS["structural-wl"] = {**BROAD_SETTINGS["structural"], "wl_buckets": 1 << 14}
#: ``structural-wl-bounded``: the WL projection frozen at its SimHash signs and the GCN branch
#: bounded to +-2 (``wl_residual``): it can flip only the bits the WL counts leave close to 0.
BROAD_SETTINGS["structural-wl-bounded"] = {**BROAD_SETTINGS["structural-wl"], "wl_frozen": True, "wl_residual": 2.0}


def fit_hasher(items: list[Item], train: np.ndarray, copies: list[LayerGraph], copy_of: np.ndarray,
               name: str = "structural-wl", seed: int = SEED, progress: bool = False):
    """Train a hasher of the broad-zoo method ``name`` on the ``train`` items and their augmented copies.

    Labels are the families; the structural target is the WL kernel distance of every pair
    (:func:`wl_kernel_matrix`), scaled to the GED cap R for the paper's objectives (``hnn-net``,
    ``ghashing``: an exact GED of graphs of thousands of layers is out of reach). The network
    settings are :data:`BROAD_SETTINGS` of ``name``; epochs, patience and minimum epochs are
    :data:`TRAIN_EPOCHS`, :data:`TRAIN_PATIENCE`, :data:`TRAIN_MIN_EPOCHS`.

    Args:
        items: the zoo's architectures; train: bool (N,), which of them to train on.
        copies: augmented copies of training items (:func:`augmented_copies`); copy_of: int (C,),
            the index in ``items`` of each copy's source.
        name: a trained method of :data:`TRAINED` (``structural-wl``, ``structural``, ``hnn-net``, ``ghashing``).
        seed: the training seed; progress: show a progress bar per epoch.
    Returns:
        the trained :class:`hnn_tf.hasher.Hasher` (64 bits, ``canonical`` graphs).
    Raises:
        KeyError: an unknown method.
    """
    from hnn_tf.model import HasherConfig
    from hnn_tf.train import train_hasher

    method = TRAINED[name]
    tr = np.flatnonzero(train)
    graphs = [items[i].graph for i in tr] + list(copies)
    fams = sorted({items[i].family for i in tr})
    fid = {f: k for k, f in enumerate(fams)}
    labels = np.array([fid[items[i].family] for i in tr] + [fid[items[i].family] for i in copy_of])
    target = wl_kernel_matrix(graphs)
    config = HasherConfig(bits=64, num_classes=len(fams), variant="canonical", method=method,
                          epochs=TRAIN_EPOCHS, seed=seed, categories=tuple(fams), **BROAD_SETTINGS.get(name, {}))
    if method in ("hnn", "ghashing"):
        target = target * config.ged_cap  # the paper's objectives regress a GED capped at R
    hasher, _ = train_hasher(graphs, labels, config, target, progress=progress, patience=TRAIN_PATIENCE,
                             min_epochs=TRAIN_MIN_EPOCHS)
    return hasher


def _trained(name: str) -> Callable[[Fold], Coded]:
    """A method that trains a hasher (:func:`fit_hasher` of ``name``) on the fold's training items
    and their augmented copies, seeded by the fold, then codes every item and copy."""

    def run(fold: Fold) -> Coded:
        hasher = fit_hasher(fold.items, fold.train, fold.copies, fold.copy_of, name, SEED + fold.index)
        return (hasher.encode([it.graph for it in fold.items]), _encode(hasher, fold.copies),
                _encode(hasher, fold.light), hasher.version)

    return run


#: Trained methods: name -> training objective (:data:`hnn_tf.objectives.OBJECTIVES`).
TRAINED = {"structural": "structural", "structural-wl": "structural", "structural-wl-bounded": "structural",
           "hnn-net": "hnn", "ghashing": "ghashing"}


#: Method name -> function(fold) -> :data:`Coded`.
METHODS: dict[str, Callable[[Fold], Coded]] = {
    "wl-simhash": _fixed("wl-simhash", _wl_hasher), "wl-sized": _fixed("wl-sized", _wl_sized_hasher),
    "paper-hnn": _fixed("paper-hnn", _paper_hasher),
    **{name: _trained(name) for name in TRAINED},
}


def evaluate(methods=("wl-simhash", "paper-hnn"), items: list[Item] | None = None, k: int = K, seed: int = SEED,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every method on every fold; returns the JSON-ready results (per fold, mean and std).

    Raises:
        KeyError: an unknown method.
        ValueError: fewer than ``k`` families.
    """
    say = log or (lambda m: None)
    items = items if items is not None else zoo_items()
    folds = family_folds(items, k, seed)
    if sum(1 for f in folds if f) < k:
        raise ValueError(f"need at least {k} families, have {len({it.family for it in items})}")
    rng = np.random.default_rng(seed)
    n = len(items)
    pairs = rng.integers(0, n, size=(SPEARMAN_PAIRS * 2, 2))
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)[:SPEARMAN_PAIRS]
    say(f"WL kernel distances of {len(pairs)} pairs")
    wl_dist = wl_kernel_distances(items, pairs)
    say("what the family labels allow (exact WL kernel)")
    out: dict[str, Any] = {**evaluation_header(items, k, seed), "ceiling": ground_truth_ceiling(items, folds, seed),
                           "methods": {}}
    for name in methods:
        fn = METHODS[name]
        per_fold = []
        version = ""
        for j, fams in enumerate(folds):
            train = np.array([it.family not in fams for it in items])
            copies, owner = augmented_copies(items, train, seed + j)
            fold = Fold(j, items, train, copies, owner, *light_copies(items, train, seed + j))
            say(f"{name}: fold {j + 1}/{k} ({int((~train).sum())} held out)")
            codes, copy_codes, light_codes, version = fn(fold)
            per_fold.append(fold_metrics(fold, codes, copy_codes, pairs, wl_dist, seed, light_codes))
        out["methods"][name] = {"version": version, "folds": per_fold, "summary": summarise(per_fold)}
    return out


def ground_truth_ceiling(items: list[Item], folds: list[set[str]], seed: int = SEED) -> dict[str, float]:
    """What the family labels leave reachable to a hash of the structure, measured with no hash at all.

    The Weisfeiler-Lehman kernel distance (:func:`wl_kernel_matrix`, exact, not a 64-bit code)
    ranks the zoo as a structural code at best could if it followed that kernel:

    - ``wl_kernel_map`` / ``wl_kernel_p_at_1``: the held-out family retrieval of the module doc
      (per fold, then the mean), ranked by the exact kernel distance;
    - ``twins``: the share of architectures with an architecture of another family at kernel
      distance 0 (the same subtree counts at every depth: no structural hash that reads what the
      kernel reads can tell them apart);
    - ``copy_distance``: the median kernel distance of a ``DELETE`` copy from its source;
      ``nearer_than_copy``: the share of architectures with another family's architecture nearer
      than that (a threshold that catches half the copies flags at least those).

    Returns:
        the figures above (floats; shares in [0, 1]).
    """
    graphs = [it.graph for it in items]
    copies, owner = augmented_copies(items, np.ones(len(items), bool), seed)
    x = wl_vectors(graphs + copies)
    xi, xc = x[: len(items)], x[len(items):]
    d = np.clip(1.0 - (xi @ xi.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(d, 0.0)
    copy_d = np.clip(1.0 - np.asarray(xc.multiply(xi[owner]).sum(axis=1)).ravel(), 0.0, 2.0)
    fam = np.array([it.family for it in items])
    other = np.where(fam[:, None] == fam[None, :], np.inf, d).min(axis=1)
    size = Counter(fam.tolist())
    tiebreak = np.random.default_rng(seed).permutation(len(items))
    maps, p1s = [], []
    for fams in folds:
        aps, p1 = [], []
        for q in np.flatnonzero([f in fams and size[f] >= 2 for f in fam]):
            mask = np.arange(len(items)) != q
            ap, top = _average_precision(d[q, mask], (fam == fam[q])[mask], tiebreak[mask])
            aps.append(ap)
            p1.append(top)
        if aps:
            maps.append(np.mean(aps))
            p1s.append(np.mean(p1))
    med = float(np.median(copy_d)) if len(copy_d) else float("nan")
    return {"wl_kernel_map": float(np.mean(maps)), "wl_kernel_p_at_1": float(np.mean(p1s)),
            "twins": float((other <= 1e-6).mean()), "copy_distance": med,
            "nearer_than_copy": float((other < med).mean())}


def items_digest(items: list[Item]) -> str:
    """sha256 (16 hex digits) of the items' keys, families and graph fingerprints, in order: two
    evaluations with equal digests, folds and seed ran on the same folds and pairs."""
    import hashlib

    h = hashlib.sha256()
    for it in items:
        h.update(f"{it.key}|{it.family}|{it.graph.fingerprint()}\n".encode())
    return h.hexdigest()[:16]


def evaluation_header(items: list[Item], k: int, seed: int) -> dict[str, Any]:
    """What an evaluation ran on, as its report records it: item, family and per-source counts,
    :func:`items_digest`, folds and seed (what :func:`merge_results` compares)."""
    return {"items": len(items), "families": len({it.family for it in items}), "k": k, "seed": seed,
            "sources": dict(Counter(it.source for it in items)), "zoo": items_digest(items)}


def merge_results(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The methods of ``previous`` with those of ``new`` added (a method in both: ``new``'s).

    Both must come from one zoo, fold count and seed, so every method saw the same folds,
    pairs and copies (an evaluation of several methods is long; adding one should not rerun
    the others).

    Raises:
        ValueError: the two differ in zoo (items digest where both have one, else item,
            family and per-source counts), folds or seed.
    """
    keys = ["items", "families", "k", "seed", "sources"] + (["zoo"] if "zoo" in previous and "zoo" in new else [])
    differ = [k for k in keys if previous.get(k) != new.get(k)]
    if differ:
        raise ValueError(f"the earlier results come from another zoo or protocol ({', '.join(differ)} differ); "
                         "run every method again")
    return {**previous, **{k: new[k] for k in new if k != "methods"},
            "methods": {**previous.get("methods", {}), **new["methods"]}}


def summarise(per_fold: list[dict]) -> dict[str, dict[str, float]]:
    """Mean and std over folds of every scalar metric (false flags per source included)."""
    keys = [k for k, v in per_fold[0].items() if isinstance(v, (int, float)) and k != "fold"]
    out = {k: {"mean": float(np.nanmean([f[k] for f in per_fold])), "std": float(np.nanstd([f[k] for f in per_fold]))}
           for k in keys}
    by_source: dict[str, list[float]] = defaultdict(list)
    for f in per_fold:
        for s, v in f["false_flags_by_source"].items():
            by_source[s].append(v)
    for s, v in by_source.items():
        out[f"false_flags[{s}]"] = {"mean": float(np.mean(v)), "std": float(np.std(v))}
    return out


ROWS = [("map", "held-out family mAP", "max"), ("p_at_1", "held-out family P@1", "max"),
        ("false_flags", "false flags (held-out, calibrated threshold)", "min"),
        ("check_recall_light", "check recall: one layer deleted", "max"),
        ("check_recall_copies", "check recall: 10% of layers deleted", "max"),
        ("variants_top1", "known-family variants top-1", "max"),
        ("cross_collisions", "cross-family collisions (pairs)", "min"),
        ("within_collisions", "within-family collisions (share of pairs)", "min"),
        ("spearman_all", "Spearman(Hamming, WL distance), all pairs", "max"),
        ("spearman_within", "Spearman, within families", "max"),
        ("constant_bits", "constant bits (share)", "min"), ("bit_correlation", "mean |bit correlation|", "min"),
        ("threshold", "calibrated threshold (bits)", None),
        ("f1_threshold", "earlier rule: best-F1 threshold of 10% copies (bits)", None),
        ("f1_threshold_false_flags", "earlier rule: false flags at it", "min")]


def report_markdown(results: dict[str, Any]) -> str:
    """``results/generalisation.md``: the table of means and stds, per-source false flags."""
    methods = list(results["methods"])
    lines = ["# Leave-family-out generalisation on the broad zoo", "",
             f"{results['items']} distinct architectures in {results['families']} families "
             f"({', '.join(f'{s}: {c}' for s, c in sorted(results['sources'].items()))}); "
             f"{results['k']} family folds, seed {results['seed']}; protocol in hnn_tf/zoo/generalisation.py.", "",
             "| metric | " + " | ".join(methods) + " |", "| --- |" + " --- |" * len(methods)]
    for key, label, _ in ROWS:
        cells = []
        for m in methods:
            s = results["methods"][m]["summary"].get(key)
            cells.append("-" if s is None else f"{s['mean']:.3f} ± {s['std']:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    srcs = sorted({k[len("false_flags["):-1] for m in methods for k in results["methods"][m]["summary"]
                   if k.startswith("false_flags[")})
    for s in srcs:
        cells = [f"{results['methods'][m]['summary'].get(f'false_flags[{s}]', {}).get('mean', float('nan')):.3f}"
                 for m in methods]
        lines.append(f"| false flags, {s} | " + " | ".join(cells) + " |")
    lines += ["", "Check threshold (on the training folds): the best pair F1 of 10% copies against other "
              f"families, capped at the largest T at which at most {FLAG_RATE:.0%} of the training models have a "
              "model of another training family within T bits (0 where identical codes already exceed it).", ""]
    c = results.get("ceiling")
    if c:
        lines += ["## What the family labels allow", "",
                  "Measured with no hash at all, on the exact Weisfeiler-Lehman kernel distance:", "",
                  f"- held-out family mAP {c['wl_kernel_map']:.3f}, P@1 {c['wl_kernel_p_at_1']:.3f} when ranked by "
                  "the exact kernel (the families are timm/torchvision/Keras modules and transformers model "
                  "types; one module can hold unrelated designs, and one design can sit in several modules);",
                  f"- {c['twins']:.1%} of the architectures have an architecture of another family with the very "
                  "same subtree counts (kernel distance 0);",
                  f"- a copy with 10% of its layers deleted lies at median kernel distance {c['copy_distance']:.3f} "
                  f"from its source; {c['nearer_than_copy']:.1%} of the architectures have another family's "
                  "architecture nearer than that.", ""]
    lines += ["Versions: " + "; ".join(f"{m}: {results['methods'][m]['version']}" for m in methods), ""]
    return "\n".join(lines)


def flag_figure(results: dict[str, Any], path) -> None:
    """The false-flag rate of held-out models against the threshold, one line per method (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for m, r in results["methods"].items():
        curves = np.array([f["flag_curve"] for f in r["folds"]])
        ax.plot(np.arange(curves.shape[1]), curves.mean(axis=0), label=m)
        t = r["summary"]["threshold"]["mean"]
        ax.axvline(t, ls=":", lw=0.8, color=ax.lines[-1].get_color())
    ax.set_xlabel("threshold (Hamming distance, bits)")
    ax.set_ylabel("held-out models flagged")
    ax.set_title("false flags vs threshold (dotted: calibrated)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(results: dict[str, Any], folder) -> list:
    """Write ``generalisation.json``, ``.md`` and ``generalisation_flags.png`` into ``folder``."""
    from pathlib import Path

    from hnn_tf.safe_io import atomic_write

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    paths = [atomic_write(d / "generalisation.json", json.dumps(results, indent=1)),
             atomic_write(d / "generalisation.md", report_markdown(results))]
    flag_figure(results, d / "generalisation_flags.png")
    return [*paths, d / "generalisation_flags.png"]
