r"""Dropout on activations and DropConnect on weight matrices (inverted scaling).

**Inverted dropout** (Srivastava et al., 2014) keeps each activation with probability
1 - p and scales the kept ones by s = 1/(1-p), so that nothing
changes at inference:

.. math::

    m_i ∼ Bernoulli(1 − p)
    y_i = m_i·s·x_i
    ∂L/∂x_i = m_i·s·∂L/∂y_i

**DropConnect** (Wan et al., 2013) drops weights instead of activations.  For a
dense layer y = x W + b with W of shape ``(in, out)``, one mask
M per forward pass (shared by the samples of the batch):

.. math::

    W̃ = s·(M ⊙ W),   y = x·W̃ + b
    ∂L/∂x = ∂L/∂y · W̃ᵀ
    ∂L/∂W = s·M ⊙ (xᵀ · ∂L/∂y)
    ∂L/∂b = Σ_i ∂L/∂y_i

(the inverted-scaling variant: inference uses W itself, instead of the
paper's moment matching).

The masks are drawn by NumPy from a seeded :class:`numpy.random.Generator`
(``generator.random(shape) >= p``, in double precision whatever the dtype), so
every backend sees the same mask; the fused kernel ``dropout_apply`` then computes
y = x · s where kept and ``+0.0`` elsewhere in one pass, in every backend
with the same bits (:mod:`fastopt.backends.python.dropout`).
"""
import numpy as np

from . import _args
from ..backends import _dispatch
from .._internal import validation as check
from .._internal.random import as_generator

__all__ = ["Dropout", "DropConnect", "dropout_mask"]


def dropout_mask(shape, p, rng, out=None):
    """A boolean keep-mask of ``shape``: True with probability ``1 - p``.

    ``rng`` is a :class:`numpy.random.Generator`; ``out`` an optional bool array to fill.
    """
    p = _args.probability("p", p)
    if out is None:
        return rng.random(shape) >= p
    np.greater_equal(rng.random(out.shape), p, out=out)
    return out


class _Masked:
    def __init__(self, p, seed, backend):
        self.p = _args.probability("p", p)
        self.rng = as_generator(seed)
        self.backend = None if backend is None else _dispatch.check_backend(backend)

    @property
    def scale(self):
        """s = 1/(1-p), in double precision."""
        return 1.0 / (1.0 - self.p)

    def _apply(self, x, mask, out):
        """``out = x * s`` where ``mask``, else +0.0 (flat views, the fused kernel)."""
        kernel = _dispatch.kernel(self.backend or _dispatch.get_backend(), "dropout_apply")
        kernel(x.reshape(-1), mask.reshape(-1), _args.rounded(x.dtype, self.scale),
               out.reshape(-1), _dispatch.threads_for(x.size))
        return out


class Dropout(_Masked):
    r"""Inverted dropout on activations: ``y = x * mask / (1 - p)``.

    ``p`` is the probability of dropping an element, in [0, 1) (default 0.5);
    ``seed`` an int, a :class:`numpy.random.Generator` or None.

    :meth:`forward` draws a new mask at every call in training mode (kept in
    ``self.mask`` for :meth:`backward`) and returns a new array (or writes ``out``,
    which may be ``x`` itself); in inference mode (``training=False``) it returns
    ``x`` unchanged.  :meth:`backward` applies the same mask and scale to the
    gradient.  Example::

        drop = fastopt.Dropout(0.2, seed=0)
        h = drop.forward(h)                    # training
        ...
        grad_h = drop.backward(grad_h)

    ``x`` (and the gradient) may have any shape, dtype float32 or float64; the mask has
    x's shape and dtype (values 0 or 1).

    Raises:
        TypeError: a bad ``seed``; ``x`` not a float32/float64 array.
        ValueError: ``p`` outside [0, 1); ``out`` of another shape or dtype; a
            gradient of another shape than the mask's.
        RuntimeError: :meth:`backward` before a :meth:`forward` in training mode.

    Source: N. Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", JMLR 15, 2014 (the inverted form, as ``torch.nn.Dropout``).
    """

    def __init__(self, p=0.5, *, seed=None, backend=None):
        super().__init__(p, seed, backend)
        self.mask = None

    def forward(self, x, training=True, out=None):
        """Dropout of ``x`` (float32/float64, any shape); see the class docstring."""
        x = _args.as_array("x", x)
        check.flag("training", training)
        if not training:
            self.mask = None
            return x
        out = np.empty_like(x) if out is None else _args.output("out", out, x.shape, x.dtype,
                                                               (x,))
        if self.mask is None or self.mask.shape != x.shape:
            self.mask = np.empty(x.shape, np.bool_)
        dropout_mask(x.shape, self.p, self.rng, out=self.mask)
        return self._apply(x, self.mask, out)

    def backward(self, grad_out, out=None):
        """The gradient with respect to the input: ``grad_out * mask / (1 - p)``."""
        if self.mask is None:
            raise RuntimeError("backward needs a forward pass in training mode first")
        grad_out = _args.as_array("grad_out", grad_out)
        if grad_out.shape != self.mask.shape:
            raise ValueError(f"grad_out has shape {grad_out.shape}, the last forward's input "
                             f"{self.mask.shape}")
        out = np.empty_like(grad_out) if out is None else _args.output(
            "out", out, grad_out.shape, grad_out.dtype, (grad_out,))
        return self._apply(grad_out, self.mask, out)

    def __repr__(self):
        return f"Dropout(p={self.p})"


class DropConnect(_Masked):
    r"""DropConnect on the weights of a dense layer ``y = x @ W + b``.

    ``p`` is the probability of dropping a weight, in [0, 1) (default 0.5).
    :meth:`forward` draws one mask M of ``W``'s shape per call (training
    mode), computes W̃ = M ⊙ W / (1-p) with the fused kernel and
    returns xW̃ + b; :meth:`backward` returns the gradients with respect
    to ``x``, ``W`` and ``b`` (``None`` without bias).  In inference mode the layer is
    xW + b.  ``x`` is ``(batch, in)``, ``W`` ``(in, out)``, ``b`` ``(out,)``.

    Arrays are float32 or float64 (one dtype for all).

    Raises:
        TypeError: a bad ``seed``; arrays of another dtype.
        ValueError: ``p`` outside [0, 1); shapes that do not fit ``(batch, in)``,
            ``(in, out)``, ``(out,)``.

    Source: L. Wan, M. Zeiler, S. Zhang, Y. LeCun, R. Fergus, "Regularization of Neural
    Networks using DropConnect", ICML 2013 (inverted scaling instead of the paper's
    moment matching at inference).
    """

    def __init__(self, p=0.5, *, seed=None, backend=None):
        super().__init__(p, seed, backend)
        self.mask = None
        self.masked_weight = None
        self._saved = None

    def forward(self, x, weight, bias=None, training=True):
        x = _args.as_array("x", x)
        weight = _args.as_array("weight", weight, x.dtype)
        if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[0]:
            raise ValueError(f"x must be (batch, in) and weight (in, out), got {x.shape} and "
                             f"{weight.shape}")
        if bias is not None:
            bias = _args.as_array("bias", bias, x.dtype)
            if bias.shape != (weight.shape[1],):
                raise ValueError(f"bias has shape {bias.shape}, expected ({weight.shape[1]},)")
        check.flag("training", training)
        if training:
            if self.mask is None or self.mask.shape != weight.shape:
                self.mask = np.empty(weight.shape, np.bool_)
            if self.masked_weight is None or self.masked_weight.shape != weight.shape or \
                    self.masked_weight.dtype != weight.dtype:
                self.masked_weight = np.empty_like(weight)
            dropout_mask(weight.shape, self.p, self.rng, out=self.mask)
            effective = self._apply(weight, self.mask, self.masked_weight)
        else:
            effective = weight
        y = x @ effective
        if bias is not None:
            y += bias
        self._saved = (x, effective, bias is not None, training)
        return y

    def backward(self, grad_out):
        """``(grad_x, grad_weight, grad_bias)`` for the last :meth:`forward`."""
        if self._saved is None:
            raise RuntimeError("backward needs a forward pass first")
        x, effective, has_bias, training = self._saved
        grad_out = _args.as_array("grad_out", grad_out, x.dtype)
        if grad_out.shape != (x.shape[0], effective.shape[1]):
            raise ValueError(f"grad_out has shape {grad_out.shape}, expected "
                             f"{(x.shape[0], effective.shape[1])}")
        grad_x = grad_out @ effective.T
        grad_weight = np.ascontiguousarray(x.T @ grad_out)
        if training:
            self._apply(grad_weight, self.mask, grad_weight)
        grad_bias = grad_out.sum(axis=0) if has_bias else None
        return grad_x, grad_weight, grad_bias

    def __repr__(self):
        return f"DropConnect(p={self.p})"
