r"""Closed-form linear and ridge regression: the exact baseline for gradient methods.

For a design matrix :math:`A \in \mathbb{R}^{m\times n}` and targets
:math:`b \in \mathbb{R}^m` (or :math:`\mathbb{R}^{m\times k}`, one column per problem),

.. math::

    x^\star = \arg\min_x \; \|A x - b\|_2^2 + \alpha \|x\|_2^2 .

With :math:`\alpha = 0` this is ordinary least squares, solved by LAPACK's ``gelsd``
(SVD-based; ``scipy.linalg.lstsq``), which returns the minimum-norm solution when
:math:`A` is rank-deficient.  With :math:`\alpha > 0` (ridge regression, Tikhonov) it is
solved from the thin SVD :math:`A = U \Sigma V^\top`:

.. math::

    x^\star = V \operatorname{diag}\!\left(\frac{\sigma_i}{\sigma_i^2 + \alpha}\right) U^\top b .

Neither path forms the normal equations :math:`A^\top A x = A^\top b`, let alone the
inverse :math:`(A^\top A)^{-1}`: that squares the condition number, and loses half the
digits on ill-conditioned problems.

Example::

    res = fastopt.lstsq(X, y)              # ordinary least squares
    res.solution, res.residuals, res.rank, res.singular_values
    w = fastopt.lstsq(X, y, alpha=1e-2).solution    # ridge
"""
from typing import NamedTuple

import numpy as np

from .._internal import validation as check

__all__ = ["lstsq", "LstsqResult"]


class LstsqResult(NamedTuple):
    """What :func:`lstsq` returns.

    ``solution``: (n,) or (n, k); ``residuals``: the squared data residual ‖A·x − b‖₂²
    per column, shape () or (k,) (always computed, unlike NumPy's, which leaves it empty
    when the system is rank-deficient or square); ``rank``: the numerical rank of A
    (singular values above ``rcond`` times the largest); ``singular_values``:
    (min(m, n),) in decreasing order.
    """
    solution: np.ndarray
    residuals: np.ndarray
    rank: int
    singular_values: np.ndarray


def _matrix(name, a, ndims):
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimensions, got "
                         f"shape {a.shape}")
    if a.dtype not in check.FLOAT_DTYPES:  # integers, float16, float128
        a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has non-finite entries")
    return a


def lstsq(A, b, *, alpha=0.0, rcond=None):
    """Solve min_x ‖A·x − b‖₂² + α·‖x‖₂² by SVD (never the normal equations).

    Args:
        A: the design matrix, shape (m, n) (float32 or float64; integers are converted
            to float64).
        b: the targets, shape (m,) or (m, k).
        alpha: the ridge penalty α >= 0 (default 0).
        rcond: relative cut-off for small singular values (default: machine epsilon
            times ``max(m, n)``, as NumPy): they count towards ``rank`` and, for α = 0,
            their directions are left out of the solution.

    Returns:
        LstsqResult: ``(solution, residuals, rank, singular_values)``, in the dtype of
        ``A`` and ``b`` combined.

    Raises:
        TypeError: non-numeric input.
        ValueError: wrong shapes, non-finite entries, a negative or non-finite ``alpha``
            or ``rcond``.
    """
    import scipy.linalg  # imported on first use: ``import fastopt`` stays light
    A = _matrix("A", A, (2,))
    b = _matrix("b", b, (1, 2))
    if b.shape[0] != A.shape[0]:
        raise ValueError(f"b has {b.shape[0]} rows but A has {A.shape[0]}")
    alpha = check.nonnegative("alpha", alpha)
    m, n = A.shape
    dtype = np.result_type(A, b)
    A, b = A.astype(dtype, copy=False), b.astype(dtype, copy=False)
    eps = np.finfo(dtype).eps
    rcond = eps * max(m, n) if rcond is None else check.nonnegative("rcond", rcond)
    k_shape = b.shape[1:]
    if min(m, n) == 0:
        x = np.zeros((n,) + k_shape, dtype)
        res = np.sum(b.astype(np.float64) ** 2, axis=0).astype(dtype)
        return LstsqResult(x, res, 0, np.zeros(0, dtype))
    if alpha == 0.0:
        x, _, rank, sv = scipy.linalg.lstsq(A, b, cond=rcond, lapack_driver="gelsd")
        x = x.astype(dtype, copy=False)
        sv = sv.astype(dtype, copy=False)
    else:
        U, sv, Vt = scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd")
        filt = sv / (sv * sv + dtype.type(alpha))
        Utb = U.T @ b
        x = Vt.T @ (filt.reshape((-1,) + (1,) * len(k_shape)) * Utb)
        rank = int(np.sum(sv > rcond * sv[0])) if sv.size else 0
    r = A @ x - b
    residuals = np.sum(r * r, axis=0)
    return LstsqResult(x, residuals, int(rank), sv)
