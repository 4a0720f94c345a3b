"""Reference preprocessing parity: each pretrained encoder's input, from a real codec file
made here (Pillow, soundfile, PyAV), equals what that model's own processor makes.

Tolerances, per family (max absolute difference; measured value in brackets):

* CLIP / SigLIP / BLIP-2 / EVA-CLIP images (transformers' PIL image processors, on the
  same decoded RGB pixels): 1e-6 [≤ 4.8e-7, float32 rounding of the normalisation].
* Video per-frame transform (CLIP's processor on the frames PyAV decodes at the same
  indices): 1e-6 [4.8e-7].
* Whisper, AST (their feature extractors on the file's samples as soundfile decodes them):
  1e-6 [0: the same extractor on the same samples].
* CLAP (48 kHz extractor): on a 16 kHz file, against the extractor on the file's samples
  resampled to 48 kHz (scipy's polyphase filter, float64): 1e-6 [0]. On a native 48 kHz
  file the modality's 16 kHz raw item loses everything above 8 kHz, so only mel bins
  below 7 kHz are compared: mean |diff| < 0.1 dB [0.009 dB], max < 1.5 dB [0.75 dB].
* BEATs (DESIGN §2 Kaldi fbank, normalised, two 512-frame windows) against a float64 Kaldi
  fbank (transformers' numpy path, equal to torchaudio's ``compliance.kaldi``; the
  kaldi-native-fbank reference refuses 128 bins at 16 kHz, see test_audio_fbank.py):
  1e-4 [1.8e-7 in normalised units].
* ULIP-2 PointBERT (ULIP's own ``farthest_point_sample`` and ``pc_normalize`` on float32
  points, colour dropped, from the same first point): the same 8,192 points within 1e-5
  [1.7e-6]; the same order at ≥ 99.5% of positions [99.85%: 6 pairs of equidistant points
  taken in the other order, float rounding].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image, ImageDraw
from scipy.spatial import cKDTree

from xalign.registry import get_registry

tf = pytest.importorskip("transformers")
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")

RATE = 16_000
# the hub's preprocessor_config.json of each tower's default weights
IMAGE_PROCESSORS = {
    "clip-vit-l-14": ("CLIPImageProcessorPil", {"size": {"shortest_edge": 224},
                                                "crop_size": {"height": 224, "width": 224}}),
    "clip-vit-l-14-336": ("CLIPImageProcessorPil", {"size": {"shortest_edge": 336},
                                                    "crop_size": {"height": 336, "width": 336}}),
    "siglip-base": ("SiglipImageProcessorPil", {"size": {"height": 224, "width": 224}}),
    "eva-clip-g": ("BlipImageProcessorPil", {"size": {"height": 224, "width": 224}}),
    "blip2-vit-g": ("BlipImageProcessorPil", {"size": {"height": 224, "width": 224}}),
}


def picture(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, width // 2, height // 2), fill=(200, 30, 40))
    draw.rectangle((width // 2, height // 3, width - 5, height - 5), fill=(20, 160, 90))
    return image


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, (size, suffix) in enumerate([((320, 240), ".jpg"), ((200, 333), ".png"),
                                        ((640, 480), ".jpg")]):
        path = root / f"picture{i}{suffix}"
        picture(*size, seed=i).save(path, quality=90) if suffix == ".jpg" else \
            picture(*size, seed=i).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("encoder_id", list(IMAGE_PROCESSORS))
def test_image_towers_match_their_processors(encoder_id: str, image_files: list[Path]) -> None:
    registry = get_registry()
    image, encoder = registry.get("image"), registry.encoder("image", encoder_id)
    name, kwargs = IMAGE_PROCESSORS[encoder_id]
    processor = getattr(tf, name)(**kwargs)
    for path in image_files:
        ours = encoder.preprocess(image.load(path), False)
        with Image.open(path) as reference:
            ref = processor(reference.convert("RGB"), return_tensors="np")["pixel_values"]
        assert ours.shape == ref.shape, path.name
        assert np.abs(ours.numpy() - ref).max() < 1e-6, path.name


def test_video_frames_match_the_image_processor(tmp_path: Path) -> None:
    import av
    from xalign_plugin_video.sampling import frame_indices, num_frames

    registry = get_registry()
    video = registry.get("video")
    frames = np.stack([np.asarray(picture(160, 120, seed=s)) for s in range(12)])
    path = video.write(frames, tmp_path / "clip")
    ours = registry.encoder("video", "clip-vit-l-14").preprocess(video.load(path), False)
    with av.open(str(path)) as container:
        decoded = [f.to_image() for f in container.decode(video=0)]
    picked = [decoded[i] for i in frame_indices(len(decoded), num_frames())]
    processor = tf.CLIPImageProcessorPil(**IMAGE_PROCESSORS["clip-vit-l-14"][1])
    ref = processor(picked, return_tensors="np")["pixel_values"]
    assert ours.shape == ref.shape == (num_frames(), 3, 224, 224)
    assert np.abs(ours.numpy() - ref).max() < 1e-6


def sound(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tones = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220.0, 880.0, 2500.0, 6000.0))
    return (tones * (t % 0.5 < 0.3) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def audio_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "clip.flac"
    sf.write(path, sound(6.5, RATE), RATE)
    return path


def ours(encoder_id: str, path: Path) -> np.ndarray:
    registry = get_registry()
    raw = registry.get("audio").load(path)
    return registry.encoder("audio", encoder_id).preprocess(raw, False).numpy()


def decoded(path: Path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="float32")
    assert rate == RATE
    return samples


def test_whisper_and_ast_match_their_feature_extractors(audio_file: Path) -> None:
    wave = decoded(audio_file)
    whisper = tf.WhisperFeatureExtractor(feature_size=80)
    ref = whisper(wave, sampling_rate=RATE, return_tensors="np")["input_features"]
    assert ours("whisper", audio_file).shape == ref.shape == (1, 80, 3000)
    assert np.abs(ours("whisper", audio_file) - ref).max() < 1e-6
    ast = tf.ASTFeatureExtractor()
    ref = ast(wave, sampling_rate=RATE, return_tensors="np")["input_values"]
    assert ours("ast", audio_file).shape == ref.shape == (1, 1024, 128)
    assert np.abs(ours("ast", audio_file) - ref).max() < 1e-6


def test_clap_matches_its_feature_extractor(audio_file: Path, tmp_path: Path) -> None:
    from scipy.signal import resample_poly

    clap = tf.ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
    wave48 = resample_poly(decoded(audio_file).astype(np.float64), 3, 1).astype(np.float32)
    ref = clap(wave48, sampling_rate=48_000, return_tensors="np")["input_features"]
    assert ours("clap", audio_file).shape == ref.shape == (1, 1, 1001, 64)
    assert np.abs(ours("clap", audio_file) - ref).max() < 1e-6
    # a native 48 kHz file: identical below the 16 kHz raw item's 8 kHz Nyquist
    native = tmp_path / "clip48.wav"
    sf.write(native, sound(6.5, 48_000), 48_000)
    ref = clap(sf.read(native, dtype="float32")[0], sampling_rate=48_000,
               return_tensors="np")["input_features"][0, 0]
    below_7k = np.asarray(clap.mel_filters_slaney).argmax(0) * 48_000 / 1024 < 7_000
    diff = np.abs(ours("clap", native)[0, 0] - ref)[:, below_7k]
    assert diff.mean() < 0.1 and diff.max() < 1.5


def test_beats_input_is_the_design_fbank(audio_file: Path) -> None:
    """BEATs's recipe: Kaldi fbank (128 bins, 25/10 ms, Hanning, no dither) of the int16-scaled
    waveform, (x − 15.41663) / (2 × 6.55582), two 512-frame windows padded with 0."""
    wave = decoded(audio_file) * 2.0**15
    kaldi = tf.ASTFeatureExtractor()  # numpy float64 Kaldi fbank without torchaudio
    if not hasattr(kaldi, "mel_filters"):
        pytest.skip("torchaudio is installed: ASTFeatureExtractor uses it instead of numpy")
    frames = 1 + (wave.size - 400) // 160
    fbank = kaldi._extract_fbank_features(wave, frames)
    ref = np.zeros((1024, 128), dtype=np.float64)
    ref[:frames] = (fbank - 15.41663) / (2 * 6.55582)
    got = ours("beats", audio_file)
    assert got.shape == (2, 512, 128)
    assert np.abs(got.reshape(1024, 128) - ref).max() < 1e-4


def ulip_farthest_point_sample(point: np.ndarray, npoint: int, first: int) -> np.ndarray:
    """ULIP's ``farthest_point_sample`` (data/dataset_3d.py), its random first index fixed."""
    n = point.shape[0]
    xyz = point[:, :3]
    centroids = np.zeros((npoint,))
    distance = np.ones((n,)) * 1e10
    farthest = first
    for i in range(npoint):
        centroids[i] = farthest
        dist = np.sum((xyz - xyz[farthest, :]) ** 2, -1)
        mask = dist < distance
        distance[mask] = dist[mask]
        farthest = np.argmax(distance, -1)
    return point[centroids.astype(np.int32)]


def ulip_pc_normalize(pc: np.ndarray) -> np.ndarray:
    pc = pc - np.mean(pc, axis=0)
    return pc / np.max(np.sqrt(np.sum(pc**2, axis=1)))


def test_pointbert_input_is_ulips_sampling_and_normalisation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(12_000, 3)) * (3.0, 1.0, 0.5) + 7.0  # off-centre, not unit scale
    colour = rng.integers(0, 256, size=(12_000, 3))
    path = tmp_path / "cloud.npy"
    np.save(path, np.concatenate([xyz, colour], axis=1).astype(np.float32))
    registry = get_registry()
    raw = registry.get("3d").load(path)
    got = registry.encoder("3d", "ulip2-pointbert").preprocess(raw, False)[0].numpy()
    points = raw[:, :3]  # colour dropped; float32 as ULIP's loaders read clouds
    first = int(((points - points.mean(0)) ** 2).sum(1).argmax())  # our deterministic start
    ref = ulip_pc_normalize(ulip_farthest_point_sample(points, 8192, first))
    assert got.shape == (8192, 3)
    # the same 8,192 points ...
    distance, _ = cKDTree(ref).query(got)
    assert distance.max() < 1e-5 and len(np.unique(got, axis=0)) == 8192
    # ... in the same order but for equidistant neighbours picked in the other order
    # (float rounding; measured: 6 swapped pairs)
    same = np.abs(got - ref).max(1) < 1e-5
    assert same.mean() > 0.995
    assert torch.equal(registry.encoder("3d", "tiny").preprocess(raw, False)[0],
                       torch.from_numpy(got))  # the tiny stand-in reads the same input
