import numpy as np
import pytest

from postmix.embed.validate import require_dim, require_model, row_flags, stack_vectors, valid_rows
from postmix.errors import ModelError


def test_each_kind_of_bad_vector_gets_its_flag():
    good = [0.6, 0.8, 0.0]
    assert row_flags(good, 3) == []
    assert row_flags(None, 3) == ["null_vector"]
    assert row_flags([1.0, 0.0], 3) == ["wrong_dim"]
    assert row_flags([np.nan, 1.0, 0.0], 3) == ["nan_vector"]
    assert row_flags([0.0, 0.0, 0.0], 3) == ["zero_vector"]


def test_stack_keeps_only_valid_rows_normalised():
    batch = stack_vectors([[3.0, 4.0], None, [0.0, 0.0], [1.0, np.inf], np.array([0.0, 2.0])], 2)
    assert batch.valid.tolist() == [True, False, False, False, True]
    assert np.allclose(batch.matrix, [[0.6, 0.8], [0.0, 1.0]])
    assert batch.matrix.dtype == np.float32


def test_vectors_of_another_model_or_dimension_are_model_errors():
    require_model(["m", "m"], "m", "semantic")
    with pytest.raises(ModelError, match="other-model"):
        require_model(["m", "other-model"], "m", "semantic")
    with pytest.raises(ModelError, match="768"):
        require_dim(np.zeros((2, 384), dtype=np.float32), 768, "semantic")


def test_valid_rows_mask():
    matrix = np.array([[1.0, 0.0], [np.nan, 1.0], [0.0, 0.0]], dtype=np.float32)
    assert valid_rows(matrix).tolist() == [True, False, False]
