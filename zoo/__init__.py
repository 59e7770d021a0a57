"""The model zoo that is HNN-Net's training and test data (paper 4.1.3, Table 1)."""

from hnn_tf.zoo.models import CATEGORIES, PAPER_ZOO, ZooModel, build_torch_model

__all__ = ["CATEGORIES", "PAPER_ZOO", "ZooModel", "build_torch_model"]
