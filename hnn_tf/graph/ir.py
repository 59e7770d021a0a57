"""The graph builder's intermediate representation: layers, the tensors between them, constants.

:func:`hnn_tf.graph.build_graph` turns an ONNX model into a :class:`GraphIR` after its clean-up
(Identity, Constant, Dropout and shape computations removed), with FLOPs and parameters
counted per ONNX node; the rewrite rules (:mod:`hnn_tf.graph.rules`) edit it through its edit
methods; :meth:`GraphIR.to_layer_graph` gives the :class:`~hnn_tf.graph.layer_graph.LayerGraph`
that features and hashers read. The raw graph of the paper is the IR with no rule applied.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np

from hnn_tf.graph.layer_graph import LayerGraph, structural_attrs

__all__ = ["SMALL_CONST", "Const", "GraphIR", "Node"]

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
    """One layer of a :class:`GraphIR`.

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


def _encode(value):
    """An attribute or constant value as JSON data (tagged where JSON has no type for it)."""
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if type(value).__name__ == "TensorProto":
        from onnx import numpy_helper

        try:
            return _encode(numpy_helper.to_array(value))
        except Exception:  # noqa: BLE001 - a tensor without readable data
            return None
    return None  # graphs, type protos: never read by the rules


def _decode(value):
    """The inverse of :func:`_encode`."""
    if isinstance(value, dict):
        if "bytes" in value:
            return base64.b64decode(value["bytes"])
        if "array" in value:
            return np.asarray(value["array"], dtype=value["dtype"]).reshape(value["shape"])
        return value
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _static(shape) -> tuple | None:
    if shape is None or any(d is None for d in shape):
        return None
    return tuple(int(d) for d in shape)


class GraphIR:
    """The layers of a model with their tensors: what the graph builder makes and the rules rewrite.

    The graph keeps, for every data tensor, its producer and its readers, and updates them
    on each edit, so every edit costs the degree of the nodes it touches, not the size of
    the graph. Rules change the graph through the edit methods (:meth:`set_inputs`,
    :meth:`remove`, :meth:`bypass`, :meth:`absorb`, :meth:`insert_after`, :meth:`replace`,
    :meth:`reorder`),
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

    def reorder(self, nodes: list[Node]) -> None:
        """Put the live layers in the order of ``nodes`` (which must hold each live layer once,
        in a topological order; the caller guarantees it)."""
        for k, n in enumerate(nodes):
            n.key = (k,)
        self._dirty = True

    # -- storage -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The live graph as JSON-ready data (:meth:`from_dict` reads it back).

        Attribute values that are ONNX tensors are stored as their values; sub-graph
        attributes are not kept (the builder never reads them).
        """
        return {
            "nodes": [{"op": n.op, "name": n.name, "inputs": n.inputs, "outputs": n.outputs,
                       "attrs": {k: _encode(v) for k, v in n.attrs.items()}, "flops": n.flops, "params": n.params,
                       "in_shapes": [None if s is None else list(s) for s in n.in_shapes],
                       "out_shapes": [None if s is None else list(s) for s in n.out_shapes]} for n in self.nodes],
            "inputs": sorted(self.inputs),
            "outputs": self.outputs,
            "consts": {k: {"dims": list(c.dims), "dtype": c.dtype, "value": None if c.value is None else _encode(c.value)}
                       for k, c in self.consts.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "GraphIR":
        """A graph from :meth:`to_dict`'s data.

        Raises:
            KeyError, TypeError, ValueError: malformed data.
        """
        nodes = [Node(op=d["op"], name=d["name"], inputs=list(d["inputs"]), outputs=list(d["outputs"]),
                      attrs={k: _decode(v) for k, v in d["attrs"].items()}, flops=int(d["flops"]),
                      params=int(d["params"]),
                      in_shapes=[None if s is None else tuple(s) for s in d["in_shapes"]],
                      out_shapes=[None if s is None else tuple(s) for s in d["out_shapes"]]) for d in data["nodes"]]
        consts = {k: Const(dims=tuple(c["dims"]), dtype=int(c["dtype"]),
                           value=None if c["value"] is None else np.asarray(_decode(c["value"])))
                  for k, c in data["consts"].items()}
        return cls(nodes, set(data["inputs"]), list(data["outputs"]), consts)

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
            attrs=[structural_attrs(n.attrs) for n in nodes],
        )
