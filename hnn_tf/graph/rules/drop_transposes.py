"""Rule ``drop_transposes``."""

from __future__ import annotations

from hnn_tf.graph.rules.base import Rule, register_rule

_RESHAPES = frozenset({"Reshape", "Flatten"})


@register_rule
class DropTransposes(Rule):
    """A Transpose is removed unless it sits between two Reshapes (a channel shuffle, a window partition).

    Where a Transpose stands is an exporter's or optimiser's choice as much as the model's:
    onnxruntime's transpose optimiser (``quant_pre_process``, basic optimisation) pushes the
    Transposes of attention past the Split and Squeezes that follow them, the dynamo and
    TorchScript exporters place the key transpose differently, tf2onnx adds layout Transposes.
    A permutation moves data (0 FLOPs, 0 parameters), and what it means for the computation
    shows in the MatMul and Reshape shapes around it. The one place it is the architecture
    itself is a Reshape -> Transpose -> Reshape (ShuffleNet's channel shuffle, Swin's window
    partition): those stay. Runs after ``drop_layout_transposes``.
    """

    name, group, order = "drop_transposes", "layout", 32
    ops = frozenset({"Transpose"})

    def check(self, g, n):
        p = g.producer(n.inputs[0]) if n.inputs else None
        r = g.sole_reader(n)
        if p is not None and r is not None and p.op in _RESHAPES and r.op in _RESHAPES:
            return "it is a shuffle between two reshapes"
        return None

    def rewrite(self, g, n):
        return g.bypass_to_data_input(n)
