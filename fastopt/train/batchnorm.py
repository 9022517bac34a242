r"""Batch normalization (Ioffe & Szegedy, 2015) of 2-D inputs ``(n, d)``, forward and backward.

Training mode normalizes each feature (column) j by the statistics of the batch:

.. math::

    μ_j = (1/n)·Σ_i x_ij
    σ²_j = (1/n)·Σ_i (x_ij − μ_j)²
    x̂_ij = (x_ij − μ_j)/√(σ²_j + ε)
    y_ij = γ_j·x̂_ij + β_j

and updates the running statistics used at inference,
μ̄ ← (1-m)μ̄ + mμ and
σ̄² ← (1-m)σ̄² + m n/(n-1)σ² (unbiased, as
PyTorch).  Inference mode uses μ̄, σ̄² instead.  The backward pass
(training mode) is

.. math::

    ∂L/∂β_j = Σ_i ∂y_ij
    ∂L/∂γ_j = Σ_i ∂y_ij·x̂_ij
    ∂L/∂x_ij = γ_j/(n·√(σ²_j + ε)) · (n·∂y_ij − ∂L/∂β_j − x̂_ij·∂L/∂γ_j)

Defaults: ``eps`` ε = 10^(-5), ``momentum`` m = 0.1.

**Numerics.**  The kernels (:mod:`fastopt.backends.python.batchnorm` and its numba and
Cython twins) compute in the input's dtype and accumulate every sum over the batch
sequentially, row after row; the compiled ones split the work by columns, never
within a sum.  So all backends agree **bit for bit** (0 ULP), for any thread count.
A sequential float32 sum of n terms has a relative error bound of about
n · 2^(-24); use float64 for very large batches if that matters.
"""
import numpy as np

from . import _args
from ..backends import _dispatch
from .._internal import validation as check

__all__ = ["BatchNorm"]

_MODULE = "batchnorm"


class BatchNorm:
    """Batch normalization of ``(n, num_features)`` inputs (see the module docstring).

    Arguments: ``num_features`` d; ``eps`` (1e-5); ``momentum`` (0.1) of the
    running statistics; ``affine`` (True): learn γ, β, else they stay
    1 and 0; ``track_running_stats`` (True): keep the running statistics (without
    them, inference mode uses the batch's); ``dtype`` (float64); ``backend``.

    Arrays (all of shape ``(d,)``): ``weight`` γ and ``bias``
    β -- the parameters, to give to an optimizer -- and
    ``grad_weight``, ``grad_bias``, written in place by :meth:`backward`, so that
    ``opt.step([bn.grad_weight, bn.grad_bias])`` works; ``running_mean``,
    ``running_var``; ``num_batches_tracked``.  Example::

        bn = fastopt.BatchNorm(64)
        opt = fastopt.Adam(bn.parameters() + [W])
        h = bn.forward(x @ W)                      # training mode
        grad_x = bn.backward(grad_h)               # fills bn.grad_weight, bn.grad_bias
        opt.step(bn.gradients() + [x.T @ grad_x])

    Raises:
        TypeError: a non-integer ``num_features``; an unsupported ``dtype``; inputs of
            another dtype than the layer's.
        ValueError: ``num_features`` < 1, ``eps`` <= 0, ``momentum`` outside [0, 1];
            inputs not of shape ``(n, d)``; a training batch of one sample.

    Source: S. Ioffe, C. Szegedy, "Batch Normalization", ICML 2015; running statistics
    and defaults of ``torch.nn.BatchNorm1d`` (unbiased running variance).
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
