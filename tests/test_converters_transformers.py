"""The ``transformers`` converter (PreTrainedModel objects, local folders) and the ``zoo``
converter (``timm:convnext_tiny``): what a user hashes directly, and what a hostile folder
cannot do."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

transformers = pytest.importorskip("transformers")

from hnn_tf.converters import detect_framework, to_onnx  # noqa: E402
from hnn_tf.errors import ConversionError  # noqa: E402
from hnn_tf.graph import build_graph  # noqa: E402


def _bert(seed: int = 0):
    import torch

    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=32)
    return transformers.BertModel(cfg).eval()


def _cli(*args):
    from hnn_tf.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_pretrained_model_object_and_its_folder_give_one_graph(tmp_path):
    model = _bert()
    assert detect_framework(model) == "transformers"
    from_object = build_graph(to_onnx(model), canonical=True)
    assert from_object.ops.count("LayerNormalization") == 2 * 2 + 1 and "Gelu" in from_object.ops
    config_only = tmp_path / "config-only"
    model.config.save_pretrained(config_only)  # config.json alone: weights are not needed
    with_weights = tmp_path / "saved"
    model.save_pretrained(with_weights)  # config.json and model.safetensors
    assert detect_framework(str(config_only)) == "transformers"
    for folder in (config_only, with_weights):
        assert build_graph(to_onnx(str(folder)), canonical=True).fingerprint() == from_object.fingerprint()


def test_folder_sha256_follows_its_weights(tmp_path):
    from hnn_tf.hashing import model_graph

    a, b = tmp_path / "a", tmp_path / "b"
    _bert(0).save_pretrained(a)
    _bert(1).save_pretrained(b)
    ga, gb = model_graph(str(a), "canonical"), model_graph(str(b), "canonical")
    assert ga.graph.fingerprint() == gb.graph.fingerprint() and ga.sha256 != gb.sha256
    assert model_graph(str(a), "canonical").sha256 == ga.sha256


def test_folder_with_custom_code_is_refused_without_trust(tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    marker = tmp_path / "ran"
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (folder / "config.json").write_text(json.dumps({
        "model_type": "bert", "auto_map": {"AutoConfig": "modeling_evil.EvilConfig",
                                           "AutoModel": "modeling_evil.EvilModel"}}))
    with pytest.raises(ConversionError, match="custom model code .*--trust"):
        to_onnx(str(folder))
    r = _cli("hash", folder)
    assert r.exit_code == 2 and "--trust" in r.output and "Traceback" not in r.output
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"model_type": "no-such-model"}), "no model_type that transformers knows"),
    (json.dumps([1, 2, 3]), "not a JSON object"),
    (json.dumps({"model_type": "bert", "hidden_size": "wide"}), "refuses the config|cannot build the model"),
])
def test_bad_folders_give_one_line(tmp_path, content, message):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ConversionError, match=message) as err:
        to_onnx(str(tmp_path))
    assert "\n" not in str(err.value)


def test_oversized_config_is_not_read(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "pad": "x" * (5 << 20)}))
    with pytest.raises(ConversionError, match="limit"):
        to_onnx(str(tmp_path))


def test_config_sizes_are_bounded_before_allocating(tmp_path):
    """A config asking for a huge model or huge trigger inputs is refused before allocation: the
    model is counted on the meta device, trigger tensors are capped (converters/transformers_hf.py)."""
    from transformers import EncodecConfig

    from hnn_tf.converters.transformers_hf import (MAX_FOLDER_PARAMETERS, MAX_TRIGGER_ELEMENTS, _audio_candidates,
                                                   _zeros)

    huge = {"model_type": "llama", "hidden_size": 65536, "intermediate_size": 262144, "num_hidden_layers": 512,
            "num_attention_heads": 64, "num_key_value_heads": 64}
    (tmp_path / "config.json").write_text(json.dumps(huge))
    with pytest.raises(ConversionError, match="parameters.*over the cap") as err:
        to_onnx(str(tmp_path))
    assert "\n" not in str(err.value)
    r = _cli("hash", tmp_path)
    assert r.exit_code == 2 and "over the cap" in r.output and "Traceback" not in r.output
    assert f"{MAX_FOLDER_PARAMETERS:,}" in str(err.value)
    with pytest.raises(ValueError, match="over the cap"):
        _zeros(1, 200000, 16000)
    with pytest.raises(ValueError, match="positive"):
        _zeros(1, 0, 3)
    # a codec config with 200,000 audio channels: that candidate is left out, the others remain
    shapes = [tuple(t.shape) for t in _audio_candidates("input_values", EncodecConfig(audio_channels=200000))]
    assert (1, 16000) in shapes and all(int(np.prod(s)) <= MAX_TRIGGER_ELEMENTS for s in shapes)
    assert not any(200000 in s for s in shapes)
    # the same codec as a folder: no trigger input fits it, and the one line names the folder
    codec = tmp_path / "codec"
    codec.mkdir()
    (codec / "config.json").write_text(json.dumps({"model_type": "encodec", "audio_channels": 200000}))
    with pytest.raises(ConversionError) as err:
        to_onnx(str(codec))
    assert str(err.value).startswith(str(codec)) and "\n" not in str(err.value)


def test_zoo_model_names_hash_directly():
    from hnn_tf.zoo.sources import get_source

    proto = to_onnx("torchvision:squeezenet1_1")
    entry = next(e for e in get_source("torchvision").entries() if e.name == "squeezenet1_1")
    src = get_source("torchvision")
    expected = build_graph(src.export(src.build(entry)), canonical=True)
    assert build_graph(proto, canonical=True).fingerprint() == expected.fingerprint()
    ok = _cli("hash", "torchvision:squeezenet1_1", "--json")
    assert ok.exit_code == 0, ok.output
    for bad, why in (("timm:no_such_model", "has no model named"), ("nosource:resnet18", "no such file")):
        r = _cli("hash", bad)
        assert r.exit_code == 2 and why in r.output and "Traceback" not in r.output


class _Conformer:
    """A stand-in for a conformer ASR encoder: reads its spectrogram as (batch, frames, 128)."""

    main_input_name = "input_features"

    def __init__(self):
        import torch

        self.proj = torch.nn.Linear(128, 8)
        self.calls = 0

    def forward(self, input_features):
        self.calls += 1
        return self.proj(input_features)

    __call__ = forward


def test_audio_trigger_takes_the_first_shape_the_model_runs_on():
    """A spectrogram input is tried as (1, F, T) (Whisper's layout) then (1, T, F) (conformers),
    for each feature size the config names (converters/transformers_hf.py ``model_inputs``)."""
    from hnn_tf.converters.transformers_hf import MEL_FRAMES, model_inputs

    cfg = transformers.PretrainedConfig(num_mel_bins=128)
    model = _Conformer()
    _, args, task = model_inputs(model, cfg)
    assert task == "audio" and tuple(args[0].shape) == (1, MEL_FRAMES, 128)
    assert model.calls == 3  # (1, 128, T) and (1, 80, T) failed, (1, T, 128) ran

    whisper = transformers.WhisperModel(transformers.WhisperConfig(
        num_mel_bins=16, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16, vocab_size=64, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
        max_source_positions=MEL_FRAMES // 2)).eval()
    _, args, _ = model_inputs(whisper, whisper.config)
    assert tuple(args[0].shape) == (1, 16, MEL_FRAMES)


def test_patch_sequence_vision_tower_gets_patches_and_a_fixed_grid():
    """A Qwen2-VL vision tower (forward(hidden_states, grid_thw), main_input_name inherited as
    input_ids) gets PATCH_GRID patches flattened as (N, C*T*P*P) and its grid as a constant of
    the trace, not an input (converters/transformers_hf.py ``_trigger``)."""
    import math

    from transformers.models.qwen2_vl.modeling_qwen2_vl import (Qwen2VisionTransformerPretrainedModel,
                                                                Qwen2VLVisionConfig)

    from hnn_tf.converters.transformers_hf import PATCH_GRID, model_inputs

    cfg = Qwen2VLVisionConfig(depth=1, embed_dim=32, hidden_size=32, num_heads=2, patch_size=4, mlp_ratio=2)
    model = Qwen2VisionTransformerPretrainedModel(cfg).eval()
    _, args, task = model_inputs(model, cfg)
    assert task == "vision" and [tuple(a.shape) for a in args] == [(math.prod(PATCH_GRID), 3 * 2 * 4 * 4)]
    g = build_graph(to_onnx(model), canonical=True)
    assert "MatMul" in g.ops or "Gemm" in g.ops


def test_time_series_and_extra_required_inputs_are_made_by_name():
    """``past_values`` of a time-series model is (1, context_length, channels); required inputs
    beyond the main one are made from their names (token ids with their mask)."""
    import torch

    from hnn_tf.converters.transformers_hf import model_inputs

    cfg = transformers.PatchTSTConfig(num_input_channels=2, context_length=32, patch_length=8, patch_stride=8,
                                      d_model=16, num_attention_heads=2, num_hidden_layers=1, ffn_dim=16)
    _, args, task = model_inputs(transformers.PatchTSTModel(cfg).eval(), cfg)
    assert task == "time series" and [tuple(a.shape) for a in args] == [(1, 32, 2)]

    class TwoTower(torch.nn.Module):
        """Reads an image and a caption, both required (BLIP-2's forward)."""

        main_input_name = "pixel_values"

        def forward(self, pixel_values, input_ids, attention_mask=None):
            return pixel_values.mean() + input_ids.float().mean() + attention_mask.float().mean()

    _, args, task = model_inputs(TwoTower(), transformers.PretrainedConfig(image_size=32))
    assert task == "multimodal"
    assert [tuple(a.shape) for a in args] == [(1, 3, 32, 32), (1, 16), (1, 16)]
    assert [a.dtype for a in args[1:]] == [torch.long, torch.long]


def test_patch_list_encoder_and_embedding_inputs():
    """SigLIP 2's NaFlex vision tower, alone and in the joint model, reads flattened patches with
    their grid's shape (a constant of the trace); a model whose main input is ``inputs_embeds``
    gets (1, 16, hidden)."""
    import torch

    from hnn_tf.converters.transformers_hf import PATCH_LIST_SIDE, TEXT_TOKENS, model_inputs

    cfg = transformers.Siglip2VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                           num_attention_heads=2, patch_size=4, num_patches=64)
    model = transformers.Siglip2VisionModel(cfg).eval()
    _, args, task = model_inputs(model, cfg)
    assert task == "vision" and [tuple(a.shape) for a in args] == [(1, PATCH_LIST_SIDE ** 2, 3 * 4 * 4)]
    assert "LayerNormalization" in build_graph(to_onnx(model), canonical=True).ops
    # the joint text-image model gets the same patch list beside its token ids
    joint_cfg = transformers.Siglip2Config(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "vocab_size": 100, "projection_size": 32},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "patch_size": 4, "num_patches": 64})
    joint = transformers.Siglip2Model(joint_cfg).eval()
    module, args, task = model_inputs(joint, joint_cfg)
    assert task == "multimodal" and (1, PATCH_LIST_SIDE ** 2, 3 * 4 * 4) in [tuple(a.shape) for a in args]
    with torch.no_grad():
        module(*args)

    class Embedded(torch.nn.Module):
        main_input_name = "inputs_embeds"

        def forward(self, inputs_embeds, attention_mask=None):
            return inputs_embeds.sum(-1)

    _, args, task = model_inputs(Embedded(), transformers.PretrainedConfig(hidden_size=24))
    assert task == "text" and [tuple(a.shape) for a in args] == [(1, TEXT_TOKENS, 24)]


def test_a_model_that_needs_its_optional_second_modality_gets_it():
    """A forward that takes an image as optional but fails without one (BridgeTower, ViLT) gets
    an image beside its token ids; a model that runs on token ids alone is left as it is."""
    import torch

    from hnn_tf.converters.transformers_hf import model_inputs

    class NeedsImage(torch.nn.Module):
        main_input_name = "input_ids"
        needs = True

        def forward(self, input_ids, attention_mask=None, pixel_values=None):
            if pixel_values is None and self.needs:
                raise ValueError("You have to specify pixel_values")
            return input_ids.float().mean() + (0 if pixel_values is None else pixel_values.mean())

    cfg = transformers.PretrainedConfig(image_size=32)
    _, args, task = model_inputs(NeedsImage(), cfg)
    assert task == "multimodal" and [tuple(a.shape) for a in args] == [(1, 16), (1, 16), (1, 3, 32, 32)]
    optional = NeedsImage()
    optional.needs = False
    _, args, task = model_inputs(optional, cfg)
    assert task == "text" and [tuple(a.shape) for a in args] == [(1, 16), (1, 16)]


def test_other_modality_tries_video_audio_and_cross_attention_states():
    """A model that fails on its main input alone gets the first other input it runs with
    (converters/transformers_hf.py ``_other_modality``): a video beside token ids (X-CLIP), a
    spectrogram beside token ids (CLVP), the states a cross-attending module reads (BLIP-2's
    Q-Former)."""
    import torch

    from hnn_tf.converters.transformers_hf import IMAGE_SPECTROGRAM_FRAMES, MEL_FRAMES, TEXT_TOKENS, model_inputs

    class NeedsVideo(torch.nn.Module):
        main_input_name = "input_ids"

        def forward(self, input_ids, attention_mask=None, pixel_values=None):
            if pixel_values is None or pixel_values.dim() != 5:
                raise ValueError("a video, please")
            return input_ids.float().mean() + pixel_values.mean()

    _, args, task = model_inputs(NeedsVideo(), transformers.PretrainedConfig(image_size=32, num_frames=8))
    assert task == "multimodal" and [tuple(a.shape) for a in args] == [(1, 16), (1, 16), (1, 8, 3, 32, 32)]

    class NeedsSpeech(torch.nn.Module):
        main_input_name = "input_ids"

        def forward(self, input_ids, attention_mask=None, input_features=None):
            return input_ids.float().mean() + input_features.mean()

    _, args, task = model_inputs(NeedsSpeech(), transformers.PretrainedConfig(num_mel_bins=40))
    assert task == "multimodal" and tuple(args[-1].shape) == (1, 40, MEL_FRAMES)

    class SpectrogramImage(torch.nn.Module):
        """Reads text beside a one-channel spectrogram image of at most 1,024 frames (CLAP)."""

        main_input_name = "input_ids"

        def forward(self, input_ids, attention_mask=None, input_features=None):
            if input_features is None or input_features.dim() != 4 or input_features.shape[2] > 1024:
                raise ValueError("a (batch, 1, frames, mel bins) spectrogram of at most 1,024 frames")
            return input_ids.float().mean() + input_features.mean()

    _, args, _ = model_inputs(SpectrogramImage(), transformers.PretrainedConfig(num_mel_bins=64))
    assert tuple(args[-1].shape) == (1, 1, IMAGE_SPECTROGRAM_FRAMES, 64)

    class CrossAttends(torch.nn.Module):
        main_input_name = "inputs_embeds"

        def forward(self, inputs_embeds, encoder_hidden_states=None):
            return inputs_embeds.sum() + encoder_hidden_states.sum()

    _, args, _ = model_inputs(CrossAttends(), transformers.PretrainedConfig(hidden_size=24, encoder_hidden_size=12))
    assert [tuple(a.shape) for a in args] == [(1, TEXT_TOKENS, 24), (1, TEXT_TOKENS, 12)]


def test_codebook_tokens_stacked_frames_and_lagged_series():
    """Trigger shapes beyond the usual ones, each tried only where the usual one fails or the
    config asks for it: one row of token ids per codebook (MusicGen), spectrogram frames stacked
    in pairs (Wav2Vec2-BERT, 2F) and delta-expanded (Granite Speech 5, 4F), and a series long
    enough for its lags, with its time features (Time Series Transformer)."""
    import torch

    from hnn_tf.converters.transformers_hf import MEL_FRAMES, TEXT_TOKENS, model_inputs

    class Codebooks(torch.nn.Module):
        main_input_name = "input_ids"

        def forward(self, input_ids, attention_mask=None):
            return input_ids.reshape(-1, 4, input_ids.shape[-1]).float().mean()  # fails on one row

    _, args, _ = model_inputs(Codebooks(), transformers.PretrainedConfig(num_codebooks=4))
    assert tuple(args[0].shape) == (4, TEXT_TOKENS)

    for k in (2, 4):
        class Stacked(torch.nn.Module):
            main_input_name = "input_features"

            def __init__(self, width):
                super().__init__()
                self.proj = torch.nn.Linear(width, 8)

            def forward(self, input_features):
                return self.proj(input_features)

        _, args, _ = model_inputs(Stacked(k * 80), transformers.PretrainedConfig(num_mel_bins=80))
        assert tuple(args[0].shape) == (1, MEL_FRAMES, k * 80)

    cfg = transformers.TimeSeriesTransformerConfig(prediction_length=4, context_length=8, lags_sequence=[1, 2, 5],
                                                   num_time_features=2, d_model=16, encoder_layers=1,
                                                   decoder_layers=1, encoder_attention_heads=2,
                                                   decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16)
    model = transformers.TimeSeriesTransformerModel(cfg).eval()
    module, args, task = model_inputs(model, cfg)
    assert task == "time series" and tuple(args[0].shape)[:2] == (1, 8 + 5)
    assert (1, 8 + 5, 2) in [tuple(a.shape) for a in args]
    module(*args)  # runs on them


def test_optional_inputs_a_model_needs_are_made_by_name():
    """Optional inputs a model fails without are added by name, one way at a time
    (converters/transformers_hf.py ``_other_modality``): a spectrogram's frame mask
    (AudioFlamingo 3), an image's patch grid (MiniCPM-V), a set of one image with its attention
    mask (IDEFICS); a config without ``image_size`` gets images of its ``max_img_size`` (TVP)."""
    import torch

    from hnn_tf.converters.transformers_hf import MEL_FRAMES, TEXT_TOKENS, model_inputs

    class Masked(torch.nn.Module):
        main_input_name = "input_features"

        def forward(self, input_features, input_features_mask=None):
            return input_features.sum(1) * input_features_mask

    _, args, _ = model_inputs(Masked(), transformers.PretrainedConfig(num_mel_bins=80))
    assert [tuple(a.shape) for a in args] == [(1, 80, MEL_FRAMES), (1, MEL_FRAMES)]

    class Grid(torch.nn.Module):
        main_input_name = "pixel_values"

        def forward(self, pixel_values, target_sizes=None):
            return pixel_values.mean() * target_sizes.prod()

    _, args, _ = model_inputs(Grid(), transformers.PretrainedConfig(image_size=56, patch_size=14))
    assert [tuple(a.shape) for a in args] == [(1, 3, 56, 56), (1, 2)] and args[1].tolist() == [[4, 4]]

    class ImageSet(torch.nn.Module):
        main_input_name = "input_ids"

        def forward(self, input_ids, attention_mask=None, pixel_values=None, image_attention_mask=None):
            batch, images, channels, height, width = pixel_values.shape
            return input_ids.float().mean() + image_attention_mask.sum() + pixel_values.mean()

    _, args, _ = model_inputs(ImageSet(), transformers.PretrainedConfig(max_img_size=64))
    assert [tuple(a.shape) for a in args] == [(1, 16), (1, 16), (1, 1, 3, 64, 64), (1, TEXT_TOKENS, 1)]


def test_codebook_and_time_feature_sizes_from_a_config_are_capped():
    """A hostile config's ``num_codebooks`` or ``num_time_features`` cannot make a trigger tensor
    over MAX_TRIGGER_ELEMENTS: the input is refused before anything is allocated."""
    import torch

    from hnn_tf.converters.transformers_hf import _extra_input, model_inputs

    class Tokens(torch.nn.Module):
        main_input_name = "input_ids"

        def forward(self, input_ids, attention_mask=None):
            return input_ids.float().mean()

    with pytest.raises(ValueError, match="trigger input"):
        model_inputs(Tokens(), transformers.PretrainedConfig(num_codebooks=10 ** 9))
    series = {"past_values": torch.zeros(1, 32)}
    with pytest.raises(ValueError, match="trigger input"):
        _extra_input("past_time_features", transformers.PretrainedConfig(num_time_features=10 ** 9), series)


def test_a_config_image_size_pair_gives_a_non_square_trigger_image():
    """``image_size = [height, width]`` (MGP-STR's 32x128 text lines) gives a (1, 3, 32, 128)
    image, beside token ids too; an int gives a square one (converters/transformers_hf.py
    ``_image_hw``)."""
    import torch

    from hnn_tf.converters.transformers_hf import model_inputs

    class Lines(torch.nn.Module):
        main_input_name = "pixel_values"

        def forward(self, pixel_values):
            if tuple(pixel_values.shape[-2:]) != (32, 128):
                raise ValueError("Input image size doesn't match model")
            return pixel_values.mean()

    _, args, task = model_inputs(Lines(), transformers.PretrainedConfig(image_size=[32, 128]))
    assert task == "vision" and [tuple(a.shape) for a in args] == [(1, 3, 32, 128)]

    class Captioned(torch.nn.Module):
        main_input_name = "input_ids"

        def forward(self, input_ids, pixel_values=None):
            if pixel_values is None:
                raise ValueError("needs an image")
            return pixel_values.mean() + input_ids.float().mean()

    _, args, _ = model_inputs(Captioned(), transformers.PretrainedConfig(image_size=[40, 24]))
    assert [tuple(a.shape) for a in args] == [(1, 16), (1, 3, 40, 24)]
    _, args, _ = model_inputs(Captioned(), transformers.PretrainedConfig(image_size=48))
    assert tuple(args[-1].shape) == (1, 3, 48, 48)


def test_inputs_tried_by_exporting_choose_what_running_chooses_and_run_the_model_once_less():
    """model_inputs_exported: each candidate is tried by exporting it, so the one kept is
    exported once and not run before; a candidate that runs but does not export is still the
    one chosen (its caller's export then reports it), and the inputs are model_inputs's."""
    import torch

    from hnn_tf.converters.pytorch import export_with_fallback, first_export
    from hnn_tf.converters.transformers_hf import MEL_FRAMES, model_inputs, model_inputs_exported

    class Stacked(torch.nn.Module):
        main_input_name = "input_features"

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(160, 8)
            self.calls = 0  # calls on the shape that works

        def forward(self, input_features):
            out = self.proj(input_features)
            self.calls += 1
            return out

    cfg = transformers.PretrainedConfig(num_mel_bins=80)
    model = Stacked()
    old_module, expected, _ = model_inputs(model, cfg)
    old_proto, _ = export_with_fallback(old_module, expected, "transformers model")
    assert model.calls == 2  # chosen by running it, then run again by the export's trace
    model.calls = 0
    module, args, _, proto = model_inputs_exported(model, cfg, first_export("transformers model"))
    assert [tuple(a.shape) for a in args] == [tuple(a.shape) for a in expected] == [(1, MEL_FRAMES, 160)]
    assert model.calls == 1 and proto is not None  # chosen by its export, which is the one returned
    assert proto.SerializeToString() == old_proto.SerializeToString()

    def refuses(module, args):
        raise RuntimeError("this exporter refuses everything")

    model.calls = 0
    _, args, _, proto = model_inputs_exported(model, cfg, refuses)
    assert proto is None and [tuple(a.shape) for a in args] == [(1, MEL_FRAMES, 160)]
