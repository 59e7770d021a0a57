"""The ``transformers`` zoo source: the base model (``AutoModel``) of every model type, from its config.

Family: the config's ``model_type``. Each model is built from its default configuration
(``AutoConfig.for_model``) with zero weights (no random draws) and eager attention; MoE models get
``experts_implementation="batched_mm"``. A configuration over the parameter cap is shrunk in
steps until it fits, each step counted on the meta device: (1) at most 4 layers in every
stack, with per-layer lists (``layer_types``, ``attention_window``) cut to match (a cut
global/local stack keeps a global layer last) and Gemma 3n's cache-sharing layers kept at
their share of the stack; (2) at most
32,000 vocabulary entries and 4 experts, with grouped routing (``n_group``, ``topk_group``)
cut to two experts per group; (3) width 256 (4 heads of 64, FFN
512, vocabulary 1,000; a configuration at most :data:`NARROW` wide keeps its width, heads
and FFN). Sub-configurations (a multimodal model's ``text_config`` and
``vision_config``, an encoder-decoder's ``encoder``/``decoder``) are shrunk alike. The build
notes say which steps were applied.

Before shrinking, a default configuration that does not build as transformers ships it is
completed: sizes it leaves None are filled from the others (:func:`_fill_defaults`), and the
model types in :data:`CONFIG_FIXES` and :data:`INHERIT_SUB_CONFIG` get the values their
released configurations use, or values that make their sizes agree (each with its reason). Models that still fail are documented in
``known_failures.json`` beside this file.

Trigger inputs and the export (the dynamo exporter where the TorchScript one lacks an
operator) are the ``transformers`` converter's (:mod:`hnn_tf.converters.transformers_hf`), so
the zoo's graphs are what ``hnn hash`` gives for the same model.
"""

from __future__ import annotations

import copy
from typing import Any

from hnn_tf.converters.pytorch import first_export
from hnn_tf.converters.transformers_hf import make_model as _make, model_inputs_exported
from hnn_tf.zoo.sources._torch import parameter_count
from hnn_tf.zoo.sources.base import Built, Source, TooLarge, ZooEntry, register_source

_LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers", "decoder_layers",
           "num_encoder_layers", "num_decoder_layers", "num_blocks")
_EXPERTS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
_VOCAB = ("vocab_size", "vocab_size_per_layer_input")  # Gemma 3n: a per-layer embedding table too
_HEADS = ("num_attention_heads", "n_head", "encoder_attention_heads", "decoder_attention_heads")
_HIDDEN = ("hidden_size", "d_model", "n_embd", "embed_dim")
_FFN = ("intermediate_size", "ffn_dim", "d_ff", "encoder_ffn_dim", "decoder_ffn_dim", "moe_intermediate_size",
        "shared_expert_intermediate_size", "n_inner")

NARROW = 256
"""Widths at or under this are left alone by the width shrink (hidden size)."""
SLIDING_WINDOW = 4096
"""Window given to a config with sliding-window layers that leaves it unset (tokens)."""
PREDICTION_LENGTH = 24
"""Forecast horizon given to a time-series config that leaves it unset (steps)."""

CONFIG_FIXES: dict[str, dict[str, Any]] = {
    # Chameleon and Emu3 look up their image token in a vocabulary map the default leaves empty
    # (Chameleon's <image> is token 8711)
    "chameleon": {"vocabulary_map": {"<image>": 8711}},
    "emu3": {"vocabulary_map": {"<image>": 8711}},
    # North (Cohere Compass) keeps one rotary setting per layer type
    "cohere_compass": {"text_config.rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 10000.0}}},
    "cohere_compass_text": {"rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 10000.0}}},
    # DeepSeek-V2 routes each token to 6 experts
    "deepseek_v2": {"num_experts_per_tok": 6},
    # DeepSeek-OCR 2's language model: a dense first layer, then MoE layers
    "deepseek_ocr2": {"text_config.mlp_layer_types": lambda c: ["dense"] + ["sparse"] * (c.text_config.num_hidden_layers - 1),
                      "text_config.num_experts_per_tok": 6},
    # ESM-2's 33-token amino-acid vocabulary
    "esm": {"vocab_size": 33, "pad_token_id": 1},
    # Step 3.7's layers all attend fully, but its forward builds a sliding-window mask regardless
    "step3p7": {"text_config.sliding_window": SLIDING_WINDOW},
    # LFM2's stack: short convolutions with an attention layer in every three
    "lfm2_moe": {"layer_types": lambda c: [("full_attention" if i % 3 == 2 else "conv") for i in range(c.num_hidden_layers)]},
    # AutoModel picks Funnel's class from the config's architectures, which the default leaves None
    "funnel": {"architectures": ["FunnelModel"]},
    # TimmBackbone wraps a timm model it is told to build (without weights)
    "timm_backbone": {"backbone": "resnet18", "use_pretrained_backbone": False},
    # the released DBRX's rotary base; the default attention config has none
    "dbrx": {"attn_config.rope_theta": 500000.0},
    # Dots1's default declares an MoE with no experts: dots.llm1's 128 routed experts, 6 per token, 2 shared
    "dots1": {"n_routed_experts": 128, "num_experts_per_tok": 6, "n_shared_experts": 2},
    # GLM-4.1V rotates half of each head (its 3-axis M-RoPE sections sum to a quarter head)
    **{t: {"text_config.rope_parameters.partial_rotary_factor": 0.5}
       for t in ("glm4v", "glm46v", "glm_image", "glmga")},
    **{t: {"rope_parameters.partial_rotary_factor": 0.5} for t in ("glm4v_text", "glm_image_text")},
    # GLM-4.5V's heads are 128 wide (96 of them in a 4,096 width), not width / heads
    "glm4v_moe": {"text_config.head_dim": 128},
    "glm4v_moe_text": {"head_dim": 128},
    # Qwen4-Exp's default has QSA-indexed layers but leaves the indexer's sizes unset: sizes
    # that pass its config's checks (one key head, budget a multiple of the block)
    **{t: {p + n: v for n, v in (("indexer_n_heads", 4), ("indexer_kv_heads", 1), ("indexer_head_dim", 128),
                                  ("indexer_budget", 256), ("indexer_compress_ratio", 4))}
       for t, p in (("qwen4_exp", "text_config."), ("qwen4_exp_text", ""))},
    # X-MOD picks its language adapter from a default language the config leaves unset
    "xmod": {"default_language": "en_XX"},
    # HunYuan-VL's 4-axis rotary sections, each a quarter of the half head
    "hunyuan_vl": {"text_config.rope_parameters.mrope_section": [16, 16, 16, 16]},
    "hunyuan_vl_text": {"rope_parameters.mrope_section": [16, 16, 16, 16]},
    # the thinker's position ids look for the vision-start token its parent config holds
    "qwen2_5_omni_thinker": {"vision_start_token_id": 151652},
    "qwen3_omni_moe_thinker": {"vision_start_token_id": 151652},
    # the decoders read attributes their configs lack: a key-value head per attention head (8),
    # no dropout
    "moonshine_streaming": {"num_key_value_heads": 8},
    "t5gemma2_encoder": {"text_config.dropout_rate": 0.0},
    # Kyutai STT pads audio with the last row of an embedding that grows with the vocabulary: the
    # shrunk vocabulary leaves that row out (a padding index only zeroes the row's gradient)
    "kyutai_speech_to_text": {"audio_pad_token_id": None},
    # EdgeTAM's default backbone config misspells its timm architecture key ("archirecture"), so
    # the wrapper builds its default ResNet-50, whose widths are not the FPN's [384, 192, 96, 48]
    "edgetam": {"vision_config.backbone_config.architecture": "repvit_m1"},
    "edgetam_vision_model": {"backbone_config.architecture": "repvit_m1"},
    # Zamba's hybrid layers share one attention block, tied by weight to the first: a 4-layer cut
    # of its one-in-six pattern keeps at most one, which the tie rejects; one hybrid layer in two
    "zamba": {"layers_block_type": lambda c: ["linear_attention", "hybrid"] * (c.num_hidden_layers // 2)},
}
"""Default configurations that do not build as transformers ships them: model type -> {dotted
attribute path: value, or a function of the config giving it}, each the value the model's
released configuration uses or one that makes two of its sizes agree (see the comment on each)."""

INHERIT_SUB_CONFIG: dict[str, str] = {"musicgen": "decoder", "musicgen_melody": "decoder"}
"""Model types whose ``AutoModel`` is the decoder alone but is given the composite config: the
named sub-config's attributes are copied onto the config where it lacks them."""


def _sub_configs(cfg: Any) -> list:
    from transformers import PretrainedConfig

    return [v for v in vars(cfg).values() if isinstance(v, PretrainedConfig)]


def _get(cfg: Any, name: str):
    try:
        return getattr(cfg, name, None)
    except Exception:  # noqa: BLE001 - per-layer attributes raise on a global read
        return None


def _first_int(cfg: Any, names: tuple[str, ...]) -> int | None:
    """The first positive int among ``names`` on ``cfg``, or None."""
    return next((v for v in (_get(cfg, n) for n in names) if isinstance(v, int) and v > 0), None)


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
    heads = _first_int(cfg, _HEADS)
    hidden_name = next((n for n in _HIDDEN if isinstance(_get(cfg, n), int)), None)
    if heads is None or hidden_name is None:
        return
    hidden = _get(cfg, hidden_name)
    for n in _VOCAB:
        _set_min(cfg, n, 1000)
    if hidden <= NARROW:  # a tower already this narrow keeps its width, which its neighbours read (SAM 3)
        return
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
    _shrink_mamba(cfg, hidden, new_hidden)
    for n in _FFN:
        _set_min(cfg, n, 2 * new_hidden)
        sizes = _get(cfg, n)
        if isinstance(sizes, list) and len(sizes) == _get(cfg, "num_hidden_layers") and \
                all(isinstance(v, int) for v in sizes):  # one per layer (Gemma 3n)
            _set(cfg, n, [min(v, 2 * new_hidden) for v in sizes])
    if _get(cfg, "upsample_groups") == hidden:  # Mimi's depthwise upsampling: one group per channel
        _set(cfg, "upsample_groups", new_hidden)


def _shrink_mamba(cfg: Any, hidden: int, new_hidden: int) -> None:
    """Keep a Mamba-2 mixer's inner width (heads x head size = expand x hidden) and a hybrid's
    attention width (Zamba2's ``attention_hidden_size``, a multiple of hidden) in step with a
    hidden size cut from ``hidden`` to ``new_hidden``: Bamba and GraniteMoeHybrid keep their head
    size and lose heads, Zamba2 keeps its heads and shrinks their size."""
    if new_hidden >= hidden:
        return
    expand = _get(cfg, "mamba_expand")
    expand = expand if isinstance(expand, int) and expand > 0 else 2
    inner = expand * new_hidden
    d_head = _get(cfg, "mamba_d_head")
    if isinstance(_get(cfg, "mamba_n_heads"), int) and isinstance(d_head, int) and d_head > 0:
        _set(cfg, "mamba_n_heads", max(1, inner // d_head))
    heads = _get(cfg, "n_mamba_heads")
    if isinstance(heads, int) and heads > 0 and isinstance(_get(cfg, "mamba_headdim"), int):
        _set(cfg, "mamba_headdim", max(1, inner // heads))
    attn = _get(cfg, "attention_hidden_size")
    if isinstance(attn, int) and attn % hidden == 0:
        _set(cfg, "attention_hidden_size", attn // hidden * new_hidden)
        heads = _get(cfg, "num_attention_heads")
        if isinstance(_get(cfg, "attention_head_dim"), int) and isinstance(heads, int) and heads > 0:
            _set(cfg, "attention_head_dim", attn // hidden * new_hidden // heads)


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
        shared = _get(cfg, "num_kv_shared_layers")
        if isinstance(layers, int) and isinstance(before, int) and isinstance(shared, int) and layers < before:
            # Gemma 3n's last layers reuse earlier layers' caches: keep their share of the stack
            _set(cfg, "num_kv_shared_layers", min(layers - 1, round(shared * layers / before)))
        if isinstance(layers, int):
            # per-layer lists (layer_types, Longformer's attention_window) follow the layer count
            for name, value in list(vars(cfg).items()):
                if isinstance(value, (list, tuple)) and len(value) > layers and (
                        len(value) == before or name == "layer_types"):
                    kept = list(value[:layers])
                    if name == "layer_types" and "full_attention" in value and "full_attention" not in kept \
                            and not shared:  # Gemma 3n's shared layers must read both kinds: left as cut
                        kept[-1] = "full_attention"  # a 5:1 local:global stack keeps a global layer (NeoMME)
                    _set(cfg, name, type(value)(kept))
    elif step == 2:
        for name in _VOCAB:
            _set_min(cfg, name, 32000)
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
        vision, qformer = _get(cfg, "vision_config"), _get(cfg, "qformer_config")
        if vision is not None and qformer is not None and isinstance(_get(vision, "hidden_size"), int):
            _set(qformer, "encoder_hidden_size", vision.hidden_size)  # BLIP-2's Q-Former reads the vision tower
    _clamp_token_ids(cfg)


def _fill_defaults(cfg: Any) -> bool:
    """Fill sizes that a default config leaves None but its model reads unconditionally, in
    ``cfg`` and its sub-configs: ``head_dim`` = hidden size / heads, ``num_key_value_heads`` =
    heads (no grouped-query attention), ``sliding_window`` = :data:`SLIDING_WINDOW` where
    layers use sliding-window attention, a time-series ``prediction_length`` = its
    ``context_length`` or :data:`PREDICTION_LENGTH`. Returns whether it filled anything."""
    filled = False
    for sub in _sub_configs(cfg):
        filled = _fill_defaults(sub) or filled
    heads = _first_int(cfg, _HEADS)
    hidden = _first_int(cfg, _HIDDEN)
    if heads and hidden and "head_dim" in vars(cfg) and _get(cfg, "head_dim") is None:
        filled = _set(cfg, "head_dim", hidden // heads) or filled
    if heads and "num_key_value_heads" in vars(cfg) and _get(cfg, "num_key_value_heads") is None:
        filled = _set(cfg, "num_key_value_heads", heads) or filled
    types = _get(cfg, "layer_types")
    if "sliding_window" in vars(cfg) and _get(cfg, "sliding_window") is None and isinstance(types, list) \
            and "sliding_attention" in types:
        filled = _set(cfg, "sliding_window", SLIDING_WINDOW) or filled
    if "prediction_length" in vars(cfg) and _get(cfg, "prediction_length") is None:
        context = _get(cfg, "context_length")
        filled = _set(cfg, "prediction_length",
                      context if isinstance(context, int) and context > 0 else PREDICTION_LENGTH) or filled
        if context is None:
            _set(cfg, "context_length", _get(cfg, "prediction_length"))
    return filled


def _apply_fixes(model_type: str, cfg: Any) -> None:
    """Set :data:`CONFIG_FIXES` ``[model_type]`` on ``cfg`` (dotted paths into sub-configs and
    dicts) and copy :data:`INHERIT_SUB_CONFIG`'s sub-config attributes it lacks.

    Raises:
        AttributeError, KeyError: a path that the installed transformers' config lacks.
    """
    sub = INHERIT_SUB_CONFIG.get(model_type)
    if sub is not None:
        own = vars(cfg)
        for name, value in vars(getattr(cfg, sub)).items():
            if name not in own and not name.startswith("_"):
                setattr(cfg, name, value)
    for path, value in CONFIG_FIXES.get(model_type, {}).items():
        *parents, last = path.split(".")
        obj = cfg
        for name in parents:
            obj = obj[name] if isinstance(obj, dict) else getattr(obj, name)
        if callable(value):  # a value that depends on the config (a per-layer list)
            value = value(cfg)
        if isinstance(obj, dict):
            obj[last] = value
        else:
            setattr(obj, last, value)


def build_transformers(model_type: str, max_params: int | None = None) -> tuple[Built, str]:
    """The base model of ``model_type`` from its default config with :data:`CONFIG_FIXES`,
    shrunk under ``max_params``, and its modality (:func:`build_from_config`). Where that
    config fails to build, it is built again with its None sizes filled (:func:`_fill_defaults`);
    a config that builds as it is keeps the library's own fallbacks for them.

    Raises:
        TooLarge: still over ``max_params`` after every shrink step.
        ValueError: inputs this source cannot make.
        Exception: what transformers raises for the config.
    """
    from transformers import AutoConfig

    cfg = AutoConfig.for_model(model_type)
    _apply_fixes(model_type, cfg)
    pristine = copy.deepcopy(cfg)  # the build shrinks cfg in place
    try:
        return build_from_config(cfg, max_params)
    except TooLarge:
        raise
    except Exception:  # noqa: BLE001 - transformers' own error; retried with the None sizes filled
        if not _fill_defaults(pristine):
            raise
        return build_from_config(pristine, max_params)


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
        for i, (step, what) in enumerate(steps):
            if step:
                _shrink(cfg, step)
                notes.append(what)
            try:
                with torch.device("meta"):
                    params = parameter_count(_make(cfg))
            except Exception:  # noqa: BLE001 - a size the next shrink step makes agree (SigLIP's 1152 / 14 heads)
                if i == len(steps) - 1:
                    raise
                continue
            if params <= max_params:
                break
        else:
            raise TooLarge(params, max_params)
    model = _make(cfg).eval()
    if params is None:
        params = parameter_count(model)
    module, args, task, exported = model_inputs_exported(model, cfg, first_export("transformers model"))
    return Built(module, args, None, params, ", ".join(notes), task, exported), task


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
