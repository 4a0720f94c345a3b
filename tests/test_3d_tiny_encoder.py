"""The built-in tiny 3D encoder: contract, determinism, speed, and linearly readable attributes."""

from __future__ import annotations

import time

import pytest
import torch
from xalign_plugin_3d import ATTRIBUTES, synthesize
from xalign_plugin_3d.encoders.tiny import TINY_DIM, TINY_ID, geometry_histogram
from xalign_plugin_3d.preprocess import preprocess

from xalign.encoders import FrozenEncoder
from xalign.errors import UnknownNameError
from xalign.registry import get_registry


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core machine OpenMP waits dominate otherwise."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def encoder() -> FrozenEncoder:
    return get_registry().build_encoder("3d", "tiny-designed")


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.cat([preprocess(synthesize(seed).raw) for seed in range(4)])


def test_contract_shape_and_frozen(encoder, batch):
    assert isinstance(encoder, FrozenEncoder) and encoder.feature_dim == TINY_DIM
    features = encoder(batch)
    assert features.shape == (4, 2, TINY_DIM) and torch.isfinite(features).all()  # pooled
    encoder.train()
    assert not encoder.training and not encoder.backbone.training
    assert not any(p.requires_grad for p in encoder.parameters())


def test_same_weights_on_every_build_and_rng_untouched(encoder, batch):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    other = get_registry().build_encoder("3d", "tiny-designed")
    assert torch.equal(torch.rand(1), expected)  # building did not consume the caller's RNG
    for (name, a), (_, b) in zip(encoder.state_dict().items(), other.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(encoder(batch), other(batch))


def test_batched_equals_one_by_one(encoder, batch):
    together = encoder(batch)
    alone = torch.cat([encoder(batch[i : i + 1]) for i in range(len(batch))])
    assert torch.allclose(together, alone, atol=1e-5)


def test_features_depend_on_the_shape(encoder, batch):
    features = encoder(batch)
    assert (features[0] - features[1]).abs().mean() > 0.05 * features[0].abs().mean()


def test_forward_is_fast_on_cpu(encoder, batch):
    item = batch[:1]
    encoder(item)
    best = min(_timed(lambda: encoder(item)) for _ in range(5))
    print(f"\ntiny 3d encoder: {best * 1000:.1f} ms per item")
    assert best < 0.1


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_builds_from_the_id_it_records():
    """A trained projector records the encoder's id (older releases: TINY_ID); the core
    rebuilds the encoder from it."""
    assert get_registry().build_encoder("3d", TINY_ID).encoder_id == "tiny-designed"


def test_geometry_histogram_ignores_scale_and_turns():
    points = preprocess(synthesize(7).raw)[0]
    angle = torch.tensor(0.7)
    c, s = torch.cos(angle), torch.sin(angle)
    turn = torch.tensor([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    reference = geometry_histogram(points)
    assert reference.sum().item() == pytest.approx(1.0)
    torch.testing.assert_close(geometry_histogram(3.0 * points), reference)
    # turning moves points across near-tie neighbour choices: compare the distributions
    assert (geometry_histogram(points @ turn) - reference).abs().sum() < 0.05


def test_unknown_encoder_name_suggests_tiny():
    with pytest.raises(UnknownNameError, match="did you mean 'tiny'"):
        get_registry().build_encoder("3d", "tinny")


def test_linear_probe_recovers_every_attribute(encoder):
    """Random frozen features must keep shape, size and aspect linearly readable.

    The probe is ridge regression onto one-hot labels (closed form in its dual,
    so it costs one 120 x 120 solve instead of hundreds of gradient steps).
    """
    samples = [synthesize(10_000 + seed) for seed in range(160)]
    inputs = torch.cat([preprocess(s.raw) for s in samples])
    features = torch.cat([encoder(inputs[i : i + 20]) for i in range(0, len(inputs), 20)])
    x = torch.cat([features.mean(1), features.flatten(1)], dim=1).double()
    n = 120  # train on the first 120, test on the last 40
    x = (x - x[:n].mean(0)) / (x[:n].std(0) + 1e-6)
    gram = x[:n] @ x[:n].T + 10.0 * torch.eye(n, dtype=x.dtype)
    floors = {"shape": 0.85, "size": 0.85, "aspect": 0.65}  # chance: 0.2, 0.5, 0.33
    for name, vocab in ATTRIBUTES.items():
        y = torch.tensor([vocab.index(s.attributes[name]) for s in samples])
        onehot = torch.nn.functional.one_hot(y[:n], len(vocab)).double()
        weights = x[:n].T @ torch.linalg.solve(gram, onehot - onehot.mean(0))
        accuracy = ((x[n:] @ weights).argmax(1) == y[n:]).double().mean().item()
        print(f"\nprobe {name}: {accuracy:.2f} (chance {1 / len(vocab):.2f})")
        assert accuracy >= floors[name], (name, accuracy)


def test_small_clouds_and_bf16_autocast_work(encoder):
    """A hand-made cloud of 40 points (fewer than 16 per sampled patch) and a bf16 run."""
    few = torch.rand(1, 40, 3) * 2 - 1
    assert encoder(few).isfinite().all()
    cloud = preprocess(synthesize(3).raw)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = encoder(cloud)
    assert half.isfinite().all() and half.shape == (1, 2, TINY_DIM)
