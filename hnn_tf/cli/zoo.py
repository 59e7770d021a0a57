"""``hnn zoo build`` and ``hnn zoo list``: the broad zoo of hnn_tf/zoo/broad.py."""

from __future__ import annotations

import json

import click

from hnn_tf.cli.app import fail
from hnn_tf.cli.options import json_option, si, table

__all__ = ["zoo_group"]


def _sources() -> list[str]:
    from hnn_tf.zoo.sources import SOURCES

    return list(SOURCES)


def _parse_params(value: str) -> int | None:
    """``100M``, ``2.5G``, ``50000`` or ``none`` as a parameter count."""
    text = value.strip().lower()
    if text in ("none", "0", "inf"):
        return None
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000, "b": 1_000_000_000}.get(text[-1:], 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a parameter count such as 100M") from None


def _source_option(f):
    return click.option("--sources", "sources", default="torchvision,timm,transformers,keras", show_default=True,
                        help=f"Comma-separated zoo sources, of: {', '.join(_sources())}.")(f)


def _params_option(f):
    return click.option("--max-params", "max_params", default="100M", show_default=True,
                        help="Skip models with more parameters (e.g. 100M, 2G; 'none' for no cap).")(f)


def _split_sources(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in _sources()]
    if unknown:
        fail(f"unknown zoo source {unknown[0]!r}; known: {', '.join(_sources())}")
    return names


@click.group("zoo")
def zoo_group() -> None:
    """The broad zoo: models of torchvision, timm, transformers and Keras as graphs (cached)."""


@zoo_group.command("build")
@_source_option
@_params_option
@click.option("--jobs", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: all cores; 0: in this process).")
@click.option("--only", "names", multiple=True, help="Build only this model name or source:name (repeatable).")
@click.option("--timeout", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Seconds one model may take to build, export and graph.")
@click.option("--rebuild", is_flag=True, help="Ignore the cache.")
@json_option
def build_cmd(sources, max_params, jobs, names, timeout, rebuild, as_json):
    """Build every model of the sources (random weights, no download), export it without its
    weights and cache its graph; print counts per source.

    Models that fail are listed with their one-line error (known failures, documented by their
    source, are marked); models over --max-params are skipped with their count. A rerun reads
    the cache and builds only what changed (hnn_tf/zoo/broad.py).
    """
    from hnn_tf.zoo.broad import build_zoo

    zoo = build_zoo(_split_sources(sources), max_params=_parse_params(max_params), jobs=jobs,
                    names=list(names) or None, timeout_s=timeout, rebuild=rebuild, progress=not as_json)
    counts = zoo.counts()
    if as_json:
        click.echo(json.dumps({"counts": counts, "wall_seconds": round(zoo.wall_seconds, 1), "rebuilt": zoo.rebuilt,
                               "architectures": len(zoo.architectures), "families": len(zoo.families()),
                               "failures": [r.summary() for r in zoo.records if r.status == "failed"]}))
        return
    cols = ["entries", "built", "architectures", "aliases", "too-large", "failed", "failed-known", "families"]
    rows = [[s, *(str(c[k]) for k in cols)] for s, c in counts.items()]
    click.echo(table(["source", *cols], rows, right=set(range(1, len(cols) + 1))))
    click.echo(f"{len(zoo.architectures)} distinct architectures in {len(zoo.families())} families; "
               f"{zoo.rebuilt} built now in {zoo.wall_seconds:.0f} s")
    failed = [r for r in zoo.records if r.status == "failed"]
    for r in failed:
        click.echo(f"failed{' (known)' if r.known else ''}: {r.key}: {r.error}")


@zoo_group.command("list")
@_source_option
@_params_option
@click.option("--all", "show_all", is_flag=True, help="Also list failed, skipped and alias entries.")
@json_option
def list_cmd(sources, max_params, show_all, as_json):
    """List the cached broad-zoo models: name, family, source, task, parameters, nodes, FLOPs
    (2 x multiply-adds on the trigger input) and the entry it is an alias of.

    Reads the cache only; `hnn zoo build` fills it.
    """
    from hnn_tf.zoo.broad import load_zoo

    zoo = load_zoo(_split_sources(sources), max_params=_parse_params(max_params))
    records = zoo.records if show_all else zoo.architectures
    if as_json:
        for r in records:
            click.echo(json.dumps(r.summary()))
        return
    if not records:
        click.echo("the zoo cache is empty: run `hnn zoo build`", err=True)
        return
    rows = [[r.key, r.entry.family, r.task or r.entry.task, si(r.params), str(r.summary()["nodes"] or "-"),
             si(r.summary()["flops"] or 0), r.alias_of or ("" if r.status == "built" else r.status)] for r in records]
    click.echo(table(["model", "family", "task", "params", "nodes", "FLOPs", "alias of / status"], rows,
                     right={3, 4, 5}))


@zoo_group.command("evaluate")
@click.option("--methods", default="wl-simhash,paper-hnn", show_default=True,
              help="Comma-separated methods of hnn_tf/zoo/generalisation.py METHODS.")
@_source_option
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True,
              help="Folder for generalisation.json, .md and generalisation_flags.png.")
@click.option("--add", is_flag=True,
              help="Keep the methods already in RESULTS/generalisation.json (same zoo, folds and seed) and "
                   "add these to them, replacing any of the same name.")
def evaluate_cmd(methods, sources, folds, seed, results, add):
    """Leave-family-out evaluation of hashers on the cached broad zoo: held-out family mAP and
    P@1, false flags at a threshold calibrated on the training folds, variants, collisions,
    structure and bit statistics, per fold with mean and std (hnn_tf/zoo/generalisation.py).

    With --add, the report holds the earlier methods and the new ones; the earlier file must
    come from the same zoo, fold count and seed (exit 2 otherwise, before anything runs).
    """
    from pathlib import Path

    from hnn_tf.errors import HNNError
    from hnn_tf.safe_io import read_regular
    from hnn_tf.zoo.generalisation import (METHODS, evaluate, evaluation_header, merge_results, report_markdown,
                                           write_report, zoo_items)

    names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        fail(f"unknown method {unknown[0]!r}; known: {', '.join(METHODS)}")
    items = zoo_items(_split_sources(sources))
    if not items:
        fail("the zoo cache is empty for these sources: run `hnn zoo build`")
    previous = None
    if add:
        path = Path(results) / "generalisation.json"
        try:
            previous = json.loads(read_regular(path, max_bytes=256 << 20))
            merge_results(previous, {**evaluation_header(items, folds, seed), "methods": {}})
        except (HNNError, ValueError, AttributeError) as exc:
            fail(f"{path}: cannot add to it: {exc}")
    try:
        res = evaluate(names, items, k=folds, seed=seed, log=lambda m: click.echo(m, err=True))
        if previous is not None:
            res = merge_results(previous, res)
    except ValueError as exc:
        fail(str(exc))
    paths = write_report(res, results)
    click.echo(report_markdown(res))
    click.echo("wrote " + ", ".join(str(p) for p in paths))


@zoo_group.command("train")
@click.option("--method", default="structural-wl", show_default=True,
              help="A trained method of hnn_tf/zoo/generalisation.py TRAINED.")
@_source_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Where to save the hasher (default: the package's default hasher, --hasher broad).")
@click.option("--no-calibrate", "no_calibrate", is_flag=True,
              help="Do not derive and save its `hnn check` threshold on the broad zoo.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train_cmd(method, sources, seed, output, no_calibrate, quiet):
    """Train the default hasher on every family of the cached broad zoo, save it, and calibrate
    its `hnn check` threshold on the broad zoo.

    The training is the leave-family-out protocol's (hnn_tf/zoo/generalisation.py fit_hasher:
    the zoo's architectures and 2 augmented copies of each, families as labels, WL kernel
    distances as the structural target), on all families at once. Its held-out figures are
    those of `hnn zoo evaluate --methods METHOD` (results/generalisation.md). Prints the
    version, the threshold and the time each step took.
    """
    import time
    from pathlib import Path

    import numpy as np

    from hnn_tf.hasher_files import shipped_hasher_dir
    from hnn_tf.index.threshold import save_calibration
    from hnn_tf.zoo.calibration import calibrate_broad
    from hnn_tf.zoo.generalisation import TRAINED, augmented_copies, fit_hasher, zoo_items

    if method not in TRAINED:
        fail(f"unknown trained method {method!r}; known: {', '.join(TRAINED)}")
    say = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    t0 = time.perf_counter()
    items = zoo_items(_split_sources(sources))
    if len({it.family for it in items}) < 2:
        fail("the zoo cache holds fewer than 2 families for these sources: run `hnn zoo build`")
    everything = np.ones(len(items), bool)
    copies, owner = augmented_copies(items, everything, seed)
    say(f"training {method} on {len(items)} architectures of {len({it.family for it in items})} families "
        f"and {len(copies)} augmented copies")
    t1 = time.perf_counter()
    hasher = fit_hasher(items, everything, copies, owner, method, seed, progress=not quiet)
    t2 = time.perf_counter()
    target = Path(output) if output else shipped_hasher_dir(hasher.bits, "broad")
    hasher.save(target)
    click.echo(f"hasher {hasher.version} saved to {target}")
    if not no_calibrate:
        record = calibrate_broad(hasher, items, log=say)
        saved = save_calibration(record, output)
        click.echo(f"check threshold {record['threshold']} bits (zoo architectures with another family's within it: "
                   f"{record['false_flags']:.1%}; copies caught: {record['recall_light']:.1%} with one layer "
                   f"deleted, {record['recall_copies']:.1%} with 10% deleted) saved to {saved}")
    click.echo(f"zoo graphs {t1 - t0:.0f} s, training {t2 - t1:.0f} s, saving and calibration "
               f"{time.perf_counter() - t2:.0f} s")
