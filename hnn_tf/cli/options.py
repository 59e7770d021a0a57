"""Options and helpers the ``hnn`` command groups share (one definition each).

Choices come from the registries: ``--variant`` from the graph recipes
(:data:`hnn_tf.graph.recipes.RECIPES`), ``--engine`` from the search engines
(:data:`hnn_tf.index.engines.ENGINES`), ``--method`` from the training objectives
(:data:`hnn_tf.objectives.OBJECTIVES`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click

from hnn_tf.cli.app import CURRENT
from hnn_tf.errors import HNNError
from hnn_tf.safe_io import current_limits, memory_limit, time_limit

__all__ = ["analyse", "bits_option", "db_option", "engine_option", "guarded", "hasher_option", "json_option",
           "method_option", "seconds", "si", "table", "timeout_option", "trust_option", "variant_option", "warn"]

bits_option = click.option("--bits", "-q", type=int, default=None, help="Code length Q (default: 64, or the --hasher's).")
hasher_option = click.option("--hasher", "hasher_dir", type=click.Path(file_okay=False), default=None,
                             help="A hasher folder written by `hnn train` or `hnn zoo train`, or a shipped "
                                  "hasher: broad (the default), hnn (the paper's HNN-Net), wl (WL-SimHash), wl-sized "
                                  "(WL-SimHash with sized labels).")
trust_option = click.option("--trust", is_flag=True,
                            help="Trust the file: allow loaders that run code from it (pickled PyTorch modules, "
                                 "TorchScript, SavedModels, Keras Lambda layers). Never for files from strangers.")
timeout_option = click.option("--timeout", type=click.FloatRange(min=0), default=None,
                              help="Seconds one model may take before hnn gives up on it (default: $HNN_TIMEOUT_S "
                                   "or 600; 0: no limit).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON).")
db_option = click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
                         help="The registry file (default: $HNN_DB, else registry.sqlite in the user's data folder).")


def _recipes() -> list[str]:
    from hnn_tf.graph.recipes import RECIPES

    return list(RECIPES)


def _engines() -> list[str]:
    from hnn_tf.index.engines import ENGINES

    return ["auto", *ENGINES]


def _objectives() -> list[str]:
    from hnn_tf.objectives import OBJECTIVES

    return list(OBJECTIVES)


def variant_option(default: str = "canonical"):
    """``--variant``: a graph recipe (:mod:`hnn_tf.graph.recipes`)."""
    return click.option("--variant", type=click.Choice(_recipes()), default=default, show_default=True,
                        help="The graph recipe: the paper's raw or merged graphs (4.2.1), or canonical graphs.")


engine_option = click.option("--engine", type=click.Choice(_engines()), default="auto", show_default=True,
                             help="Search engine (hnn_tf/index/engines/): all give the same answers.")
method_option = click.option("--method", type=click.Choice(_objectives()), default="hnn", show_default=True,
                             help="Training objective (hnn_tf/objectives/): HNN-Net or the GHashing baseline.")


def seconds(timeout: float | None) -> float:
    """The per-model time limit: ``--timeout``, else :attr:`hnn_tf.safe_io.Limits.timeout_s`."""
    return current_limits().timeout_s if timeout is None else float(timeout)


@contextmanager
def guarded(path: str | None, timeout: float | None):
    """The CLI's bounds on one model: ``--timeout`` seconds and :attr:`Limits.memory_bytes` of memory."""
    with time_limit(seconds(timeout), path), memory_limit(current_limits().memory_bytes):
        yield


def exists_or_named(path: str) -> bool:
    """True if ``path`` exists or is a model name a converter builds (``timm:convnext_tiny``,
    :meth:`hnn_tf.converters.Converter.accepts_spec`)."""
    from hnn_tf.converters.registry import is_spec

    return Path(path).exists() or is_spec(str(path))


def analyse(path: str, bits, hasher_dir, trust: bool, timeout: float | None = None):
    """:func:`hnn_tf.hashing.analyse_model` of one file within the CLI's bounds.

    Raises:
        HNNError: a missing, unreadable or hostile file; TimeLimitExceeded past ``--timeout``.
    """
    from hnn_tf.hashing import analyse_model

    if not exists_or_named(path):
        raise HNNError("no such file", path)
    options = {"trust": True} if trust else {}
    CURRENT.append(path)
    try:
        with guarded(path, timeout):
            return analyse_model(path, bits=bits, hasher_dir=hasher_dir, **options)
    finally:
        CURRENT.pop()


def warn(message: str) -> None:
    """Print ``hnn: warning: MESSAGE`` on stderr."""
    click.echo(f"hnn: warning: {message}", err=True)


def si(n: int) -> str:
    """A count in short form: 11.7M, 3.6G, 950."""
    for unit, div in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    """A plain-text table: columns padded, those in ``right`` right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])
