"""What a training objective is, and the registry of objectives.

An objective decides what the hasher network is trained to do and how its code branch is
read: the node features it wants (``"hnn"``: op type, FLOPs and parameters, paper 3.2.3;
``"ops"``: op types only), the activation of the code layer FC5, the activation value
above which a bit is 1, and the loss over a batch of model pairs. ``HasherConfig.method``
names the objective. A new objective is one new file in :mod:`hnn_tf.objectives` that
subclasses :class:`Objective` and registers itself with :func:`register_objective`; ``hnn
train --method`` offers every registered one. TensorFlow is imported inside the methods only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hnn_tf.errors import HNNError

__all__ = ["OBJECTIVES", "Objective", "get_objective", "register_objective"]


class Objective:
    """A training objective of the hasher network.

    Attributes:
        name: the name ``HasherConfig.method`` holds (``"hnn"``).
        features: node features: ``"hnn"`` (paper 3.2.3) or ``"ops"`` (op types only).
        bit_threshold: a bit is 1 where the code activation is above this.
    """

    name: ClassVar[str] = ""
    features: ClassVar[str] = "hnn"
    bit_threshold: ClassVar[float] = 0.5

    def code_activation(self, tf: Any) -> Any:
        """The activation of the code layer FC5 (a Keras activation name or a function of a tensor)."""
        raise NotImplementedError

    def losses(self, out1: dict, out2: dict, ged: Any, y1: Any, y2: Any, config: Any) -> dict:
        """The objective on a batch of P pairs (M1, M2).

        Args:
            out1, out2: outputs of :class:`hnn_tf.model.HNNNet` for the pairs' first and second
                models (``embedding``, ``code``, ``probs``).
            ged: float32 (P,) GED targets; y1, y2: int (P,) category labels.
            config: the :class:`hnn_tf.model.HasherConfig` (weights, cap R).
        Returns:
            dict of scalar tensors ``total``, ``topo``, ``class``, ``quant``.
        """
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        """The first line of the objective's docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


#: Registered objectives by name.
OBJECTIVES: dict[str, Objective] = {}


def register_objective(cls: type[Objective]) -> type[Objective]:
    """Class decorator: register one instance of the objective under its name.

    Raises:
        ValueError: no name, or the name is taken.
    """
    if not cls.name or cls.name in OBJECTIVES:
        raise ValueError(f"objective {cls.__name__}: needs a new name, got {cls.name!r}")
    OBJECTIVES[cls.name] = cls()
    return cls


def get_objective(name: str) -> Objective:
    """The objective registered under ``name``.

    Raises:
        HNNError: no such objective (the message lists the known ones).
    """
    try:
        return OBJECTIVES[name]
    except (KeyError, TypeError):
        raise HNNError(f"unknown training objective {name!r}; known: {', '.join(OBJECTIVES)}") from None
