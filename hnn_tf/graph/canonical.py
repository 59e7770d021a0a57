"""Canonical graph normalisation: one architecture gives one layer graph (DESIGN.md).

The raw layer graph of an architecture changes with things that are not the architecture:
whether the exporter folded BatchNorm into the convolutions, whether weights were trained
(exporters drop all-zero biases and Adds of zeros), the framework's tensor layout (tf2onnx
adds NHWC <-> NCHW Transposes and explicit Pads), how a framework spells global pooling,
flattening, dense layers and ReLU6, and whether the model ends in a Softmax. The rules below
rewrite those spellings into one form. They run on a small intermediate representation,
:class:`CanonicalGraph`, built by :func:`hnn_tf.graph.build_graph` after its clean-up
(Identity, Constant, Dropout and shape computations removed) and after FLOPs and parameters
are counted per ONNX node; each rule says how it changes those counts.

Rules (applied in this order, the whole list repeated until nothing changes):

====================================  =====================================================
``strip_trailing_softmax``            Softmax / LogSoftmax producing a model output: removed.
``remove_dead_nodes``                 layers from which no model output can be reached.
``drop_layout_transposes``            Transposes that only move the channel axis between
                                      position 1 and the last (NHWC <-> NCHW).
``drop_single_input_concat``          Concat / Sum / Max / Min / Mean of one input.
``merge_nested_concat``               a Concat read only by a Concat on the same axis ->
                                      merged into it.
``fold_pad``                          a zero Pad feeding only Conv / pooling layers.
``clip_to_relu``                      Clip(0, 6) -> ``Relu6``; Clip(0, +inf) -> ``Relu``.
``matmul_add_to_gemm``                MatMul by a constant 2-D matrix (+ Add of a constant
                                      bias) -> ``Gemm``.
``affine_to_batchnorm``               per-channel constant Mul / Add / Sub chains (Keras 3's
                                      inference BatchNorm) -> ``BatchNormalization``.
``fold_batchnorm``                    BatchNormalization after a Conv -> folded into it.
``global_pool``                       ReduceMean / ReduceMax (or ReduceSum then Div by the
                                      size) over all spatial axes -> GlobalAveragePool /
                                      GlobalMaxPool.
``reshape_to_flatten``                Reshape / Squeeze / Flatten of (N, C, ...) to
                                      (N, C * ...) -> ``Flatten``.
``count_affine_bias``                 Conv / ConvTranspose / Gemm parameters = weights + one
                                      bias per output channel, stored or not.
====================================  =====================================================

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
are not layers of the architecture.

The graph that the paper's raw/merged protocol uses is built without these rules
(``build_graph(..., canonical=False)``, the default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hnn_tf.graph.layer_graph import LayerGraph

#: Constants with at most this many elements have their values read (axes, pads, Clip bounds).
SMALL_CONST = 64


@dataclass
class Const:
    """A constant input of a layer: an initializer, a Constant (or ConstantOfShape) node's
    output, or a tensor computed from constants alone by nodes the clean-up removed.

    Attributes:
        dims: its shape (``()`` also when a computed constant's shape is unknown).
        dtype: ONNX ``TensorProto`` element type (``UNDEFINED`` for a computed constant).
        value: its value as a numpy array when it is small (<= :data:`SMALL_CONST`
            elements) and stored in the model, else None.
    """

    dims: tuple[int, ...]
    dtype: int
    value: np.ndarray | None = None

    @property
    def numel(self) -> int:
        """Number of elements."""
        return int(np.prod(self.dims, dtype=np.int64)) if self.dims else 1


@dataclass(eq=False)
class Node:
    """One layer of a :class:`CanonicalGraph`.

    Attributes:
        op: op type (an ONNX op type, or a canonical label such as ``Relu6``).
        name: the ONNX node name.
        inputs: input tensor names in ONNX order (``""`` for an absent optional input);
            each is a data tensor (a model input or another layer's output) or a constant.
        outputs: output tensor names.
        attrs: the node's attributes (``onnx.helper.get_attribute_value`` values).
        flops: FLOPs (2 x MACs), int >= 0.
        params: trainable parameters, int >= 0.
        in_shapes, out_shapes: static shapes (tuples of int, None if unknown) of the tensors
            the node was built with, in input / output order. They stay as they were when
            rules rewire the node, so a rule reads a node's attributes (axes, pads) in the
            layout the node computes in, even after a layout Transpose before it is dropped.
        key: the node's place in the topological order (a tuple; set by the graph).
        alive: False once the graph has removed the node.
    """

    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    flops: int = 0
    params: int = 0
    in_shapes: list = field(default_factory=list)
    out_shapes: list = field(default_factory=list)
    key: tuple = field(default=(), repr=False)
    alive: bool = field(default=True, repr=False)

    def in_shape(self, k: int = 0) -> tuple | None:
        """Static shape of input ``k`` as built, None if unknown."""
        return _static(self.in_shapes[k]) if k < len(self.in_shapes) else None

    def out_shape(self, k: int = 0) -> tuple | None:
        """Static shape of output ``k`` as built, None if unknown."""
        return _static(self.out_shapes[k]) if k < len(self.out_shapes) else None


def _static(shape) -> tuple | None:
    if shape is None or any(d is None for d in shape):
        return None
    return tuple(int(d) for d in shape)


class CanonicalGraph:
    """The intermediate representation the rules rewrite: layers with their tensors.

    The graph keeps, for every data tensor, its producer and its readers, and updates them
    on each edit, so every edit costs the degree of the nodes it touches, not the size of
    the graph. Rules change the graph through the edit methods (:meth:`set_inputs`,
    :meth:`remove`, :meth:`bypass`, :meth:`absorb`, :meth:`insert_after`, :meth:`replace`),
    never by assigning to a node's ``inputs``/``outputs`` or to :attr:`nodes`.

    Args:
        nodes: layers in topological order.
        inputs: names of the model's data inputs.
        outputs: names of the model's outputs (after Identity links were followed).
        consts: constant tensors by name.

    Attributes:
        inputs, outputs, consts: as given (``outputs`` follows :meth:`bypass`).
    """

    def __init__(self, nodes: list[Node], inputs: set[str], outputs: list[str], consts: dict[str, Const]):
        self.inputs = set(inputs)
        self.outputs = list(outputs)
        self._output_set = set(self.outputs)
        self.consts = consts
        self._all: list[Node] = []
        self._producer: dict[str, Node] = {}
        self._readers: dict[str, dict[int, Node]] = {}
        self._dirty = False
        self._seq = 0
        for k, n in enumerate(nodes):
            n.key, n.alive = (k,), True
            self._link(n)
            self._all.append(n)

    # -- bookkeeping -------------------------------------------------------------------
    def _link(self, n: Node) -> None:
        for o in n.outputs:
            if o:
                self._producer[o] = n
        for i in dict.fromkeys(n.inputs):
            if i and i not in self.consts:
                self._readers.setdefault(i, {})[id(n)] = n

    def _unlink(self, n: Node) -> None:
        for o in n.outputs:
            if o and self._producer.get(o) is n:
                del self._producer[o]
        for i in dict.fromkeys(n.inputs):
            readers = self._readers.get(i)
            if readers is not None:
                readers.pop(id(n), None)
                if not readers:
                    del self._readers[i]

    @property
    def nodes(self) -> list[Node]:
        """The live layers in topological order (a new list; edit through the graph's methods)."""
        if self._dirty:
            self._all = sorted((n for n in self._all if n.alive), key=lambda n: n.key)
            self._dirty = False
        return list(self._all)

    def __len__(self) -> int:
        return len(self.nodes)

    # -- queries -----------------------------------------------------------------------
    def producer(self, tensor: str) -> Node | None:
        """The layer producing ``tensor``, or None (a model input, a constant, unknown)."""
        return self._producer.get(tensor)

    def readers(self, tensor: str) -> list[Node]:
        """The layers reading data tensor ``tensor`` (each once), in the order they were linked."""
        return list(self._readers.get(tensor, {}).values())

    def producers(self) -> dict[str, Node]:
        """Data tensor name -> the layer producing it (a copy)."""
        return dict(self._producer)

    def consumers(self) -> dict[str, list[Node]]:
        """Data tensor name -> the layers reading it (each listed once; a copy)."""
        return {t: list(r.values()) for t, r in self._readers.items()}

    def data_inputs(self, node: Node) -> list[str]:
        """The node's inputs that are data (not constants, not absent)."""
        return [i for i in node.inputs if i and i not in self.consts]

    def const(self, node: Node, index: int) -> Const | None:
        """The constant at input ``index`` of ``node``, or None (absent or data)."""
        if index < len(node.inputs) and node.inputs[index] in self.consts:
            return self.consts[node.inputs[index]]
        return None

    def is_output(self, tensor: str) -> bool:
        """True if ``tensor`` is a model output."""
        return tensor in self._output_set

    def sole_reader(self, node: Node) -> Node | None:
        """The one layer reading ``node``'s (single) output, if exactly one does and it is no model output."""
        if len([o for o in node.outputs if o]) != 1 or node.outputs[0] in self._output_set:
            return None
        readers = self._readers.get(node.outputs[0], {})
        return next(iter(readers.values())) if len(readers) == 1 else None

    # -- edits -------------------------------------------------------------------------
    def set_inputs(self, node: Node, inputs: list[str]) -> None:
        """Give ``node`` new input tensors (its reader links follow)."""
        self._unlink(node)
        node.inputs = list(inputs)
        self._link(node)

    def set_outputs(self, node: Node, outputs: list[str], shapes: list | None = None) -> None:
        """Give ``node`` new output tensors (and their shapes, when given)."""
        self._unlink(node)
        node.outputs = list(outputs)
        if shapes is not None:
            node.out_shapes = list(shapes)
        self._link(node)

    def remove(self, node: Node) -> None:
        """Drop ``node`` from the graph (its readers keep their inputs: the caller rewires them)."""
        if node.alive:
            self._unlink(node)
            node.alive = False
            self._dirty = True

    def bypass(self, node: Node, source: str) -> None:
        """Remove ``node``; every reader of its first output reads ``source`` instead."""
        old = node.outputs[0]
        for r in self.readers(old):
            if r is not node:
                self.set_inputs(r, [source if i == old else i for i in r.inputs])
        if old in self._output_set:
            self.outputs = [source if o == old else o for o in self.outputs]
            self._output_set = set(self.outputs)
        self.remove(node)

    def bypass_to_data_input(self, node: Node) -> bool:
        """:meth:`bypass` ``node`` to its first data input; False (nothing done) if it has none."""
        src = self.data_inputs(node)
        if not src:
            return False
        self.bypass(node, src[0])
        return True

    def absorb(self, keep: Node, gone: Node) -> None:
        """Remove ``gone`` (the only reader of ``keep``'s output); ``keep`` takes its outputs."""
        self.remove(gone)
        self.set_outputs(keep, list(gone.outputs), list(gone.out_shapes))

    def insert_after(self, anchor: Node, node: Node) -> Node:
        """Add ``node`` right after ``anchor`` in the topological order; returns it."""
        self._seq += 1
        node.key, node.alive = anchor.key + (self._seq,), True
        self._link(node)
        self._all.append(node)
        self._dirty = True
        return node

    def replace(self, chain: list[Node], node: Node) -> Node:
        """Remove the nodes of ``chain`` and put ``node`` where the first of them was; returns it."""
        key = chain[0].key
        for c in chain:
            self.remove(c)
        node.key, node.alive = key, True
        self._link(node)
        self._all.append(node)
        self._dirty = True
        return node

    # -- result ------------------------------------------------------------------------
    def to_layer_graph(self) -> LayerGraph:
        """The :class:`LayerGraph` of these layers (edges: data tensors between them)."""
        nodes = self.nodes
        index = {o: k for k, n in enumerate(nodes) for o in n.outputs if o}
        edges = set()
        for k, n in enumerate(nodes):
            for i in n.inputs:
                if i in index and index[i] != k:
                    edges.add((index[i], k))
        return LayerGraph(
            ops=[n.op for n in nodes],
            flops=[n.flops for n in nodes],
            params=[n.params for n in nodes],
            edges=sorted(edges),
            names=[n.name for n in nodes],
        )


@dataclass(frozen=True)
class Rule:
    """One named rewrite rule: ``apply(graph)`` edits the graph in place, returns True if it changed it."""

    name: str
    apply: Callable[[CanonicalGraph], bool]

    def __repr__(self) -> str:
        return f"<Rule {self.name}>"


# ----------------------------------------------------------------------------- helpers


def _value(c: Const | None) -> np.ndarray | None:
    return None if c is None else c.value


def _channel_axis(shape: tuple | None, c: Const) -> int | None:
    """The channel axis along which constant ``c``, broadcast against a tensor of ``shape``, varies.

    Per-channel means: ``c`` has one element per channel and, broadcast with numpy's rules
    (trailing axes aligned), varies along one axis only, which is axis 1 (NCHW, or (N, C))
    or the last axis (NHWC, as Keras computes). Returns that axis, or None.
    """
    if shape is None or len(shape) < 2:
        return None
    rank = len(shape)
    dims = tuple(int(d) for d in c.dims)
    if len(dims) > rank:
        return None
    padded = (1,) * (rank - len(dims)) + dims  # numpy broadcasting aligns trailing axes
    varying = [k for k, d in enumerate(padded) if d != 1]
    if len(varying) != 1:
        return None
    axis = varying[0]
    if axis not in (1, rank - 1) or padded[axis] != shape[axis] or shape[axis] <= 1:
        return None
    return axis


# ----------------------------------------------------------------------------- the rules


def _bypass_where(g: CanonicalGraph, drop) -> bool:
    """Bypass every node for which ``drop(node)`` is true; True if any was removed."""
    changed = False
    for n in g.nodes:
        if n.alive and drop(n):
            changed |= g.bypass_to_data_input(n)
    return changed


def strip_trailing_softmax(g: CanonicalGraph) -> bool:
    """Remove a Softmax or LogSoftmax whose output is a model output and that nothing else reads.

    Keras applications end in a Softmax (``classifier_activation``), torchvision models do not;
    it is the classifier's output activation, not a layer of the feature graph.
    """
    return _bypass_where(g, lambda n: n.op in ("Softmax", "LogSoftmax") and g.is_output(n.outputs[0])
                         and not g.readers(n.outputs[0]))


def remove_dead_nodes(g: CanonicalGraph) -> bool:
    """Remove layers none of whose outputs reach a model output (unused branches)."""
    live: set[int] = set()
    stack = [p for p in (g.producer(o) for o in g.outputs) if p is not None]
    while stack:
        n = stack.pop()
        if id(n) in live:
            continue
        live.add(id(n))
        stack.extend(p for p in (g.producer(i) for i in n.inputs if i) if p is not None)
    if not live:  # no output is produced by a layer: keep everything rather than nothing
        return False
    dead = [n for n in g.nodes if id(n) not in live]
    for n in dead:
        g.remove(n)
    return bool(dead)


def _is_layout_perm(perm: Any) -> bool:
    perm = [int(p) for p in perm] if perm is not None else []
    r = len(perm)
    if r < 3:
        return False
    to_last = [0] + list(range(2, r)) + [1]  # NCHW -> NHWC
    to_first = [0, r - 1] + list(range(1, r - 1))  # NHWC -> NCHW
    return perm in (to_last, to_first)


def drop_layout_transposes(g: CanonicalGraph) -> bool:
    """Remove Transposes that move the channel axis between position 1 and the last.

    tf2onnx keeps Keras' NHWC interface by transposing the input to NCHW (and back before
    NHWC-only ops such as a Flatten); a Transpose with any other permutation (a channel
    shuffle) is architecture and stays.
    """
    return _bypass_where(g, lambda n: n.op == "Transpose" and _is_layout_perm(n.attrs.get("perm")))


def drop_single_input_concat(g: CanonicalGraph) -> bool:
    """Remove Concat (and variadic Sum/Max/Min/Mean) nodes with a single input: they copy it."""
    return _bypass_where(g, lambda n: n.op in ("Concat", "Sum", "Max", "Min", "Mean")
                         and len([i for i in n.inputs if i]) == 1)


def _concat_axis(n: Node) -> int | None:
    shape = n.out_shape(0)
    axis = n.attrs.get("axis")
    if shape is None or axis is None:
        return None
    return int(axis) % len(shape)


def merge_nested_concat(g: CanonicalGraph) -> bool:
    """A Concat whose only reader is another Concat along the same axis is merged into it.

    ``cat([a, cat([b, c])])`` is ``cat([a, b, c])``: PyTorch's exporter and TensorFlow's
    Grappler write the flat form (Inception blocks), tf2onnx without Grappler (the weight-free
    Keras route) the nested one. Both are data movement (0 FLOPs, 0 parameters).
    """
    changed = False
    for inner in g.nodes:
        if inner.op != "Concat" or not inner.alive:
            continue
        outer = g.sole_reader(inner)
        if outer is None or outer.op != "Concat" or _concat_axis(outer) is None \
                or _concat_axis(inner) != _concat_axis(outer):
            continue
        spliced: list[str] = []
        for i in outer.inputs:
            spliced.extend(inner.inputs if i == inner.outputs[0] else [i])
        g.remove(inner)
        g.set_inputs(outer, spliced)
        changed = True
    return changed


_PAD_TARGETS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"}


def fold_pad(g: CanonicalGraph) -> bool:
    """Remove a constant-zero Pad of the spatial axes whose readers are all Conv or pooling layers.

    Framework spelling: PyTorch puts the padding into the Conv's ``pads``, tf2onnx often
    keeps Keras' ``ZeroPadding2D`` as a Pad node. The Conv's FLOPs do not change (they
    depend on its output shape, which is the same either way). The batch axis and the
    channel axis (1, or the last in NHWC) must not be padded.
    """
    changed = False
    for n in g.nodes:
        if n.op != "Pad" or not n.alive or n.attrs.get("mode", b"constant") not in (b"constant", "constant"):
            continue
        fill = _value(g.const(n, 2))
        if fill is not None and np.any(fill != 0):
            continue
        pads = _value(g.const(n, 1))
        if pads is None and "pads" in n.attrs:
            pads = np.asarray(n.attrs["pads"])
        if pads is not None:
            pads = np.asarray(pads).reshape(-1)
            r = len(pads) // 2
            if r < 3 or len(n.inputs) > 3 and n.inputs[3]:
                continue  # a Pad of chosen axes only: leave it
            per_axis = pads[:r] + pads[r:]
            if per_axis[0] != 0 or (per_axis[1] != 0 and per_axis[r - 1] != 0):
                continue
        readers = g.readers(n.outputs[0])
        if readers and not g.is_output(n.outputs[0]) and all(r.op in _PAD_TARGETS for r in readers):
            changed |= g.bypass_to_data_input(n)
    return changed


def clip_to_relu(g: CanonicalGraph) -> bool:
    """Relabel Clip(0, 6) as ``Relu6`` and Clip(0, +inf) as ``Relu``.

    PyTorch exports ReLU6 as Clip with constant bounds (inputs from opset 11 on, attributes
    before); tf2onnx and TFLite do the same for Keras' ReLU(max_value=6). A Clip whose
    bounds are unknown or other stays ``Clip``.
    """
    changed = False
    for n in g.nodes:
        if n.op != "Clip":
            continue
        lo = _value(g.const(n, 1))
        hi = _value(g.const(n, 2))
        if lo is None and "min" in n.attrs:
            lo = np.asarray(n.attrs["min"])
        if hi is None and "max" in n.attrs:
            hi = np.asarray(n.attrs["max"])
        if lo is None or np.size(lo) != 1 or float(np.asarray(lo).reshape(-1)[0]) != 0.0:
            continue
        has_hi = len(n.inputs) > 2 and n.inputs[2] or "max" in n.attrs
        if hi is None and has_hi:
            continue  # an upper bound we cannot read
        top = float("inf") if hi is None else float(np.asarray(hi).reshape(-1)[0])
        label = "Relu6" if top == 6.0 else "Relu" if top == float("inf") else None
        if label:
            n.op = label
            changed = True
    return changed


def matmul_add_to_gemm(g: CanonicalGraph) -> bool:
    """MatMul of a 2-D tensor by a constant 2-D matrix, with an optional following Add of a
    constant bias, becomes one ``Gemm`` (PyTorch's Linear; tf2onnx writes Keras' Dense so).

    FLOPs stay the MatMul's (bias additions are not counted); parameters are recounted by
    ``count_affine_bias``.
    """
    changed = False
    for n in g.nodes:
        if n.op != "MatMul" or len(n.inputs) != 2 or not n.alive:
            continue
        w = g.const(n, 1)
        a = n.in_shape(0)
        if w is None or len(w.dims) != 2 or a is None or len(a) != 2 or n.inputs[0] in g.consts:
            continue
        n.op = "Gemm"
        n.attrs = {"transB": 0}
        changed = True
        nxt = g.sole_reader(n)
        if nxt is not None and nxt.op == "Add" and len(nxt.inputs) == 2:
            other = [i for i in nxt.inputs if i != n.outputs[0]]
            if len(other) == 1 and other[0] in g.consts and g.consts[other[0]].numel == w.dims[1]:
                g.set_inputs(n, [n.inputs[0], n.inputs[1], other[0]])
                g.absorb(n, nxt)
    return changed


_SCALE_SHIFT = {"Mul", "Add", "Sub"}
_AFFINE_PRODUCERS = {"Conv", "ConvTranspose"}


def _scale_shift_axis(g: CanonicalGraph, n: Node) -> int | None:
    """Channel axis if ``n`` is ``x * c``, ``x + c`` or ``x - c`` with a per-channel constant c."""
    if n.op not in _SCALE_SHIFT or len(n.inputs) != 2:
        return None
    data = [k for k, i in enumerate(n.inputs) if i not in g.consts]
    consts = [k for k, i in enumerate(n.inputs) if i in g.consts]
    if len(data) != 1 or len(consts) != 1:
        return None
    if n.op == "Sub" and consts[0] != 1:
        return None  # c - x flips the sign of the data: not a scale-shift of x
    return _channel_axis(n.out_shape(0), g.consts[n.inputs[consts[0]]])


def affine_to_batchnorm(g: CanonicalGraph) -> bool:
    """A chain of Mul / Add / Sub by per-channel constants becomes one ``BatchNormalization``.

    Keras 3 writes an inference BatchNorm as ``x * scale + shift`` (tf2onnx drops the Add
    when the shift is all zeros, as with untrained weights), and a Keras model converted
    with its weights left out (as :mod:`converters.keras_tf` does) keeps the bias add of a
    Conv and the BatchNorm as such a chain too; it is the same layer as ONNX's
    BatchNormalization. A chain qualifies if it has a Mul, or if it directly follows a
    Conv (a separate bias add). The new node has BatchNormalization's cost: FLOPs 2 per
    output element, parameters 2 per channel.
    """
    changed = False
    for n in g.nodes:
        if not n.alive:
            continue
        axis = _scale_shift_axis(g, n)
        if axis is None:
            continue
        src = [i for i in n.inputs if i not in g.consts][0]
        chain = [n]
        while True:
            nxt = g.sole_reader(chain[-1])
            if nxt is None or _scale_shift_axis(g, nxt) is None:
                break
            chain.append(nxt)
        prod = g.producer(src)
        if not any(c.op == "Mul" for c in chain) and (prod is None or prod.op not in _AFFINE_PRODUCERS):
            continue
        shape = chain[-1].out_shape(0)
        bn = Node(
            op="BatchNormalization",
            name="+".join(c.name for c in chain),
            inputs=[src],
            outputs=list(chain[-1].outputs),
            attrs={},
            flops=2 * int(np.prod(shape, dtype=np.int64)),
            params=2 * int(shape[axis]),
            in_shapes=list(n.in_shapes[:1]) if n.inputs[0] == src else list(n.in_shapes[1:2]),
            out_shapes=list(chain[-1].out_shapes),
        )
        g.replace(chain, bn)
        changed = True
    return changed


def fold_batchnorm(g: CanonicalGraph) -> bool:
    """Fold a BatchNormalization into the Conv (or ConvTranspose) that is its only input.

    As an eval-mode PyTorch export (``do_constant_folding=True``), the dynamo exporter and
    tf2onnx do: the BN node disappears with its FLOPs; the Conv's parameters become weights
    + bias (``count_affine_bias``). BatchNorms after other layers (DenseNet's pre-activation
    BN after a Concat) stay.
    """
    changed = False
    for n in g.nodes:
        if n.op != "BatchNormalization" or not n.alive:
            continue
        src = g.data_inputs(n)
        prod = g.producer(src[0]) if src else None
        if prod is None or prod.op not in _AFFINE_PRODUCERS or g.sole_reader(prod) is not n:
            continue
        g.absorb(prod, n)
        changed = True
    return changed


def _reduce_axes(g: CanonicalGraph, n: Node, rank: int) -> list[int] | None:
    axes = n.attrs.get("axes")
    if axes is None and len(n.inputs) > 1 and n.inputs[1]:
        axes = _value(g.const(n, 1))
        if axes is None:
            return None
    if axes is None:
        return None if n.attrs.get("noop_with_empty_axes", 0) else list(range(rank))
    return sorted(int(a) % rank for a in np.asarray(axes).reshape(-1))


def global_pool(g: CanonicalGraph) -> bool:
    """ReduceMean / ReduceMax over every spatial axis -> GlobalAveragePool / GlobalMaxPool.

    The dynamo exporter and tf2onnx spell global pooling so; jax2onnx writes a mean as
    ReduceSum followed by a Div by the number of pooled elements, which counts too (the
    Div and its FLOPs go). The spatial axes are 2.. of an
    (N, C, ...) tensor, or 1..r-2 of an (N, ..., C) one (NHWC). With ``keepdims=0`` the
    result is (N, C); a ``Flatten`` node (0 FLOPs) is added after the pool so that the graph
    reads GlobalAveragePool -> Flatten either way. FLOPs stay (both count one operation per
    input element).
    """
    changed = False
    for n in g.nodes:
        if n.op not in ("ReduceMean", "ReduceMax", "ReduceSum") or not n.alive or not n.inputs \
                or n.inputs[0] in g.consts:
            continue
        shape = n.in_shape(0)
        if shape is None or len(shape) < 3:
            continue
        r = len(shape)
        axes = _reduce_axes(g, n, r)
        if axes not in (list(range(2, r)), list(range(1, r - 1))):
            continue
        if n.op == "ReduceSum":
            # a mean written as a sum divided by the pooled size (jax2onnx)
            div = g.sole_reader(n)
            if div is None or div.op != "Div" or len(div.inputs) != 2 or div.inputs[0] != n.outputs[0]:
                continue
            size = _value(g.const(div, 1))
            if size is None or np.size(size) != 1 or float(np.asarray(size).reshape(-1)[0]) != \
                    float(np.prod([shape[a] for a in axes])):
                continue
            g.absorb(n, div)
        n.op = "GlobalMaxPool" if n.op == "ReduceMax" else "GlobalAveragePool"
        keep = int(n.attrs.get("keepdims", 1))
        g.set_inputs(n, [n.inputs[0]])
        n.attrs = {}
        changed = True
        if not keep:
            channels = shape[1] if axes == list(range(2, r)) else shape[r - 1]
            pooled_shape = (shape[0], channels) + (1,) * (r - 2)
            pooled = n.outputs[0] + "/pooled"
            flat = Node(op="Flatten", name=n.name + "/flatten", inputs=[pooled], outputs=[n.outputs[0]],
                        attrs={"axis": 1}, in_shapes=[pooled_shape], out_shapes=list(n.out_shapes))
            g.set_outputs(n, [pooled], [pooled_shape])
            g.insert_after(n, flat)
    return changed


def reshape_to_flatten(g: CanonicalGraph) -> bool:
    """Reshape / Squeeze / Flatten taking an (N, ...) tensor of rank >= 3 to (N, product) -> ``Flatten``.

    torchvision flattens after global pooling with ``torch.flatten`` (ONNX Flatten, or
    Reshape from the dynamo exporter), tf2onnx squeezes the pooled axes, Keras' Flatten
    becomes a Reshape. All are one reshape to 2-D with the batch axis kept.
    """
    changed = False
    for n in g.nodes:
        if n.op not in ("Reshape", "Squeeze", "Flatten") or not n.inputs:
            continue
        a, b = n.in_shape(0), n.out_shape(0)
        if a is None or b is None or len(a) < 3 or len(b) != 2:
            continue
        if b[0] != a[0] or b[1] != int(np.prod(a[1:], dtype=np.int64)):
            continue
        if n.op != "Flatten" or n.attrs.get("axis", 1) != 1 or len(n.inputs) != 1:
            n.op = "Flatten"
            g.set_inputs(n, [n.inputs[0]])
            n.in_shapes = n.in_shapes[:1]
            n.attrs = {"axis": 1}
            changed = True
    return changed


def _out_channels(g: CanonicalGraph, n: Node, w: Const) -> int | None:
    if n.op == "Conv" and len(w.dims) >= 2:
        return int(w.dims[0])
    if n.op == "ConvTranspose" and len(w.dims) >= 2:
        return int(w.dims[1]) * int(n.attrs.get("group", 1))
    if n.op == "Gemm" and len(w.dims) == 2:
        return int(w.dims[0] if n.attrs.get("transB", 0) else w.dims[1])
    return None


def count_affine_bias(g: CanonicalGraph) -> bool:
    """Set the parameters of every Conv, ConvTranspose and Gemm with a constant weight to
    weights + one bias per output channel, whether the bias is stored or not.

    Exporters store a bias or not for reasons that are not the architecture: a folded
    BatchNorm becomes one, an all-zero bias (untrained weights) is dropped. With this count
    BN-kept, BN-folded, zero-bias-dropped and trained exports agree exactly.
    """
    changed = False
    for n in g.nodes:
        if n.op not in ("Conv", "ConvTranspose", "Gemm"):
            continue
        w = g.const(n, 1)
        if w is None or (n.op == "Gemm" and n.attrs.get("transA", 0)):
            continue
        out = _out_channels(g, n, w)
        if out is None:
            continue
        params = w.numel + out
        if params != n.params:
            n.params = params
            changed = True
    return changed


#: The canonical rules, in the order they are applied (see the module docstring).
CANONICAL_RULES: tuple[Rule, ...] = (
    Rule("strip_trailing_softmax", strip_trailing_softmax),
    Rule("remove_dead_nodes", remove_dead_nodes),
    Rule("drop_layout_transposes", drop_layout_transposes),
    Rule("drop_single_input_concat", drop_single_input_concat),
    Rule("merge_nested_concat", merge_nested_concat),
    Rule("fold_pad", fold_pad),
    Rule("clip_to_relu", clip_to_relu),
    Rule("matmul_add_to_gemm", matmul_add_to_gemm),
    Rule("affine_to_batchnorm", affine_to_batchnorm),
    Rule("fold_batchnorm", fold_batchnorm),
    Rule("global_pool", global_pool),
    Rule("reshape_to_flatten", reshape_to_flatten),
    Rule("count_affine_bias", count_affine_bias),
)

#: Passes over the rule list at most (one pass normally suffices; a second confirms).
MAX_PASSES = 4


def canonicalize(g: CanonicalGraph, rules: tuple[Rule, ...] | list[Rule] = CANONICAL_RULES,
                 trace: list | None = None) -> CanonicalGraph:
    """Apply ``rules`` in order, repeating the list until no rule changes the graph.

    Args:
        g: the graph (edited in place and returned).
        rules: the rules; default :data:`CANONICAL_RULES`.
        trace: if a list is given, ``(rule name, node count after it)`` is appended for every
            rule application of the first pass.
    Returns:
        ``g``.
    """
    for k in range(MAX_PASSES):
        changed = False
        for rule in rules:
            changed |= bool(rule.apply(g))
            if trace is not None and k == 0:
                trace.append((rule.name, len(g.nodes)))
        if not changed:
            break
    return g
