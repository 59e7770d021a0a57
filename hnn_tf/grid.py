"""The paper's whole Table 2, its ablations and a harder protocol (paper 4.2, 4.3).

A *run* trains one hasher on the zoo data set and evaluates it. The grid is
3 methods x Q in {16, 32, 64} x {raw, merged} x seeds; Figure 7 adds sweeps of beta and
gamma; leave-one-model-out (LOMO) holds whole models out of training. Runs are independent
and are spread over worker processes (one TensorFlow thread each), since one small
training cannot use more than one core well.

Methods (paper 4.2.1):

- ``GHashing``: the baseline built from docs/method.md "GHashing" (op-type features only, GED loss on the
  embedding and the code, no classification loss);
- ``HNN-Net w/o L_class``: HNN-Net with beta = 0;
- ``HNN-Net``: the full method (alpha 10, beta 10, gamma 0.2).

Evaluation of a run (database = train codes, queries = test codes, relevant = same
category) gives three protocols:

- ``topk``: P/R/F1@k for k = 1, 5, 10 and k = 17, and mAP (:func:`retrieval_metrics`);
  k = 17 is the cut-off at which a perfect ranking reproduces the paper's repeated
  HNN-Net cell (P 0.905, R 0.762, F1 0.794) with per-query averaging on the paper's
  category sizes; :func:`topk_ceiling` gives the ceiling on our data;
- ``radius``: Hamming-ball retrieval with the radius chosen on the training codes
  (:func:`choose_radius`), which no category size caps;
- ``spearman``: GHashing's rank correlation between Hamming distance and GED over the
  test pairs.
"""

from __future__ import annotations

import functools
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hnn_tf.safe_io import atomic_write

#: The three methods of Table 2 and how each sets the config.
TABLE2_METHODS: dict[str, dict] = {
    "GHashing": {"method": "ghashing", "beta": 0.0},
    "HNN-Net w/o L_class": {"method": "hnn", "beta": 0.0},
    "HNN-Net": {"method": "hnn"},
}

#: The paper's Table 2: (method, variant, Q) -> {"P", "R", "F1"}.
PAPER_TABLE2: dict[tuple[str, str, int], dict[str, float]] = {}
for _m, _rows in {
    "GHashing": {"R": (0.559, 0.565, 0.707, 0.559, 0.74, 0.719), "P": (0.67, 0.692, 0.828, 0.758, 0.889, 0.861),
                 "F1": (0.586, 0.601, 0.731, 0.648, 0.776, 0.753)},
    "HNN-Net w/o L_class": {"R": (0.519, 0.522, 0.677, 0.648, 0.721, 0.727), "P": (0.675, 0.624, 0.83, 0.805, 0.88, 0.867),
                            "F1": (0.574, 0.544, 0.72, 0.692, 0.764, 0.759)},
    "HNN-Net": {"R": (0.351, 0.714, 0.762, 0.333, 0.762, 0.762), "P": (0.475, 0.881, 0.905, 0.452, 0.905, 0.905),
                "F1": (0.4, 0.762, 0.794, 0.375, 0.794, 0.794)},
}.items():
    for _i, (_v, _q) in enumerate([(v, q) for v in ("raw", "merged") for q in (16, 32, 64)]):
        PAPER_TABLE2[(_m, _v, _q)] = {k: _rows[k][_i] for k in ("P", "R", "F1")}

#: The top-k cut-off that reproduces the paper's repeated cell from a perfect ranking.
PAPER_K = 17
#: GED cap used for the Spearman correlation on test pairs (wider than R, to rank pairs).
SPEARMAN_GED_CAP = 100.0


@dataclass(frozen=True)
class RunSpec:
    """One training run.

    Attributes:
        method: a key of :data:`TABLE2_METHODS`.
        bits: Q.
        variant: ``"raw"`` or ``"merged"``.
        seed: training seed.
        epochs: maximum epochs.
        patience: early-stopping patience (None: all epochs).
        beta, gamma: override the method's loss weights (Figure 7 sweeps).
        held_out: a zoo model left out of training entirely (leave-one-model-out).
    """

    method: str
    bits: int
    variant: str
    seed: int = 0
    epochs: int = 200
    patience: int | None = None
    beta: float | None = None
    gamma: float | None = None
    held_out: str | None = None

    @property
    def cell(self) -> tuple:
        """The grid cell (method, variant, Q, beta, gamma, held_out) the run belongs to."""
        return (self.method, self.variant, self.bits, self.beta, self.gamma, self.held_out)


@functools.lru_cache(maxsize=4)
def _data(variant: str):
    from hnn_tf.zoo.dataset import split, zoo_dataset

    return split(zoo_dataset(variant, progress=False))


@functools.lru_cache(maxsize=4)
def _ged(variant: str, cap: float):
    from hnn_tf.train import ged_matrix
    from hnn_tf.zoo.dataset import cache_dir

    train, _ = _data(variant)
    return ged_matrix([z.graph for z in train], cap=cap, cache_path=cache_dir() / "ged-cache.json", progress=False)


@functools.lru_cache(maxsize=4)
def _test_ged(variant: str):
    from hnn_tf.train import ged_matrix
    from hnn_tf.zoo.dataset import cache_dir

    _, test = _data(variant)
    return ged_matrix([z.graph for z in test], cap=SPEARMAN_GED_CAP, cache_path=cache_dir() / "ged-cache.json",
                      progress=False)


def prepare(variants, cap: float | None = None, spearman: bool = True) -> None:
    """Build (or load) the data sets and GED targets in this process, so workers only read caches."""
    from hnn_tf.model import HasherConfig

    cap = HasherConfig.ged_cap if cap is None else cap
    for v in variants:
        _data(v)
        _ged(v, float(cap))
        if spearman:
            _test_ged(v)


def config_for(spec: RunSpec):
    """The :class:`~hnn_tf.model.HasherConfig` of a run."""
    from hnn_tf.model import HasherConfig
    from hnn_tf.zoo.models import CATEGORIES

    cfg = HasherConfig(bits=spec.bits, num_classes=len(CATEGORIES), epochs=spec.epochs, seed=spec.seed,
                       variant=spec.variant, categories=CATEGORIES)
    for key, value in TABLE2_METHODS[spec.method].items():
        setattr(cfg, key, value)
    if spec.beta is not None:
        cfg.beta = float(spec.beta)
    if spec.gamma is not None:
        cfg.gamma = float(spec.gamma)
    return cfg


def run_one(spec: RunSpec) -> dict:
    """Train and evaluate one run; returns a JSON-ready dict (spec, metrics, timings)."""
    from hnn_tf.evaluate import choose_radius, radius_metrics, retrieval_metrics, spearman_hamming_ged
    from hnn_tf.features import OpVocabulary
    from hnn_tf.codes import hamming_matrix
    from hnn_tf.train import train_hasher

    t0 = time.perf_counter()
    cfg = config_for(spec)
    train, test = _data(spec.variant)
    ged = _ged(spec.variant, float(cfg.ged_cap))
    if spec.held_out:
        keep = np.array([z.model != spec.held_out for z in train])
        queries = [z for z in train + test if z.model == spec.held_out]
        train = [z for z, k in zip(train, keep) if k]
        ged = ged[np.ix_(keep, keep)]
    else:
        queries = test
    index = {c: k for k, c in enumerate(cfg.categories)}
    labels = np.array([index[z.category] for z in train])
    graphs = [z.graph for z in train]
    hasher, history = train_hasher(graphs, labels, cfg, ged, vocab=OpVocabulary.from_graphs(graphs),
                                   progress=False, patience=spec.patience)
    train_s = time.perf_counter() - t0
    db = hasher.encode(graphs)
    q = hasher.encode([z.graph for z in queries])
    db_labels, q_labels = [z.category for z in train], [z.category for z in queries]
    out = {
        "spec": asdict(spec),
        "epochs_run": len(history.total),
        "final_loss": float(history.total[-1]),
        "train_s": train_s,
        "epoch_s": float(np.median(history.seconds)),
    }
    if spec.held_out:
        nearest = np.argsort(hamming_matrix(q, db), axis=1, kind="stable")[:, 0]
        out["top1_accuracy"] = float(np.mean([db_labels[j] == q_labels[0] for j in nearest]))
        out["mAP"] = retrieval_metrics(q, q_labels, db, db_labels, ks=(1,))["per_query"]["mAP"]
        return out
    out["topk"] = retrieval_metrics(q, q_labels, db, db_labels, ks=(1, 5, 10, PAPER_K))
    out["topk"].pop("per_category", None)
    radius = choose_radius(db, db_labels)
    out["radius"] = radius_metrics(q, q_labels, db, db_labels, radius)
    test_ged = _test_ged(spec.variant)
    iu = np.triu_indices(len(q), 1)
    out["spearman"] = spearman_hamming_ged(hamming_matrix(q, q)[iu], test_ged[iu])
    out["distinct_codes"] = int(len({c.tobytes() for c in db}))
    return out


def _init_worker(threads: int) -> None:
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    import hnn_tf  # noqa: F401
    from hnn_tf._tf import import_tensorflow

    tf = import_tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised: the environment variables apply
        pass


def run_many(specs: list[RunSpec], workers: int | None = None, progress: bool = True, log=print) -> list[dict]:
    """Run many specs in worker processes (default: one per core), returning results in spec order.

    The parent builds the data sets and GED caches first (:func:`prepare`), so the workers
    only read them.
    """
    import multiprocessing as mp

    from tqdm import tqdm

    if not specs:
        return []
    variants = sorted({s.variant for s in specs})
    prepare(variants, spearman=any(s.held_out is None for s in specs))
    workers = workers or max(1, min(len(specs), os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    results: list[dict | None] = [None] * len(specs)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(run_one, s): i for i, s in enumerate(specs)}
        for fut in tqdm(as_completed(futures), total=len(specs), desc="training runs", unit="run", disable=not progress):
            results[futures[fut]] = fut.result()
    return results  # type: ignore[return-value]


def grid_specs(seeds=(0, 1, 2), bits=(16, 32, 64), variants=("raw", "merged"), epochs: int = 200,
               patience: int | None = 20) -> list[RunSpec]:
    """The Table 2 grid: every method x variant x Q x seed."""
    return [RunSpec(m, q, v, s, epochs, patience) for m in TABLE2_METHODS for v in variants for q in bits for s in seeds]


def sweep_specs(seeds=(0, 1, 2), epochs: int = 200, patience: int | None = 20) -> list[RunSpec]:
    """Figure 7: beta in {0, 1, 5, 10, 20} (gamma 0.2) and gamma in {0, 0.1, 0.2, 0.5, 1} (beta 10), Q 32, raw."""
    specs = [RunSpec("HNN-Net", 32, "raw", s, epochs, patience, beta=b, gamma=0.2) for b in (0, 1, 5, 10, 20) for s in seeds]
    specs += [RunSpec("HNN-Net", 32, "raw", s, epochs, patience, beta=10, gamma=g) for g in (0, 0.1, 0.5, 1) for s in seeds]
    return specs


def lomo_specs(bits: int = 64, variant: str = "merged", epochs: int = 200, patience: int | None = 20) -> list[RunSpec]:
    """Leave one model out: every zoo model whose category has at least 2 models."""
    from collections import Counter

    from hnn_tf.zoo.models import PAPER_ZOO

    sizes = Counter(m.category for m in PAPER_ZOO)
    return [RunSpec("HNN-Net", bits, variant, 0, epochs, patience, held_out=m.name) for m in PAPER_ZOO if sizes[m.category] >= 2]


def _mean_std(values) -> dict:
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": int(len(a))}


def aggregate(results: list[dict]) -> list[dict]:
    """Group runs by cell and give mean and standard deviation (over seeds) of every figure."""
    cells: dict[tuple, list[dict]] = {}
    for r in results:
        s = r["spec"]
        key = (s["method"], s["variant"], s["bits"], s["beta"], s["gamma"], s["held_out"])
        cells.setdefault(key, []).append(r)
    out = []
    for (method, variant, bits, beta, gamma, held_out), runs in cells.items():
        row = {"method": method, "variant": variant, "bits": bits, "beta": beta, "gamma": gamma, "held_out": held_out,
               "seeds": [r["spec"]["seed"] for r in runs], "train_s": _mean_std([r["train_s"] for r in runs]),
               "epochs_run": _mean_std([r["epochs_run"] for r in runs])}
        if held_out:
            row["top1_accuracy"] = _mean_std([r["top1_accuracy"] for r in runs])
            row["mAP"] = _mean_std([r["mAP"] for r in runs])
        else:
            for avg in ("per_query", "macro"):
                for name in ("P@1", "P@5", "P@10", f"P@{PAPER_K}", f"R@{PAPER_K}", f"F1@{PAPER_K}", "R@10", "F1@10", "mAP"):
                    row[f"topk.{avg}.{name}"] = _mean_std([r["topk"][avg][name] for r in runs])
                for name in ("P", "R", "F1", "retrieved"):
                    row[f"radius.{avg}.{name}"] = _mean_std([r["radius"][avg][name] for r in runs])
            row["radius"] = _mean_std([r["radius"]["radius"] for r in runs])
            row["spearman"] = _mean_std([r["spearman"] for r in runs])
            row["distinct_codes"] = _mean_std([r["distinct_codes"] for r in runs])
        out.append(row)
    return out


def write_json(path: str | Path, payload: dict) -> Path:
    """Write JSON atomically (temp file, then replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, json.dumps(payload, indent=1))
