"""``hnn grid`` and ``hnn figures``: the paper's Table 2 grid, LOMO, and Figures 5-7."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from hnn_tf.cli import main
from hnn_tf.errors import HNNError


def paper_average_match() -> dict:
    """Which averaging reproduces the paper's repeated HNN-Net cell (P 0.905, R 0.762, F1 0.794)?

    Computes the top-k ceiling of a perfect ranking on the paper's own category sizes
    (Table 1: six categories of 3 models, four of 1; 11 graphs a model, 8 train and 3 test)
    for k = 1..40, per query and macro, and returns the closest (averaging, k) of each.
    """
    import numpy as np

    from hnn_tf.evaluate import topk_ceiling

    sizes = [3] * 6 + [1] * 4
    q = [c for c, s in enumerate(sizes) for _ in range(3 * s)]
    db = [c for c, s in enumerate(sizes) for _ in range(8 * s)]
    paper = np.array([0.905, 0.762, 0.794])
    best = {}
    for avg in ("per_query", "macro"):
        scored = []
        for k in range(1, 41):
            c = topk_ceiling(q, db, k)[avg]
            v = np.array([c["P"], c["R"], c["F1"]])
            scored.append((float(np.abs(v - paper).mean()), k, v.round(3).tolist()))
        d, k, v = min(scored)
        best[avg] = {"k": k, "ceiling": dict(zip(("P", "R", "F1"), v)), "mean_abs_difference": d}
    return best


@main.command("grid")
@click.option("--seeds", type=int, default=3, show_default=True, help="Seeds per cell.")
@click.option("--epochs", type=int, default=200, show_default=True, help="Maximum epochs a run.")
@click.option("--patience", type=int, default=10, show_default=True,
              help="Early stopping: epochs without a 1% better loss (0 trains all epochs).")
@click.option("--bits", "bits_list", type=int, multiple=True, default=(16, 32, 64), show_default=True)
@click.option("--variants", multiple=True, type=click.Choice(["raw", "merged"]), default=("raw", "merged"), show_default=True)
@click.option("--lomo/--no-lomo", default=True, show_default=True, help="Also run leave-one-model-out (HNN-Net, Q 64, merged).")
@click.option("--workers", type=int, default=None, help="Parallel training processes (default: one per core).")
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def grid_cmd(seeds, epochs, patience, bits_list, variants, lomo, workers, results, quiet):
    """Run the paper's Table 2 grid (3 methods x Q x raw/merged x seeds) and write the tables.

    Writes ``table2.md`` and ``table2.json`` (means and standard deviations next to the
    paper's figures) and ``grid_runs.json`` (every run) into the results folder.
    """
    from hnn_tf.evaluate import topk_ceiling
    from hnn_tf.grid import PAPER_K, _data, aggregate, grid_specs, lomo_specs, run_many, write_json
    from hnn_tf.report import lomo_markdown, table2_markdown

    pat = patience or None
    specs = grid_specs(seeds=tuple(range(seeds)), bits=tuple(bits_list), variants=tuple(variants), epochs=epochs, patience=pat)
    if lomo:
        specs += lomo_specs(epochs=epochs, patience=pat)
    t0 = time.perf_counter()
    runs = run_many(specs, workers=workers, progress=not quiet)
    wall = time.perf_counter() - t0
    rows = aggregate(runs)
    grid_rows = [r for r in rows if not r["held_out"]]
    ceiling: dict[str, dict] = {"per_query": {}, "macro": {}}
    for v in variants:
        train, test = _data(v)
        c = topk_ceiling([z.category for z in test], [z.category for z in train], PAPER_K)
        for avg in ceiling:
            ceiling[avg][v] = c[avg]
    match = paper_average_match()
    out = Path(results)
    write_json(out / "grid_runs.json", {"runs": runs})
    write_json(out / "table2.json", {"rows": rows, "wall_s": wall, "num_runs": len(runs), "paper_average_match": match,
                                      "topk_ceiling": ceiling, "k": PAPER_K})
    pq, mc = match["per_query"], match["macro"]
    note = (
        "\n## Which averaging the paper's figures match\n\n"
        f"The paper reports the same HNN-Net cell three times (P 0.905, R 0.762, F1 0.794). A perfect ranking "
        f"on the paper's own category sizes (six categories of 3 models, four of 1; 8 train and 3 test graphs a "
        f"model) gives, with per-query averaging at k = {pq['k']}, P {pq['ceiling']['P']}, R {pq['ceiling']['R']}, "
        f"F1 {pq['ceiling']['F1']} (mean absolute difference {pq['mean_abs_difference']:.3f}); the best macro "
        f"average (k = {mc['k']}) is off by {mc['mean_abs_difference']:.3f}. So the paper's figures are per-query "
        "averages, and its repeated cell is the ceiling of top-k retrieval: P < 1 for the 1-model categories and "
        f"R < 1 for the 3-model ones whatever the codes. Top-k at k = {PAPER_K} therefore cannot beat that cell "
        "on any data set; on ours (the 22nd model in ShuffleNet) the 'perfect ranking' rows give its ceiling. "
        "Hamming-ball retrieval has no such cap, so the first table compares with the paper there.\n"
    )
    md = (table2_markdown(grid_rows, "per_query", ceiling["per_query"], wall) + note + "\n"
          + table2_markdown(grid_rows, "macro", ceiling["macro"]))
    if lomo:
        md += "\n" + lomo_markdown(rows)
    (out / "table2.md").write_text(md)
    click.echo(md)
    click.echo(f"{len(runs)} runs in {wall / 60:.1f} min; tables in {out}/table2.md and table2.json")


@main.command("figures")
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--seeds", type=int, default=3, show_default=True, help="Seeds per point of the Figure 7 sweeps.")
@click.option("--epochs", type=int, default=200, show_default=True)
@click.option("--patience", type=int, default=10, show_default=True)
@click.option("--rerun", is_flag=True, help="Retrain the Figure 7 sweeps even if sweeps.json exists.")
@click.option("--workers", type=int, default=None)
@click.option("--quiet", is_flag=True)
def figures_cmd(results, seeds, epochs, patience, rerun, workers, quiet):
    """Write Figures 5, 6 and 7, a Hamming heatmap and an embedding projection as PNG files.

    Figures 5 and 6 come from ``table2.json`` (run ``make train`` first); Figure 7 trains
    the beta and gamma sweeps once (cached in ``sweeps.json``); the heatmap and the
    projection use the shipped 64-bit hasher.
    """
    from hnn_tf.grid import aggregate, run_many, sweep_specs, write_json
    from hnn_tf.hashing import load_hasher
    from hnn_tf.report import figure5, figure6, figure7, heatmap_and_projection

    out = Path(results)
    try:
        rows = json.loads((out / "table2.json").read_text())["rows"]
    except FileNotFoundError:
        raise HNNError("no grid results here; run `make train` (hnn grid) first", str(out / "table2.json")) from None
    sweeps_path = out / "sweeps.json"
    if rerun or not sweeps_path.exists():
        runs = run_many(sweep_specs(seeds=tuple(range(seeds)), epochs=epochs, patience=patience or None),
                        workers=workers, progress=not quiet)
        write_json(sweeps_path, {"runs": runs})
    sweep_rows = aggregate(json.loads(sweeps_path.read_text())["runs"])
    paths = [figure5(rows, out / "figure5.png"), figure6(rows, out / "figure6.png"), figure7(sweep_rows, out / "figure7.png")]
    paths += list(heatmap_and_projection(load_hasher(64), out))
    for p in paths:
        click.echo(str(p))
