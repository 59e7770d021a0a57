"""The registry commands (paper Figure 1): ``hnn index ...``, ``hnn search``, ``hnn check``.

``hnn check`` exits 0 when the upload is clean and 1 when it is suspect (2 on an error, as
every command). The registry is ``--db PATH``, else ``$HNN_DB``, else ``registry.sqlite`` in
the user's data folder (:func:`hnn_tf.index.default_db_path`). Listing, export, search and
check open it read-only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hnn_tf.cli.options import (
    bits_option,
    db_option,
    engine_option,
    exists_or_named,
    guarded,
    hasher_option,
    json_option,
    seconds,
    si,
    table,
    timeout_option,
    trust_option,
    warn,
)
from hnn_tf.errors import HNNError
from hnn_tf.safe_io import current_limits

__all__ = ["check_cmd", "index_group", "search_cmd"]


def _registry(db, bits=None, hasher_dir=None, engine="auto", create=False, readonly=False):
    from hnn_tf.index import Registry

    return Registry(db, bits=bits, hasher_dir=hasher_dir, engine=engine, create=create, readonly=readonly)


def _match_rows(matches, threshold=None):
    rows = []
    for rank, m in enumerate(matches, 1):
        e = m.entry
        mark = "*" if threshold is not None and m.distance <= threshold else ""
        if m.same_file:
            mark += "="
        rows.append([str(rank), f"{m.distance}{mark}", e.name, e.label or "-", e.framework, str(e.nodes),
                     si(e.flops), si(e.params), e.source])
    return table(["rank", "dist", "name", "label", "framework", "nodes", "FLOPs", "params", "source"], rows,
                  right={0, 1, 5, 6, 7})


def _query_line(result) -> str:
    where = result.source or ("<model object>" if result.report is not None else "<code>")
    return f"query {result.query}  {where}  ({result.query.hasher_version})"


# -- hnn index ------------------------------------------------------------------------------


@click.group("index")
def index_group() -> None:
    """The registry of known models (paper Figure 1): add, list, remove, export, import.

    An entry holds name, label, framework, source, sha256 of the source file, bits, hash,
    hasher version, nodes, FLOPs (2 x multiply-adds), params and the time added. The same
    file is never stored twice for one hasher.
    """


@index_group.command("add")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--from-zoo", is_flag=True, help="Also register the paper's 22 torchvision zoo models.")
@click.option("--label", default=None, help="Label of the new entries, e.g. the owner (zoo default: the category).")
@click.option("--name", default=None, help="Name of the entry (one PATH only; default: the file's stem).")
@click.option("--framework", default=None, help="Force a converter (pytorch, keras, onnx).")
@db_option
@bits_option
@hasher_option
@trust_option
@timeout_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@json_option
def index_add_cmd(paths, from_zoo, label, name, framework, db, bits, hasher_dir, trust, timeout, quiet, as_json):
    """Hash model files and store them in the registry (one transaction each).

    A file already stored (same sha256 and hasher version) is skipped. The first file that
    cannot be read stops the command with exit status 2; the files before it stay stored.
    """
    if not paths and not from_zoo:
        raise click.UsageError("give model files, --from-zoo, or both")
    if name is not None and (len(paths) != 1 or from_zoo):
        raise click.UsageError("--name needs exactly one PATH")
    options = {"trust": True} if trust else {}
    with _registry(db, bits, hasher_dir, create=True) as reg:
        results = []
        if paths:
            if name is not None:
                from hnn_tf.index import AddResult, DuplicateError

                try:
                    with guarded(paths[0], timeout):
                        entry = reg.add(paths[0], name=name, label=label, framework=framework, **options)
                    results.append(AddResult(paths[0], entry, True))
                except DuplicateError as exc:
                    results.append(AddResult(paths[0], exc.existing, False))
            else:
                results += reg.add_many(paths, label=label, framework=framework, progress=not quiet,
                                        timeout_s=seconds(timeout), memory_bytes=current_limits().memory_bytes,
                                        **options)
        if from_zoo:
            from hnn_tf.zoo.register import add_zoo

            results += add_zoo(reg, label=label, progress=not quiet)
        for r in results:
            if as_json:
                click.echo(json.dumps({"added": r.added, **r.entry.to_dict()}))
            elif r.added:
                click.echo(f"added    {r.entry.hash}  {r.entry.name}  ({r.source})")
            else:
                click.echo(f"skipped  {r.entry.hash}  {r.source}: already registered as {r.entry.name!r}")
        if not as_json:
            n = sum(r.added for r in results)
            click.echo(f"{n} added, {len(results) - n} skipped; {reg.path} holds {len(reg)} models", err=True)


@index_group.command("list")
@db_option
@json_option
def index_list_cmd(db, as_json):
    """List the stored models in the order they were added (FLOPs: 2 x multiply-adds).

    Read-only: the registry file is never written.
    """
    with _registry(db, readonly=True) as reg:
        entries = reg.entries()
        if as_json:
            click.echo(json.dumps([e.to_dict() for e in entries], indent=1))
            return
        if not entries:
            click.echo(f"no models in {reg.path}", err=True)
            return
        rows = [[str(e.id), e.name, e.label or "-", e.framework, str(e.bits), str(e.hash), e.hasher_version,
                 str(e.nodes), si(e.flops), si(e.params), e.added_at] for e in entries]
        click.echo(table(["id", "name", "label", "framework", "bits", "hash", "hasher", "nodes", "FLOPs", "params",
                           "added"], rows, right={0, 4, 7, 8, 9}))


@index_group.command("remove")
@click.argument("name")
@click.option("--hasher-version", default=None, help="Only the entry of this hasher version (default: all).")
@db_option
def index_remove_cmd(name, hasher_version, db):
    """Remove the model(s) called NAME (one transaction)."""
    with _registry(db) as reg:
        gone = reg.remove(name, hasher_version)
        for e in gone:
            click.echo(f"removed  {e.hash}  {e.name}  (id {e.id}, {e.hasher_version})")


@index_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@db_option
def index_export_cmd(file, db):
    """Write every entry to FILE as JSON lines ('-': standard output).

    FILE is written atomically (a fresh temporary file in its folder, then renamed); a FILE
    that exists and is not a regular file (a symlink, a device) is refused. The registry is
    opened read-only.
    """
    with _registry(db, readonly=True) as reg:
        n = reg.export_jsonl(sys.stdout if file == "-" else file)
        click.echo(f"exported {n} models from {reg.path} to {file}", err=True)


@index_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@db_option
def index_import_cmd(file, db):
    """Store the entries of a JSON-lines export (one transaction; files already stored are skipped).

    A bad line or a name taken by another model stores nothing.
    """
    if file != "-" and not Path(file).exists():
        raise HNNError("no such file", file)
    with _registry(db, create=True) as reg:
        added, skipped = reg.import_jsonl(sys.stdin if file == "-" else file)
        click.echo(f"imported {added} models ({skipped} already stored) into {reg.path}")


@index_group.command("calibrate")
@bits_option
@hasher_option
@click.option("--zoo", type=click.Choice(["paper", "broad"]), default=None,
              help="The zoo to calibrate on (default: paper for the paper's HNN-Net and GHashing hashers, "
                   "broad for the others).")
@click.option("--dry-run", is_flag=True, help="Print the result without saving it.")
@click.option("--quiet", is_flag=True, help="No progress.")
@json_option
def index_calibrate_cmd(bits, hasher_dir, zoo, dry_run, quiet, as_json):
    """Derive the default `hnn check` threshold of a hasher from a zoo and save it per hasher version.

    Paper zoo (22 models, original + 10 augmented copies each): the threshold of best pair F1
    (ties: their median), positive pairs being two models of one Table 1 category. Broad zoo
    (the cache of `hnn zoo build`): the best pair F1 of copies with 10% of their layers deleted
    against other families' architectures, capped at the largest threshold at which at most 1%
    of the zoo's architectures have another family's architecture within it; the output gives
    what it catches (copies with one layer, and with 10% of layers, deleted). See
    hnn_tf/zoo/calibration.py and hnn_tf/index/threshold.py.
    """
    from hnn_tf.index.threshold import save_calibration
    from hnn_tf.zoo.calibration import calibrate

    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    record = calibrate(bits, hasher_dir, progress=not quiet, log=log, zoo=zoo)
    saved = None if dry_run else save_calibration(record, hasher_dir)
    if as_json:
        click.echo(json.dumps({**record, "saved_to": str(saved) if saved else None}))
        return
    if "best_f1_thresholds" in record:
        lo, hi = record["best_f1_thresholds"]
        click.echo(f"threshold {record['threshold']} bits for {record['hasher_version']} on the {record['zoo']} zoo: "
                   f"best pair F1 {record['f1']:.3f} (reached for T in {lo}..{hi}), precision "
                   f"{record['precision']:.3f}, recall {record['recall']:.3f} over {record['pairs']} pairs "
                   f"({record['positive_pairs']} positive)")
    else:
        click.echo(f"threshold {record['threshold']} bits for {record['hasher_version']} on the {record['zoo']} zoo: "
                   f"{record['selection']}; it catches {record['recall_light']:.1%} of the copies with one layer "
                   f"deleted and {record['recall_copies']:.1%} of those with 10% deleted")
    if "held_out" in record:
        h = record["held_out"]
        click.echo(f"held-out test-vs-train pairs: precision {h['precision']:.3f}, recall {h['recall']:.3f}, "
                   f"F1 {h['f1']:.3f}")
    if "false_flags" in record:
        click.echo(f"zoo architectures with another family's architecture within the threshold: "
                   f"{record['false_flags']:.1%}")
    click.echo(f"saved to {saved}" if saved else "not saved (--dry-run)")


# -- hnn search / hnn check -------------------------------------------------------------------


def _query_arg(path, hex_code, hasher_version):
    if (path is None) == (hex_code is None):
        raise click.UsageError("give a model file or --hex CODE (one of them)")
    if hex_code is not None:
        from hnn_tf.codes import ModelHash

        return ModelHash.from_hex(hex_code, hasher_version=hasher_version), {}
    if not exists_or_named(path):
        raise HNNError("no such file", path)
    return path, {}


def _query_options(fn):
    """The options ``hnn search`` and ``hnn check`` share: the query (a file or ``--hex``) and where to look."""
    for option in reversed((
        click.argument("path", required=False, type=click.Path()),
        click.option("--hex", "hex_code", default=None, help="A code (Q/4 hex digits) instead of a model file."),
        click.option("--hasher-version", default=None,
                     help="The hasher version of a --hex code (default: the installed hasher's)."),
        db_option, bits_option, hasher_option, trust_option, timeout_option, engine_option, json_option,
    )):
        fn = option(fn)
    return fn


@click.command("search")
@_query_options
@click.option("-k", "k", type=click.IntRange(min=1), default=None, help="At most K matches (default 10; no limit with --radius).")
@click.option("--radius", type=click.IntRange(min=0), default=None, help="Only matches at Hamming distance <= R.")
def search_cmd(path, hex_code, k, radius, hasher_version, db, bits, hasher_dir, trust, timeout, engine, as_json):
    """The known models nearest to a model file (or a --hex code), by Hamming distance.

    Ties are listed in the order the models were added. A '=' after the distance marks a
    byte-identical file (same sha256).
    """
    query, _ = _query_arg(path, hex_code, hasher_version)
    if k is None and radius is None:
        k = 10
    options = {"trust": True} if trust else {}
    with _registry(db, bits, hasher_dir, engine, readonly=True) as reg, guarded(path, timeout):
        result = reg.search(query, k=k, radius=radius, **options)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(_query_line(result))
    if not result.matches:
        click.echo(f"no known model within distance {radius}")
        return
    click.echo(_match_rows(result.matches))


@click.command("check")
@_query_options
@click.option("--threshold", "-t", type=click.IntRange(min=0), default=None,
              help="Suspect when a known model is within T bits (default: the hasher's, calibrated on the "
                   "broad zoo or, for the paper's hasher, the paper zoo; best F1).")
@click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Nearest known models to report.")
@click.pass_context
def check_cmd(ctx, path, hex_code, threshold, k, hasher_version, db, bits, hasher_dir, trust, timeout, engine, as_json):
    """Paper Figure 1: is an uploaded model close to a known one? Exit 0 clean, 1 suspect, 2 error.

    The upload is hashed and compared with the registry; it is suspect when a known model is
    at Hamming distance <= the threshold. The report names the nearest known models ('*':
    within the threshold, '=': byte-identical file).
    """
    query, _ = _query_arg(path, hex_code, hasher_version)
    options = {"trust": True} if trust else {}
    with _registry(db, bits, hasher_dir, engine, readonly=True) as reg, guarded(path, timeout):
        result = reg.check(query, threshold=threshold, k=k, **options)
    if result.threshold.warning:
        warn(result.threshold.warning)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        ctx.exit(result.exit_code)
    t = result.threshold
    how = {"calibrated": f"calibrated on the {t.record.get('zoo', 'paper')} zoo",
           "fallback": f"calibrated for {t.calibrated_for}", "user": "given"}[t.source]
    where = result.source or "<code>"
    nearest = result.matches[0]
    if result.suspect:
        click.echo(f"SUSPECT  {where}: {result.within} known model(s) within {t.value} bits "
                   f"(threshold {t.value}, {how}); nearest {nearest.entry.name!r} at distance {nearest.distance}")
    else:
        click.echo(f"clean    {where}: nearest known model {nearest.entry.name!r} at distance {nearest.distance} "
                   f"> threshold {t.value} ({how})")
    click.echo(_query_line(result))
    click.echo(_match_rows(result.matches, t.value))
    ctx.exit(result.exit_code)
