r"""Exponentially weighted averages with bias correction, and weight averaging (EMA of the
weights, Polyak / stochastic weight averaging).

**Exponentially weighted average** (the momentum tutorial's building block):

.. math::

    v_0 = 0, \qquad v_t = \beta v_{t-1} + (1 - \beta)\,\theta_t, \qquad
    \hat v_t = \frac{v_t}{1 - \beta^t}

:math:`v_t` averages roughly the last :math:`1/(1-\beta)` values; since it starts at
zero it is biased towards zero early on, which the division by :math:`1 - \beta^t`
corrects (Kingma & Ba, 2015, sec. 3).  :class:`ExponentialAverage` keeps :math:`v_t`
for a number or an array; :func:`exponential_average` smooths a whole series.

**Weight averaging** (:class:`AveragedWeights`, like ``torch.optim.swa_utils.AveragedModel``):
a copy :math:`\bar\theta` of the parameters updated after optimizer steps, by

* ``mode="swa"`` -- the running mean of the values seen (Polyak & Juditsky, 1992;
  stochastic weight averaging, Izmailov et al., 2018):
  :math:`\bar\theta \leftarrow \bar\theta + (\theta - \bar\theta)/(n+1)`;
* ``mode="ema"`` -- an exponential moving average of the weights:
  :math:`\bar\theta \leftarrow \beta\bar\theta + (1-\beta)\theta`.

As in torch, the first update copies the parameters (:math:`n = 0`).  Both are fused
kernels (``ema``, ``swa``, ``ema_debiased``) in every backend, with the same bits
(:mod:`fastopt.backends.python.averaging`).  The expressions are those of torch's
``get_swa_avg_fn``/``get_ema_avg_fn``; torch's default (``multi_avg_fn``) computes the same
averages with ``lerp``, which rounds differently.

Checkpoint the averages with the optimizer::

    opt = fastopt.SGD(params, lr=0.1)
    swa = fastopt.AveragedWeights(params, mode="swa")
    ...  opt.step(grads); swa.update_parameters()
    checkpoint = {"optimizer": opt.state_dict(), "swa": swa.state_dict()}
    swa.copy_to()            # evaluate / ship the averaged weights
"""
import numpy as np

from . import _args
from .._internal import validation as check
from .._internal.numerics import one_minus_pow
from ..backends import _dispatch

__all__ = ["ExponentialAverage", "exponential_average", "AveragedWeights"]

_MODULE = "averaging"


def _kernel(backend, name):
    return _dispatch.kernel(backend or _dispatch.get_backend(), name, _MODULE)


def _beta(name, value):
    return _args.probability(name, value)


class ExponentialAverage:
    """The exponentially weighted average v_t of a number or an array, with bias
    correction (see the module docstring).

    .. math::

        v_t = β·v_(t−1) + (1 − β)·θ_t
        v̂_t = v_t/(1 − β^t)

    Args:
        beta: β in [0, 1) (default 0.9).
        bias_correction: whether :meth:`update` and :attr:`value` return
            v_t/(1 − β^t) rather than v_t (default True).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    Raises:
        TypeError: a non-real ``beta``, a non-boolean ``bias_correction``; in
            :meth:`update`, input of another type or dtype than the first.
        ValueError: ``beta`` outside [0, 1); in :meth:`update`, input of another shape
            than the first, non-finite input.

    The first :meth:`update` fixes the shape and dtype: a real number is averaged in
    float64 (and :meth:`update` returns a float), an array in its dtype (float32 or
    float64).  Attributes: ``average`` (v_t, ``None`` before the first update),
    ``step`` (t).

    Example (the tutorial's temperatures)::

        avg = fastopt.ExponentialAverage(beta=0.9)
        smoothed = [avg.update(x) for x in temperatures]
    """

    def __init__(self, beta=0.9, *, bias_correction=True, backend=None):
        self.beta = _beta("beta", beta)
        self.bias_correction = check.flag("bias_correction", bias_correction)
        self.backend = None if backend is None else _dispatch.check_backend(backend)
        self.average = None
        self.step = 0
        self._scalar = False

    def _checked(self, x):
        if self.average is None:
            if isinstance(x, np.ndarray):
                if x.dtype not in check.FLOAT_DTYPES:
                    raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
                scalar = False
            else:
                x = np.float64(check.real("x", x))
                scalar = True
            shape, dtype = np.shape(x), np.asarray(x).dtype
        else:
            shape, dtype, scalar = self.average.shape, self.average.dtype, self._scalar
            if scalar:
                x = np.float64(check.real("x", x))
            else:
                if not isinstance(x, np.ndarray):
                    raise TypeError(f"x must be a numpy.ndarray like the first value, got "
                                    f"{type(x).__name__}")
                if x.dtype != dtype:
                    raise TypeError(f"x has dtype {x.dtype}, the average {dtype}")
                if x.shape != shape:
                    raise ValueError(f"x has shape {x.shape}, the average {shape}")
        x = np.ascontiguousarray(x, dtype=dtype).reshape(shape)
        if not np.isfinite(x).all():
            raise ValueError("x has non-finite entries")
        return x, scalar

    def update(self, x, out=None):
        """Fold in θ_t = ``x``; returns the (corrected) average.

        ``out`` (arrays only): where to write the returned value (same shape and dtype;
        may be ``x``, not :attr:`average`); by default a new array.
        """
        x, scalar = self._checked(x)
        if out is not None:
            if scalar:
                raise TypeError("out is for array averages; a number's average is returned")
            _args.output("out", out, x.shape, x.dtype, ())
            if self.average is not None and np.may_share_memory(out, self.average):
                raise ValueError("out shares memory with the average")
        if self.average is None:
            self.average = np.zeros(x.shape, x.dtype)
            self._scalar = scalar
        self.step += 1
        result = np.empty(x.shape, x.dtype) if out is None else out
        b = self.beta
        correction = one_minus_pow(b, self.step) if self.bias_correction else 1.0
        n_threads = _dispatch.threads_for(x.size)
        _kernel(self.backend, "ema_debiased")(result.reshape(-1), self.average.reshape(-1),
                                              x.reshape(-1), b, 1.0 - b, correction, n_threads)
        return float(result) if scalar else result

    @property
    def value(self):
        """The current (corrected) average; ``None`` before the first update."""
        if self.average is None:
            return None
        correction = one_minus_pow(self.beta, self.step) if self.bias_correction else 1.0
        v = self.average / self.average.dtype.type(correction)
        return float(v) if self._scalar else v

    def state_dict(self):
        return {"beta": self.beta, "bias_correction": self.bias_correction, "step": self.step,
                "average": None if self.average is None else self.average.copy(),
                "scalar": self._scalar}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`'s output (checked in full first)."""
        if not isinstance(state, dict) or set(state) != {"beta", "bias_correction", "step",
                                                         "average", "scalar"}:
            raise ValueError("state must be a dict from ExponentialAverage.state_dict()")
        beta = _beta("state['beta']", state["beta"])
        bias = check.flag("state['bias_correction']", state["bias_correction"])
        step = _args.integer("state['step']", state["step"], minimum=0)
        scalar = check.flag("state['scalar']", state["scalar"])
        avg = state["average"]
        if avg is not None:
            if not isinstance(avg, np.ndarray) or avg.dtype not in check.FLOAT_DTYPES:
                raise TypeError("state['average'] must be a float32 or float64 array")
            avg = np.array(avg, order="C", copy=True)
        if (avg is None) != (step == 0):
            raise ValueError("state['average'] must be None exactly when state['step'] is 0")
        self.beta, self.bias_correction, self.step = beta, bias, step
        self.average, self._scalar = avg, scalar

    def __repr__(self):
        return (f"ExponentialAverage(beta={self.beta}, bias_correction={self.bias_correction}, "
                f"step={self.step})")


def exponential_average(values, beta=0.9, *, bias_correction=True):
    """The exponentially weighted averages v̂_1, …, v̂_T of a series
    (along the first axis), as an array of ``values``' shape and dtype (float64 for a list of
    numbers or integers).

    Args:
        values: the series θ_1, …, θ_T along the first axis.
        beta: β in [0, 1) (default 0.9).
        bias_correction: divide v_t by 1 − β^t (default True).

    Raises:
        TypeError: non-numeric ``values``, a non-real ``beta``.
        ValueError: ``values`` not at least 1-D, ``beta`` outside [0, 1), non-finite
            values.
    """
    values = np.asarray(values)
    if values.dtype not in check.FLOAT_DTYPES:
        if values.dtype.kind not in "iu":
            raise TypeError(f"values must be real numbers, got dtype {values.dtype}")
        values = values.astype(np.float64)
    if values.ndim == 0:
        raise ValueError("values must be a series (at least 1-D)")
    avg = ExponentialAverage(beta, bias_correction=bias_correction)
    out = np.empty_like(values)
    rows = values.reshape(values.shape[0], -1)
    for t in range(values.shape[0]):
        avg.update(np.ascontiguousarray(rows[t]), out=out.reshape(rows.shape)[t])
    return out


class AveragedWeights:
    """A running average of parameters during training (``torch.optim.swa_utils.AveragedModel``
    for NumPy arrays; see the module docstring).

    .. math::

        θ̄ ← θ̄ + (θ − θ̄)/(n + 1)                  (mode="swa": Polyak/SWA)
        θ̄ ← β·θ̄ + (1 − β)·θ                      (mode="ema")

    The first update copies, as in torch.

    Args:
        params: ndarray, list of ndarray, or an optimizer: the live parameters (read at
            each :meth:`update_parameters`).
        mode: ``"swa"`` (default) or ``"ema"``.
        decay: β of ``mode="ema"``, in [0, 1) (default 0.999).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    Raises:
        TypeError: parameters that are not float arrays (or an optimizer), a non-real
            ``decay``.
        ValueError: an unknown ``mode``, ``decay`` outside [0, 1); parameters that
            changed shape or dtype since the averaging started.

    Attributes: ``averaged`` (the averages, arrays like ``params``), ``n_averaged``.
    """

    def __init__(self, params, *, mode="swa", decay=0.999, backend=None):
        self.params = _args.param_list("params", params)
        self.mode = _args.choice("mode", mode, ("swa", "ema"))
        self.decay = _beta("decay", decay)
        self.backend = None if backend is None else _dispatch.check_backend(backend)
        self.averaged = [np.zeros_like(p, order="C") for p in self.params]
        self.n_averaged = 0

    def update_parameters(self):
        """Fold the current values of ``params`` into the averages."""
        for i, p in enumerate(self.params):
            check.parameter(f"params[{i}]", p)
            if p.shape != self.averaged[i].shape or p.dtype != self.averaged[i].dtype:
                raise ValueError(f"params[{i}] changed shape or dtype since the averaging "
                                 f"started")
        if self.n_averaged == 0:
            for a, p in zip(self.averaged, self.params):
                np.copyto(a, p)
        elif self.mode == "swa":
            kernel = _kernel(self.backend, "swa")
            count = float(self.n_averaged + 1)
            for a, p in zip(self.averaged, self.params):
                kernel(a.reshape(-1), p.reshape(-1), count, _dispatch.threads_for(a.size))
        else:
            kernel = _kernel(self.backend, "ema")
            b = self.decay
            for a, p in zip(self.averaged, self.params):
                kernel(a.reshape(-1), p.reshape(-1), b, 1.0 - b, _dispatch.threads_for(a.size))
        self.n_averaged += 1

    def copy_to(self, params=None):
        """Write the averages into ``params`` (default: the live parameters)."""
        targets = self.params if params is None else _args.param_list("params", params)
        if len(targets) != len(self.averaged):
            raise ValueError(f"params has {len(targets)} arrays, the average "
                             f"{len(self.averaged)}")
        for i, (t, a) in enumerate(zip(targets, self.averaged)):
            if t.shape != a.shape or t.dtype != a.dtype:
                raise ValueError(f"params[{i}] has shape {t.shape} and dtype {t.dtype}, the "
                                 f"average {a.shape} and {a.dtype}")
        for t, a in zip(targets, self.averaged):
            np.copyto(t, a)

    def state_dict(self):
        return {"mode": self.mode, "decay": self.decay, "n_averaged": self.n_averaged,
                "averaged": [a.copy() for a in self.averaged]}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`'s output (checked in full first)."""
        if not isinstance(state, dict) or set(state) != {"mode", "decay", "n_averaged",
                                                         "averaged"}:
            raise ValueError("state must be a dict from AveragedWeights.state_dict()")
        mode = _args.choice("state['mode']", state["mode"], ("swa", "ema"))
        decay = _beta("state['decay']", state["decay"])
        n = _args.integer("state['n_averaged']", state["n_averaged"], minimum=0)
        saved = state["averaged"]
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self.averaged):
            raise ValueError(f"state['averaged'] must be a list of {len(self.averaged)} arrays")
        for i, (s, a) in enumerate(zip(saved, self.averaged)):
            if not isinstance(s, np.ndarray) or s.shape != a.shape or s.dtype != a.dtype:
                raise ValueError(f"state['averaged'][{i}] must be a {a.dtype} array of shape "
                                 f"{a.shape}")
        self.mode, self.decay, self.n_averaged = mode, decay, n
        for s, a in zip(saved, self.averaged):
            np.copyto(a, s)

    def __repr__(self):
        return (f"AveragedWeights(mode={self.mode!r}, decay={self.decay}, "
                f"n_averaged={self.n_averaged}, {len(self.params)} params)")
