"""``hnn hash``, ``hnn compare`` and ``hnn rules``: hashing model files, and the rules behind it."""

from __future__ import annotations

import json
import sys

import click

from hnn_tf.cli.app import fail
from hnn_tf.cli.options import analyse, bits_option, hasher_option, json_option, timeout_option, trust_option
from hnn_tf.errors import HNNError
from hnn_tf.safe_io import TimeLimitExceeded

__all__ = ["compare_cmd", "hash_cmd", "rules_cmd"]


@click.command("hash")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@bits_option
@hasher_option
@trust_option
@timeout_option
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object a line: path, framework, bits, hash, nodes, edges, flops, params, hasher_version, "
                   "sha256.")
def hash_cmd(paths, bits, hasher_dir, trust, timeout, as_json):
    """Print the Q-bit code of each model file, as Q/4 hex digits (one line a file).

    With several files each line is "HEX  PATH"; a file that cannot be hashed gets its one
    error line on stderr and the others are still hashed (exit status 2 if any failed).
    FLOPs in --json are 2 x multiply-adds on the trigger input.
    """
    failed = 0
    for path in paths:
        try:
            report = analyse(path, bits, hasher_dir, trust, timeout)
        except (HNNError, TimeLimitExceeded) as exc:
            if len(paths) == 1:
                raise
            fail(str(exc), exit_now=False)
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


@click.command("compare")
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@bits_option
@hasher_option
@trust_option
@timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print both codes and the distance as JSON.")
def compare_cmd(a, b, bits, hasher_dir, trust, timeout, as_json):
    """Print the Hamming distance between the codes of two model files (paper 3.1)."""
    ra, rb = analyse(a, bits, hasher_dir, trust, timeout), analyse(b, bits, hasher_dir, trust, timeout)
    distance = ra.hash - rb.hash
    if as_json:
        click.echo(json.dumps({"a": {"path": a, **ra.to_dict()}, "b": {"path": b, **rb.to_dict()}, "distance": distance}))
    else:
        click.echo(str(distance))


@click.command("rules")
@json_option
def rules_cmd(as_json):
    """List the graph recipes and the canonical rewrite rules, set by set, in run order.

    Read from the registries (hnn_tf/graph/recipes.py, hnn_tf/graph/rules/): one line a rule
    or pass with its summary.
    """
    from hnn_tf.graph.recipes import RECIPES
    from hnn_tf.graph.rules import Pass, groups

    sets = groups()
    if as_json:
        click.echo(json.dumps({
            "recipes": {r.name: {"rule_sets": list(r.rule_sets), "merge_rules": [m.label for m in r.merge_rules],
                                 "summary": r.summary} for r in RECIPES.values()},
            "rule_sets": {name: [{"name": s.name, "kind": "pass" if isinstance(s, Pass) else "rule",
                                  "summary": s.summary()} for s in steps] for name, steps in sets.items()},
        }))
        return
    for r in RECIPES.values():
        merged = ", ".join(m.label for m in r.merge_rules) or "none"
        click.echo(f"recipe {r.name}: rule sets {', '.join(r.rule_sets) or 'none'}; merge rules {merged}")
    for name, steps in sets.items():
        click.echo(f"\nset {name}")
        for s in steps:
            kind = "pass" if isinstance(s, Pass) else "rule"
            click.echo(f"  {s.name:<26} {kind}  {s.summary()}")
