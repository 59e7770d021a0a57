"""The ``transformers`` converter: Hugging Face transformers models, as objects or local folders.

A ``PreTrainedModel`` object, or a folder holding a transformers ``config.json`` (what
``save_pretrained`` writes, with or without its ``*.safetensors`` weights), becomes ONNX
through the PyTorch exporter (:func:`hnn_tf.converters.pytorch.export_module`) on trigger
inputs made from the model's ``forward`` signature and its config: ``input_ids`` (16 tokens)
with an ``attention_mask`` (without it, decoders call ``torch.diff``, which the TorchScript
exporter lacks), ``pixel_values`` of the config's image size (also for dual encoders such as
CLIP, which take text and image), ``input_values`` (one second of 16 kHz audio),
``input_features`` (the config's mel bins x 3000 frames), ``decoder_input_ids`` for
encoder-decoders, ``bbox`` for layout models, a video ``pixel_values_videos`` of (1, frames,
C, H, W) (at most :data:`VIDEO_FRAMES` frames), a time series ``past_values`` of (1, context
length, channels). A patch-sequence vision tower (Qwen2-VL's and its descendants',
``forward(hidden_states, grid_thw)``) gets
:data:`PATCH_GRID` patches and the grid as a constant of the trace. A sub-model whose forward
lacks its ``main_input_name`` (a VLM's vision tower keeps its parent's ``input_ids``) reads
its first required input as the main one; required inputs beyond the main one are made from
their names (token ids and their masks, an image, audio). A patch-list encoder (SigLIP 2
NaFlex, Gemma 4) gets its patches and their positions; a model that reads embeddings
(``inputs_embeds``, ``query_embeds``) gets (1, 16, hidden size). Where the main input has
several usual shapes
(audio: a spectrogram as (1, F, T) or (1, T, F), frames stacked as (1, T, 2F) or (1, T, 4F),
a waveform with or without a channel axis; video: with or without a frames axis; token ids
as one row, or one row per codebook where the config has ``num_codebooks``), the model runs once (zero weights, no gradients) on each until one
works, the historical shape first; this converter and the zoo try each by exporting it instead
(:func:`model_inputs_exported`), so the one kept is not run twice. A model that fails on its inputs alone and runs with
another modality beside them (a video, a spectrogram, token ids, a cross-attending module's
``encoder_hidden_states``) gets it. The model is called with these as keywords and
``use_cache=False`` where it takes it, and returns its tensors. Where the TorchScript exporter
lacks an operator (in-place ``scatter``, ``index_add_`` with repeated indices), the dynamo exporter
is used instead.

A folder is read without running anything from it: ``config.json`` is parsed as JSON
(bounded in size and depth) and its ``model_type`` must be one transformers knows; the model
is built from that config with zero weights (the hash reads shapes; the weights files are
only digested for the sha256). Sizes from a config are bounded before anything is allocated:
the model is counted on PyTorch's meta device and refused over :data:`MAX_FOLDER_PARAMETERS`,
and each trigger input is capped at :data:`MAX_TRIGGER_ELEMENTS`. A config naming custom code (``auto_map``, which transformers
loads with ``trust_remote_code``) is refused unless the caller passes ``trust`` (README
"Security"). This converter is tried before ``pytorch``, which would call a
``PreTrainedModel`` with an image.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

from hnn_tf.errors import ConversionError

from .registry import Converter, FileInfo, exception_summary, register

#: The largest config.json read (bytes) and its deepest nesting.
MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH = 4 << 20, 64
#: Files of a folder whose bytes go into its sha256 (the weights; the config is in the export).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".gguf")

#: Text length, audio samples and mel frames of the trigger inputs.
TEXT_TOKENS, AUDIO_SAMPLES, MEL_FRAMES = 16, 16000, 3000
#: Frames of a spectrogram read as a one-channel image, (1, 1, frames, F): CLAP's HTSAT takes 10 s
#: of 48 kHz audio at a hop of 480 and folds it into a 256 x 256 Swin input (at most 1,024 frames).
IMAGE_SPECTROGRAM_FRAMES = 1001
#: The most elements one trigger tensor may have (2^24: 64 MiB of float32). Sizes come from the
#: config (image size, channels, mel bins, frames), so a hostile one could ask for terabytes.
MAX_TRIGGER_ELEMENTS = 1 << 24
#: The most parameters a folder's model may have (1.5e9: 6 GB of float32 random weights), counted
#: on PyTorch's meta device before anything is allocated.
MAX_FOLDER_PARAMETERS = 1_500_000_000

def _zeros(*shape: int, dtype: Any = None) -> Any:
    """``torch.zeros(shape)`` for a trigger input, refused when over :data:`MAX_TRIGGER_ELEMENTS`.

    Raises:
        ValueError: a non-positive size or too many elements (nothing is allocated).
    """
    import math

    import torch

    if any(not isinstance(n, int) or n < 1 for n in shape):
        raise ValueError(f"a trigger input of shape {shape} has a size that is not a positive integer")
    count = math.prod(shape)
    if count > MAX_TRIGGER_ELEMENTS:
        raise ValueError(f"a trigger input of shape {tuple(shape)} from the config has {count:,} elements, "
                         f"over the cap of {MAX_TRIGGER_ELEMENTS:,}")
    return torch.zeros(*shape, dtype=dtype or torch.float32)


def _sub_configs(cfg: Any) -> list:
    from transformers import PretrainedConfig

    return [v for v in vars(cfg).values() if isinstance(v, PretrainedConfig)]




def make_model(cfg: Any, trust: bool = False) -> Any:
    """``AutoModel.from_config`` with eager attention (and batched experts where the model has
    them: the experts' default loop does not export); ``trust`` allows a config's custom code.
    Weights are zeros, not random draws (:func:`hnn_tf.converters.pytorch.zero_random_init`):
    the hash reads their shapes."""
    from transformers import AutoModel

    from .pytorch import zero_random_init

    extra = {"trust_remote_code": True} if trust else {}
    with zero_random_init():
        try:
            return AutoModel.from_config(cfg, attn_implementation="eager", experts_implementation="batched_mm",
                                         **extra)
        except TypeError:
            return AutoModel.from_config(cfg, attn_implementation="eager", **extra)


def _check_size(cfg: Any, trust: bool, where: str) -> None:
    """Count a folder's model on PyTorch's meta device (shapes only, nothing allocated:
    :func:`make_model` inside ``torch.device("meta")``, as the zoo counts its models) and refuse
    it over :data:`MAX_FOLDER_PARAMETERS`.

    Raises:
        ConversionError: the model is over the cap, or transformers cannot build it (a model
            that does not build on the meta device is not built for real either).
    """
    import torch

    try:
        with torch.device("meta"):
            model = make_model(cfg, trust)
    except Exception as exc:  # noqa: BLE001 - any build error is the config's
        raise ConversionError(f"transformers cannot build the model ({exception_summary(exc)})", path=where) from None
    count = int(sum(p.numel() for p in model.parameters()))
    if count > MAX_FOLDER_PARAMETERS:
        raise ConversionError(f"the config describes a model of {count:,} parameters, over the cap of "
                              f"{MAX_FOLDER_PARAMETERS:,} that hnn builds without its weights", path=where)


def _image_hw(cfg: Any) -> tuple[int, int]:
    """(height, width) of a trigger image: the config's (or a sub-config's) ``image_size`` (an int,
    or a [height, width] pair: MGP-STR reads 32x128 text lines), else its ``max_img_size`` (TVP
    pads frames to it), else 224x224."""
    for name in ("image_size", "max_img_size"):
        for c in [cfg, *_sub_configs(cfg)]:
            size = getattr(c, name, None)
            if isinstance(size, (list, tuple)) and size:
                pair = [v for v in size[:2] if isinstance(v, int) and v > 0]
                size = tuple(pair) if len(pair) == 2 else pair[0] if pair else None
            if isinstance(size, int) and size > 0:
                return size, size
            if isinstance(size, tuple):
                return size
    return 224, 224


#: Config attributes that give the feature size of an audio model's spectrogram input.
FEATURE_SIZE_NAMES = ("num_mel_bins", "feature_size", "input_feat_size", "n_mels", "num_mels", "mel_bins",
                      "input_dim", "feat_in", "num_mel_filters")


def _config_ints(cfg: Any, names: tuple[str, ...]) -> list[int]:
    """The positive int values of ``names`` on ``cfg`` and its sub-configs, first seen first."""
    out: list[int] = []
    for c in [cfg, *_sub_configs(cfg)]:
        for n in names:
            v = getattr(c, n, None)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0 and v not in out:
                out.append(v)
    return out


def _audio_candidates(main: str, cfg: Any) -> list:
    """Trigger tensors for an audio model's main input, the historical default first.

    ``input_features`` (a spectrogram): (1, F, 3000) as Whisper reads it, then (1, 3000, F) as
    conformer encoders (Parakeet, LASR, Granite Speech) read it, for each feature size F the
    config names (:data:`FEATURE_SIZE_NAMES`, then 80 and 128), then (1, 3000, 2F) as
    Wav2Vec2-BERT reads frames stacked in pairs and (1, 3000, 4F) as Granite Speech 5 reads its
    delta-expanded frames stacked in pairs, then (1, 1, :data:`IMAGE_SPECTROGRAM_FRAMES`, F) as
    CLAP reads a one-channel spectrogram image. ``input_values``: one second of
    16 kHz audio as (1, T), then (1, C, T) for codecs (EnCodec, Mimi, DAC; C = the config's
    ``audio_channels``, else 1), then a (1, frames, F) spectrogram for models that call theirs
    ``input_values`` (Audio Spectrogram Transformer; frames = the config's ``max_length``). A
    shape over :data:`MAX_TRIGGER_ELEMENTS` is left out, never allocated.

    Raises:
        ValueError: every shape is over the cap.
    """
    sizes = _config_ints(cfg, FEATURE_SIZE_NAMES)
    if main == "input_features":
        sizes = list(dict.fromkeys([*sizes, 80, 128]))
        shapes = [(1, f, MEL_FRAMES) for f in sizes] + [(1, MEL_FRAMES, f) for f in sizes]
        shapes += [(1, MEL_FRAMES, k * f) for k in (2, 4) for f in sizes]  # frames stacked in pairs (w2v-BERT)
        shapes += [(1, 1, IMAGE_SPECTROGRAM_FRAMES, f) for f in sizes]  # a one-channel image (CLAP)
    else:
        channels = (_config_ints(cfg, ("audio_channels",)) or [1])[0]
        frames = (_config_ints(cfg, ("max_length",)) or [1024])[0]
        shapes = [(1, AUDIO_SAMPLES), (1, channels, AUDIO_SAMPLES)] + [(1, frames, f) for f in sizes]
    out, refused = [], None
    for shape in dict.fromkeys(shapes):  # each once (4 x 64 = 2 x 128); one over the cap is left out, not allocated
        try:
            out.append(_zeros(*shape))
        except ValueError as exc:
            refused = refused or exc
    if not out:
        raise refused
    return out


#: The longest time series of a trigger input (steps). TimesFM 2.5's context of 16,384 steps
#: traces into 18,000 nodes (25 s); its layers are the same on 512.
SERIES_LENGTH = 512
#: The most frames of a trigger video. V-JEPA 2's 64 frames of 256 x 256 are 8,192 tokens
#: whose eager attention needs tens of GB; its layers are the same on 16 frames.
VIDEO_FRAMES = 16
#: Patch-sequence vision encoders (Qwen2-VL and its descendants): the grid of patches, as
#: (frames, rows, columns); rows and columns are a multiple of the usual 2 x 2 patch merger.
PATCH_GRID = (1, 8, 8)
#: The names a patch-sequence encoder gives its grid argument.
GRID_NAMES = ("grid_thw", "image_grid_thw")


def _patch_candidates(cfg: Any) -> list:
    """Trigger tensors for a patch-sequence vision encoder's patches (:data:`PATCH_GRID`
    patches, ``N`` = their number): ``(N, C*T*P*P)`` as Qwen2-VL flattens them, then
    ``(N, C, T, P, P)``, ``(N, C, P, P)`` and ``(N, C*P*P)``, for C = the config's
    ``in_channels``/``num_channels`` (3), T = ``temporal_patch_size`` (2), P = ``patch_size`` (14).

    Raises:
        ValueError: every shape is over :data:`MAX_TRIGGER_ELEMENTS`.
    """
    import math

    n = math.prod(PATCH_GRID)
    c = (_config_ints(cfg, ("in_channels", "in_chans", "num_channels")) or [3])[0]
    t = (_config_ints(cfg, ("temporal_patch_size",)) or [2])[0]
    p = (_config_ints(cfg, ("patch_size", "spatial_patch_size")) or [14])[0]
    shapes = [(n, c * t * p * p), (n, c, t, p, p), (n, c, p, p), (n, c * p * p)]
    out = []
    for shape in dict.fromkeys(shapes):
        try:
            out.append(_zeros(*shape))
        except ValueError:
            continue
    if not out:
        raise ValueError(f"its patches of {c} channels and patch size {p} are over the trigger cap")
    return out


#: Patch-list vision encoders (SigLIP 2's NaFlex, Gemma 4's vision tower): the side of the
#: square grid of patches (144 patches: whole 2 x 2, 3 x 3 and 4 x 4 poolings).
PATCH_LIST_SIDE = 12
#: What a patch-list encoder reads beside its patches (:func:`_patch_list`).
PATCH_LIST_INPUTS = ("spatial_shapes", "pixel_position_ids", "pixel_attention_mask")


def _patch_list(cfg: Any, required: list[str]) -> tuple[list, dict]:
    """Trigger inputs for a patch-list vision encoder, which reads an image as a list of
    flattened patches with their positions: candidates for ``pixel_values`` ((1, N, C*P*P),
    then the image (1, C, S*P, S*P); S = :data:`PATCH_LIST_SIDE`, N = S*S) and the constants of
    the trace its forward requires (``spatial_shapes`` [[S, S]], ``pixel_position_ids`` the
    patches' (x, y), ``pixel_attention_mask`` all ones).

    Raises:
        ValueError: over :data:`MAX_TRIGGER_ELEMENTS`.
    """
    import torch

    side = PATCH_LIST_SIDE
    c = (_config_ints(cfg, ("num_channels", "in_channels")) or [3])[0]
    p = (_config_ints(cfg, ("patch_size",)) or [16])[0]
    candidates = [_zeros(1, side * side, c * p * p), _zeros(1, c, side * p, side * p)]
    fixed: dict = {}
    if "spatial_shapes" in required:
        fixed["spatial_shapes"] = torch.tensor([[side, side]])
    if "pixel_position_ids" in required:
        ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        fixed["pixel_position_ids"] = torch.stack([xs.flatten(), ys.flatten()], dim=-1)[None]
    if "pixel_attention_mask" in required:
        fixed["pixel_attention_mask"] = torch.ones(1, side * side, dtype=torch.long)
    return candidates, fixed


def _series_candidates(cfg: Any) -> list:
    """Trigger tensors for a time-series model's ``past_values``: ``(1, L, C)`` then ``(1, L)``,
    L = the config's ``context_length`` up to :data:`SERIES_LENGTH`, plus the longest of its
    ``lags_sequence`` where it has one, C = ``num_input_channels`` (else 1).

    Raises:
        ValueError: over :data:`MAX_TRIGGER_ELEMENTS`.
    """
    length = min((_config_ints(cfg, ("context_length", "context_len", "max_context_length")) or [SERIES_LENGTH])[0],
                 SERIES_LENGTH)
    lags = getattr(cfg, "lags_sequence", None)
    if isinstance(lags, (list, tuple)) and lags and all(isinstance(x, int) for x in lags):
        length += max(lags)  # lagged features read that far back (Time Series Transformer, Informer, Autoformer)
    channels = (_config_ints(cfg, ("num_input_channels", "input_size")) or [1])[0]
    return [_zeros(1, length, channels), _zeros(1, length)]


def _extra_input(name: str, cfg: Any, made: dict) -> Any:
    """A required input beyond the main one, made from its name: token ids (``*input_ids``),
    an all-ones mask (``*attention_mask``, ``*observed_mask``, ``*features_mask``: one per
    spectrogram frame), ``pixel_values`` (an image), ``input_values`` (one second of audio), zero
    padding flags (``*_padding``), zero time features (``*time_features``: the config's
    ``num_time_features`` per step) and a zero frequency class (``freq``, TimesFM); None for a
    name not in this list.
    """
    import torch

    if name.endswith("input_ids"):
        return torch.zeros(1, TEXT_TOKENS, dtype=torch.long)
    if name.endswith("attention_mask"):
        return torch.ones(1, TEXT_TOKENS, dtype=torch.long)
    if name == "pixel_values":
        return _zeros(1, 3, *_image_hw(cfg))
    if name == "input_values":
        return _zeros(1, AUDIO_SAMPLES)
    patch = _config_ints(cfg, ("patch_size",)) if name == "target_sizes" else []
    if patch and "pixel_values" in made and made["pixel_values"].dim() == 4:
        side = made["pixel_values"].shape[-1] // patch[0]  # patches per side of the image (MiniCPM-V)
        return torch.tensor([[side, side]], dtype=torch.int32)
    width = _config_ints(cfg, ("encoder_hidden_size",)) if name == "encoder_hidden_states" else []
    if width:  # a cross-attending module alone (BLIP-2's Q-Former)
        return _zeros(1, TEXT_TOKENS, width[0])
    if name.endswith("features_mask") and "input_features" in made:  # one flag per spectrogram frame
        return torch.ones(1, MEL_FRAMES, dtype=torch.long)
    series = made.get("past_values")
    if series is not None and (name.endswith("_padding") or name.endswith("observed_mask")):
        return torch.zeros(series.shape, dtype=torch.float32) if name.endswith("_padding") \
            else torch.ones(series.shape, dtype=torch.float32)
    if series is not None and name.endswith("time_features"):  # (1, length, features): no calendar features
        features = (_config_ints(cfg, ("num_time_features",)) or [0])[0]
        return _zeros(1, series.shape[1], features) if features else torch.zeros(1, series.shape[1], 0)
    if series is not None and name == "freq":
        return torch.zeros(1, 1, dtype=torch.long)
    return None


def _required(params: Any) -> list[str]:
    """The names of a signature's parameters without a default (positional-or-keyword or keyword-only)."""
    return [n for n, p in params.items() if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _main_input(model: Any, params: Any) -> Any:
    """The model's ``main_input_name``; its forward's first required input where the forward
    (parameters ``params``) does not take that name (a VLM's vision tower keeps its parent's
    ``input_ids``)."""
    main = getattr(model, "main_input_name", "input_ids")
    required = _required(params)
    if isinstance(main, str) and main not in params and required:
        return required[0]
    return main


def _trigger(model: Any, cfg: Any) -> tuple[dict, list, dict]:
    """Keyword trigger inputs for ``model.forward`` (see the module doc), the candidates for
    the main input when there is more than one way to make it (see :func:`model_inputs`), and
    inputs passed as constants of the trace (a patch-sequence encoder's grid, which its code
    reads as Python numbers).

    Returns:
        (kwargs, candidates, fixed): ``kwargs`` holds the first candidate; ``candidates`` is a
        list of tensors for the main input, empty when there is one way only.
    Raises:
        ValueError: a required input this source cannot make, or one the config makes too large
            (:data:`MAX_TRIGGER_ELEMENTS`).
    """
    import torch

    params = inspect.signature(model.forward).parameters
    required = _required(params)
    main = _main_input(model, params)
    if not isinstance(main, str):
        raise ValueError(f"its main input {main!r} is not one this source makes")
    out: dict = {}
    fixed: dict = {}
    candidates: list = []
    grid = next((g for g in GRID_NAMES if g in required), None)
    patch_list = main == "pixel_values" and ("spatial_shapes" in required or "pixel_position_ids" in required)
    if patch_list:
        candidates, fixed = _patch_list(cfg, required)
        out[main] = candidates[0]
        required = [n for n in required if n not in fixed]
    elif grid and main in ("hidden_states", "pixel_values"):
        candidates = _patch_candidates(cfg)
        out[main] = candidates[0]
        fixed[grid] = torch.tensor([PATCH_GRID])
        if "merge_sizes" in required:  # VideoLLaMA 3: the patch merger of each image
            fixed["merge_sizes"] = torch.tensor([2])
        required = [n for n in required if n not in fixed]
    elif main == "pixel_values_videos":  # a video: (1, frames, C, H, W)
        frames = min((_config_ints(cfg, ("num_frames", "frames_per_clip")) or [VIDEO_FRAMES])[0], VIDEO_FRAMES)
        channels = (_config_ints(cfg, ("num_channels", "in_chans")) or [3])[0]
        out[main] = _zeros(1, frames, channels, *_image_hw(cfg))
    elif main == "past_values":
        candidates = _series_candidates(cfg)
        out[main] = candidates[0]
    elif main.endswith("_embeds"):  # embeddings given directly: (1, tokens, hidden size)
        width = _config_ints(cfg, ("hidden_size", "d_model", "n_embd"))
        if not width:
            raise ValueError(f"its main input {main!r} needs a hidden size the config does not give")
        out[main] = _zeros(1, TEXT_TOKENS, width[0])
    if main == "input_ids" or ("input_ids" in params and main not in params):
        out["input_ids"] = _extra_input("input_ids", cfg, out)
        codebooks = _config_ints(cfg, ("num_codebooks",))
        if main == "input_ids" and codebooks and codebooks[0] > 1:  # MusicGen: one row of codes per codebook
            candidates = [out["input_ids"], _zeros(codebooks[0], TEXT_TOKENS, dtype=torch.long)]
        if "attention_mask" in params:
            out["attention_mask"] = _extra_input("attention_mask", cfg, out)
    dual = hasattr(model, "get_text_features") and hasattr(model, "get_image_features")  # CLIP-like
    if dual and not patch_list and "pixel_values" in params and (
            "spatial_shapes" in params or "pixel_position_ids" in params):  # SigLIP 2: a NaFlex image tower
        patches, extra = _patch_list(cfg, [n for n in PATCH_LIST_INPUTS if n in params])
        out["pixel_values"] = patches[0]
        fixed.update(extra)
    elif (main == "pixel_values" and not grid and not patch_list) or (dual and "pixel_values" in params):
        size = _image_hw(cfg)
        channels = getattr(cfg, "num_channels", 3)
        channels = channels if isinstance(channels, int) else 3
        out["pixel_values"] = _zeros(1, channels, *size)
        frames = _config_ints(cfg, ("num_frames",))
        if frames and main == "pixel_values":  # a video model reads (1, frames, C, H, W)
            candidates = [out["pixel_values"], _zeros(1, frames[0], channels, *size)]
    if main in ("input_ids", "pixel_values") or main in out:
        pass
    elif main in ("input_values", "input_features"):
        candidates = _audio_candidates(main, cfg)
        out[main] = candidates[0]
    else:
        raise ValueError(f"its main input {main!r} is not one this source makes")
    if getattr(cfg, "is_encoder_decoder", False) and "decoder_input_ids" in params:
        out["decoder_input_ids"] = torch.zeros(1, TEXT_TOKENS // 2, dtype=torch.long)
        if "decoder_attention_mask" in params:
            out["decoder_attention_mask"] = torch.ones(1, TEXT_TOKENS // 2, dtype=torch.long)
    if "bbox" in params and "input_ids" in out:
        out["bbox"] = torch.zeros(1, TEXT_TOKENS, 4, dtype=torch.long)
    for name in required:  # required inputs beyond the main one, made from their names
        if name not in out and (value := _extra_input(name, cfg, out)) is not None:
            out[name] = value
            mask = name[: -len("input_ids")] + "attention_mask" if name.endswith("input_ids") else None
            if mask and mask in params and mask not in out:
                out[mask] = _extra_input(mask, cfg, out)
    missing = [n for n in required if n not in out]
    if missing:
        raise ValueError(f"its forward needs {', '.join(missing)}, which this source does not make")
    return out, candidates, fixed


def _keyword_call_class():
    import torch
    from torch.utils._pytree import tree_leaves

    class KeywordCall(torch.nn.Module):
        """Calls the wrapped model with its positional inputs as the named keywords, plus fixed ones."""

        def __init__(self, inner, names, fixed):
            super().__init__()
            self.inner = inner
            self.names = names
            self.fixed = fixed

        def forward(self, *tensors):
            out = self.inner(**dict(zip(self.names, tensors)), **self.fixed)
            if hasattr(out, "to_tuple"):
                out = out.to_tuple()
            return tuple(t for t in tree_leaves(out) if isinstance(t, torch.Tensor))

    return KeywordCall


def keyword_call(model: Any, names: list[str], fixed: dict) -> Any:
    """A module calling ``model(**dict(zip(names, inputs)), **fixed)`` and returning its tensors."""
    return _keyword_call_class()(model, names, fixed)


def _runs(model: Any, kwargs: dict, fixed: dict) -> bool:
    """True when ``model(**kwargs, **fixed)`` runs (``torch.no_grad``; zero weights, so products
    with an all-zero operand are skipped: :func:`hnn_tf.converters.zero_products.zero_products`)."""
    import torch

    from .zero_products import zero_products

    try:
        with torch.no_grad(), zero_products():
            model(**kwargs, **fixed)
    except Exception:  # noqa: BLE001 - any failure means: it does not run on these inputs
        return False
    return True


def _other_modality(cfg: Any, forward: Any, kwargs: dict) -> list[dict]:
    """Inputs of another usual modality that ``forward`` takes as optional and ``kwargs`` lacks,
    one dict per way of making them: token ids (with their mask) beside an image or audio; beside
    token ids, an image (:func:`_extra_input`), then a video (1, frames, C, H, W) where the config
    names its frames (X-CLIP), a set of one image (IDEFICS), then each spectrogram of
    :func:`_audio_candidates` (CLVP, CLAP); and for any model, a spectrogram's frame mask
    (AudioFlamingo 3), an image's patch grid (MiniCPM-V) and the states a cross-attending module
    reads (:func:`_extra_input`)."""
    import torch

    options: list[dict] = []
    if "input_ids" in forward and "input_ids" not in kwargs and ("pixel_values" in kwargs or "input_features" in kwargs):
        options.append({n: _extra_input(n, cfg, kwargs) for n in ("input_ids", "attention_mask") if n in forward})
    elif "input_ids" in kwargs:
        if "pixel_values" in forward and "pixel_values" not in kwargs:
            image = _extra_input("pixel_values", cfg, kwargs)
            options.append({"pixel_values": image})
            frames = _config_ints(cfg, ("num_frames",))
            if frames:
                options.append({"pixel_values": _zeros(1, min(frames[0], VIDEO_FRAMES), *image.shape[1:])})
            images = {"pixel_values": image[:, None]}  # a set of one image (IDEFICS), seen by every token
            if "image_attention_mask" in forward:
                images["image_attention_mask"] = torch.ones(1, TEXT_TOKENS, 1, dtype=torch.long)
            options.append(images)
        if "input_features" in forward and "input_features" not in kwargs:
            try:
                options += [{"input_features": t} for t in _audio_candidates("input_features", cfg)]
            except ValueError:
                pass
    # AudioFlamingo 3's frame mask, MiniCPM's patch grid, BLIP-2's Q-Former alone
    for name in ("input_features_mask", "target_sizes", "encoder_hidden_states"):
        value = _extra_input(name, cfg, kwargs) if name in forward and name not in kwargs else None
        if value is not None:
            options.append({name: value})
    return options


def model_inputs(model: Any, cfg: Any) -> tuple[Any, tuple, str]:
    """The module to export for a transformers model, its trigger inputs, and its modality.

    Where :func:`_trigger` gives several shapes for the main input, ``model`` runs on each
    (``torch.no_grad``) and the first it runs on is kept; when none runs, the first is kept and
    the export reports the model's error. A model whose forward also takes another usual
    modality as an optional input (:func:`_other_modality`) runs once on its inputs; where it
    fails there, the first way of adding the other modality that it runs with is kept.

    Returns:
        (module, args, task): ``module(*args)`` calls ``model`` with the inputs as keywords;
        task is ``"text"``, ``"vision"``, ``"audio"``, ``"time series"`` or ``"multimodal"``.
    Raises:
        ValueError: the model needs an input this converter cannot make.
    """
    module, args, task, _ = model_inputs_exported(model, cfg, None)
    return module, args, task


def model_inputs_exported(model: Any, cfg: Any, export: Any) -> tuple[Any, tuple, str, Any]:
    """:func:`model_inputs`, with each set of inputs tried by exporting it rather than by running it.

    Choosing among several input shapes runs the model on each until one works, and the
    export then runs it once more to trace it: on the transformers zoo these choosing runs
    took 82 s of its 195 s of building. With ``export``, each set of inputs is first given to
    ``export(module, args)``; an export that succeeds ran the model on them, so the set is
    kept and its export returned, with no second run. Where the export fails, the model is
    run on the set as :func:`model_inputs` runs it (a model that runs but does not export is
    chosen all the same, and its caller's export reports the error or falls back to another
    exporter), so the inputs chosen are :func:`model_inputs`'s in every case.

    Args:
        model, cfg: as :func:`model_inputs`.
        export: ``export(module, args) -> onnx.ModelProto`` (raising on failure), or None
            (then this is :func:`model_inputs`).
    Returns:
        (module, args, task, proto): proto is ``export(module, args)`` of the inputs returned
        where one of the tries exported them, else None (a model with one way to make its
        inputs is not tried: its caller exports it).
    Raises:
        ValueError: the model needs an input this converter cannot make.
    """

    kwargs, candidates, fixed = _trigger(model, cfg)
    forward = inspect.signature(model.forward).parameters
    if "use_cache" in forward:
        fixed["use_cache"] = False
    if "return_dict" in forward:
        fixed["return_dict"] = True
    main = _main_input(model, forward)
    made: dict = {}

    def accepted(inputs: dict) -> bool:
        if export is not None:
            try:
                proto = export(keyword_call(model, list(inputs), fixed), tuple(inputs.values()))
            except Exception:  # noqa: BLE001 - then the run decides, as without export
                pass
            else:
                made["proto"] = proto
                return True
        return _runs(model, inputs, fixed)

    ran = False
    for candidate in candidates:  # the first shape of the main input that the model runs on
        if accepted({**kwargs, main: candidate}):
            kwargs[main], ran = candidate, True
            break
    options = [] if ran else _other_modality(cfg, forward, kwargs)
    if options and not accepted(kwargs):
        # a multimodal model that needs both (ViLT, SAM 3, Kosmos-2, CLVP, X-CLIP): the first that runs
        other = next((o for o in options if accepted({**kwargs, **o})), {})
        kwargs.update(other)
    modalities = {"input_ids": "text", "pixel_values": "vision", "input_values": "audio", "input_features": "audio",
                  "hidden_states": "vision", "pixel_values_videos": "vision", "past_values": "time series",
                  "inputs_embeds": "text"}
    kinds = {modalities[k] for k in kwargs if k in modalities}
    task = kinds.pop() if len(kinds) == 1 else "multimodal"
    # an export that succeeds ends the search, so a proto made is the export of the inputs kept
    return keyword_call(model, list(kwargs), fixed), tuple(kwargs.values()), task, made.get("proto")


def read_config(folder: Path, trust: bool = False) -> Any:
    """The ``PretrainedConfig`` of a local transformers folder, read as bounded JSON.

    Raises:
        ConversionError: config.json missing, not a regular file, too large or deep, not a
            JSON object, without a known ``model_type``, or naming custom code without ``trust``.
    """
    from hnn_tf.safe_io import json_depth, read_regular

    where = str(folder)
    raw = read_regular(folder / "config.json", max_bytes=MAX_CONFIG_BYTES)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ConversionError(f"config.json is not valid JSON ({exception_summary(exc)})", path=where) from None
    if not isinstance(data, dict) or json_depth(data, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH:
        raise ConversionError("config.json is not a JSON object of a sane depth", path=where)
    if "auto_map" in data:
        if not trust:
            raise ConversionError("config.json names custom model code (auto_map) that transformers would import "
                                  "and run; pass --trust (trust=True) if you trust its source", path=where)
        from transformers import AutoConfig

        try:
            return AutoConfig.from_pretrained(str(folder), trust_remote_code=True, local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ConversionError(f"transformers cannot read the config ({exception_summary(exc)})", path=where) from None
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = data.get("model_type")
    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING_NAMES:
        raise ConversionError(f"config.json has no model_type that transformers knows ({model_type!r})", path=where)
    fields = {k: v for k, v in data.items() if k not in ("model_type", "transformers_version", "architectures")}
    try:
        return AutoConfig.for_model(model_type, **fields)
    except Exception as exc:  # noqa: BLE001 - any config error is the file's
        raise ConversionError(f"transformers refuses the config ({exception_summary(exc)})", path=where) from None


def _type_names(obj: Any) -> set[str]:
    return {c.__name__ for c in type(obj).__mro__}


class TransformersConverter(Converter):
    """``PreTrainedModel`` objects and local transformers folders (see the module doc).

    Options: ``opset``, ``keep_weights`` (export the weights too), ``trust`` (a folder's custom
    code may run).
    """

    name = "transformers"
    aliases = ("huggingface", "hf")
    options = frozenset({"opset", "keep_weights", "trust"})

    def accepts_object(self, obj: Any) -> bool:
        return "PreTrainedModel" in _type_names(obj)

    def accepts_file(self, info: FileInfo) -> bool:
        names = set(info.dir_names or ())
        return info.is_dir and "config.json" in names and "saved_model.pb" not in names

    def convert(self, model_or_path: Any, **options: Any):
        """Export the object, or the model a folder's config describes, to ONNX.

        An object is exported with eager attention (switched for the export and back), as
        a folder's model is built, so both give one graph.

        A folder's model is counted on the meta device first and refused over
        :data:`MAX_FOLDER_PARAMETERS`; trigger inputs are capped at :data:`MAX_TRIGGER_ELEMENTS`.

        Raises:
            ConversionError: unreadable or refused config, a model over the parameter cap, a
                model that cannot be built or given inputs, or both exporters failing.
        """
        trust = bool(options.get("trust") or options.get("trust_pickle"))
        where = None
        if isinstance(model_or_path, (str, os.PathLike)):
            where = str(model_or_path)
            cfg = read_config(Path(model_or_path), trust)
            _check_size(cfg, trust, where)
            try:
                model = make_model(cfg, trust)  # built as the zoo builds it
            except Exception as exc:  # noqa: BLE001
                raise ConversionError(f"transformers cannot build the model ({exception_summary(exc)})",
                                      path=where) from None
        else:
            model, cfg = model_or_path, model_or_path.config
        # eager attention, as folders and the zoo build it: SDPA exports other ops (Where, IsNaN)
        before = getattr(cfg, "_attn_implementation", None)
        switch = before not in (None, "eager") and hasattr(model, "set_attn_implementation")
        try:
            if switch:
                model.set_attn_implementation("eager")
            from .pytorch import first_export, export_with_fallback  # imported here: this converter registers before it

            opset, keep = options.get("opset"), bool(options.get("keep_weights"))
            try:
                module, args, _, proto = model_inputs_exported(
                    model.eval(), cfg, first_export("transformers model", opset, keep))
            except ValueError as exc:
                raise ConversionError(f"cannot make inputs for the model: {exc}", path=where) from None
            if proto is None:
                proto, _ = export_with_fallback(module, args, "transformers model", opset, keep)
        finally:
            if switch:
                model.set_attn_implementation(before)
        return proto

    def weights_digest(self, obj: Any) -> bytes | None:
        """A folder: sha256 of its weight files (names and bytes); an object: of its state_dict."""
        if isinstance(obj, (str, os.PathLike)):
            from hnn_tf.safe_io import open_regular

            h = hashlib.sha256()
            for f in sorted(Path(obj).iterdir()):
                if f.suffix.lower() in WEIGHT_SUFFIXES and f.is_file() and not f.is_symlink():
                    fd, _ = open_regular(f)
                    with os.fdopen(fd, "rb") as fh:
                        h.update(f.name.encode())
                        h.update(hashlib.file_digest(fh, "sha256").digest())
            return h.digest()
        from .pytorch import tensors_digest

        return tensors_digest(obj.state_dict().items())


register(TransformersConverter())
