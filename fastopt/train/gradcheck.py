r"""Gradient checking: an analytic gradient against central differences.

For each checked element θ_k of a parameter, with a step
h_k = ε·max(1, abs(θ_k)),

.. math::

    g̃_k = (f(θ + h_k e_k) - f(θ - h_k e_k))/((θ_k + h_k) - (θ_k - h_k))

(the denominator is the step actually taken once both points are rounded to the
dtype).  The error of an analytic gradient g on a parameter is the relative error

.. math::

    rel(g, g̃) = (‖g - g̃‖_2)/(max(‖g‖_2 + ‖g̃‖_2, tiny))

which is 0 for equal gradients and 1 for unrelated ones.  A parameter passes if
rel ≤ ``tol`` or max_k abs(g_k − g̃_k) ≤ ``atol`` (the
relative error means nothing for a gradient that is zero, e.g. a bias followed by
batch normalization).  A correct float64 gradient typically gives 1e-7 to
1e-10 (defaults: ``eps`` 1e-6, ``tol`` 1e-6, ``atol`` 1e-8);
float32 is too coarse for central differences (``tol`` 1e-2, ``atol`` 1e-3 by
default, or check in float64).  The error of central differences is
O(h²) plus round-off O(u·abs(f)/h).
"""
import numpy as np

from . import _args
from .._internal import validation as check
from .._internal.random import as_generator

__all__ = ["check_gradient", "GradientCheck", "numerical_gradient"]


def _loss(objective):
    value = objective()
    if isinstance(value, tuple):
        value = value[0]
    return _args.metric("the objective's loss", value)


def numerical_gradient(objective, param, eps=1e-6, elements=None):
    """Central-difference gradient of ``objective()`` with respect to ``param`` (in place).

    ``objective`` takes no argument and reads ``param``; it returns the loss (or a
    tuple whose first entry is the loss).  ``elements`` are flat indices to check
    (default all); the others are ``nan``.  ``param`` is restored bit for bit.
    """
    eps = _args.positive("eps", eps)
    flat = param.reshape(-1)
    result = np.full(flat.size, np.nan)
    elements = range(flat.size) if elements is None else elements
    for k in elements:
        original = flat[k]
        h = eps * max(1.0, abs(float(original)))
        try:
            flat[k] = original + h
            plus_at = float(flat[k])
            f_plus = _loss(objective)
            flat[k] = original - h
            minus_at = float(flat[k])
            f_minus = _loss(objective)
        finally:
            flat[k] = original
        result[k] = (f_plus - f_minus) / (plus_at - minus_at)
    return result.reshape(param.shape)


class GradientCheck:
    """The result of :func:`check_gradient`: one entry per parameter.

    ``relative_errors[i]`` (the relative error on the checked elements),
    ``max_abs_errors[i]``, ``worst[i]`` (the flat index of the largest absolute
    error), ``analytic[i]`` / ``numerical[i]`` (arrays, NaN where not checked),
    ``checked[i]`` (flat indices), ``tol``, ``atol``; ``passed[i]`` is whether
    parameter ``i`` has a relative error at most ``tol`` or a largest absolute error at
    most ``atol``, and ``ok`` whether they all do.  ``str(result)`` is a small table.
    """

    def __init__(self, relative_errors, max_abs_errors, worst, analytic, numerical, checked,
                 tol, atol):
        self.relative_errors = relative_errors
        self.max_abs_errors = max_abs_errors
        self.worst = worst
        self.analytic = analytic
        self.numerical = numerical
        self.checked = checked
        self.tol = tol
        self.atol = atol

    @property
    def passed(self):
        return [rel <= self.tol or mx <= self.atol
                for rel, mx in zip(self.relative_errors, self.max_abs_errors)]

    @property
    def ok(self):
        return all(self.passed)

    @property
    def max_relative_error(self):
        return max(self.relative_errors)

    def __bool__(self):
        return self.ok

    def __str__(self):
        lines = [f"{'param':>5}  {'checked':>7}  {'relative error':>14}  {'max |diff|':>10}  ok"]
        for i, (rel, mx, ok) in enumerate(zip(self.relative_errors, self.max_abs_errors,
                                              self.passed)):
            lines.append(f"{i:>5}  {len(self.checked[i]):>7}  {rel:>14.3e}  {mx:>10.3e}  "
                         f"{'yes' if ok else 'NO'}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"GradientCheck(ok={self.ok}, relative_errors="
                f"[{', '.join(f'{e:.2e}' for e in self.relative_errors)}])")


def check_gradient(objective, params, grads=None, *, eps=1e-6, tol=None, atol=None,
                   max_elements=None, seed=0):
    """Compare the analytic gradient of ``objective`` with central differences.

    ``objective()`` takes no argument, reads ``params`` (one array or a list, which
    are perturbed in place one element at a time and restored bit for bit) and
    returns ``(loss, grads)``, or only ``loss`` if ``grads`` are given.  With
    ``max_elements``, at most that many elements per parameter are checked, drawn
    at random (``seed``).  ``tol`` defaults to 1e-6 (float64) or 1e-2 (float32),
    ``atol`` to 1e-8 (float64) or 1e-3 (float32).  Returns a :class:`GradientCheck`, whose ``relative_errors`` are per parameter.

    Raises:
        TypeError: ``objective`` not callable; parameters that are not float32/float64
            arrays; an objective that does not return ``(loss, grads)``.
        ValueError: ``eps``, ``tol`` or ``atol`` <= 0, ``max_elements`` < 1,
            gradients of the wrong shapes.
    """
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    params = _args.param_list("params", params)
    eps = _args.positive("eps", eps)
    if max_elements is not None:
        max_elements = _args.integer("max_elements", max_elements, 1)
    single = any(p.dtype == np.float32 for p in params)
    tol = _args.positive("tol", (1e-2 if single else 1e-6) if tol is None else tol)
    atol = check.nonnegative("atol", (1e-3 if single else 1e-8) if atol is None else atol)
    rng = as_generator(seed)
    if grads is None:
        value = objective()
        if not isinstance(value, tuple) or len(value) != 2:
            raise TypeError("objective() must return (loss, grads) when grads is not given")
        grads = value[1]
    if isinstance(grads, np.ndarray):
        grads = [grads]
    grads = list(grads)
    if len(grads) != len(params):
        raise ValueError(f"grads has {len(grads)} entries but there are {len(params)} params")
    analytic = []
    for i, (g, p) in enumerate(zip(grads, params)):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != p.shape:
            raise ValueError(f"grads[{i}] has shape {g.shape} but params[{i}] has {p.shape}")
        analytic.append(g.copy())  # the objective may reuse its gradient buffers
    relative, max_abs, worst, numerical, checked = [], [], [], [], []
    for p, g in zip(params, analytic):
        if max_elements is None or p.size <= max_elements:
            elements = np.arange(p.size)
        else:
            elements = np.sort(rng.choice(p.size, max_elements, replace=False))
        num = numerical_gradient(objective, p, eps, elements)
        a, n = g.reshape(-1)[elements], num.reshape(-1)[elements]
        diff = np.abs(a - n)
        denominator = max(float(np.linalg.norm(a) + np.linalg.norm(n)), 1e-300)
        relative.append(float(np.linalg.norm(a - n)) / denominator if elements.size else 0.0)
        max_abs.append(float(diff.max()) if elements.size else 0.0)
        worst.append(int(elements[np.argmax(diff)]) if elements.size else -1)
        numerical.append(num)
        checked.append(elements)
    return GradientCheck(relative, max_abs, worst, analytic, numerical, checked, tol, atol)
