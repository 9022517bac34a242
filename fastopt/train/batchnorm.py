r"""Batch normalization (Ioffe & Szegedy, 2015) of 2-D inputs ``(n, d)``, forward and backward.

Training mode normalizes each feature (column) :math:`j` by the statistics of the batch:

.. math::

    \mu_j = \frac1n\sum_i x_{ij}, \qquad
    \sigma^2_j = \frac1n\sum_i (x_{ij} - \mu_j)^2, \qquad
    \hat x_{ij} = \frac{x_{ij} - \mu_j}{\sqrt{\sigma^2_j + \epsilon}}, \qquad
    y_{ij} = \gamma_j \hat x_{ij} + \beta_j

and updates the running statistics used at inference,
:math:`\bar\mu \leftarrow (1-m)\bar\mu + m\mu` and
:math:`\bar\sigma^2 \leftarrow (1-m)\bar\sigma^2 + m\,\tfrac{n}{n-1}\sigma^2` (unbiased, as
PyTorch).  Inference mode uses :math:`\bar\mu, \bar\sigma^2` instead.  The backward pass
(training mode) is

.. math::

    \frac{\partial L}{\partial\beta_j} = \sum_i \partial y_{ij}, \qquad
    \frac{\partial L}{\partial\gamma_j} = \sum_i \partial y_{ij}\,\hat x_{ij}, \qquad
    \frac{\partial L}{\partial x_{ij}} = \frac{\gamma_j}{n\sqrt{\sigma^2_j+\epsilon}}
        \Bigl(n\,\partial y_{ij} - \frac{\partial L}{\partial\beta_j}
              - \hat x_{ij}\frac{\partial L}{\partial\gamma_j}\Bigr)

Defaults: ``eps`` :math:`\epsilon = 10^{-5}`, ``momentum`` :math:`m = 0.1`.

**Numerics.**  The kernels (:mod:`fastopt.backends.python.batchnorm` and its numba and
Cython twins) compute in the input's dtype and accumulate every sum over the batch
sequentially, row after row; the compiled ones split the work by columns, never
within a sum.  So all backends agree **bit for bit** (0 ULP), for any thread count.
A sequential float32 sum of :math:`n` terms has a relative error bound of about
:math:`n \cdot 2^{-24}`; use float64 for very large batches if that matters.
"""
import numpy as np

from . import _args
from ..backends import _dispatch
from .._internal import validation as check

__all__ = ["BatchNorm"]

_MODULE = "batchnorm"


class BatchNorm:
    """Batch normalization of ``(n, num_features)`` inputs (see the module docstring).

    Arguments: ``num_features`` :math:`d`; ``eps`` (1e-5); ``momentum`` (0.1) of the
    running statistics; ``affine`` (True): learn :math:`\\gamma, \\beta`, else they stay
    1 and 0; ``track_running_stats`` (True): keep the running statistics (without
    them, inference mode uses the batch's); ``dtype`` (float64); ``backend``.

    Arrays (all of shape ``(d,)``): ``weight`` :math:`\\gamma` and ``bias``
    :math:`\\beta` -- the parameters, to give to an optimizer -- and
    ``grad_weight``, ``grad_bias``, written in place by :meth:`backward`, so that
    ``opt.step([bn.grad_weight, bn.grad_bias])`` works; ``running_mean``,
    ``running_var``; ``num_batches_tracked``.  Example::

        bn = fastopt.BatchNorm(64)
        opt = fastopt.Adam(bn.parameters() + [W])
        h = bn.forward(x @ W)                      # training mode
        grad_x = bn.backward(grad_h)               # fills bn.grad_weight, bn.grad_bias
        opt.step(bn.gradients() + [x.T @ grad_x])
    """

    def __init__(self, num_features, *, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=np.float64, backend=None):
        d = _args.integer("num_features", num_features, 1)
        self.eps = _args.positive("eps", eps)
        self.momentum = check.in_range("momentum", momentum, 0.0, 1.0, high_inclusive=True)
        self.affine = check.flag("affine", affine)
        self.track_running_stats = check.flag("track_running_stats", track_running_stats)
        dtype = np.dtype(dtype)
        if dtype not in check.FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        self.dtype = dtype
        self.backend = None if backend is None else _dispatch.check_backend(backend)
        self.num_features = d
        self.weight = np.ones(d, dtype)
        self.bias = np.zeros(d, dtype)
        self.grad_weight = np.zeros(d, dtype)
        self.grad_bias = np.zeros(d, dtype)
        self.running_mean = np.zeros(d, dtype)
        self.running_var = np.ones(d, dtype)
        self.num_batches_tracked = 0
        self.saved_mean = np.zeros(d, dtype)
        self.saved_inv_std = np.zeros(d, dtype)
        self._saved_input = None

    def parameters(self):
        """``[weight, bias]`` (empty if not ``affine``)."""
        return [self.weight, self.bias] if self.affine else []

    def gradients(self):
        """``[grad_weight, grad_bias]``, in the order of :meth:`parameters`."""
        return [self.grad_weight, self.grad_bias] if self.affine else []

    def _kernel(self, name):
        return _dispatch.kernel(self.backend or _dispatch.get_backend(), name, _MODULE)

    def _input(self, x, name):
        x = _args.as_array(name, x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"{name} must have shape (n, {self.num_features}), got {x.shape}")
        return x

    def forward(self, x, training=True, out=None):
        """Normalize ``x`` ``(n, d)``; returns ``y`` (a new array, or ``out``)."""
        x = self._input(x, "x")
        check.flag("training", training)
        n, d = x.shape
        out = np.empty_like(x) if out is None else _args.output("out", out, x.shape, x.dtype,
                                                               (x,))
        r = lambda v: _args.rounded(self.dtype, v)  # noqa: E731
        threads = _dispatch.threads_for(x.size)
        if training or not self.track_running_stats:
            if n < 2 and training:
                raise ValueError(f"x has {n} row(s): batch statistics in training mode need "
                                 f"at least 2")
            if n < 1:
                raise ValueError("x has no rows")
            update = bool(training and self.track_running_stats)
            self._kernel("batchnorm_forward_train")(
                x, self.weight, self.bias, out, self.saved_mean, self.saved_inv_std,
                self.running_mean, self.running_var, r(n), r(max(n - 1, 1)), r(self.eps),
                r(self.momentum), r(1.0 - self.momentum), update, threads)
            if update:
                self.num_batches_tracked += 1
            self._saved_input = x if training else None
        else:
            if n < 1:
                raise ValueError("x has no rows")
            self._kernel("batchnorm_forward_eval")(
                x, self.weight, self.bias, out, self.running_mean, self.running_var,
                r(self.eps), threads)
            self._saved_input = None
        return out

    def backward(self, grad_out, out=None):
        """``dL/dx`` for the last training-mode :meth:`forward`; writes ``grad_weight`` and
        ``grad_bias`` in place.  The forward's input must not have changed since."""
        x = self._saved_input
        if x is None:
            raise RuntimeError("backward needs a forward pass in training mode first")
        grad_out = self._input(grad_out, "grad_out")
        if grad_out.shape != x.shape:
            raise ValueError(f"grad_out has shape {grad_out.shape}, the forward's input "
                             f"{x.shape}")
        out = np.empty_like(x) if out is None else _args.output(
            "out", out, x.shape, x.dtype, (grad_out, x))
        self._kernel("batchnorm_backward")(
            grad_out, x, self.weight, self.saved_mean, self.saved_inv_std, out,
            self.grad_weight, self.grad_bias, _args.rounded(self.dtype, x.shape[0]),
            _dispatch.threads_for(x.size))
        return out

    def __repr__(self):
        return (f"BatchNorm({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, dtype={self.dtype})")
