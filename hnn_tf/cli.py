"""The ``hnn`` command (click).

Every command turns bad input into one line on stderr that names the file and the problem,
and exit status 2 (README "Security"); stdout carries results only. Each model gets at most
``--timeout`` seconds (default :attr:`hnn_tf.safe_io.Limits.timeout_s`) and a memory bound
(:attr:`hnn_tf.safe_io.Limits.memory_bytes`). Set ``HNN_DEBUG=1``
to see full tracebacks and the libraries' own output instead.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import click

from hnn_tf.errors import HNNError
from hnn_tf.safe_io import TimeLimitExceeded, current_limits, memory_limit, time_limit


class _Group(click.Group):
    """A click group that reports errors as one line and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except (HNNError, TimeLimitExceeded) as exc:
            if os.environ.get("HNN_DEBUG"):
                traceback.print_exc()
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted")
        except Exception as exc:  # noqa: BLE001 - never a traceback for the user
            if os.environ.get("HNN_DEBUG"):
                traceback.print_exc()
            where = f"{_CURRENT[-1]}: " if _CURRENT else ""
            _fail(f"{where}unexpected error: {type(exc).__name__}: {exc}")


#: The model files being read, innermost last, so an unexpected error can name its file.
_CURRENT: list[str] = []


def _fail(message: str, exit_now: bool = True) -> None:
    """Print ``hnn: error: MESSAGE`` as one line on stderr (and exit 2 unless ``exit_now`` is False)."""
    click.echo(f"hnn: error: {' '.join(str(message).split())[:2000]}", err=True)
    if exit_now:
        sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="hnn")
def main() -> None:
    """hnn: perceptual hashes of neural networks (HNN-Net, Zhu et al., Symmetry 2022).

    Similar models get codes close in Hamming distance. Models may be PyTorch (.pt2, TorchScript),
    Keras (.keras, .h5) or ONNX (.onnx) files.
    """


_bits = click.option("--bits", "-q", type=int, default=None, help="Code length Q (default: 64, or the --hasher's).")
_hasher = click.option("--hasher", "hasher_dir", type=click.Path(file_okay=False), default=None,
                       help="A hasher folder written by `hnn train` (default: the shipped one).")
_trust = click.option("--trust", is_flag=True,
                      help="Trust the file: allow loaders that run code from it (pickled PyTorch modules, "
                           "TorchScript, SavedModels, Keras Lambda layers). Never for files from strangers.")
_timeout = click.option("--timeout", type=click.FloatRange(min=0), default=None,
                        help="Seconds one model may take before hnn gives up on it (default: $HNN_TIMEOUT_S or "
                             "600; 0: no limit).")


def _seconds(timeout: float | None) -> float:
    return current_limits().timeout_s if timeout is None else float(timeout)


def _analyse(path: str, bits, hasher_dir, trust: bool, timeout: float | None = None):
    from hnn_tf.hashing import analyse_model

    if not Path(path).exists():
        raise HNNError("no such file", path)
    options = {"trust": True} if trust else {}
    _CURRENT.append(path)
    try:
        with guarded(path, timeout):
            return analyse_model(path, bits=bits, hasher_dir=hasher_dir, **options)
    finally:
        _CURRENT.pop()


@contextmanager
def guarded(path: str | None, timeout: float | None):
    """The CLI's bounds on one model: ``--timeout`` seconds and :attr:`Limits.memory_bytes` of memory."""
    with time_limit(_seconds(timeout), path), memory_limit(current_limits().memory_bytes):
        yield


@main.command("hash")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_bits
@_hasher
@_trust
@_timeout
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line: path, framework, bits, hash, nodes, flops, params, hasher_version.")
def hash_cmd(paths, bits, hasher_dir, trust, timeout, as_json):
    """Print the Q-bit code of each model file, as Q/4 hex digits (one line a file).

    With several files each line is "HEX  PATH"; a file that cannot be hashed gets its one
    error line on stderr and the others are still hashed (exit status 2 if any failed).
    FLOPs in --json are 2 x multiply-adds on the trigger input.
    """
    failed = 0
    for path in paths:
        try:
            report = _analyse(path, bits, hasher_dir, trust, timeout)
        except (HNNError, TimeLimitExceeded) as exc:
            if len(paths) == 1:
                raise
            _fail(str(exc), exit_now=False)
            failed += 1
            continue
        if as_json:
            click.echo(json.dumps({"path": path, **report.to_dict()}))
        elif len(paths) == 1:
            click.echo(str(report.hash))
        else:
            click.echo(f"{report.hash}  {path}")
        sys.stdout.flush()
    if failed:
        sys.exit(2)


@main.command("compare")
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@_bits
@_hasher
@_trust
@_timeout
@click.option("--json", "as_json", is_flag=True, help="Print both codes and the distance as JSON.")
def compare_cmd(a, b, bits, hasher_dir, trust, timeout, as_json):
    """Print the Hamming distance between the codes of two model files (paper 3.1)."""
    ra, rb = _analyse(a, bits, hasher_dir, trust, timeout), _analyse(b, bits, hasher_dir, trust, timeout)
    distance = ra.hash - rb.hash
    if as_json:
        click.echo(json.dumps({"a": {"path": a, **ra.to_dict()}, "b": {"path": b, **rb.to_dict()}, "distance": distance}))
    else:
        click.echo(str(distance))


@main.command("train")
@click.option("--bits", "-q", type=int, default=64, show_default=True, help="Code length Q.")
@click.option("--variant", type=click.Choice(["raw", "merged", "canonical"]), default="canonical", show_default=True,
              help="Paper graphs without (raw) or with (merged) the merge rules (4.2.1), or canonical graphs.")
@click.option("--epochs", type=int, default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--ged-cap", type=float, default=None, help="R, the cap of GED targets (default: the config's).")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Where to save the hasher (default: the package's shipped hasher of Q bits).")
@click.option("--results", type=click.Path(file_okay=False), default="results/hasher", show_default=True,
              help="Folder for evaluation.json and evaluation.md.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train_cmd(bits, variant, epochs, seed, ged_cap, output, results, quiet):
    """Build the zoo, train one HNN-Net hasher, save it and print its retrieval figures (paper 4).

    The saved hasher is what `hnn hash` uses (default: the package's shipped hasher of Q
    bits). The paper's whole Table 2 grid is `hnn grid`.
    """
    from hnn_tf.experiment import run_experiment, write_table
    from hnn_tf.hasher import shipped_hasher_dir

    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    result = run_experiment(variant=variant, bits=bits, epochs=epochs, seed=seed, ged_cap=ged_cap,
                            progress=not quiet, log=log)
    target = Path(output) if output else shipped_hasher_dir(bits)
    result.hasher.save(target)
    folder, md = write_table(result, results, variant, bits)
    click.echo(md)
    click.echo(f"hasher {result.hasher.version} saved to {target}; figures in {folder}/evaluation.md and evaluation.json")


@main.command("evaluate")
@_bits
@_hasher
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


import hnn_tf.cli_index  # noqa: E402,F401  (registers `hnn index`, `hnn search`, `hnn check`)
import hnn_tf.cli_experiments  # noqa: E402,F401  (registers `hnn grid` and `hnn figures`)

if __name__ == "__main__":  # pragma: no cover
    main()
