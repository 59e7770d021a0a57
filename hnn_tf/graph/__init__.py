"""The graph builder: ONNX model -> layer graph (paper 3.2; docs/design.md "The flow").

- :func:`build_graph` (:mod:`.builder`): clean-up, shapes, FLOPs and parameters, optionally
  the canonical rewrite rules and the merge rules; in two halves, :func:`build_ir` (the
  expensive one) and :func:`graph_from_ir`;
- :mod:`.shapes` and :mod:`.propagate`: static shapes on the trigger input;
- :mod:`.ir`: the intermediate representation the rules edit;
- :mod:`.rules`: the rules and passes, one a file, in named sets; :mod:`.rewrite`: the engine;
- :mod:`.recipes`: one recipe per data variant (raw, merged, canonical), read by the zoo,
  hashing and the CLI alike;
- :mod:`.merge`: the paper's merge rules; :mod:`.layer_graph`: the result.
"""

from hnn_tf.graph.builder import build_graph, build_ir, graph_from_ir
from hnn_tf.graph.ir import GraphIR
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.graph.merge import CANONICAL_MERGE_RULES, PAPER_MERGE_RULES, MergeRule, merge_graph
from hnn_tf.graph.recipes import RECIPES, Recipe, get_recipe
from hnn_tf.graph.rewrite import RewriteReport, canonicalize
from hnn_tf.graph.rules import CANONICAL_SETS, RULES, Pass, Rule, steps

#: The canonical graph's steps (rules and passes) in run order, read from the rule registry.
CANONICAL_RULES: tuple = tuple(steps(*CANONICAL_SETS))

__all__ = [
    "CANONICAL_MERGE_RULES",
    "CANONICAL_RULES",
    "CANONICAL_SETS",
    "GraphIR",
    "LayerGraph",
    "MergeRule",
    "PAPER_MERGE_RULES",
    "Pass",
    "RECIPES",
    "RULES",
    "Recipe",
    "RewriteReport",
    "Rule",
    "build_graph",
    "build_ir",
    "canonicalize",
    "get_recipe",
    "graph_from_ir",
    "merge_graph",
    "steps",
]
