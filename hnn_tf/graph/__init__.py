"""The graph builder: ONNX model -> canonical layer graph (paper 3.2, DESIGN.md)."""

from hnn_tf.graph.builder import build_graph
from hnn_tf.graph.canonical import CANONICAL_RULES, Rule, canonicalize
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.graph.merge import CANONICAL_MERGE_RULES, PAPER_MERGE_RULES, MergeRule, merge_graph

__all__ = [
    "CANONICAL_MERGE_RULES",
    "CANONICAL_RULES",
    "LayerGraph",
    "MergeRule",
    "PAPER_MERGE_RULES",
    "Rule",
    "build_graph",
    "canonicalize",
    "merge_graph",
]
