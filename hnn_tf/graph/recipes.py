"""One recipe per data variant: how a model becomes the graph a hasher reads.

A hasher is trained on graphs of one variant and must hash graphs made the same way (docs/design.md
"One recipe per data variant"). The zoo (:mod:`hnn_tf.zoo.dataset`), hashing
(:func:`hnn_tf.hashing.analyse_model`) and the CLI's ``--variant`` choices all read
:data:`RECIPES`, so they cannot disagree:

==============  ============================================  ==================================
variant         base graph                                    merge rules (paper 3.2.2)
==============  ============================================  ==================================
``raw``         the layers as exported (paper 4.2.1, raw)      none
``merged``      the layers as exported                        the paper's four
                                                              (:data:`PAPER_MERGE_RULES`)
``canonical``   the canonical rule sets applied               Conv-ReLU, Conv-ReLU6
                (:data:`hnn_tf.graph.rules.CANONICAL_SETS`)   (:data:`CANONICAL_MERGE_RULES`)
==============  ============================================  ==================================
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from hnn_tf.errors import HNNError
from hnn_tf.graph.builder import build_graph, graph_from_ir
from hnn_tf.graph.ir import GraphIR
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.graph.merge import CANONICAL_MERGE_RULES, PAPER_MERGE_RULES, MergeRule, merge_graph
from hnn_tf.graph.rules import CANONICAL_SETS

__all__ = ["RECIPES", "Recipe", "get_recipe"]


@dataclass(frozen=True)
class Recipe:
    """How one data variant's graphs are made.

    Attributes:
        name: the variant (``"raw"``, ``"merged"``, ``"canonical"``).
        rule_sets: the rewrite rule sets applied before merging (empty: the raw layers).
        merge_rules: the merge rules applied last (empty: none).
        summary: one line for ``--help`` and docs.
    """

    name: str
    rule_sets: tuple[str, ...]
    merge_rules: tuple[MergeRule, ...]
    summary: str

    @property
    def base(self) -> str:
        """Which base graph the recipe starts from: ``"raw"``, or the rule sets joined by ``+``."""
        return "+".join(self.rule_sets) if self.rule_sets else "raw"

    def build_base(self, model: onnx.ModelProto, source: str | None = None, trace: list | None = None) -> LayerGraph:
        """The base graph of ``model`` (before merging; see :func:`hnn_tf.graph.build_graph`).

        Raises:
            GraphError: as :func:`hnn_tf.graph.build_graph`.
        """
        return build_graph(model, source=source, canonical=self.rule_sets or False, trace=trace)

    def base_from_ir(self, ir: GraphIR, source: str | None = None) -> LayerGraph:
        """The base graph from an IR of :func:`hnn_tf.graph.builder.build_ir` (left unchanged).

        Raises:
            GraphError: a rule failed on a hostile graph.
        """
        return graph_from_ir(GraphIR.from_dict(ir.to_dict()) if self.rule_sets else ir,
                             canonical=self.rule_sets or False, source=source)

    def finish(self, base: LayerGraph) -> LayerGraph:
        """Apply the merge rules to a base graph made by :meth:`build_base`."""
        return merge_graph(base, self.merge_rules) if self.merge_rules else base

    def build(self, model: onnx.ModelProto, source: str | None = None) -> LayerGraph:
        """The graph of ``model`` for this variant: :meth:`finish` of :meth:`build_base`.

        Raises:
            GraphError: as :func:`hnn_tf.graph.build_graph`.
        """
        return self.finish(self.build_base(model, source=source))


#: The recipes by variant name.
RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("raw", (), (), "the layers as exported (paper 4.2.1)"),
    Recipe("merged", (), PAPER_MERGE_RULES, "the layers as exported, the paper's merge rules applied (3.2.2)"),
    Recipe("canonical", CANONICAL_SETS, CANONICAL_MERGE_RULES,
           "framework-independent canonical graphs, Conv-ReLU and Conv-ReLU6 merged"),
)}


def get_recipe(name: str) -> Recipe:
    """The recipe of variant ``name``.

    Raises:
        HNNError: no such variant (the message lists the known ones).
    """
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise HNNError(f"unknown graph variant {name!r}; known: {', '.join(RECIPES)}") from None
