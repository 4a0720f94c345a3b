"""3D loader: real files written at test time (open3d, NumPy, text) and every bad-input case."""

from __future__ import annotations

import builtins
import os

import numpy as np
import open3d as o3d
import pytest
from xalign_plugin_3d.loading import load
from xalign_plugin_3d.meshio import MESH_SAMPLES

from xalign.errors import EnvironmentFault, MediaError

RNG = np.random.default_rng(7)
CLOUD = RNG.uniform(-1, 1, size=(500, 3))
COLOURS = RNG.uniform(0, 1, size=(500, 3))


def _cloud() -> o3d.geometry.PointCloud:
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(CLOUD))
    cloud.colors = o3d.utility.Vector3dVector(COLOURS)
    return cloud


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("3d_files")
    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=0.5, resolution=12)
    sphere.paint_uniform_color([0.9, 0.1, 0.2])
    box = o3d.geometry.TriangleMesh.create_box(1.0, 2.0, 3.0)
    out = {
        "mesh_ply": d / "sphere.ply", "ascii_ply": d / "sphere_ascii.ply",
        "cloud_ply": d / "cloud.ply", "obj": d / "box.obj", "off": d / "box.off",
        "pcd": d / "cloud.pcd",
    }
    assert o3d.io.write_triangle_mesh(str(out["mesh_ply"]), sphere)
    assert o3d.io.write_triangle_mesh(str(out["ascii_ply"]), sphere, write_ascii=True)
    assert o3d.io.write_point_cloud(str(out["cloud_ply"]), _cloud())
    assert o3d.io.write_triangle_mesh(str(out["obj"]), box)
    assert o3d.io.write_triangle_mesh(str(out["off"]), box)
    assert o3d.io.write_point_cloud(str(out["pcd"]), _cloud())
    return out


def test_ply_mesh_is_sampled_on_its_surface_with_colours(files):
    points = load(files["mesh_ply"])
    assert points.shape == (MESH_SAMPLES, 6) and points.dtype == np.float32
    radius = np.linalg.norm(points[:, :3], axis=1)
    assert radius.max() <= 0.5 + 1e-5 and radius.min() > 0.45  # on the faceted sphere
    np.testing.assert_allclose(points[:, 3:], np.tile([0.9, 0.1, 0.2], (MESH_SAMPLES, 1)),
                               atol=1 / 255)  # stored as 8-bit
    np.testing.assert_array_equal(points, load(files["mesh_ply"]))  # deterministic seed
    same = np.isclose(load(files["ascii_ply"]), points, atol=1e-4).all(axis=1)
    assert same.mean() > 0.99  # ASCII rounding may move a few samples to a neighbouring face


@pytest.mark.parametrize("key", ["cloud_ply", "pcd"])
def test_point_cloud_files_read_back_points_and_colours(files, key):
    points = load(files[key])
    assert points.shape == (500, 6)
    np.testing.assert_allclose(points[:, :3], CLOUD, atol=1e-6)
    np.testing.assert_allclose(points[:, 3:], COLOURS, atol=1 / 255)  # pcd packs 8-bit rgb


@pytest.mark.parametrize("key", ["obj", "off"])
def test_obj_and_off_meshes_are_sampled_on_the_box_faces(files, key):
    xyz = load(files[key])[:, :3]
    assert xyz.shape == (MESH_SAMPLES, 3)
    size = np.array([1.0, 2.0, 3.0])
    assert (xyz >= -1e-5).all() and (xyz <= size + 1e-5).all()
    on_face = (np.abs(xyz) < 1e-4) | (np.abs(xyz - size) < 1e-4)
    assert on_face.any(axis=1).all()  # every point on some face of the box
    # uniform over area: the two 2x3 faces (x = 0, 1) hold 12 of the 22 area units
    share = on_face[:, 0].mean()
    assert abs(share - 12 / 22) < 0.03


def test_numpy_and_text_formats(tmp_path):
    xyzrgb = np.concatenate([CLOUD, COLOURS], axis=1).astype(np.float32)
    np.savez(tmp_path / "colour.npz", points=xyzrgb, labels=np.arange(500))
    np.savez(tmp_path / "0a1b_8192.npz", xyzrgb)  # Cap3D / ULIP layout: arr_0
    np.savez(tmp_path / "pe.npz", coords=CLOUD, R=COLOURS[:, 0], G=COLOURS[:, 1],
             B=COLOURS[:, 2])  # point-e layout: separate colour channels
    np.save(tmp_path / "plain.npy", CLOUD)
    np.savetxt(tmp_path / "cloud.xyz", CLOUD)
    (tmp_path / "cloud.txt").write_text(
        "# x,y,z,nx,ny,nz\n" + "\n".join(",".join(f"{v:.8f}" for v in (*p, 0, 0, 1))
                                        for p in CLOUD)
    )
    for name in ("colour.npz", "0a1b_8192.npz", "pe.npz"):
        np.testing.assert_allclose(load(tmp_path / name), xyzrgb, atol=1e-6)
    for name in ("plain.npy", "cloud.xyz"):
        np.testing.assert_allclose(load(tmp_path / name), CLOUD, atol=1e-6)
    txt = load(tmp_path / "cloud.txt")
    assert txt.shape == (500, 6)
    np.testing.assert_allclose(txt[:, :3], CLOUD, atol=1e-6)


_PLY_HEAD = ("ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
             "property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
             "end_header\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n")


def test_hand_written_ply_quad_is_triangulated_and_bad_indices_are_caught(tmp_path):
    quad = tmp_path / "quad.ply"
    quad.write_text(_PLY_HEAD + "4 0 1 3 2\n")
    xyz = load(quad)
    assert xyz.shape == (MESH_SAMPLES, 3) and (xyz[:, 2] == 0).all()
    assert xyz[:, :2].min() >= 0 and xyz[:, :2].max() <= 1 and xyz[:, 0].mean() > 0.45
    _expect(_bad(tmp_path, "bad_index.ply", (_PLY_HEAD + "3 0 1 9\n").encode()), "outside")


def _bad(tmp_path, name: str, content: bytes) -> os.PathLike:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _expect_fault(path, *words: str) -> None:
    with pytest.raises(EnvironmentFault) as info:
        load(path)
    assert not isinstance(info.value, MediaError)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word.lower() in message.lower(), message


def _expect(path, *words: str) -> None:
    with pytest.raises(MediaError) as info:
        load(path)
    message = str(info.value).lower()
    assert str(path).lower() in message, message
    for word in words:
        assert word.lower() in message, message


def test_missing_empty_and_unsupported(tmp_path):
    _expect(tmp_path / "nope.ply", "not found")
    _expect(_bad(tmp_path, "empty.ply", b""), "empty")
    _expect(_bad(tmp_path, "empty.npy", b""), "empty")
    _expect(_bad(tmp_path, "mesh.stl", b"solid x\nendsolid x\n"), "unsupported extension")


def test_truncated_ply_mesh_and_cloud(files, tmp_path):
    for key in ("mesh_ply", "cloud_ply"):
        data = files[key].read_bytes()
        _expect(_bad(tmp_path, f"cut_{key}.ply", data[: len(data) // 2]), "truncated")
    data = files["ascii_ply"].read_bytes()
    _expect(_bad(tmp_path, "cut_ascii.ply", data[: len(data) // 2]), "truncated")
    header_only = files["mesh_ply"].read_bytes().split(b"end_header")[0]
    _expect(_bad(tmp_path, "header.ply", header_only), "end_header")


def test_corrupt_files(files, tmp_path):
    junk = np.random.default_rng(0).bytes(4096)
    _expect(_bad(tmp_path, "junk.ply", junk), "not a ply")
    _expect(_bad(tmp_path, "junk.off", junk), "not an off")
    _expect(_bad(tmp_path, "junk.pcd", junk), "not a pcd")
    _expect(_bad(tmp_path, "junk.npy", junk), "npy")
    _expect(_bad(tmp_path, "junk.npz", junk), "npz")
    _expect(_bad(tmp_path, "junk.xyz", b"1 2 3\n4 five 6\n"), "cannot parse")
    data = files["off"].read_bytes()
    _expect(_bad(tmp_path, "cut.off", data[: len(data) // 2]), "truncated")
    data = files["pcd"].read_bytes()
    _expect(_bad(tmp_path, "cut.pcd", data[: len(data) // 2]), "truncated pcd")


def test_wrong_extension_for_the_content(files, tmp_path):
    _expect(_bad(tmp_path, "mesh.npy", files["mesh_ply"].read_bytes()), ".ply", "rename")
    np.save(tmp_path / "arr.npy", CLOUD)
    _expect(_bad(tmp_path, "arr.ply", (tmp_path / "arr.npy").read_bytes()), ".npy")
    _expect(_bad(tmp_path, "arr.npz", (tmp_path / "arr.npy").read_bytes()), ".npy")
    _expect(_bad(tmp_path, "arr.xyz", (tmp_path / "arr.npy").read_bytes()), ".npy")
    _expect(_bad(tmp_path, "mesh.obj", files["mesh_ply"].read_bytes()), ".ply")


@pytest.mark.parametrize(
    ("points", "words"),
    [
        (np.array([[0.0, 0, 0], [1, np.nan, 0], [0, 1, 1]]), ["nan"]),
        (np.array([[0.0, 0, 0], [1, np.inf, 0], [0, 1, 1]]), ["infinite"]),
        (np.zeros((1, 3)), ["1 point", "at least 3"]),
        (np.array([[0.0, 0, 0], [1, 1, 1]]), ["2 point", "at least 3"]),
        (np.ones((50, 3)), ["degenerate"]),
        (np.zeros((10, 2)), ["shape"]),
        (np.array(["a", "b", "c"]), ["dtype"]),
    ],
)
def test_invalid_point_arrays(tmp_path, points, words):
    path = tmp_path / "bad.npy"
    np.save(path, points)
    _expect(path, *words)


def test_missing_libusb_is_explained_and_numpy_formats_still_load(files, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "open3d" or name.startswith("open3d."):
            raise OSError("libusb-1.0.so.0: cannot open shared object file: No such file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    # a machine fault, not a bad file (issue 16): EnvironmentFault, never MediaError
    _expect_fault(files["obj"], "libusb-1.0.so.0", "apt-get install libusb-1.0-0")
    for key in ("mesh_ply", "off", "pcd"):  # read in NumPy since the fuzzer (issue 16)
        assert len(load(files[key])) > 0
    np.save(tmp_path / "ok.npy", CLOUD)
    np.testing.assert_allclose(load(tmp_path / "ok.npy"), CLOUD, atol=1e-6)


def test_missing_open3d_says_what_to_install(files, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "open3d":
            raise ModuleNotFoundError("No module named 'open3d'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    _expect_fault(files["obj"], "pip install open3d-cpu")
