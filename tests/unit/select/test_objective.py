import numpy as np
import pytest
import scipy.sparse as sp

from postmix.select.kernels import phi_values
from postmix.select.objective import ExpPhi, PowerPhi, build_objective, information_rows, propagation_matrix
from postmix.select.params import SelectParams

from helpers import dense_objective, random_instance, tiny_graph, tiny_pool


def test_propagation_is_column_normalised_identity_plus_alpha_offdiagonal():
    propagation = propagation_matrix(tiny_graph(), alpha=1.0).toarray()
    expected_first_block = np.array([[2 / 3, 1 / 3], [1 / 3, 2 / 3]])
    np.testing.assert_allclose(propagation[:2, :2], expected_first_block)
    np.testing.assert_allclose(propagation.sum(axis=0), 1.0)
    assert np.allclose(propagation_matrix(tiny_graph(), alpha=0.0).toarray(), np.eye(4))


def test_information_rows_are_quality_weighted_and_sparse():
    pool = tiny_pool()
    rows = information_rows(pool, propagation_matrix(tiny_graph(), 1.0))
    assert sp.isspmatrix_csr(rows) or isinstance(rows, sp.csr_matrix)
    np.testing.assert_allclose(rows[1].toarray().ravel(), 0.5 * np.array([0, 0, 1 / 1.9, 0.9 / 1.9]))
    # each label spreads over its 2-label block; the row with labels a and c has 4 non-zeros: 5 x 2 + 4
    assert rows.nnz == 14


def test_objective_matches_the_dense_formula():
    pool, graph = tiny_pool(), tiny_graph()
    objective = build_objective(pool, graph, SelectParams(budget=2, beta=0.8))
    for subset in ([], [0], [1, 3], [0, 1, 2, 3, 4, 5]):
        assert objective.value_of(subset) == pytest.approx(dense_objective(pool, graph, subset), rel=1e-12)


def test_gains_equal_objective_differences_over_random_states():
    pool, graph = random_instance(3)
    objective = build_objective(pool, graph, SelectParams(budget=5, beta=0.8))
    for row in (4, 17, 30):
        objective.update(row)
    gains = objective.gains(np.arange(len(pool)))
    base = objective.value()
    for candidate in (0, 5, 59):
        expected = objective.value_of([4, 17, 30, candidate]) - base
        assert gains[candidate] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_exp_phi_option_and_configurable_beta():
    pool, graph = tiny_pool(), tiny_graph()
    exp_objective = build_objective(pool, graph, SelectParams(budget=2, phi="exp", exp_a=2.0))
    coverage = information_rows(pool, propagation_matrix(graph, 1.0))[[0, 1]].sum(axis=0).A1
    assert exp_objective.value_of([0, 1]) == pytest.approx(np.sum(1 - np.exp(-2.0 * coverage)))
    beta_objective = build_objective(pool, graph, SelectParams(budget=2, beta=0.5))
    assert beta_objective.value_of([0, 1]) == pytest.approx(dense_objective(pool, graph, [0, 1], beta=0.5))


def test_phi_derivatives():
    x = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(PowerPhi(0.8).derivative(x), 0.8 * (x + 1e-6) ** -0.2)
    np.testing.assert_allclose(ExpPhi(1.5).derivative(x), 1.5 * np.exp(-1.5 * x))


@pytest.mark.parametrize("phi", [PowerPhi(0.8), PowerPhi(0.5), ExpPhi(1.0), ExpPhi(3.0)], ids=repr)
def test_compiled_gains_use_the_same_phi_as_numpy(phi):
    # the kernels carry their own scalar phi: the kept phi of the coverage is the kernel formula's bit for bit,
    # and equal to numpy's within an ulp (numpy's SIMD power/exp may round differently from the scalar libm)
    pool, graph = random_instance(5)
    objective = build_objective(pool, graph, SelectParams(budget=5, beta=0.8))
    objective.phi = phi
    objective.init()
    for row in (3, 11, 29):
        objective.update(row)
    np.testing.assert_array_equal(objective.phi_coverage, phi_values(objective.coverage, phi.kernel_args))
    np.testing.assert_allclose(objective.phi_coverage, phi.value(objective.coverage), rtol=1e-15, atol=0)
    rows = objective.rows
    for row in range(len(pool)):
        labels = rows.indices[rows.indptr[row]:rows.indptr[row + 1]]
        values = rows.data[rows.indptr[row]:rows.indptr[row + 1]]
        expected = np.sum(phi.value(objective.coverage[labels] + values) - phi.value(objective.coverage[labels]))
        assert objective.gains(np.array([row]))[0] == pytest.approx(expected, rel=1e-13, abs=1e-15)
