"""The rewrite engine: applies rules and passes to a :class:`~hnn_tf.graph.ir.GraphIR`.

The engine owns the traversal: a rule is offered every live layer of its op types, in
topological order, one rule over the whole graph at a time, in the steps' run order; the
whole sequence repeats until no step changes anything (a fixed point), at most
:data:`MAX_PASSES` times. :func:`canonicalize` returns a :class:`RewriteReport` that says
whether it converged, how many rewrites each step made, and (with ``explain``) why matches
were turned down.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from hnn_tf.graph.ir import GraphIR
from hnn_tf.graph.rules import CANONICAL_SETS, Pass, Rule, step, steps

__all__ = ["MAX_PASSES", "RewriteReport", "apply", "canonicalize"]

log = logging.getLogger(__name__)

#: Passes over the steps at most (one normally suffices; a second confirms the fixed point).
MAX_PASSES = 4


@dataclass
class RewriteReport:
    """What :func:`canonicalize` did.

    Attributes:
        converged: True when the last pass changed nothing (a fixed point was reached).
        passes: passes over the steps that ran.
        rewrites: per step name, the rewrites it made over all passes.
        explain: with ``explain=True``, ``(step, layer name, reason)`` for every match a
            rule's check turned down.
    """

    converged: bool
    passes: int
    rewrites: Counter = field(default_factory=Counter)
    explain: list[tuple[str, str, str]] = field(default_factory=list)


def apply(g: GraphIR, unit: Rule | Pass | str, explain: list | None = None) -> int:
    """Apply one rule (offered each live layer of its op types once) or one pass to ``g``.

    Args:
        g: the graph, edited in place.
        unit: a rule, a pass, or the name of one.
        explain: a list that receives ``(name, layer name, reason)`` for matches turned down.
    Returns:
        the number of rewrites (for a pass: 1 if it changed the graph, else 0).
    """
    if isinstance(unit, str):
        unit = step(unit)
    if isinstance(unit, Pass):
        return int(bool(unit.run(g)))
    done = 0
    for node in g.nodes:
        if not node.alive or (unit.ops is not None and node.op not in unit.ops):
            continue
        match = unit.match(g, node)
        if match is None:
            continue
        reason = unit.check(g, match)
        if reason is not None:
            if explain is not None:
                explain.append((unit.name, node.name, reason))
            continue
        if unit.rewrite(g, match):
            done += 1
    return done


def canonicalize(g: GraphIR, sets: tuple[str, ...] | list[str] = CANONICAL_SETS, trace: list | None = None,
                 explain: bool = False, max_passes: int = MAX_PASSES) -> RewriteReport:
    """Apply the steps of the named rule sets, in run order, until a fixed point.

    Args:
        g: the graph (edited in place).
        sets: names of rule sets (default: the canonical graph's, :data:`CANONICAL_SETS`).
        trace: a list that receives ``(step name, layer count after it)`` for each step of
            the first pass.
        explain: collect why matches were turned down (:attr:`RewriteReport.explain`).
        max_passes: passes at most.
    Returns:
        the :class:`RewriteReport`; ``converged`` is False (and a warning is logged) when the
        graph still changed in the last allowed pass.
    """
    report = RewriteReport(converged=False, passes=0)
    units = steps(*sets)
    for k in range(max_passes):
        changed = 0
        for unit in units:
            n = apply(g, unit, report.explain if explain else None)
            report.rewrites[unit.name] += n
            changed += n
            if trace is not None and k == 0:
                trace.append((unit.name, len(g)))
        report.passes = k + 1
        if not changed:
            report.converged = True
            break
    if not report.converged:
        log.warning("the canonical rules did not reach a fixed point in %d passes", max_passes)
    return report
