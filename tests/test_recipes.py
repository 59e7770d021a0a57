"""One recipe per data variant (docs/design.md "One recipe per data variant").

The zoo builds a hasher's training graphs and hashing builds the graph of the model it is
given; both must be the same graph for the same model, for every variant, and the CLI must
offer exactly the recipes there are.
"""

from __future__ import annotations

import click
import pytest
import torch

import hnn_tf  # noqa: F401
from hnn_tf.errors import HNNError
from hnn_tf.graph.recipes import RECIPES, get_recipe
from hnn_tf.hashing import model_graph
from hnn_tf.zoo.dataset import VARIANTS, zoo_dataset
from hnn_tf.zoo.models import PAPER_ZOO, build_torch_model

SMALL = tuple(m for m in PAPER_ZOO if m.name in ("squeezenet1_1", "shufflenet_v2_x0_5", "mnasnet0_75"))


@pytest.mark.parametrize("variant", list(RECIPES))
def test_hashing_and_the_zoo_build_the_same_graph(variant):
    zoo = {z.model: z.graph for z in zoo_dataset(variant, models=SMALL, copies=0, progress=False)}
    for m in SMALL:
        torch.manual_seed(0)
        built = model_graph(build_torch_model(m.name), variant, input_shape=m.input_shape)
        assert built.framework == "pytorch" and len(built.sha256) == 64
        assert built.graph.fingerprint() == zoo[m.name].fingerprint(), (variant, m.name)


def test_the_variants_are_the_recipes_everywhere():
    from hnn_tf.cli.training import train_cmd

    assert VARIANTS == tuple(RECIPES) == ("raw", "merged", "canonical")
    (variant_option,) = [p for p in train_cmd.params if p.name == "variant"]
    assert isinstance(variant_option.type, click.Choice) and list(variant_option.type.choices) == list(RECIPES)
    assert get_recipe("merged").merge_rules and not get_recipe("raw").merge_rules
    with pytest.raises(HNNError, match="unknown graph variant 'nope'"):
        get_recipe("nope")
