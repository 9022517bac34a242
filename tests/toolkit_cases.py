"""Shared tables of the training-toolkit tests: every optimizer, every backend.

``OPTIMIZERS`` maps a name to ``make(params, backend) -> optimizer`` with a learning
rate suited to small logistic-regression problems; every class of fastopt appears
(SGD in its three momentum forms, Adam as Adam, AMSGrad and AdamW).
"""
import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

BACKENDS = ("python", "numba", "cython")

OPTIMIZERS = {
    "SGD": lambda p, b: fastopt.SGD(p, lr=0.1, backend=b),
    "SGD-momentum": lambda p, b: fastopt.SGD(p, lr=0.05, momentum=0.9, backend=b),
    "SGD-nesterov": lambda p, b: fastopt.SGD(p, lr=0.05, momentum=0.9, nesterov=True, backend=b),
    "Adagrad": lambda p, b: fastopt.Adagrad(p, lr=0.1, backend=b),
    "Adadelta": lambda p, b: fastopt.Adadelta(p, lr=1.0, backend=b),
    "RMSprop": lambda p, b: fastopt.RMSprop(p, lr=0.01, backend=b),
    "Adam": lambda p, b: fastopt.Adam(p, lr=0.05, backend=b),
    "AMSGrad": lambda p, b: fastopt.Adam(p, lr=0.05, amsgrad=True, backend=b),
    "AdamW": lambda p, b: fastopt.AdamW(p, lr=0.05, backend=b),
    "Adamax": lambda p, b: fastopt.Adamax(p, lr=0.05, backend=b),
    "NAdam": lambda p, b: fastopt.NAdam(p, lr=0.05, backend=b),
}


def backends():
    """``pytest.param`` per backend, skipped where it is not available."""
    return [pytest.param(b, marks=pytest.mark.skipif(not _dispatch.is_available(b),
                                                     reason=f"{b} not available"))
            for b in BACKENDS]


def logistic_problem(n=200, d=8, seed=0, dtype=np.float64):
    """``(X, y, params, objective)``: binary logistic regression with weights and a bias.

    ``objective(batch) -> (mean loss, [grad_w, grad_b])`` reads the arrays in ``params``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n) > 0).astype(dtype)
    w = np.zeros(d, dtype)
    b = np.zeros(1, dtype)

    def objective(batch):
        xb, yb = X[batch], y[batch]
        z = xb @ w + b[0]
        p = 1.0 / (1.0 + np.exp(-z))
        loss = float(np.mean(np.logaddexp(0.0, z) - yb * z))
        err = ((p - yb) / len(batch)).astype(dtype)
        return loss, [np.ascontiguousarray(xb.T @ err), np.array([err.sum()], dtype)]

    return X, y, [w, b], objective
