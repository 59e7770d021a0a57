"""What a rewrite rule is, and the registries of rules, passes and their named sets.

Modelled on a rewrite engine such as onnxscript's rewriter: a :class:`Rule` matches at one
layer (:meth:`Rule.match`), checks the match and says *why* it does not apply
(:meth:`Rule.check` returns a reason, or None), and rewrites through the graph's edit methods
(:meth:`Rule.rewrite`). A rule never walks the graph or rebuilds producer/reader maps: the
engine (:mod:`hnn_tf.graph.rewrite`) offers it each live layer in topological order, and
:class:`~hnn_tf.graph.ir.GraphIR` keeps the maps. A :class:`Pass` works on the whole graph at
once (dead-layer removal).

Every rule and pass is registered (:func:`register_rule`, :func:`register_pass`) with a
``group`` (the named set it belongs to, e.g. ``"layout"``) and an ``order`` (its place in the
run order, unique across all steps); :func:`steps` lists a set's steps in order. One rule is
one file in :mod:`hnn_tf.graph.rules`; its docstring's first line is its summary (what
``hnn rules`` prints).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hnn_tf.graph.ir import GraphIR, Node

__all__ = ["PASSES", "RULES", "Pass", "Rule", "groups", "register_pass", "register_rule", "step", "steps"]


class Rule:
    """One rewrite rule. Subclass it, set the class attributes, and decorate with :func:`register_rule`.

    Attributes:
        name: the rule's name (``"fold_batchnorm"``).
        group: the named set it belongs to (``"batchnorm"``).
        order: its place in the run order of all steps (smaller runs first).
        ops: op types at which a match can start (the engine skips the others); None: any.
    """

    name: ClassVar[str] = ""
    group: ClassVar[str] = ""
    order: ClassVar[int] = 0
    ops: ClassVar[frozenset[str] | None] = None

    def match(self, g: GraphIR, node: Node) -> Any | None:
        """The match starting at ``node`` (any object the other methods understand), or None.

        The default matches every node whose op type is in :attr:`ops`.
        """
        return node

    def check(self, g: GraphIR, match: Any) -> str | None:
        """None if the rewrite applies to ``match``; otherwise why not, in a few words."""
        return None

    def rewrite(self, g: GraphIR, match: Any) -> bool:
        """Rewrite the graph at ``match`` through its edit methods; True if anything changed."""
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        """The first line of the rule's docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def __repr__(self) -> str:
        return f"<Rule {self.name} ({self.group})>"


class Pass:
    """A step over the whole graph at once. Subclass it and decorate with :func:`register_pass`.

    Attributes:
        name, group, order: as for :class:`Rule`.
    """

    name: ClassVar[str] = ""
    group: ClassVar[str] = ""
    order: ClassVar[int] = 0

    def run(self, g: GraphIR) -> bool:
        """Transform ``g`` in place; True if anything changed."""
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        """The first line of the pass's docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def __repr__(self) -> str:
        return f"<Pass {self.name} ({self.group})>"


RULES: dict[str, Rule] = {}
PASSES: dict[str, Pass] = {}


def _register(kind: str, registry: dict, cls: type) -> type:
    if not cls.name or not cls.group:
        raise ValueError(f"{kind} {cls.__name__} needs a name and a group")
    taken = {s.name: s for s in (*RULES.values(), *PASSES.values())}
    if cls.name in taken:
        raise ValueError(f"a step named {cls.name!r} is registered already")
    if any(s.order == cls.order for s in taken.values()):
        raise ValueError(f"{kind} {cls.name!r}: order {cls.order} is taken")
    registry[cls.name] = cls()
    return cls


def register_rule(cls: type[Rule]) -> type[Rule]:
    """Class decorator: register one instance of the rule under its name.

    Raises:
        ValueError: no name or group, a name already registered, or an order already taken.
    """
    return _register("rule", RULES, cls)


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: register one instance of the pass under its name (same checks as rules)."""
    return _register("pass", PASSES, cls)


def step(name: str) -> Rule | Pass:
    """The rule or pass registered under ``name``.

    Raises:
        KeyError: no step has that name.
    """
    if name in RULES:
        return RULES[name]
    return PASSES[name]


def groups() -> dict[str, list[Rule | Pass]]:
    """Every named set with its steps in run order, the sets ordered by their first step."""
    out: dict[str, list[Rule | Pass]] = {}
    for s in sorted((*RULES.values(), *PASSES.values()), key=lambda s: s.order):
        out.setdefault(s.group, []).append(s)
    return out


def steps(*set_names: str) -> list[Rule | Pass]:
    """The steps of the named sets, merged in run order.

    Raises:
        KeyError: a set name no step declares.
    """
    known = groups()
    for n in set_names:
        if n not in known:
            raise KeyError(f"no rule set named {n!r}; known: {', '.join(known)}")
    return sorted((s for n in set_names for s in known[n]), key=lambda s: s.order)
