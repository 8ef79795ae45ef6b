import numpy as np
import pytest

from postmix.errors import InputError
from postmix.report import embedding_map
from postmix.report.projection import map_sample, principal_axes


def plane_points(n, seed=0):
    """Points on a tilted 2-D plane inside 6-D space: two components explain all the variance."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0].T
    return rng.normal(size=(n, 2)) * [3.0, 1.0] @ basis


def test_plane_is_recovered_with_all_variance_on_two_axes():
    vectors = plane_points(300)
    result = embedding_map([f"s{i}" for i in range(300)], vectors, np.arange(300) < 40, per_group=1000, seed=0)
    assert sum(result.explained_variance) == pytest.approx(1.0)
    assert result.explained_variance[0] > result.explained_variance[1]
    # distances in the map equal distances in the plane (a rotation, no distortion)
    points = result.points[["x", "y"]].to_numpy()
    np.testing.assert_allclose(np.linalg.norm(points[0] - points[1]), np.linalg.norm(vectors[0] - vectors[1]))


def test_sample_caps_each_group_and_is_seeded():
    selected = np.arange(1000) < 100
    rows = map_sample(selected, 50, np.random.default_rng(1))
    assert selected[rows].sum() == 50 and (~selected[rows]).sum() == 50 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, map_sample(selected, 50, np.random.default_rng(1)))
    assert len(map_sample(selected, 500, np.random.default_rng(1))) == 600


def test_map_is_deterministic_and_signs_are_fixed():
    vectors = plane_points(200, seed=4)
    ids = [f"s{i}" for i in range(200)]
    first = embedding_map(ids, vectors, np.arange(200) % 3 == 0, per_group=60, seed=9)
    second = embedding_map(ids, vectors, np.arange(200) % 3 == 0, per_group=60, seed=9)
    assert first.points.equals(second.points)
    axes, _ = principal_axes(vectors)
    assert all(axis[np.argmax(np.abs(axis))] > 0 for axis in axes)
    flipped, _ = principal_axes(-vectors)
    np.testing.assert_allclose(np.abs(flipped), np.abs(axes), atol=1e-9)


def test_misaligned_inputs_are_refused():
    with pytest.raises(InputError, match="aligned"):
        embedding_map(["a", "b"], np.ones((3, 4)), np.array([True, False]), 10, 0)
    with pytest.raises(InputError, match="NaN"):
        embedding_map(["a", "b"], np.array([[1.0, np.nan], [0, 1]]), np.array([True, False]), 10, 0)
