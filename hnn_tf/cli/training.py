"""``hnn train`` and ``hnn evaluate``: training a hasher on the zoo and measuring its retrieval (paper 4)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hnn_tf.cli.options import bits_option, hasher_option, method_option, variant_option

__all__ = ["evaluate_cmd", "train_cmd"]


@click.command("train")
@click.option("--bits", "-q", type=int, default=64, show_default=True, help="Code length Q.")
@variant_option("canonical")
@method_option
@click.option("--epochs", type=int, default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--ged-cap", type=float, default=None, help="R, the cap of GED targets (default: the config's).")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Where to save the hasher (default: the package's HNN-Net hasher of Q bits, --hasher hnn).")
@click.option("--results", type=click.Path(file_okay=False), default="results/hasher", show_default=True,
              help="Folder for evaluation.json and evaluation.md.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train_cmd(bits, variant, method, epochs, seed, ged_cap, output, results, quiet):
    """Build the zoo, train one hasher (HNN-Net by default), save it and print its retrieval figures (paper 4).

    The saved hasher is the package's HNN-Net hasher of Q bits (`--hasher hnn` of `hnn hash`;
    the default hasher where no broad-zoo hasher of Q bits is installed, `hnn zoo train`).
    The paper's whole Table 2 grid is `hnn grid`.
    """
    from hnn_tf.experiment import run_experiment, write_table
    from hnn_tf.hasher_files import shipped_hasher_dir

    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    result = run_experiment(variant=variant, bits=bits, epochs=epochs, seed=seed, ged_cap=ged_cap,
                            progress=not quiet, log=log, method=method)
    target = Path(output) if output else shipped_hasher_dir(bits, "hnn")
    result.hasher.save(target)
    folder, md = write_table(result, results, variant, bits)
    click.echo(md)
    click.echo(f"hasher {result.hasher.version} saved to {target}; figures in {folder}/evaluation.md and evaluation.json")


@click.command("evaluate")
@bits_option
@hasher_option
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate_cmd(bits, hasher_dir, as_json):
    """Retrieval quality of a trained hasher on the zoo's test split (paper 4.1.4).

    The database is the train graphs' codes, the queries the test graphs' codes; relevant
    means the same category. Prints P/R/F1@k (k = 1, 5, 10) and mAP, per query and macro.
    """
    from hnn_tf.evaluate import format_table
    from hnn_tf.experiment import PAPER_HNN_NET, evaluate_hasher
    from hnn_tf.hashing import load_hasher
    from hnn_tf.zoo.dataset import split, zoo_dataset

    hasher = load_hasher(bits, hasher_dir)
    train, test = split(zoo_dataset(hasher.config.variant))
    metrics = evaluate_hasher(hasher, train, test)
    if as_json:
        click.echo(json.dumps({"hasher_version": hasher.version, "metrics": metrics}))
        return
    paper = PAPER_HNN_NET.get((hasher.config.variant, hasher.bits))
    click.echo(f"hasher {hasher.version}")
    click.echo(format_table(metrics, paper={"paper HNN-Net": paper} if paper else None))
