"""Feature cache: keys, hits and misses, invalidation, cached == fresh, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load

from tests.test_data_fake import (  # noqa: F401 - fixtures
    CALLS,
    fake_registry,
    fake_registry_with,
    model_api,
)
from xalign.data import FeatureCache, FeatureDataset, ManifestSource, SyntheticSource
from xalign.errors import MediaError, UnknownNameError
from xalign.registry import reset_registry

pytestmark = pytest.mark.usefixtures("fake_registry")


def world(tmp_path: Path, n: int = 4) -> tuple[ManifestSource, list[Path]]:
    """``n`` blob files on disk and a manifest over them."""
    from xalign.registry import get_modality

    blob = get_modality("blob")
    (tmp_path / "media").mkdir(exist_ok=True)
    files = [blob.write(blob.synthesize(i).raw, tmp_path / "media" / f"b{i}") for i in range(n)]
    lines = [{"id": f"b{i}", "media": {"blob": f"media/b{i}.npy"}, "instruction": "What?",
              "answer": f"blob {i}"} for i in range(n)]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return ManifestSource(manifest), files


def dataset(source, cache=None, train=False, encoder_source=None) -> FeatureDataset:
    from xalign.registry import get_registry

    encoders = {m: get_registry().build_encoder(m, encoder_source) for m in ("blob", "hum")}
    return FeatureDataset(source, encoders, cache, train)


def feats(ds: FeatureDataset) -> list[torch.Tensor]:
    return [ds.features(*ds.item(i).media[0], view_of=i) for i in range(len(ds))]


@pytest.mark.usefixtures("model_api")
def test_cached_features_equal_fresh_and_are_reused_across_runs(tmp_path: Path) -> None:
    import xalign.model as model

    source, _ = world(tmp_path)
    fresh = feats(dataset(source))
    first_cache = FeatureCache(tmp_path / "cache", "tiny", {"points": 8})
    first = dataset(source, first_cache)
    examples = [first[i] for i in range(len(first))]
    assert first_cache.stats() == {"hits": 0, "misses": 4}
    assert isinstance(examples[0], model.Example)
    assert examples[2].target == "blob 2" and examples[2].instruction == "What?"
    assert examples[2].media[0].modality == "blob"
    assert all(torch.equal(e.media[0].features, f) for e, f in zip(examples, fresh, strict=True))
    CALLS.clear()
    second_cache = FeatureCache(tmp_path / "cache", "tiny", {"points": 8})  # a later run
    second = feats(dataset(source, second_cache))
    assert second_cache.stats() == {"hits": 4, "misses": 0}
    assert CALLS["blob.load"] == 0 and CALLS["blob.preprocess"] == 0  # the encoder was skipped
    assert all(torch.equal(a, b) for a, b in zip(second, fresh, strict=True))
    assert all(a.shape == (1, 2, 4) for a in second)


def test_invalidation_on_content_settings_encoder_and_plugin_version(tmp_path: Path) -> None:
    source, files = world(tmp_path)
    before = feats(dataset(source, FeatureCache(tmp_path / "c", "tiny", {"points": 8})))
    # content: rewrite one file
    np.save(files[1], np.full(8, 3.0, dtype=np.float32))
    cache = FeatureCache(tmp_path / "c", "tiny", {"points": 8})
    after = feats(dataset(source, cache))
    assert cache.stats() == {"hits": 3, "misses": 1}
    assert not torch.equal(after[1], before[1])
    assert torch.equal(after[1], feats(dataset(source))[1])
    # settings
    cache = FeatureCache(tmp_path / "c", "tiny", {"points": 16})
    feats(dataset(source, cache))
    assert cache.misses == 4
    # encoder: other weights under the same encoder id are caught by the weight fingerprint
    cache = FeatureCache(tmp_path / "c", "tiny", {"points": 8})
    other = feats(dataset(source, cache, encoder_source="tiny@other"))
    assert cache.misses == 4 and not torch.equal(other[0], before[0])
    # the cache-wide encoder id and the plugin's version are part of the key too
    key = FeatureCache(tmp_path / "c", "tiny", {}).key("blob", files[0])
    assert FeatureCache(tmp_path / "c", "tiny-2", {}).key("blob", files[0]) != key
    reset_registry(fake_registry_with(version="2.0"))
    assert FeatureCache(tmp_path / "c", "tiny", {}).key("blob", files[0]) != key


def test_key_is_content_addressed(tmp_path: Path) -> None:
    _, files = world(tmp_path)
    copy = tmp_path / "elsewhere.npy"
    copy.write_bytes(files[0].read_bytes())
    cache = FeatureCache(tmp_path / "c", "tiny", {"a": 1, "b": 2})
    assert cache.key("blob", copy) == cache.key("blob", files[0]) != cache.key("blob", files[1])
    assert FeatureCache(tmp_path / "c", "tiny", {"b": 2, "a": 1}).key("blob", copy) == \
        cache.key("blob", copy)  # settings order does not matter
    assert cache.key("hum", copy) != cache.key("blob", copy)
    assert cache.key("blob", copy, train=True) != cache.key("blob", copy)
    assert cache.key("blob", copy, True, view=1) != cache.key("blob", copy, True, view=0)
    raw = np.load(copy)
    assert cache.key("blob", raw) == cache.key("blob", raw.copy()) != cache.key("blob", copy)
    assert cache.key("blob", raw) != cache.key("blob", raw.astype(np.float64))
    with pytest.raises(MediaError, match=r"nope\.npy: file not found"):
        cache.key("blob", tmp_path / "nope.npy")


def test_synthetic_raw_items_are_cached(tmp_path: Path) -> None:
    source = SyntheticSource("blob", "train", size=6)
    cache = FeatureCache(tmp_path / "c", "tiny", {})
    first = feats(dataset(source, cache))
    second = feats(dataset(source, cache))
    assert cache.stats() == {"hits": 6, "misses": 6}
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_train_views_rotate_by_epoch_and_are_reproducible(tmp_path: Path) -> None:
    source, _ = world(tmp_path, n=2)
    cache = FeatureCache(tmp_path / "c", "tiny", {}, train_views=2)
    ds = dataset(source, cache, train=True)
    epochs = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        epochs.append(feats(ds))
    assert cache.stats() == {"hits": 2, "misses": 4}
    assert not torch.equal(epochs[0][0], epochs[1][0])  # another augmented view
    assert torch.equal(epochs[2][0], epochs[0][0])  # epoch 2 reuses view 0
    assert not torch.equal(epochs[0][0], feats(dataset(source))[0])  # augmented, not eval
    # a view is computed under a seed from its key: a fresh cache rebuilds the same view
    rebuilt = feats(dataset(source, FeatureCache(tmp_path / "c2", "tiny", {}, train_views=2),
                            train=True))
    assert torch.equal(rebuilt[0], epochs[0][0])


def test_train_views_zero_bypasses_the_cache(tmp_path: Path) -> None:
    source, _ = world(tmp_path, n=2)
    cache = FeatureCache(tmp_path / "c", "tiny", {}, train_views=0)
    ds = dataset(source, cache, train=True)
    a, b = feats(ds), feats(ds)
    assert not torch.equal(a[0], b[0])  # fresh augmentation every time
    assert cache.stats() == {"hits": 0, "misses": 0} and not (tmp_path / "c").exists()


def test_corrupt_entry_counts_as_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    source, files = world(tmp_path, n=1)
    cache = FeatureCache(tmp_path / "c", "tiny", {})
    ds = dataset(source, cache)
    good = feats(ds)[0]
    key = cache.key("blob", files[0], encoder_id=ds._encoder_ids["blob"])
    cache.path(key).write_bytes(b"\x00garbage")
    assert cache.get(key) is None
    assert torch.equal(feats(ds)[0], good)
    assert torch.equal(cache.get(key), good)


@pytest.mark.usefixtures("model_api")
def test_media_errors_name_the_file(tmp_path: Path) -> None:
    source, files = world(tmp_path, n=2)
    files[0].unlink()
    files[1].write_bytes(b"not numpy at all")
    for cache in (None, FeatureCache(tmp_path / "c", "tiny", {})):
        ds = dataset(source, cache)
        with pytest.raises(MediaError, match=r"b0\.npy: file not found"):
            ds[0]
        with pytest.raises(MediaError, match=r"b1\.npy: not a numpy file") as info:
            ds[1]
        assert info.value.path == str(files[1])
    ds = FeatureDataset(source, {}, None)
    with pytest.raises(UnknownNameError, match="encoder for modality 'blob'"):
        ds[0]


@pytest.mark.usefixtures("model_api")
def test_multi_input_examples(tmp_path: Path) -> None:
    from xalign.registry import get_modality

    hum = get_modality("hum")
    hum.write(hum.synthesize(1).raw, tmp_path / "h")
    world(tmp_path, n=1)
    (tmp_path / "pair.jsonl").write_text(json.dumps(
        {"media": [{"modality": "hum", "path": "h.npy"}, {"modality": "blob",
                                                          "path": "media/b0.npy"}],
         "instruction": "Which one?", "answer": "first"}) + "\n")
    example = dataset(ManifestSource(tmp_path / "pair.jsonl"))[0]
    assert [m.modality for m in example.media] == ["hum", "blob"]
    assert example.target == "first"


# -- concurrency -------------------------------------------------------------------------------
SHAPE = (256, 1024)  # 1 MiB entries: big enough that a non-atomic write is visible


def _writer(directory: str, value: float, rounds: int) -> None:
    cache = FeatureCache(directory, "tiny", {})
    for _ in range(rounds):
        cache.put("ab" * 32, torch.full(SHAPE, value))


def _reader(directory: str, stop: multiprocessing.Event, result: multiprocessing.Queue) -> None:
    cache = FeatureCache(directory, "tiny", {})
    path, complete, problems = cache.path("ab" * 32), 0, []
    while not stop.is_set() or complete == 0:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        try:  # parse strictly: a half-written file must fail here
            tensor = st_load(data)["features"]
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
            continue
        if tensor.shape != SHAPE or tensor.unique().tolist() not in ([1.0], [2.0]):
            problems.append(f"mixed or wrong tensor {tuple(tensor.shape)}")
        via_get = cache.get("ab" * 32)
        if via_get is None or via_get.shape != SHAPE:
            problems.append("get() returned a miss or a wrong shape for a complete entry")
        complete += 1
    result.put((complete, problems[:3]))


def test_concurrent_writers_and_reader_never_see_half_entries(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    stop, result = ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_reader, args=(str(tmp_path), stop, result))
    writers = [ctx.Process(target=_writer, args=(str(tmp_path), v, 25)) for v in (1.0, 2.0)]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    stop.set()
    complete, problems = result.get(timeout=60)
    reader.join(10)
    assert problems == []
    assert complete > 0
    leftovers = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == ["ab" * 32 + ".safetensors"]  # no temp files left behind


def test_same_weights_with_another_output_layout_do_not_share_cached_features() -> None:
    from xalign.data.hashing import encoder_fingerprint
    from xalign.encoders import FrozenEncoder
    from xalign.encoders.tiny import build_tiny

    def encoder(pool: bool) -> FrozenEncoder:
        return FrozenEncoder(build_tiny(lambda: torch.nn.Linear(4, 8), 8, seed=1, pool=pool),
                             8, "same-id")

    pooled, tokens = encoder(True), encoder(False)
    assert all(torch.equal(a, b) for a, b in zip(pooled.state_dict().values(),
                                                 tokens.state_dict().values(), strict=True))
    assert encoder_fingerprint(pooled) != encoder_fingerprint(tokens)
    assert encoder_fingerprint(pooled) == encoder_fingerprint(encoder(True))


def test_a_share_of_training_examples_reads_the_generic_qformer_prompt(tmp_path: Path) -> None:
    from xalign.registry import get_registry

    source = SyntheticSource(get_registry().get("blob"), "train", size=400, seed=0)
    encoders = {"blob": get_registry().build_encoder("blob")}

    def prompts(share: float, epoch: int = 0) -> list[str | None]:
        ds = FeatureDataset(source, encoders, train=True, qformer_prompt="a short description",
                            qformer_prompt_share=share)
        ds.set_epoch(epoch)
        return [ds._qformer_prompt(i) for i in range(len(ds))]

    half = prompts(0.5)
    assert set(half) == {"a short description", None}
    assert 160 < half.count(None) < 240  # about half read their instruction
    assert half == prompts(0.5)  # the same draws in a rebuilt (resumed) run
    assert half != prompts(0.5, epoch=1)  # other draws in another epoch
    assert set(prompts(1.0)) == {"a short description"} and set(prompts(0.0)) == {None}
    example = FeatureDataset(source, encoders, train=True)[0]
    assert example.qformer_prompt is None  # no prompt given: the instruction


def test_a_share_of_training_examples_reads_a_general_sentence_beside_the_input() -> None:
    from xalign.data.templates import CONTEXT
    from xalign.registry import get_registry

    source = SyntheticSource(get_registry().get("blob"), "train", size=200, seed=0)
    encoders = {"blob": get_registry().build_encoder("blob")}

    def examples(share: float, train: bool = True, epoch: int = 0) -> list:
        ds = FeatureDataset(source, encoders, train=train, context_share=share)
        ds.set_epoch(epoch)
        return [ds[i] for i in range(len(ds))]

    plain = examples(0.0)
    assert all(ex.preamble == "" for ex in plain)
    half = examples(0.5)
    before = [ex for ex in half if ex.preamble]
    after = [ex for ex, p in zip(half, plain, strict=True) if ex.instruction != p.instruction]
    assert all(ex.preamble in CONTEXT for ex in before)
    for ex, p in zip(half, plain, strict=True):
        if ex.instruction != p.instruction:  # the sentence sits between input and question
            sentence, _, question = ex.instruction.partition("\n")
            assert sentence in CONTEXT and question == p.instruction and not ex.preamble
        assert ex.target == p.target and ex.captions == p.captions
    assert 25 < len(before) < 75 and 25 < len(after) < 75  # about a quarter each
    assert 70 < len(before) + len(after) < 130  # about half in all
    # per item, not per epoch: the caption teacher's kept states stay valid
    assert [(ex.preamble, ex.instruction) for ex in examples(0.5, epoch=3)] == \
        [(ex.preamble, ex.instruction) for ex in half]
    full = examples(1.0)
    assert all(ex.preamble or ex.instruction != p.instruction
               for ex, p in zip(full, plain, strict=True))
    # evaluation never gets one
    assert all(ex.preamble == "" for ex in examples(1.0, train=False))
