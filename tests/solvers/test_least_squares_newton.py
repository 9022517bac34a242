"""lstsq against NumPy/SciPy and the closed forms; Newton against SciPy's Newton-CG, the
analytic minimum, and the saddle-point behaviour; bad input."""
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings, strategies as st

import fastopt


def _problem(m=40, n=6, k=None, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)).astype(dtype)
    b = rng.standard_normal((m,) if k is None else (m, k)).astype(dtype)
    return A, b


@pytest.mark.parametrize("k", [None, 3])
def test_lstsq_matches_numpy(k):
    A, b = _problem(k=k)
    res = fastopt.lstsq(A, b)
    x, residuals, rank, sv = np.linalg.lstsq(A, b, rcond=None)
    np.testing.assert_allclose(res.solution, x, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(res.residuals, residuals.reshape(res.residuals.shape), rtol=1e-10)
    assert res.rank == rank == 6
    np.testing.assert_allclose(res.singular_values, sv, rtol=1e-12)


def test_ridge_matches_the_closed_form_and_the_augmented_system():
    A, b = _problem()
    alpha = 0.7
    res = fastopt.lstsq(A, b, alpha=alpha)
    # closed form (fine here: a well-conditioned test matrix) and the augmented system
    closed = np.linalg.solve(A.T @ A + alpha * np.eye(6), A.T @ b)
    aug = np.linalg.lstsq(np.vstack([A, np.sqrt(alpha) * np.eye(6)]),
                          np.concatenate([b, np.zeros(6)]), rcond=None)[0]
    np.testing.assert_allclose(res.solution, closed, rtol=1e-10)
    np.testing.assert_allclose(res.solution, aug, rtol=1e-10)
    np.testing.assert_allclose(res.residuals, np.sum((A @ res.solution - b) ** 2))


def test_rank_deficient_gives_the_minimum_norm_solution():
    A, b = _problem()
    A[:, 5] = A[:, 4]
    res = fastopt.lstsq(A, b)
    assert res.rank == 5
    np.testing.assert_allclose(res.solution, np.linalg.pinv(A) @ b, rtol=1e-9)
    assert res.solution[4] == pytest.approx(res.solution[5])


def test_ill_conditioned_beats_the_normal_equations():
    """A Vandermonde system: the normal equations lose the digits that SVD keeps."""
    t = np.linspace(0, 1, 60)
    A = np.vander(t, 12, increasing=True)
    x_true = np.linspace(1, 2, 12)
    b = A @ x_true
    x = fastopt.lstsq(A, b).solution
    with np.errstate(all="ignore"):
        normal = np.linalg.solve(A.T @ A, A.T @ b)
    err, err_normal = np.linalg.norm(x - x_true), np.linalg.norm(normal - x_true)
    assert err < 1e-4 and err < err_normal / 100


def test_float32_and_integers():
    A, b = _problem(dtype=np.float32)
    res = fastopt.lstsq(A, b)
    assert res.solution.dtype == np.float32
    res = fastopt.lstsq(np.arange(12).reshape(6, 2) % 5, np.arange(6))
    assert res.solution.dtype == np.float64


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 8), n=st.integers(1, 8), alpha=st.sampled_from([0.0, 0.1, 3.0]))
def test_lstsq_any_shape_satisfies_the_optimality_condition(m, n, alpha):
    A, b = _problem(m, n, seed=m * 10 + n)
    x = fastopt.lstsq(A, b, alpha=alpha).solution
    assert x.shape == (n,)
    # gradient of ||Ax-b||^2 + alpha||x||^2 vanishes (in the row space when alpha = 0)
    g = A.T @ (A @ x - b) + alpha * x
    assert np.linalg.norm(g) <= 1e-9 * (1 + np.linalg.norm(A) ** 2 * np.linalg.norm(x)
                                        + np.linalg.norm(A) * np.linalg.norm(b))


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.ones(3), np.ones(3)), {}, ValueError, "A must have 2"),
    ((np.ones((3, 2)), np.ones(4)), {}, ValueError, "rows"),
    ((np.ones((3, 2)), np.ones((3, 2, 1))), {}, ValueError, "b must have"),
    ((np.array([[1.0, np.nan]]), np.ones(1)), {}, ValueError, "non-finite"),
    ((np.array([["a"]]), np.ones(1)), {}, TypeError, "numeric"),
    ((np.ones((3, 2)), np.ones(3)), {"alpha": -1}, ValueError, "alpha"),
    ((np.ones((3, 2)), np.ones(3)), {"rcond": float("inf")}, ValueError, "rcond"),
])
def test_lstsq_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fastopt.lstsq(*args, **kwargs)


# -- Newton ---------------------------------------------------------------------------

def _quadratic(n=8, seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    Q = M @ M.T + n * np.eye(n)
    c = rng.standard_normal(n)
    return (lambda x: 0.5 * x @ Q @ x - c @ x, lambda x: Q @ x - c, lambda x: Q,
            np.linalg.solve(Q, c))


@pytest.mark.parametrize("mode", ["hess", "hessp"])
def test_newton_solves_a_quadratic_in_one_step(mode):
    f, g, h, x_star = _quadratic()
    kw = {"hess": h} if mode == "hess" else {"hessp": lambda x, v: h(x) @ v,
                                             "cg_rtol": 1e-12}
    res = fastopt.newton(f, np.zeros(8), g, **kw)
    np.testing.assert_allclose(res.x, x_star, rtol=1e-8)
    assert res.converged and res.n_iter == 1


@pytest.mark.parametrize("line_search", ["backtracking", "wolfe", None])
def test_newton_matches_scipy_newton_cg_on_rosenbrock(line_search):
    x0 = np.array([-1.2, 1.0, 1.2, 0.8])
    res = fastopt.newton(scipy.optimize.rosen, x0, scipy.optimize.rosen_der,
                         scipy.optimize.rosen_hess, line_search=line_search, max_iter=200)
    ref = scipy.optimize.minimize(scipy.optimize.rosen, x0, jac=scipy.optimize.rosen_der,
                                  hess=scipy.optimize.rosen_hess, method="Newton-CG",
                                  options=dict(xtol=1e-12))
    assert res.converged
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    res_cg = fastopt.newton(scipy.optimize.rosen, x0, scipy.optimize.rosen_der,
                            hessp=scipy.optimize.rosen_hess_prod, max_iter=200)
    np.testing.assert_allclose(res_cg.x, ref.x, atol=1e-6)


def _saddle():
    """f = x^2 + y^4/4 - y^2/2: a saddle at the origin, minima at (0, +-1)."""
    f = lambda z: z[0] ** 2 + z[1] ** 4 / 4 - z[1] ** 2 / 2  # noqa: E731
    g = lambda z: np.array([2 * z[0], z[1] ** 3 - z[1]])  # noqa: E731
    h = lambda z: np.array([[2.0, 0.0], [0.0, 3 * z[1] ** 2 - 1]])  # noqa: E731
    return f, g, h


def test_pure_newton_is_attracted_to_the_saddle_and_gradient_descent_is_not():
    f, g, h = _saddle()
    start = np.array([0.8, 0.05])
    pure = fastopt.newton(f, start, g, h, line_search=None)
    assert pure.converged and np.linalg.norm(pure.x) < 1e-8  # the saddle
    x = start.copy()
    sgd = fastopt.SGD(x, lr=0.1)
    for _ in range(300):
        sgd.step(g(x))
    assert abs(abs(x[1]) - 1) < 1e-6 and f(x) < f(pure.x) - 0.2  # a minimum
    guarded = fastopt.newton(f, start, g, h)  # the line search's descent fallback
    assert abs(abs(guarded.x[1]) - 1) < 1e-6


def test_damping_and_callback():
    f, g, h, x_star = _quadratic()
    seen = []
    res = fastopt.newton(f, np.zeros(8), g, h, damping=5.0, callback=seen.append)
    np.testing.assert_allclose(res.x, x_star, rtol=1e-7)
    assert res.n_iter > 1 and len(seen) == res.n_iter and len(res.path) == res.n_iter + 1


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(fun=None), TypeError, "fun"),
    (dict(hess=None), TypeError, "exactly one"),
    (dict(hessp=lambda x, v: v), TypeError, "exactly one"),
    (dict(x0=np.zeros((2, 2))), ValueError, "1-D"),
    (dict(x0=np.array([np.nan, 0.0])), ValueError, "non-finite"),
    (dict(x0=np.array(["a", "b"])), TypeError, "x0"),
    (dict(gtol=-1.0), ValueError, "gtol"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(line_search="exact"), ValueError, "line_search"),
    (dict(damping=float("inf")), ValueError, "damping"),
    (dict(cg_rtol=2.0), ValueError, "cg_rtol"),
    (dict(grad=lambda x: np.zeros(3)), ValueError, r"grad\(x\) returned shape"),
    (dict(grad=lambda x: np.array([np.inf, 0.0])), ValueError, "non-finite"),
    (dict(fun=lambda x: "a"), TypeError, "fun"),
    (dict(fun=lambda x: float("nan")), ValueError, "NaN"),
    (dict(hess=lambda x: np.eye(3)), ValueError, "hess"),
    (dict(hess=lambda x: "H"), TypeError, "hess"),
])
def test_newton_bad_input(kwargs, error, match):
    f, g, h = _saddle()
    args = dict(fun=f, x0=np.array([0.5, 0.5]), grad=g, hess=h)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fastopt.newton(args.pop("fun"), args.pop("x0"), args.pop("grad"), **args)
