"""The canonical rewrite rules, one registered unit a file, in named sets.

The raw layer graph of an architecture changes with things that are not the architecture:
whether the exporter folded BatchNorm into the convolutions, whether weights were trained
(exporters drop all-zero biases and Adds of zeros), the framework's tensor layout (tf2onnx
adds NHWC <-> NCHW Transposes and explicit Pads), how a framework spells global pooling,
flattening, dense layers and ReLU6, and whether the model ends in a Softmax. The rules
rewrite those spellings into one form, on the :class:`~hnn_tf.graph.ir.GraphIR` that
:func:`hnn_tf.graph.build_graph` makes after its clean-up and after FLOPs and parameters are
counted per ONNX node; each rule says how it changes those counts.

FLOPs and parameters (units as in :mod:`hnn_tf.graph.cost`). A folded BatchNorm (or a
per-channel Mul/Add folded into a Conv) is absorbed into the Conv's weights and bias at
inference: the Conv keeps its own FLOPs (bias additions are not counted) and its parameter
count becomes *weights + one bias per output channel* (``count_affine_bias``). The same count
is given to every Conv, ConvTranspose and Gemm whether its bias is stored or not, because
exporters store it or not for reasons that are not the architecture (folding, all-zero
biases dropped). So a PyTorch export with BatchNorm kept (Conv weights + 2C BN parameters),
one with BatchNorm folded (Conv weights + bias C) and a tf2onnx export all give the same
FLOPs and parameters, exactly. Removed nodes (Softmax, Transposes, Pads, Reshapes) carry 0
parameters and FLOPs that the canonical graph drops: data movement and the final Softmax
are not layers of the architecture. The paper's raw and merged graphs apply no rule.

Each module of this package (except those starting with ``_`` and :mod:`.base`) defines one
rule or pass and registers it on import (:func:`~hnn_tf.graph.rules.base.register_rule`); this
package imports them all, so the registries :data:`RULES` and :data:`PASSES` and the named sets
(:func:`groups`, :func:`steps`) are the one list of rules. ``hnn rules`` prints it; the
README and the tests read it from here. Adding a rule is adding one file.

The sets, in run order: ``precision`` (float Casts, QuantizeLinear/DequantizeLinear pairs,
QOperator ops and dynamic quantization back to the float ops), ``cleanup`` (trailing Softmax,
dead layers), ``layout`` (layout Transposes, single-input and nested Concats, Pads),
``spelling`` (Clip as ReLU/ReLU6, MatMul + Add as Gemm), ``activations`` (SiLU, HardSigmoid,
HardSwish and GELU written out, as one layer each), ``normalization`` (LayerNorm and RMSNorm
written out, as one layer each), ``batchnorm`` (per-channel affine chains as BatchNorm,
BatchNorm folded into Conv), ``pooling`` (global pooling, flattening) and ``counts`` (affine
bias parameters), then ``order`` (one canonical topological order). The canonical graph
applies them all (:data:`CANONICAL_SETS`).
"""

from __future__ import annotations

import importlib
import pkgutil

from hnn_tf.graph.rules.base import PASSES, RULES, Pass, Rule, groups, register_pass, register_rule, step, steps

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

#: The rule sets the canonical graph applies, in order.
CANONICAL_SETS: tuple[str, ...] = ("precision", "cleanup", "layout", "spelling", "activations", "normalization",
                                   "batchnorm", "pooling", "counts", "order")

__all__ = ["CANONICAL_SETS", "PASSES", "RULES", "Pass", "Rule", "groups", "register_pass", "register_rule", "step",
           "steps"]
