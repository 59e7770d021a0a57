"""The ``transformers`` zoo source: the base model (``AutoModel``) of every model type, from its config.

Family: the config's ``model_type``. Each model is built from its default configuration
(``AutoConfig.for_model``) with zero weights (no random draws) and eager attention; MoE models get
``experts_implementation="batched_mm"``. A configuration over the parameter cap is shrunk in
steps until it fits, each step counted on the meta device: (1) at most 4 layers in every
stack, with per-layer lists (``layer_types``, ``attention_window``) cut to match; (2) at most
32,000 vocabulary entries and 4 experts, with grouped routing (``n_group``, ``topk_group``)
cut to two experts per group; (3) width 256 (4 heads of 64, FFN
512, vocabulary 1,000). Sub-configurations (a multimodal model's ``text_config`` and
``vision_config``, an encoder-decoder's ``encoder``/``decoder``) are shrunk alike. The build
notes say which steps were applied.

Trigger inputs and the export (the dynamo exporter where the TorchScript one lacks an
operator) are the ``transformers`` converter's (:mod:`hnn_tf.converters.transformers_hf`), so
the zoo's graphs are what ``hnn hash`` gives for the same model.
"""

from __future__ import annotations

from typing import Any

from hnn_tf.converters.transformers_hf import make_model as _make, model_inputs
from hnn_tf.zoo.sources._torch import parameter_count
from hnn_tf.zoo.sources.base import Built, Source, TooLarge, ZooEntry, register_source

_LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers", "decoder_layers",
           "num_encoder_layers", "num_decoder_layers", "num_blocks")
_EXPERTS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
_HEADS = ("num_attention_heads", "n_head", "encoder_attention_heads", "decoder_attention_heads")
_HIDDEN = ("hidden_size", "d_model", "n_embd", "embed_dim")
_FFN = ("intermediate_size", "ffn_dim", "d_ff", "encoder_ffn_dim", "decoder_ffn_dim", "moe_intermediate_size",
        "shared_expert_intermediate_size", "n_inner")

def _sub_configs(cfg: Any) -> list:
    from transformers import PretrainedConfig

    return [v for v in vars(cfg).values() if isinstance(v, PretrainedConfig)]


def _get(cfg: Any, name: str):
    try:
        return getattr(cfg, name, None)
    except Exception:  # noqa: BLE001 - per-layer attributes raise on a global read
        return None


def _set(cfg: Any, name: str, value: Any) -> bool:
    try:
        setattr(cfg, name, value)
    except Exception:  # noqa: BLE001 - a read-only property on some configs
        return False
    return True


def _set_min(cfg: Any, name: str, value: int) -> bool:
    cur = _get(cfg, name)
    if isinstance(cur, int) and not isinstance(cur, bool) and cur > value:
        return _set(cfg, name, value)
    return False


def _shrink_width(cfg: Any) -> None:
    """At most 4 attention heads of the config's own head size (hidden = heads x head size), FFN
    twice the hidden size, vocabulary 1,000: keeps head_dim and rotary sizes consistent."""
    heads = next((v for v in (_get(cfg, n) for n in _HEADS) if isinstance(v, int) and v > 0), None)
    hidden_name = next((n for n in _HIDDEN if isinstance(_get(cfg, n), int)), None)
    if heads is None or hidden_name is None:
        return
    hidden = _get(cfg, hidden_name)
    head_dim = _get(cfg, "head_dim")
    if not isinstance(head_dim, int) or head_dim <= 0:
        head_dim = max(1, hidden // heads)
    new_heads = min(heads, 4)
    new_hidden = min(hidden, new_heads * head_dim)
    for n in _HEADS:
        _set_min(cfg, n, new_heads)
    kv = _get(cfg, "num_key_value_heads")
    if isinstance(kv, int) and kv > 0:
        _set(cfg, "num_key_value_heads", max(1, min(kv, new_heads)) if new_heads % min(kv, new_heads) == 0 else 1)
    for n in _HIDDEN:
        _set_min(cfg, n, new_hidden)
    for n in _FFN:
        _set_min(cfg, n, 2 * new_hidden)
    _set_min(cfg, "vocab_size", 1000)


def _clamp_token_ids(cfg: Any) -> None:
    vocab = _get(cfg, "vocab_size")
    if not isinstance(vocab, int):
        return
    for n in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id", "sep_token_id",
              "cls_token_id", "mask_token_id", "unk_token_id"):
        v = _get(cfg, n)
        if isinstance(v, int) and v >= vocab:
            _set(cfg, n, vocab - 1)
        elif isinstance(v, list):
            _set(cfg, n, [min(x, vocab - 1) if isinstance(x, int) else x for x in v])


def _shrink(cfg: Any, step: int) -> None:
    """Apply shrink step ``step`` (1: layers, 2: vocabulary and experts, 3: width) to ``cfg`` and its sub-configs."""
    for sub in _sub_configs(cfg):
        _shrink(sub, step)
    if step == 1:
        before = _get(cfg, "num_hidden_layers")
        for name in _LAYERS:
            _set_min(cfg, name, 4)
        layers = _get(cfg, "num_hidden_layers")
        if isinstance(layers, int):
            # per-layer lists (layer_types, Longformer's attention_window) follow the layer count
            for name, value in list(vars(cfg).items()):
                if isinstance(value, (list, tuple)) and len(value) > layers and (
                        len(value) == before or name == "layer_types"):
                    _set(cfg, name, type(value)(value[:layers]))
    elif step == 2:
        _set_min(cfg, "vocab_size", 32000)
        for name in _EXPERTS:
            _set_min(cfg, name, 4)
        _set_min(cfg, "num_experts_per_tok", 2)
        # grouped routing (DeepSeek-V3 scores a group by its top 2 experts): at least 2 experts
        # per group, no more groups picked than exist
        experts = min((v for v in (_get(cfg, n) for n in _EXPERTS) if isinstance(v, int) and v > 0), default=None)
        if experts is not None:
            _set_min(cfg, "n_group", max(1, experts // 2))
            _set_min(cfg, "topk_group", _get(cfg, "n_group") if isinstance(_get(cfg, "n_group"), int) else experts)
    elif step == 3:
        _shrink_width(cfg)
    _clamp_token_ids(cfg)


def build_transformers(model_type: str, max_params: int | None = None) -> tuple[Built, str]:
    """The base model of ``model_type`` from its default config, shrunk under ``max_params``,
    and its modality (:func:`build_from_config`).

    Raises:
        TooLarge: still over ``max_params`` after every shrink step.
        ValueError: inputs this source cannot make.
        Exception: what transformers raises for the config.
    """
    from transformers import AutoConfig

    return build_from_config(AutoConfig.for_model(model_type), max_params)


def build_from_config(cfg: Any, max_params: int | None = None, shrink: bool = True) -> tuple[Built, str]:
    """The ``AutoModel`` of a config with zero weights, wrapped to take its trigger inputs.

    Args:
        cfg: a ``transformers.PretrainedConfig`` (changed in place when shrunk).
        max_params: the parameter cap, counted on the meta device before allocating; None
            for none.
        shrink: shrink a config over the cap in the module doc's steps; False raises
            :class:`TooLarge` instead (a user's own model is hashed as it is).
    Returns:
        (Built, task): task is ``"text"``, ``"vision"``, ``"audio"``, ``"time series"`` or
        ``"multimodal"``.
    Raises:
        TooLarge: over ``max_params`` (after every shrink step when shrinking).
        ValueError: inputs this source cannot make.
        Exception: what transformers raises for the config.
    """
    import torch

    notes = []
    params = None
    if max_params is not None:
        steps = ((0, ""), (1, "4 layers"), (2, "vocabulary 32k, 4 experts"), (3, "width 256")) if shrink else ((0, ""),)
        for step, what in steps:
            if step:
                _shrink(cfg, step)
                notes.append(what)
            with torch.device("meta"):
                params = parameter_count(_make(cfg))
            if params <= max_params:
                break
        else:
            raise TooLarge(params, max_params)
    model = _make(cfg).eval()
    if params is None:
        params = parameter_count(model)
    module, args, task = model_inputs(model, cfg)
    return Built(module, args, None, params, ", ".join(notes), task), task


@register_source
class TransformersSource(Source):
    """The ``AutoModel`` of every transformers model type, family = ``model_type``."""

    name = "transformers"
    packages = ("torch", "transformers")
    exporters = ("hnn_tf.converters.pytorch", "hnn_tf.converters.transformers_hf")

    def entries(self) -> list[ZooEntry]:
        """One entry per model type with an ``AutoModel`` class, sorted (the task is set at build)."""
        from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

        return [ZooEntry(t, t, self.name, "transformer") for t in sorted(MODEL_MAPPING_NAMES)]

    def build(self, entry: ZooEntry, max_params: int | None = None) -> Built:
        """:func:`build_transformers` of the entry's model type (``Built.task``: its modality).

        Raises:
            TooLarge: over ``max_params`` after shrinking.
        """
        import transformers

        transformers.logging.set_verbosity_error()
        return build_transformers(entry.name, max_params)[0]
