r"""Newton's method for smooth problems of moderate size: exact Hessians or Hessian-vector
products with conjugate gradients (Newton-CG), with damping and a line search.

Each iteration solves the Newton system for the step :math:`p` and moves along it:

.. math::

    (\nabla^2 f(x_k) + \lambda I)\, p_k = -\nabla f(x_k), \qquad x_{k+1} = x_k + t_k p_k .

``hess`` gives the Hessian as a matrix (the system is solved by LAPACK,
``scipy.linalg.solve``); ``hessp`` gives products :math:`v \mapsto \nabla^2 f(x) v`,
and the system is solved by conjugate gradients (``scipy.sparse.linalg.cg`` on a
``LinearOperator``: the truncated / Hessian-free Newton method of Nocedal & Wright,
ch. 7.1), so the Hessian is never formed.  ``damping`` :math:`\lambda \ge 0` is the
Levenberg-Marquardt shift.

The step length :math:`t_k`:

``line_search=None``
    :math:`t = 1`, the pure Newton iteration.  It converges quadratically near a
    minimum -- and just as quickly to a **saddle point** or a maximum: it seeks
    :math:`\nabla f = 0` and does not care which kind.  This is the behaviour the
    optimization surveys warn about (Dauphin et al., 2014), kept available to show it.
``"backtracking"`` (default)
    Armijo backtracking from :math:`t = 1` (:math:`f(x + tp) \le f(x) + c_1 t\,\nabla f^\top p`,
    :math:`c_1 = 10^{-4}`, :math:`t \leftarrow t/2`).  When :math:`p` is not a descent
    direction (the Hessian is not positive definite there), the step falls back to
    :math:`p = -\nabla f`, so the method descends away from saddles.
``"wolfe"``
    ``scipy.optimize.line_search`` (strong Wolfe conditions), with the same fallback;
    backtracking if it fails.

The iteration stops when :math:`\|\nabla f(x)\|_\infty \le` ``gtol`` or after ``max_iter``
iterations.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from .._internal import validation as check
from ..train import _args

__all__ = ["newton", "NewtonResult"]


@dataclass
class NewtonResult:
    """What :func:`newton` returns.

    ``x`` the last iterate, ``fun`` and ``grad`` there, ``n_iter`` iterations,
    ``n_fev``/``n_gev``/``n_hev`` evaluations of ``fun``, ``grad`` and ``hess`` (or
    ``hessp``), ``converged`` whether the gradient tolerance was met, ``path`` the
    iterates (``n_iter + 1`` rows) and ``losses`` the objective at each.
    """
    x: np.ndarray
    fun: float
    grad: np.ndarray
    n_iter: int
    n_fev: int
    n_gev: int
    n_hev: int
    converged: bool
    path: np.ndarray = field(repr=False)
    losses: np.ndarray = field(repr=False)


class _Problem:
    """The user's callables, with their outputs checked and counted."""

    def __init__(self, fun, grad, hess, hessp, n):
        self.f, self.g, self.h, self.hp, self.n = fun, grad, hess, hessp, n
        self.n_fev = self.n_gev = self.n_hev = 0

    def fun(self, x):
        self.n_fev += 1
        value = _args.metric("fun(x)", self.f(x))
        if math.isnan(value):
            raise ValueError(f"fun(x) returned NaN at x = {x!r}")
        return value

    def grad(self, x):
        self.n_gev += 1
        return self._vector("grad(x)", self.g(x))

    def hess(self, x):
        import scipy.sparse
        self.n_hev += 1
        h = self.h(x)
        if scipy.sparse.issparse(h):
            h = h.toarray()
        h = np.asarray(h, dtype=np.float64) if _is_numeric(h) else _bad("hess(x)", h)
        if h.shape != (self.n, self.n):
            raise ValueError(f"hess(x) returned shape {h.shape}, expected ({self.n}, {self.n})")
        if not np.isfinite(h).all():
            raise ValueError("hess(x) returned non-finite entries")
        return h

    def hessp(self, x, v):
        self.n_hev += 1
        return self._vector("hessp(x, v)", self.hp(x, v))

    def _vector(self, name, v):
        v = np.asarray(v, dtype=np.float64) if _is_numeric(v) else _bad(name, v)
        if v.shape != (self.n,):
            raise ValueError(f"{name} returned shape {v.shape}, expected ({self.n},)")
        if not np.isfinite(v).all():
            raise ValueError(f"{name} returned non-finite entries")
        return v


def _is_numeric(a):
    return np.asarray(a).dtype.kind in "fiu"


def _bad(name, value):
    raise TypeError(f"{name} must return a real array, got {type(value).__name__}")


def _backtracking(problem, x, f, g, p, c1=1e-4, shrink=0.5, max_halvings=60):
    """Armijo backtracking from t = 1: returns ``(t, f(x + t p))`` (t = 0 if none is found)."""
    slope = float(g @ p)
    t = 1.0
    for _ in range(max_halvings):
        f_new = problem.fun(x + t * p)
        if f_new <= f + c1 * t * slope:
            return t, f_new
        t *= shrink
    return 0.0, f


def newton(fun, x0, grad, hess=None, *, hessp=None, gtol=1e-8, max_iter=100,
           line_search="backtracking", damping=0.0, cg_rtol=1e-5, cg_maxiter=None,
           callback=None):
    """Minimize ``fun`` by Newton's method (see the module docstring).

    Each iteration solves (∇²f(x_k) + λ·I)·p_k = −∇f(x_k) and sets x_(k+1) = x_k + t_k·p_k.

    Args:
        fun: ``fun(x) -> float``.
        x0: the starting point, shape (n,) (copied; computations are in float64).
        grad: ``grad(x) -> (n,) array``.
        hess: ``hess(x) -> (n, n) array``, optional.
        hessp: ``hessp(x, v) -> (n,) array``, optional.  Exactly one of ``hess`` and
            ``hessp``.
        gtol: stop when ‖∇f‖_∞ <= ``gtol`` (default 1e-8).
        max_iter: iterations at most (default 100).
        line_search: None, ``"backtracking"`` (default) or ``"wolfe"``.
        damping: λ >= 0 added to the Hessian's diagonal (default 0).
        cg_rtol: relative tolerance of conjugate gradients (``hessp`` only).
        cg_maxiter: iteration limit of conjugate gradients (``hessp`` only; default
            ``10 n``).
        callback: ``callback(x)``, optional, called after each iteration with a copy of
            the iterate.

    Returns:
        NewtonResult: the last iterate, its value and gradient, counts and the path.

    Raises:
        TypeError: non-callables; callables returning the wrong type.
        ValueError: a bad ``x0`` (not 1-D, empty, non-finite), invalid hyperparameters,
            callables returning the wrong shape or non-finite values.  A singular system
            is solved in the least-squares sense instead.
    """
    import scipy.optimize  # SciPy is imported on first use: ``import fastopt`` stays light
    for name, f in (("fun", fun), ("grad", grad)):
        if not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    if (hess is None) == (hessp is None):
        raise TypeError("give exactly one of hess (the Hessian) and hessp (Hessian-vector "
                        "products)")
    for name, f in (("hess", hess), ("hessp", hessp), ("callback", callback)):
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    x = np.asarray(x0)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"x0 must be a real array, got dtype {x.dtype}")
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x0 must be a non-empty 1-D array, got shape {x.shape}")
    x = x.astype(np.float64, copy=True)
    if not np.isfinite(x).all():
        raise ValueError("x0 has non-finite entries")
    gtol = check.nonnegative("gtol", gtol)
    max_iter = _args.integer("max_iter", max_iter, minimum=0)
    line_search = _args.choice("line_search", line_search, (None, "backtracking", "wolfe"))
    damping = check.nonnegative("damping", damping)
    cg_rtol = check.in_range("cg_rtol", cg_rtol, 0.0, 1.0, high_inclusive=False)
    n = x.size
    cg_maxiter = 10 * n if cg_maxiter is None else _args.integer("cg_maxiter", cg_maxiter, 1)

    problem = _Problem(fun, grad, hess, hessp, n)
    f, g = problem.fun(x), problem.grad(x)
    path, losses = [x.copy()], [f]
    converged = float(np.max(np.abs(g))) <= gtol
    k = 0
    while not converged and k < max_iter:
        p = _newton_step(problem, x, g, damping, cg_rtol, cg_maxiter)
        if line_search is None:
            t = 1.0
            x = x + p
            f = problem.fun(x)
        else:
            if not float(g @ p) < 0:  # not a descent direction: Hessian not positive definite
                p = -g
            t = None
            if line_search == "wolfe":
                t, _, _, f_new, _, _ = scipy.optimize.line_search(
                    problem.fun, problem.grad, x, p, gfk=g, old_fval=f)
            if t is None:
                t, f_new = _backtracking(problem, x, f, g, p)
            x = x + t * p
            f = f_new
        g = problem.grad(x)
        k += 1
        path.append(x.copy())
        losses.append(f)
        if callback is not None:
            callback(x.copy())
        converged = float(np.max(np.abs(g))) <= gtol
        if t == 0.0:  # the line search found no decrease: stuck
            break
    return NewtonResult(x, f, g, k, problem.n_fev, problem.n_gev, problem.n_hev, converged,
                        np.array(path), np.array(losses))


def _newton_step(problem, x, g, damping, cg_rtol, cg_maxiter):
    """The solution ``p`` of ``(H + damping I) p = -g``."""
    import scipy.linalg
    import scipy.sparse.linalg
    if problem.h is not None:
        H = problem.hess(x)
        if damping:
            H = H + damping * np.eye(problem.n)
        try:
            with np.errstate(all="ignore"):
                p = scipy.linalg.solve(H, -g, assume_a="sym", check_finite=False)
            if np.isfinite(p).all():
                return p
        except (scipy.linalg.LinAlgError, ValueError):
            pass
        return scipy.linalg.lstsq(H, -g, check_finite=False)[0]

    def matvec(v):
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        hv = problem.hessp(x, v)
        return hv + damping * v if damping else hv

    op = scipy.sparse.linalg.LinearOperator((problem.n, problem.n), matvec=matvec,
                                            dtype=np.float64)
    p, _ = scipy.sparse.linalg.cg(op, -g, rtol=cg_rtol, maxiter=cg_maxiter)
    return p
