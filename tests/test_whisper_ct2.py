"""The CTranslate2 reader and the CTranslate2 -> transformers mapping, on tiny files written here.

The tiny model is a random transformers Whisper; the test fuses its projections into
CTranslate2's layout itself (q|k|v with a zero key bias, cross-attention k|v), writes
``model.bin`` in CTranslate2's binary format, split into two parts like the base model's
packages, and expects the reader + mapping to give back every tensor exactly.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("xalign_encoder_whisper")
transformers = pytest.importorskip("transformers")

from xalign_encoder_whisper import cache as whisper_cache  # noqa: E402
from xalign_encoder_whisper.ct2 import read_ct2, write_ct2  # noqa: E402
from xalign_encoder_whisper.model import load_from_entry  # noqa: E402
from xalign_encoder_whisper.weights import hf_config, hf_state_dict  # noqa: E402

from xalign.errors import CheckpointError  # noqa: E402

D, HEADS, FFN, LAYERS, VOCAB, MELS = 8, 2, 16, 2, 51865, 80  # real vocab: real token ids


def tiny_hf_model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.WhisperConfig(
        vocab_size=VOCAB, num_mel_bins=MELS, d_model=D, encoder_layers=LAYERS,
        decoder_layers=LAYERS, encoder_attention_heads=HEADS, decoder_attention_heads=HEADS,
        encoder_ffn_dim=FFN, decoder_ffn_dim=FFN, max_source_positions=30,
        max_target_positions=12, decoder_start_token_id=50258, pad_token_id=50257,
        bos_token_id=50257, eos_token_id=50257)
    model = transformers.WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():  # random non-zero values everywhere, so no mapping error hides
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model


def to_ct2(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """CTranslate2's WhisperSpec variables for a transformers Whisper (float16)."""
    s = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    h = np.float16
    out: dict[str, np.ndarray] = {}

    def norm(src: str, dst: str) -> None:
        out[f"{dst}/gamma"], out[f"{dst}/beta"] = s[f"{src}.weight"], s[f"{src}.bias"]

    def lin(src: str, dst: str) -> None:
        out[f"{dst}/weight"], out[f"{dst}/bias"] = s[f"{src}.weight"], s[f"{src}.bias"]

    def fused(src: str, dst: str, projs: tuple[str, ...]) -> None:
        out[f"{dst}/weight"] = np.concatenate([s[f"{src}.{p}.weight"] for p in projs])
        out[f"{dst}/bias"] = np.concatenate([s[f"{src}.{p}.bias"] if p != "k_proj"
                                             else np.zeros(D, np.float32) for p in projs])

    for side in ("encoder", "decoder"):
        pre = f"model.{side}"
        out[f"{side}/num_heads"] = np.array(HEADS, dtype=np.int16)
        out[f"{side}/position_encodings/encodings"] = s[f"{pre}.embed_positions.weight"]
        norm(f"{pre}.layer_norm", f"{side}/layer_norm")
        for i in range(LAYERS):
            src, dst = f"{pre}.layers.{i}", f"{side}/layer_{i}"
            norm(f"{src}.self_attn_layer_norm", f"{dst}/self_attention/layer_norm")
            fused(f"{src}.self_attn", f"{dst}/self_attention/linear_0",
                  ("q_proj", "k_proj", "v_proj"))
            lin(f"{src}.self_attn.out_proj", f"{dst}/self_attention/linear_1")
            if side == "decoder":
                norm(f"{src}.encoder_attn_layer_norm", f"{dst}/attention/layer_norm")
                fused(f"{src}.encoder_attn", f"{dst}/attention/linear_0", ("q_proj",))
                fused(f"{src}.encoder_attn", f"{dst}/attention/linear_1", ("k_proj", "v_proj"))
                lin(f"{src}.encoder_attn.out_proj", f"{dst}/attention/linear_2")
            norm(f"{src}.final_layer_norm", f"{dst}/ffn/layer_norm")
            lin(f"{src}.fc1", f"{dst}/ffn/linear_0")
            lin(f"{src}.fc2", f"{dst}/ffn/linear_1")
    for conv in ("conv1", "conv2"):
        lin(f"model.encoder.{conv}", f"encoder/{conv}")
    out["decoder/embeddings/weight"] = s["model.decoder.embed_tokens.weight"]
    return {k: v.astype(h) if v.dtype == np.float32 else v for k, v in out.items()}


def write_split(path: Path, variables: dict[str, np.ndarray]) -> list[Path]:
    whole = write_ct2(path, "WhisperSpec", variables,
                      aliases={"decoder/projection/weight": "decoder/embeddings/weight"})
    data = whole.read_bytes()
    parts = [path.with_name("model.bin.part1"), path.with_name("model.bin.part2")]
    parts[0].write_bytes(data[: len(data) // 2 + 7])  # split inside a tensor
    parts[1].write_bytes(data[len(data) // 2 + 7:])
    return parts


def test_reader_reads_what_was_written_whole_or_split(tmp_path: Path) -> None:
    variables = to_ct2(tiny_hf_model())
    parts = write_split(tmp_path / "model.bin", variables)
    for source in (tmp_path / "model.bin", parts):
        model = read_ct2(source)
        assert model.spec == "WhisperSpec" and model.revision == 3
        assert set(model.variables) == set(variables)
        for name, value in variables.items():
            assert model.variables[name].dtype == value.dtype
            np.testing.assert_array_equal(model.variables[name], value)
        np.testing.assert_array_equal(model.get("decoder/projection/weight"),
                                      variables["decoder/embeddings/weight"])


def test_reader_errors_name_the_file(tmp_path: Path) -> None:
    path = write_ct2(tmp_path / "model.bin", "WhisperSpec",
                     {"a": np.ones((3, 2), np.float16), "b": np.array(5, np.int16)})
    data = path.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-12])
    with pytest.raises(CheckpointError, match=r"cut\.bin: truncated"):
        read_ct2(tmp_path / "cut.bin")
    (tmp_path / "v9.bin").write_bytes((9).to_bytes(4, "little") + data[4:])
    with pytest.raises(CheckpointError, match=r"v9\.bin: CTranslate2 binary version 9"):
        read_ct2(tmp_path / "v9.bin")
    (tmp_path / "tail.bin").write_bytes(data + b"\0")
    with pytest.raises(CheckpointError, match="trailing bytes"):
        read_ct2(tmp_path / "tail.bin")
    with pytest.raises(CheckpointError, match="not found"):
        read_ct2(tmp_path / "missing.bin")


def test_bfloat16_variables_are_widened(tmp_path: Path) -> None:
    values = torch.tensor([1.5, -2.25, 3.0e-3, 7.0e4], dtype=torch.bfloat16)
    raw = values.view(torch.int16).numpy().astype("<i2").tobytes()
    path = write_ct2(tmp_path / "bf.bin", "X", {"w": (5, (2, 2), raw)})
    out = read_ct2(path).get("w")
    np.testing.assert_array_equal(out, values.float().numpy().reshape(2, 2))


def test_mapping_rebuilds_the_transformers_model_exactly(tmp_path: Path) -> None:
    reference = tiny_hf_model()
    parts = write_split(tmp_path / "model.bin", to_ct2(reference))
    model = read_ct2(parts)
    config = hf_config(model, english_only=False)
    assert (config["d_model"], config["encoder_layers"], config["decoder_attention_heads"],
            config["vocab_size"]) == (D, LAYERS, HEADS, VOCAB)
    state = hf_state_dict(model, config)
    expected = {k: v.half().float() for k, v in reference.state_dict().items()
                if k != "proj_out.weight"}
    assert set(state) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(state[key].float(), value, rtol=0, atol=0, msg=key)


def test_cache_entry_is_atomic_and_concurrent_safe(tmp_path: Path) -> None:
    reference = tiny_hf_model()
    parts = write_split(tmp_path / "model.bin", to_ct2(reference))
    (tmp_path / "config.json").write_text(json.dumps({"suppress_ids": [1, 2]}))
    directory = whisper_cache.entry_dir("tiny-test", parts, tmp_path / "cache")
    directory.mkdir(parents=True)
    (directory / "junk").write_text("half-written by a crashed run")  # no manifest
    errors: list[BaseException] = []

    def write() -> None:
        try:
            whisper_cache.write_entry(directory, parts, tmp_path, english_only=False)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert whisper_cache.is_complete(directory) and not (directory / "junk").exists()
    assert not [p for p in directory.parent.iterdir() if p.name.endswith(".tmp")]
    loaded = load_from_entry("tiny-test", directory)
    assert loaded.decoding["suppress_ids"] == [1, 2]
    features = torch.randn(1, MELS, 60)
    with torch.no_grad():
        got = loaded.model.model.encoder(features).last_hidden_state
        ref = reference.half().float().model.encoder(features).last_hidden_state
    torch.testing.assert_close(got, ref)
    # reinstalled weights (another mtime) get a new entry
    stat = parts[1].stat()
    os.utime(parts[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert whisper_cache.entry_dir("tiny-test", parts, tmp_path / "cache") != directory
