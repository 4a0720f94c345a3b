"""Fuzzed loaders (issue 16, point 3): mutated valid files load or raise MediaError, nothing else.

Per plugin, hypothesis mutates seed files made with the real codecs
(``tests/faults/fuzz.py``) and one long-lived child process loads each input
under an address-space cap (``RLIMIT_AS``, 2 GiB over the loaded worker) and a
10 s limit of CPU time per load (60 s of wall time for one that blocks). Any
other exception, a loaded item that breaks the raw-item contract, a crash, a hang
or a memory blow-up fails the test, with the mutation that caused it. ``make test``
runs a fixed set of inputs per plugin; ``make test-long`` (``-m slow``) runs 2,000
fresh random ones per plugin. Run with ``-s`` to see the counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.faults.fuzz import Case, Tally, Worker, make_seeds, mutated

MODALITIES = ("image", "video", "audio", "3d")
FAST_EXAMPLES = {"image": 250, "video": 150, "audio": 200, "3d": 250}
SLOW_EXAMPLES = 2000


@pytest.fixture(scope="module", params=MODALITIES)
def plugin(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list, Worker, Path]]:
    name = request.param
    folder = tmp_path_factory.mktemp(f"fuzz-{name}")
    seeds = make_seeds(name, folder / "seeds")
    worker = Worker(name)
    try:
        yield name, seeds, worker, folder
    finally:
        worker.close()


def _fuzz(plugin: tuple[str, list, Worker, Path], examples: int, derandomize: bool) -> Tally:
    name, seeds, worker, folder = plugin
    tally = Tally(name)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(case=mutated(seeds, name))
    def load_one(case: Case) -> None:
        path = folder / f"input{case.suffix}"
        path.write_bytes(case.data)
        result = worker.load(path)
        tally.outcomes[result["outcome"]] += 1
        if result["outcome"] not in ("ok", "media"):
            detail = f"{result.get('type', '')}: {result.get('message', '')}"
            tally.failures.append(f"{case.describe()} => {result['outcome']} {detail}")
            raise AssertionError(
                f"{name} loader: {result['outcome']} {detail}\n{result.get('traceback', '')}"
                f"\ninput: {case.describe()}")

    try:
        load_one()
    finally:
        print(tally.line())
    return tally


def _check_seeds_load(plugin: tuple[str, list, Worker, Path]) -> None:
    """The seeds themselves must load: otherwise every mutation is a MediaError by default."""
    name, seeds, worker, folder = plugin
    for seed in seeds:
        path = folder / f"seed-{seed.name}{seed.suffix}"
        path.write_bytes(seed.data)
        assert worker.load(path, timeout=60)["outcome"] == "ok", (name, seed.name)


def test_fuzzed_inputs_load_or_raise_media_error(plugin) -> None:
    _check_seeds_load(plugin)
    tally = _fuzz(plugin, FAST_EXAMPLES[plugin[0]], derandomize=True)
    assert tally.total >= FAST_EXAMPLES[plugin[0]] * 0.9
    assert tally.outcomes["media"] > 0  # the mutations do break files


@pytest.mark.slow
def test_fuzzed_inputs_load_or_raise_media_error_long(plugin) -> None:
    _check_seeds_load(plugin)
    tally = _fuzz(plugin, SLOW_EXAMPLES, derandomize=False)
    assert tally.total >= SLOW_EXAMPLES


def test_numpy_readers_agree_with_open3d_on_valid_files(tmp_path: Path) -> None:
    """PLY, OFF and PCD left open3d for crash-free readers (plyio, offio, pcdio): on valid
    files written by open3d they must read what open3d reads."""
    import numpy as np
    import open3d as o3d
    from xalign_plugin_3d.offio import read_off
    from xalign_plugin_3d.pcdio import read_pcd
    from xalign_plugin_3d.plyio import read_ply

    rng = np.random.default_rng(5)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(rng.uniform(-2, 2, (300, 3))))
    cloud.colors = o3d.utility.Vector3dVector(rng.uniform(0, 1, (300, 3)))
    mesh = o3d.geometry.TriangleMesh.create_sphere(radius=0.7, resolution=9)
    mesh.vertex_colors = o3d.utility.Vector3dVector(rng.uniform(0, 1, (len(mesh.vertices), 3)))
    checked = 0
    for name, kwargs in (("c.ply", {}), ("a.ply", {"write_ascii": True}), ("b.pcd", {}),
                         ("a.pcd", {"write_ascii": True}), ("z.pcd", {"compressed": True})):
        assert o3d.io.write_point_cloud(str(tmp_path / name), cloud, **kwargs)
        ours = (read_pcd if name.endswith(".pcd") else read_ply)(tmp_path / name)
        theirs = o3d.io.read_point_cloud(str(tmp_path / name))
        np.testing.assert_allclose(ours[0], np.asarray(theirs.points), atol=1e-6, err_msg=name)
        np.testing.assert_allclose(ours[1], np.asarray(theirs.colors), atol=1e-6, err_msg=name)
        checked += 1
    for name, kwargs in (("m.ply", {}), ("ma.ply", {"write_ascii": True}), ("m.off", {})):
        assert o3d.io.write_triangle_mesh(str(tmp_path / name), mesh, **kwargs)
        vertices, colours, triangles = (read_off if name.endswith(".off") else read_ply)(
            tmp_path / name)
        theirs = o3d.io.read_triangle_mesh(str(tmp_path / name))
        np.testing.assert_allclose(vertices, np.asarray(theirs.vertices), atol=1e-6)
        np.testing.assert_allclose(colours, np.asarray(theirs.vertex_colors), atol=1e-6)
        np.testing.assert_array_equal(triangles, np.asarray(theirs.triangles))
        checked += 1
    # big-endian PLY (open3d writes little-endian only): same numbers, bytes swapped
    head, body = (tmp_path / "c.ply").read_bytes().split(b"end_header\n", 1)
    row = np.dtype([("xyz", "<f8", (3,)), ("rgb", "u1", (3,))])
    assert len(body) == 300 * row.itemsize
    swapped = np.frombuffer(body, row).astype([("xyz", ">f8", (3,)), ("rgb", "u1", (3,))])
    (tmp_path / "be.ply").write_bytes(head.replace(b"binary_little_endian", b"binary_big_endian")
                                      + b"end_header\n" + swapped.tobytes())
    np.testing.assert_allclose(read_ply(tmp_path / "be.ply")[0], np.asarray(cloud.points))
    assert checked == 8


def test_the_address_space_cap_turns_a_blow_up_into_a_failure(tmp_path: Path) -> None:
    """The harness can fail: a valid 4000x4000 PNG (under the bomb limit, 48 MB decoded)
    in a worker capped at 16 MiB over its start is reported as an error, not loaded."""
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("RGB", (4000, 4000)).save(big, compress_level=1)
    small = Worker("image", extra_bytes=16 << 20)
    try:
        result = small.load(big, timeout=60)
        assert result["outcome"] in ("error", "crash"), result
        assert result["outcome"] == "crash" or "Memory" in result.get("type", ""), result
    finally:
        small.close()
    from xalign_plugin_image.loading import load

    assert load(big).size == (4000, 4000)  # the file is fine: the cap alone refused it


# -- what the fuzzer found, kept as plain regression tests --------------------------------

def _wav_with_rate(path: Path, rate: int) -> Path:
    import struct

    import numpy as np
    import soundfile as sf

    sf.write(path, np.zeros(4000, np.float32), 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)  # the fmt chunk's sample rate
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("rate", [1, 3, 999, 0x7FFFFFFF])
def test_a_wav_header_lying_about_its_rate_is_refused(tmp_path: Path, rate: int) -> None:
    """Was: 1 Hz gave a 64M-sample clip after 47 s; 2^31 Hz a MemoryError (320 GiB filter)."""
    from xalign_plugin_audio.loading import load

    from xalign.errors import MediaError

    with pytest.raises(MediaError, match="sample rate"):
        load(_wav_with_rate(tmp_path / "a.wav", rate))


def test_an_odd_sample_rate_resamples_quickly(tmp_path: Path) -> None:
    """Was: 767,999 Hz (16000/767999 in lowest terms) took 30 s and 1 GB to resample."""
    import time

    from xalign_plugin_audio.loading import load

    start = time.perf_counter()
    waveform = load(_wav_with_rate(tmp_path / "a.wav", 767_999))
    assert abs(len(waveform) - 4000 * 16000 / 767_999) <= 1
    assert time.perf_counter() - start < 5


_OFF_JUNK = (b"\x810\xfd\xbd\xb2~Ur70\xf4T\xf8\xa9\x8ek\xa3\xc4\xec\xd3H?m\xe4h>>\xe3\xb1\x00"
             b"^\xa1(?\xf9\xcb~\xbby#\xc5\n")


def test_corrupt_3d_files_found_by_the_fuzzer_are_media_errors(tmp_path: Path) -> None:
    """Was: a TokenError from numpy (.npy), segmentation faults in open3d (.ply, .off),
    an OFF read with 2 of its 12 faces, made-up points from a cut ASCII .pcd, and an
    allocation of the declared array (.npy)."""
    import numpy as np
    import open3d as o3d
    from xalign_plugin_3d.loading import load

    from xalign.errors import MediaError

    points = np.random.default_rng(0).uniform(-1, 1, (40, 3)).astype(np.float32)
    np.save(tmp_path / "p.npy", points)
    npy = bytearray((tmp_path / "p.npy").read_bytes())
    npy[10] ^= 1  # the header's length: numpy's parser then raised tokenize.TokenError
    huge = (tmp_path / "p.npy").read_bytes().replace(b"(40, 3)", b"(4000000000, 3)")
    box = o3d.geometry.TriangleMesh.create_box()
    o3d.io.write_triangle_mesh(str(tmp_path / "m.ply"), box)
    o3d.io.write_triangle_mesh(str(tmp_path / "m.off"), box)
    ply, off = (tmp_path / "m.ply").read_bytes(), (tmp_path / "m.off").read_bytes()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    o3d.io.write_point_cloud(str(tmp_path / "c.pcd"), cloud, write_ascii=True)
    pcd = (tmp_path / "c.pcd").read_bytes()
    cases = {
        "flipped.npy": bytes(npy), "huge.npy": huge,
        "repeated-header.ply": ply[:7] + ply[7:200] + ply[7:],  # RPly: SIGSEGV
        # the box's vertices, then bytes where the faces should be (open3d: SIGSEGV)
        "junk-faces.off": off[:off.index(b"\n3 ") + 1] + _OFF_JUNK,
        "short.off": off[:79] + (tmp_path / "p.npy").read_bytes()[171:],  # open3d: 2 faces
        "cut.pcd": pcd[: len(pcd) // 2],  # open3d: 40 points, half of them made up
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(MediaError):
            load(tmp_path / name)


def test_a_png_chunk_length_past_the_end_is_a_media_error(tmp_path: Path) -> None:
    """Found by the fuzzer: an IDAT length field of ~2 GB made Pillow ask for it in one read
    (MemoryError under the cap) instead of reporting a corrupt file."""
    from PIL import Image
    from xalign_plugin_image.loading import load

    from xalign.errors import MediaError

    path = tmp_path / "lying.png"
    Image.new("RGB", (20, 12), (200, 10, 10)).save(path)
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT") - 4
    data[idat:idat + 4] = (0x7FFF0000).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="past the end"):
        load(path)
