"""fastopt.LBFGS against torch.optim.LBFGS (trajectories), SciPy's L-BFGS-B (solutions),
across backends and thread counts (bits), through checkpoints, and on bad input."""
import numpy as np
import pytest
import scipy.optimize

import fastopt
from fastopt.backends import _dispatch

from conftest import bits

BACKENDS = ("python", "numba", "cython")


def rosen_closure(x):
    def closure():
        return scipy.optimize.rosen(x), scipy.optimize.rosen_der(x)
    return closure


def logistic_problem(dtype=np.float64, n=120, d=6, k=3, seed=0):
    """Softmax regression with weights W (d, k) and bias b (k,) + a small L2 term."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    W0, b0 = 0.1 * rng.standard_normal((d, k)), np.zeros(k)
    return X, y, W0.astype(dtype), b0.astype(dtype)


def numpy_closure(X, y, W, b, lam=1e-2):
    def closure():
        Wd, bd = W.astype(np.float64), b.astype(np.float64)
        z = X @ Wd + bd
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(len(y)), y])) + 0.5 * lam * np.sum(Wd * Wd)
        p[np.arange(len(y)), y] -= 1
        p /= len(y)
        return loss, [(X.T @ p + lam * Wd).astype(W.dtype), p.sum(axis=0).astype(b.dtype)]
    return closure


def torch_run(X, y, W0, b0, steps, lam=1e-2, **kw):
    torch = pytest.importorskip("torch")
    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    Xt, yt = torch.tensor(X, dtype=W.dtype), torch.tensor(y)
    opt = torch.optim.LBFGS([W, b], **kw)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Xt @ W + b, yt) + 0.5 * lam * (W * W).sum()
        loss.backward()
        return loss

    path = []
    for _ in range(steps):
        opt.step(closure)
        st = opt.state[W]
        path.append((W.detach().numpy().copy(), b.detach().numpy().copy(), st["func_evals"],
                     st["n_iter"]))
    return path


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [3, 100])
def test_trajectory_matches_torch_float64(line_search_fn, history_size):
    X, y, W0, b0 = logistic_problem()
    kw = dict(lr=1 if line_search_fn else 0.5, max_iter=8, history_size=history_size,
              line_search_fn=line_search_fn)
    want = torch_run(X, y, W0, b0, 4, **kw)
    W, b = W0.copy(), b0.copy()
    opt = fastopt.LBFGS([W, b], **kw)
    closure = numpy_closure(X, y, W, b)
    for Wt, bt, evals, n_iter in want:
        opt.step(closure)
        np.testing.assert_allclose(W, Wt, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b, bt, rtol=1e-9, atol=1e-12)
        assert opt.state["func_evals"] == evals
        assert opt.state["n_iter"] == n_iter


def test_trajectory_matches_torch_float32():
    X, y, W0, b0 = logistic_problem(np.float32)
    kw = dict(max_iter=6, history_size=5, line_search_fn="strong_wolfe")
    want = torch_run(X, y, W0, b0, 2, **kw)
    W, b = W0.copy(), b0.copy()
    opt = fastopt.LBFGS([W, b], **kw)
    closure = numpy_closure(X, y, W, b)
    for Wt, bt, evals, n_iter in want:
        opt.step(closure)
        np.testing.assert_allclose(W, Wt, rtol=1e-4, atol=1e-5)
        assert opt.state["n_iter"] == n_iter


def test_rosenbrock_matches_torch_and_scipy():
    torch = pytest.importorskip("torch")
    x0 = np.array([-1.2, 1.0, -0.5, 0.8])
    x = x0.copy()
    opt = fastopt.LBFGS(x, max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                        tolerance_change=1e-14)
    opt.step(rosen_closure(x))
    xt = torch.tensor(x0, requires_grad=True)
    topt = torch.optim.LBFGS([xt], max_iter=200, line_search_fn="strong_wolfe",
                             tolerance_grad=1e-10, tolerance_change=1e-14)

    def closure():
        topt.zero_grad()
        loss = (100 * (xt[1:] - xt[:-1] ** 2) ** 2 + (1 - xt[:-1]) ** 2).sum()
        loss.backward()
        return loss
    topt.step(closure)
    np.testing.assert_allclose(x, xt.detach().numpy(), rtol=1e-6)
    ref = scipy.optimize.minimize(scipy.optimize.rosen, x0, jac=scipy.optimize.rosen_der,
                                  method="L-BFGS-B", options=dict(gtol=1e-10, ftol=1e-15))
    np.testing.assert_allclose(x, ref.x, atol=1e-5)


def test_default_hyperparameters_are_torchs():
    x = np.zeros(3)
    group = fastopt.LBFGS(x).param_groups[0]
    assert {k: group[k] for k in group if k != "params"} == dict(
        lr=1.0, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9,
        history_size=100, line_search_fn=None)
    assert fastopt.LBFGS(x, max_iter=7).param_groups[0]["max_eval"] == 8


def _quadratic(n, dtype, seed=0):
    """f = 0.5 sum(a x^2) + c.x, far above the threading threshold when n is large."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 4.0, n).astype(dtype)
    c = rng.standard_normal(n).astype(dtype)
    x0 = rng.standard_normal(n).astype(dtype)

    def make(x):
        def closure():
            g = a * x + c
            return float(np.sum((0.5 * a * x + c).astype(np.float64) * x)), g
        return closure
    return x0, make


@pytest.mark.parametrize("dtype, line_search_fn", [(np.float32, None),
                                                   (np.float64, "strong_wolfe")])
def test_backends_and_thread_counts_give_the_same_bits(dtype, line_search_fn):
    n = _dispatch.PARALLEL_THRESHOLD + 101
    x0, make = _quadratic(n, dtype)
    results = []
    for backend in BACKENDS:
        for n_threads in ((1, 2) if backend != "python" else (1,)):
            if not _dispatch.is_available(backend):
                continue
            fastopt.set_num_threads(n_threads)
            x = x0.copy()
            opt = fastopt.LBFGS(x, lr=0.5 if line_search_fn is None else 1, max_iter=5,
                                history_size=3, line_search_fn=line_search_fn, backend=backend)
            opt.step(make(x))
            results.append((backend, n_threads, x, opt.state))
    assert len(results) >= 2
    _, _, x_ref, s_ref = results[0]
    for backend, n_threads, x, s in results[1:]:
        assert np.array_equal(bits(x), bits(x_ref)), (backend, n_threads)
        assert np.array_equal(bits(s["d"]), bits(s_ref["d"]))
        assert s["ro"] == s_ref["ro"] and s["H_diag"] == s_ref["H_diag"]
        for u, v in zip(s["old_dirs"], s_ref["old_dirs"]):
            assert np.array_equal(bits(u), bits(v))


def test_state_dict_resumes_bit_for_bit():
    X, y, W0, b0 = logistic_problem()
    W, b = W0.copy(), b0.copy()
    opt = fastopt.LBFGS([W, b], max_iter=3, history_size=4, line_search_fn="strong_wolfe")
    closure = numpy_closure(X, y, W, b)
    opt.step(closure)
    saved, W_saved, b_saved = opt.state_dict(), W.copy(), b.copy()
    opt.step(closure)
    W2, b2 = W_saved.copy(), b_saved.copy()
    opt2 = fastopt.LBFGS([W2, b2])
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["history_size"] == 4
    opt2.step(numpy_closure(X, y, W2, b2))
    assert np.array_equal(bits(W2), bits(W)) and np.array_equal(bits(b2), bits(b))


def test_load_state_dict_checks_before_changing():
    x = np.zeros(3)
    opt = fastopt.LBFGS(x)
    opt.step(lambda: (float(np.sum((x - 1) ** 2)), 2 * (x - 1)))
    good = opt.state_dict()
    bad = opt.state_dict()
    bad["state"]["d"] = np.zeros(4)
    before = opt.state_dict()
    with pytest.raises(ValueError, match="'d'"):
        opt.load_state_dict(bad)
    assert np.array_equal(opt.state["d"], before["state"]["d"])
    bad = opt.state_dict()
    bad["param_groups"][0]["history_size"] = 0
    with pytest.raises(ValueError, match="history_size"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["state"]["ro"] = bad["state"]["ro"] + [1.0]
    with pytest.raises(ValueError, match="one length"):
        opt.load_state_dict(bad)
    opt.load_state_dict(good)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(lr=-1), ValueError, "lr"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(max_iter=2.5), TypeError, "max_iter"),
    (dict(max_eval=0), ValueError, "max_eval"),
    (dict(tolerance_grad=float("nan")), ValueError, "tolerance_grad"),
    (dict(tolerance_change=-1), ValueError, "tolerance_change"),
    (dict(history_size=0), ValueError, "history_size"),
    (dict(line_search_fn="armijo"), ValueError, "line_search_fn"),
    (dict(backend="fortran"), ValueError, "backend"),
])
def test_invalid_hyperparameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastopt.LBFGS(np.zeros(3), **kwargs)


def test_invalid_params():
    with pytest.raises(TypeError, match="one dtype"):
        fastopt.LBFGS([np.zeros(2), np.zeros(2, np.float32)])
    with pytest.raises(ValueError, match="no element"):
        fastopt.LBFGS([np.zeros(0)])
    with pytest.raises(TypeError, match="float32 or float64"):
        fastopt.LBFGS(np.zeros(3, np.int64))
    buf = np.zeros(4)
    with pytest.raises(ValueError, match="share memory"):
        fastopt.LBFGS([buf[:3], buf[1:]])
    with pytest.raises(ValueError, match="parameter groups"):
        fastopt.LBFGS([{"params": [np.zeros(2)]}])


@pytest.mark.parametrize("closure_result, error, match", [
    (lambda x: 1.0, TypeError, "pair"),
    (lambda x: (1.0, "grad"), TypeError, "grads"),
    (lambda x: (1.0, [x.copy(), x.copy()]), ValueError, "2 gradients"),
    (lambda x: (1.0, np.zeros(4)), ValueError, "shape"),
    (lambda x: (1.0, np.zeros(3, np.float32)), TypeError, "dtype"),
    (lambda x: ("a", x.copy()), TypeError, "loss"),
    (lambda x: (float("nan"), x.copy()), ValueError, "not finite"),
    (lambda x: (1.0, np.full(3, np.inf)), ValueError, "non-finite"),
    (lambda x: (1.0, x), ValueError, "shares memory"),
])
def test_bad_closure_results(closure_result, error, match):
    x = np.array([1.0, -2.0, 3.0])
    opt = fastopt.LBFGS(x)
    with pytest.raises(error, match=match):
        opt.step(lambda: closure_result(x))
    assert opt.state == {}


def test_error_mid_step_restores_the_parameters():
    x = np.array([1.0, -2.0, 3.0])
    calls = []

    def closure():
        calls.append(1)
        if len(calls) == 3:
            return 1.0, np.full(3, np.nan)
        return float(x @ x), 2 * x

    opt = fastopt.LBFGS(x, lr=0.1)
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(closure)
    assert np.array_equal(x, [1.0, -2.0, 3.0]) and opt.state == {}
    calls.clear()

    def failing():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the user's own error")
        return float(x @ x), 2 * x
    with pytest.raises(RuntimeError, match="own error"):
        opt.step(failing)
    assert np.array_equal(x, [1.0, -2.0, 3.0]) and opt.state == {}
    with pytest.raises(TypeError, match="callable"):
        opt.step(None)
