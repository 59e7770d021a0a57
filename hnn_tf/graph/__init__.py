"""The graph builder: ONNX model -> canonical layer graph (paper 3.2, DESIGN.md)."""

from hnn_tf.graph.builder import build_graph
from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.graph.merge import PAPER_MERGE_RULES, MergeRule, merge_graph

__all__ = ["LayerGraph", "MergeRule", "PAPER_MERGE_RULES", "build_graph", "merge_graph"]
