"""Gradient checking with central differences."""
import numpy as np
import pytest

import fastopt
from fastopt.train.gradcheck import check_gradient, numerical_gradient

from toolkit_cases import logistic_problem


def test_correct_gradients_pass_with_small_errors():
    _, _, params, objective = logistic_problem(n=50, d=6)
    params[0][:] = np.linspace(-1, 1, 6)
    batch = np.arange(50)
    result = check_gradient(lambda: objective(batch), params)
    assert result.ok and bool(result)
    assert len(result.relative_errors) == 2 and result.max_relative_error < 1e-7
    assert "relative error" in str(result) and "ok=True" in repr(result)


def test_a_wrong_element_is_found():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    A = A @ A.T
    x = rng.standard_normal(5)

    def objective():
        grad = A @ x
        grad[3] *= 1.01  # a bug in one element
        return 0.5 * float(x @ A @ x), [grad]

    result = check_gradient(objective, x)
    assert not result.ok and result.relative_errors[0] > 1e-5
    assert result.worst[0] == 3


def test_parameters_are_restored_bit_for_bit():
    x = np.random.default_rng(1).standard_normal(20) * 1e3
    before = x.copy()
    numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    assert np.array_equal(x.view(np.uint64), before.view(np.uint64))


def test_sampling_with_max_elements_is_reproducible():
    x = np.random.default_rng(2).standard_normal(100)

    def objective():
        return float(np.sum(x ** 3)), [3 * x ** 2]

    a = check_gradient(objective, x, max_elements=10, seed=5)
    b = check_gradient(objective, x, max_elements=10, seed=5)
    assert a.ok and len(a.checked[0]) == 10 and np.array_equal(a.checked[0], b.checked[0])
    assert np.isnan(a.numerical[0]).sum() == 90


def test_float32_uses_a_coarser_default_tolerance():
    x = np.linspace(-1, 1, 8).astype(np.float32)
    result = check_gradient(lambda: (float(np.sum(x.astype(np.float64) ** 2)), [2 * x]), x,
                            eps=1e-3)
    assert result.tol == 1e-2 and result.ok


@pytest.mark.parametrize("call,error,name", [
    (lambda x: check_gradient("f", x), TypeError, "objective"),
    (lambda x: check_gradient(lambda: 1.0, x), TypeError, "grads"),
    (lambda x: check_gradient(lambda: 1.0, x, [np.ones(2)]), ValueError, "grads"),
    (lambda x: check_gradient(lambda: 1.0, x, [x, x]), ValueError, "grads"),
    (lambda x: check_gradient(lambda: 1.0, x, [x], eps=0.0), ValueError, "eps"),
    (lambda x: check_gradient(lambda: 1.0, x, [x], max_elements=0), ValueError, "max_elements"),
    (lambda x: check_gradient(lambda: 1.0, [np.arange(3)], [x]), TypeError, "params"),
    (lambda x: check_gradient(lambda: "loss", x, [x]), TypeError, "loss"),
])
def test_bad_arguments(call, error, name):
    x = np.ones(3)
    with pytest.raises(error, match=name):
        call(x)
    assert np.all(x == 1)


def test_exported():
    assert fastopt.check_gradient is check_gradient
