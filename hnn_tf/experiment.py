"""The paper's experiment end to end (section 4): zoo -> graphs -> GED -> training -> Table 2.

``run_experiment`` is what ``make train`` / ``hnn train`` runs: it builds the data set of
paper 4.1.3 (raw or merged), computes the GED targets of the training pairs, trains the
hasher, encodes the train graphs (the database) and the test graphs (the queries) and
measures retrieval (paper 4.1.4) with :func:`hnn_tf.evaluate.retrieval_metrics`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The paper's Table 2, HNN-Net rows (P, R, F1), by (variant, Q).
PAPER_HNN_NET = {
    ("raw", 16): {"P": 0.475, "R": 0.351, "F1": 0.400},
    ("raw", 32): {"P": 0.881, "R": 0.714, "F1": 0.762},
    ("raw", 64): {"P": 0.905, "R": 0.762, "F1": 0.794},
    ("merged", 16): {"P": 0.452, "R": 0.333, "F1": 0.375},
    ("merged", 32): {"P": 0.905, "R": 0.762, "F1": 0.794},
    ("merged", 64): {"P": 0.905, "R": 0.762, "F1": 0.794},
}


@dataclass
class ExperimentResult:
    """What one training run produced: the hasher, its metrics and the timings (seconds)."""

    hasher: object
    metrics: dict
    timings: dict
    history: object
    config: dict


def run_experiment(
    variant: str = "merged",
    bits: int = 64,
    epochs: int = 200,
    seed: int = 0,
    ged_cap: float | None = None,
    progress: bool = True,
    log=print,
    method: str = "hnn",
) -> ExperimentResult:
    """Train and evaluate a hasher on the zoo (paper 4.1-4.2): HNN-Net, or another objective.

    Args:
        variant: ``"raw"`` or ``"merged"`` data (paper 4.2.1), or ``"canonical"``.
        bits: Q.
        epochs: training epochs (the paper: 200).
        seed: seed of training (the data set itself is fixed).
        ged_cap: R of L_topo (default :data:`hnn_tf.model.HasherConfig.ged_cap`).
        progress: show progress bars.
        log: where progress lines go.
        method: the training objective (:mod:`hnn_tf.objectives`; default HNN-Net).
    Returns:
        ExperimentResult with metrics as returned by ``retrieval_metrics`` (k = 1, 5, 10),
        plus ``metrics["same_model"]``: the same measures with relevant = the same zoo model.
    """
    from hnn_tf.evaluate import retrieval_metrics
    from hnn_tf.features import OpVocabulary
    from hnn_tf.model import HasherConfig
    from hnn_tf.train import ged_matrix, train_hasher
    from hnn_tf.zoo.dataset import cache_dir, split, zoo_dataset
    from hnn_tf.zoo.models import CATEGORIES

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = zoo_dataset(variant, progress=progress)
    train, test = split(data)
    timings["dataset_s"] = time.perf_counter() - t0
    log(f"data set ({variant}): {len(train)} train graphs, {len(test)} test graphs, {timings['dataset_s']:.1f} s")

    config = HasherConfig(bits=bits, num_classes=len(CATEGORIES), epochs=epochs, seed=seed, variant=variant,
                          categories=CATEGORIES, method=method)
    if ged_cap is not None:
        config.ged_cap = float(ged_cap)
    t0 = time.perf_counter()
    train_graphs = [z.graph for z in train]
    ged = ged_matrix(train_graphs, cap=config.ged_cap, cache_path=cache_dir() / "ged-cache.json", progress=progress)
    timings["ged_s"] = time.perf_counter() - t0
    log(f"GED targets: {len(train_graphs) * (len(train_graphs) - 1) // 2} pairs, R = {config.ged_cap:g}, "
        f"{timings['ged_s']:.1f} s")

    index = {c: k for k, c in enumerate(CATEGORIES)}
    labels = np.array([index[z.category] for z in train])
    vocab = OpVocabulary.from_graphs(train_graphs)
    t0 = time.perf_counter()
    hasher, history = train_hasher(train_graphs, labels, config, ged, vocab=vocab, progress=progress)
    timings["train_s"] = time.perf_counter() - t0
    timings["epoch_s"] = float(np.median(history.seconds[1:] or history.seconds))
    log(f"training: {epochs} epochs in {timings['train_s']:.1f} s ({timings['epoch_s']:.3f} s an epoch)")

    metrics = evaluate_hasher(hasher, train, test, retrieval_metrics)
    return ExperimentResult(hasher, metrics, timings, history, config.to_dict())


def evaluate_hasher(hasher, train, test, metric_fn=None) -> dict:
    """Paper 4.1.4: database = train graphs' codes, queries = test graphs' codes.

    Args:
        hasher: a trained :class:`~hnn_tf.hasher.Hasher`.
        train, test: lists of :class:`hnn_tf.zoo.dataset.ZooGraph`.
    Returns:
        the ``retrieval_metrics`` dict (relevant = same category; k = 1, 5, 10), with the
        same measures for relevant = same zoo model under ``"same_model"``.
    """
    if metric_fn is None:
        from hnn_tf.evaluate import retrieval_metrics as metric_fn
    db = hasher.encode([z.graph for z in train])
    queries = hasher.encode([z.graph for z in test])
    metrics = metric_fn(queries, [z.category for z in test], db, [z.category for z in train], ks=(1, 5, 10))
    # Beyond the paper: relevant = the same zoo model (the piracy use case of paper Figure 1).
    metrics["same_model"] = metric_fn(queries, [z.model for z in test], db, [z.model for z in train], ks=(1, 5, 10))
    return metrics


def write_table(result: ExperimentResult, out_dir: str | Path, variant: str, bits: int) -> tuple[Path, str]:
    """Write ``evaluation.json`` and ``evaluation.md`` (one trained hasher's retrieval figures).

    The paper's whole Table 2 is ``hnn grid``'s job; this is the single run that
    ``hnn train`` makes. Returns (folder, Markdown text).
    """
    from hnn_tf.evaluate import format_table

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paper = PAPER_HNN_NET.get((variant, bits))
    closest = _closest_average(result.metrics, paper) if paper else None
    payload = {
        "method": "HNN-Net",
        "variant": variant,
        "bits": bits,
        "hasher_version": result.hasher.version,
        "config": result.config,
        "metrics": result.metrics,
        "timings_s": result.timings,
        "paper": paper,
        "paper_closest": closest,
    }
    (out / "evaluation.json").write_text(json.dumps(payload, indent=1))
    title = f"# HNN-Net hasher {result.hasher.version}: Q = {bits} bits, {variant} data\n\n"
    table = format_table(result.metrics, paper={f"paper HNN-Net {variant} {bits} bits": paper} if paper else None)
    md = title + table + "\n"
    if closest:
        md += (f"\nThe paper's figures (P {paper['P']}, R {paper['R']}, F1 {paper['F1']}) are closest to our "
               f"**{closest['average']}** averages at **k = {closest['k']}** (mean absolute difference "
               f"{closest['distance']:.3f}); the paper does not state its k or its averaging.\n")
    (out / "evaluation.md").write_text(md)
    return out, md


def _closest_average(metrics: dict, paper: dict) -> dict:
    """Which (averaging, k) of ours is nearest to the paper's (P, R, F1), by mean |difference|."""
    best = None
    for avg in ("per_query", "macro"):
        for k in metrics["ks"]:
            m = metrics[avg]
            d = float(np.mean([abs(m[f"P@{k}"] - paper["P"]), abs(m[f"R@{k}"] - paper["R"]), abs(m[f"F1@{k}"] - paper["F1"])]))
            if best is None or d < best["distance"]:
                best = {"average": avg, "k": k, "distance": d}
    return best
