"""``hnn grid`` and ``hnn figures``: the paper's Table 2 grid, LOMO, and Figures 5-7.

The analysis and prose of the tables live in :mod:`hnn_tf.report`; these commands run the
grid (:mod:`hnn_tf.grid`) and write its files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from hnn_tf.errors import HNNError

__all__ = ["figures_cmd", "grid_cmd"]

#: The data variants of the paper's Table 2 (raw and merged graphs, 4.2.1).
PAPER_VARIANTS = ("raw", "merged")


@click.command("grid")
@click.option("--seeds", type=int, default=3, show_default=True, help="Seeds per cell.")
@click.option("--epochs", type=int, default=200, show_default=True, help="Maximum epochs a run.")
@click.option("--patience", type=int, default=10, show_default=True,
              help="Early stopping: epochs without a 1% better loss (0 trains all epochs).")
@click.option("--bits", "bits_list", type=int, multiple=True, default=(16, 32, 64), show_default=True)
@click.option("--variants", multiple=True, type=click.Choice(PAPER_VARIANTS), default=PAPER_VARIANTS, show_default=True,
              help="The paper's data variants (4.2.1).")
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
    from hnn_tf.report import paper_average_match, table2_report
    from hnn_tf.safe_io import atomic_write

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
    md = table2_report(grid_rows, rows, ceiling, match, wall, lomo)
    atomic_write(out / "table2.md", md)
    click.echo(md)
    click.echo(f"{len(runs)} runs in {wall / 60:.1f} min; tables in {out}/table2.md and table2.json")


@click.command("figures")
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
    paths += list(heatmap_and_projection(load_hasher(64, "hnn"), out))
    for p in paths:
        click.echo(str(p))
